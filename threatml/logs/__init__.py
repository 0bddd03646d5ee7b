"""System and application log anomaly detection: template mining, sessions, models, training.

See ``docs/logs.md``. Modules: ``masking`` and ``miner`` (Drain-family
template mining), ``formats`` (known loghub layouts), ``evaluation``
(grouping accuracy), ``sessions`` (session keys, windows, count vectors),
``models`` (one module per model), ``pipeline`` (train and evaluate).
"""
