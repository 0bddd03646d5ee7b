"""The web loaders and shipped models on the shared URL/DGA data (skipped when it is absent)."""

import numpy as np
import pytest
from shared_data import DATASETS
from sklearn.metrics import roc_auc_score

from threatml.web.data import load_items

URL = DATASETS / "url"
needs = pytest.mark.skipif(not (URL / "dga_netlab360_sample").is_dir() or not (URL / "phishtank_unb_urls").is_dir(),
                           reason=f"shared URL/DGA data sets not found under {URL}")


@needs
def test_loaders_read_the_shared_layouts():
    feed = load_items([str(URL / "dga_netlab360_sample" / "dga.txt")])
    assert len(feed) > 9000 and feed["y"].eq(1).all() and "necurs" in set(feed["family"])
    pt = load_items([str(URL / "phishtank_unb_urls" / "DataFiles" / "2.online-valid.csv")])
    assert len(pt) > 14000 and pt["y"].eq(1).all() and pt["item"].str.startswith("http").all()
    top = load_items([f"benign={URL / 'dga_netlab360_sample' / 'top_domains_dga1m.csv'}"])
    assert top["item"].iloc[0] == "google.com" and top["y"].eq(0).all()


@needs
def test_shipped_dga_model_on_a_sample_of_the_feed():
    from threatml.web.dga_model import DgaModel

    m = DgaModel.load()
    feed = load_items([str(URL / "dga_netlab360_sample" / "dga.txt")]).sample(1500, random_state=0)
    top = load_items([f"benign={URL / 'dga_netlab360_sample' / 'top_domains_dga1m.csv'}"]).sample(1500, random_state=0)
    s = m.score_samples(feed["item"].tolist() + top["item"].tolist())
    assert roc_auc_score(np.r_[np.ones(1500), np.zeros(1500)], s) > 0.98
