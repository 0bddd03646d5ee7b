"""Identity analytics shared by the identity readers, detectors and commands.

* :mod:`~threatml.identity.windows` -- Windows Security/Sysmon/MSSQL event -> auth/process row
* :mod:`~threatml.identity.baselines` -- per-user logon baselines, peer groups, logon graph
* per-entity risk with exponential decay: :class:`threatml.triage.risk.RiskLedger`, shared with ``threatml risk``
* :mod:`~threatml.identity.model` -- train/evaluate baseline model folders
* :mod:`~threatml.identity.frames` -- fast list -> DataFrame building for the readers
* :mod:`~threatml.identity.synthetic` -- generated logs with known attacks (tests, benchmarks)
"""
