"""The reader and the shipped model on the shared mail data (skipped when the data is absent)."""

from __future__ import annotations

import pandas as pd
import pytest
from shared_data import DATASETS

from threatml.errors import ReadReport
from threatml.readers import detect
from threatml.readers.email import EmailReader

SMS = DATASETS / "email" / "sms_spam_collection" / "SMSSpamCollection"
NAZARIO = DATASETS / "email" / "nazario-phishing-20051114.mbox"


def _frame(path):
    return pd.concat([b.frame for b in EmailReader().read(path, ReadReport())], ignore_index=True)


@pytest.mark.skipif(not SMS.exists(), reason=f"SMS Spam Collection not found at {SMS}")
def test_sms_collection_is_read_with_its_labels():
    assert detect(SMS).name == "email"
    fr = _frame(SMS)
    assert len(fr) == 5574
    assert fr["label"].value_counts().to_dict() == {"ham": 4827, "spam": 747}


@pytest.mark.skipif(not NAZARIO.exists(), reason=f"Nazario phishing mbox not found at {NAZARIO}")
def test_nazario_mbox_and_the_shipped_model():
    from threatml.detectors.email.message import EmailMessageDetector
    from threatml.events import EventBatch

    fr = _frame(NAZARIO)
    assert len(fr) == 438
    assert fr["email.subject"].str.len().gt(0).mean() > 0.95
    assert (fr["email.f.n_urls"] > 0).mean() > 0.9  # phishing carries links
    det = EmailMessageDetector(buffer=16)
    found = det.process(EventBatch.of("email", fr.iloc[:16].reset_index(drop=True)))
    assert det.model_error is None, det.model_error
    assert len(found) >= 14  # (these are training messages of the shipped model: a smoke test, not a metric)
    f = found[0]
    assert f.entity_type == "mailbox" and "T1566" in f.attack and f.explanation
