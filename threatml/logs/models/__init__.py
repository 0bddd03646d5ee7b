"""Log anomaly models: count-vector models (PCA residual, Isolation Forest, invariants, the
supervised session-signature table, LightGBM), a next-template sequence model and a
new-template alarm.

Every model follows the scikit-learn-like contract (plain constructor
parameters, ``fit``, ``predict``, ``score_samples`` where higher means more
anomalous, a fitted ``threshold_``) and saves to JSON or LightGBM text in a
folder (``save(folder)`` / ``load(folder)``), never pickle.
"""
