"""SignatureModel: learns the anomaly rate of exact count vectors, backs off to a calibrated PCA for
unseen ones, picks its threshold by inner cross-validation, and round-trips through JSON."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from threatml.cli import app
from threatml.logs.models.signature import SignatureModel, f1_threshold
from threatml.logs.pipeline import LogModel, fit_models


def _data(seed=0):
    """Normal sessions [1, k, k, 1] (k in 1, 2, 4, 5; 2 % label noise) and the signature [1, 3, 3, 1],
    anomalous 9 times in 10. [1, 3, 3, 1] lies on the normal line, so PCA alone passes it: only the
    table can learn it."""
    rng = np.random.default_rng(seed)
    normal = np.array([[1.0, k, k, 1] for k in rng.choice([1, 2, 4, 5], 600)])
    y_normal = (rng.random(600) < 0.02).astype(int)
    sig = np.array([[1.0, 3, 3, 1]] * 40)
    y_sig = np.array([1] * 36 + [0] * 4)
    X = np.vstack([normal, sig])
    y = np.r_[y_normal, y_sig]
    order = rng.permutation(len(y))
    return X[order], y[order]


def test_learns_signatures_and_backs_off_for_unseen():
    X, y = _data()
    m = SignatureModel().fit(X, y)
    seen_normal, seen_bad = np.array([[1.0, 2, 2, 1]]), np.array([[1.0, 3, 3, 1]])
    assert m.backoff_.predict(seen_bad)[0] == 0  # PCA would miss it
    assert m.predict(seen_normal)[0] == 0 and m.predict(seen_bad)[0] == 1
    # the threshold lies between the two learnt rates, chosen on training folds only
    assert m.score_samples(seen_normal)[0] < m.threshold_ < m.score_samples(seen_bad)[0]
    # unseen: on the normal line (PCA passes it) -> normal; off every learnt direction (PCA flags it) -> anomalous
    on_line, off_line = np.array([[1.0, 6, 6, 1]]), np.array([[1.0, 0, 7, 1]])
    assert not m.seen(np.vstack([on_line, off_line])).any() and m.seen(seen_bad).all()
    assert m.backoff_.predict(on_line)[0] == 0 and m.backoff_.predict(off_line)[0] == 1
    assert m.predict(on_line)[0] == 0 and m.predict(off_line)[0] == 1
    # unseen rows score exactly the back-off's calibrated rate
    assert m.score_samples(off_line)[0] == pytest.approx(m.prior_[1])
    assert m.score_samples(on_line)[0] == pytest.approx(m.prior_[0])
    # held-out data from the same process: every anomalous signature found, normal ones passed
    Xt, yt = _data(seed=1)
    pred = m.predict(Xt)
    assert pred[Xt[:, 1] == 3].all() and not pred[Xt[:, 1] != 3].any()


def test_save_load_round_trip_is_json(tmp_path):
    X, y = _data()
    m = SignatureModel(prior_strength=2.0, seed=3).fit(X, y)
    path = m.save(tmp_path)
    assert json.loads(path.read_text())["model"] == "session-signature"
    again = SignatureModel.load(tmp_path)
    probe = np.vstack([X[:50], [[1.0, 0, 7, 1], [1.0, 6, 6, 1]]])
    assert np.array_equal(again.score_samples(probe), m.score_samples(probe))
    assert again.threshold_ == m.threshold_ and again.prior_strength == 2.0
    assert np.array_equal(again.predict(probe), m.predict(probe))


def test_bad_input_is_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="both classes"):
        SignatureModel().fit(X, np.zeros(len(y), dtype=int))
    m = SignatureModel().fit(X, y)
    with pytest.raises(ValueError, match="4 counts"):
        m.score_samples(np.ones((2, 3)))
    assert m.score_samples(np.zeros((0, 4))).shape == (0,)


def test_table_is_bounded():
    X, y = _data()
    small = SignatureModel(max_signatures=2).fit(X, y)
    assert len(small.signatures_) == 2 and small.sizes_.sum() < len(y)
    # the two most frequent signatures stay; the others fall back to the calibrated PCA
    assert small.seen(np.array([[1.0, 3, 3, 1]])).sum() == 0
    assert small.score_samples(np.array([[1.0, 3, 3, 1]]))[0] == pytest.approx(small.prior_[0])


def test_f1_threshold_picks_the_best_cut():
    s = np.array([0.9, 0.9, 0.6, 0.3, 0.3, 0.1])
    y = np.array([1, 1, 1, 0, 1, 0])
    # cutting below 0.3 takes 4/4 positives for one false alarm (F1 0.889) over 3/4 with none (0.857)
    assert f1_threshold(s, y) == pytest.approx(0.2)
    assert f1_threshold(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.0)


def test_pipeline_uses_signature_model_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    normal = [[1] + [2, 3] * int(k) + [4] for k in rng.integers(1, 4, 300)]
    bad = [[1, 2, 2, 4]] * 30
    seqs, y = normal + bad, np.r_[np.zeros(300, int), np.ones(30, int)]
    model = fit_models(seqs, y)
    assert isinstance(model.supervised, SignatureModel) and model.lightgbm is not None
    score, thr, per = model.score([[1, 2, 2, 4], [1, 2, 3, 4], [1, 9, 9, 9, 4]])
    assert (score >= thr).tolist() == [True, False, True] and {"signature", "lightgbm", "pca"} <= set(per)
    # the command line writes and reads the same model folder (JSON + LightGBM text, no pickle)
    rows = ["BlockId,Label,EventSequence"] + [f"blk_{i},{lab},{' '.join(f'E{t}' for t in s)}"
                                               for i, (s, lab) in enumerate(zip(seqs, y))]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    res = runner.invoke(app, ["train", "log", "--data", str(tmp_path / "s.csv"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "signature.json").exists() and not list((tmp_path / "m").glob("*.pkl"))
    assert isinstance(LogModel.load(tmp_path / "m").supervised, SignatureModel)
    res = runner.invoke(app, ["evaluate", "log", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "s.csv"),
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["f1"] == 1.0 and {"signature", "lightgbm"} <= set(out["models"])
