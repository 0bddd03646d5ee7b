import numpy as np

from threatml.logs.models.iforest import IsolationForestModel
from threatml.logs.models.invariants import InvariantMiner
from threatml.logs.models.newtemplate import NewTemplateAlarm
from threatml.logs.models.ngram import NextEventModel
from threatml.logs.models.pca import PCAResidual
from threatml.logs.models.supervised import LightGBMDetector
from threatml.logs.sessions import EventCounter, build_sessions, parse_window, window_keys


def _normal_sessions(rng, n=300):
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 4))
        out.append([1] + [2, 3] * k + [4])
    return out


def _data():
    rng = np.random.default_rng(0)
    normal = _normal_sessions(rng)
    planted = [[1, 2, 2, 2, 4], [1, 3, 2, 4], [1, 2, 3, 9, 9, 4]]
    return normal, planted


def test_count_models_flag_planted_and_roundtrip(tmp_path):
    normal, planted = _data()
    c = EventCounter(tfidf=False).fit(normal)
    Xn, Xp = c.transform(normal), c.transform(planted)
    for model in (PCAResidual(), InvariantMiner(), IsolationForestModel(seed=0, contamination=0.01)):
        model.fit(Xn)
        if isinstance(model, IsolationForestModel):  # needs spread-out normal data; a constant column cannot split
            rng = np.random.default_rng(1)
            Xr = rng.poisson(5, (500, 4)).astype(float)
            iso = IsolationForestModel(seed=0, contamination=0.01).fit(Xr)
            assert iso.predict(np.array([[0.0, 0, 25, 25]]))[0] == 1 and iso.predict(Xr).mean() <= 0.05
        else:
            assert model.predict(Xp)[0] == 1, type(model).__name__
        assert model.predict(Xn).mean() <= 0.05, type(model).__name__
        model.save(tmp_path / type(model).__name__)
        again = type(model).load(tmp_path / type(model).__name__)
        assert np.allclose(again.score_samples(Xp), model.score_samples(Xp))


def test_sequence_models_flag_planted(tmp_path):
    normal, planted = _data()
    ng = NextEventModel(n=3, top_k=2).fit(normal)
    assert ng.predict(planted).tolist() == [1, 1, 1]
    assert ng.predict(normal[:50]).sum() == 0
    assert any(why == "unseen transition" for _, _, why in ng.flag(planted[1]))
    ng.save(tmp_path)
    assert NextEventModel.load(tmp_path).predict(planted).tolist() == [1, 1, 1]
    nt = NewTemplateAlarm().fit(normal)
    assert nt.predict(planted).tolist() == [0, 0, 1]
    nt.save(tmp_path)
    assert NewTemplateAlarm.load(tmp_path).unusual(planted[2]) == [(3, 9), (4, 9)]


def test_lightgbm_learns_labels(tmp_path):
    normal, planted = _data()
    seqs = normal + planted * 20
    y = np.r_[np.zeros(len(normal)), np.ones(60)]
    c = EventCounter(tfidf=True).fit(seqs)
    m = LightGBMDetector(n_estimators=50).fit(c.transform(seqs), y)
    assert m.predict(c.transform(planted))[[0, 2]].all() and m.predict(c.transform(normal)).mean() < 0.05
    m.save(tmp_path)
    assert np.allclose(LightGBMDetector.load(tmp_path).score_samples(c.transform(planted)),
                       m.score_samples(c.transform(planted)))


def test_windows_and_sessions():
    assert parse_window("5m") == 300 and parse_window("2h") == 7200
    keys = window_keys(np.array([0.0, 299, 301, np.nan]), 300)
    assert keys == [["0"], ["0"], ["300"], []]
    sliding = window_keys(np.array([350.0]), 300, step=100)
    assert sliding == [["100", "200", "300"]]
    s = build_sessions([k for k in keys], [1, 2, 3, 4], labels=[0, 1, 0, 0])
    assert [(x.key, x.events, x.label) for x in s] == [("0", [1, 2], 1), ("300", [3], 0)]
