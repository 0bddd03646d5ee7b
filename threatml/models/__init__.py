"""Models follow one contract (fit / predict_proba / score_samples / save / load) and
are stored as model folders with a card (``card.py``) found via ``registry.py``."""
