"""Detectors of the identity domain: credential attacks, compromise, unusual logons,
privilege use and account changes, Kerberoasting, LSASS access.

They share one :class:`~threatml.detectors.identity.common.IdentityState`
(per-user baselines and per-entity risk), loaded lazily from the store when
``opts.store`` is set and saved back there at the end of the scan.
"""

from __future__ import annotations


def detectors(opts) -> list:
    from threatml.detectors.identity.common import IdentityState
    from threatml.detectors.identity.compromise import CompromiseDetector
    from threatml.detectors.identity.credential_attack import CredentialAttackDetector
    from threatml.detectors.identity.kerberos import KerberoastDetector
    from threatml.detectors.identity.lsass import LsassAccessDetector
    from threatml.detectors.identity.privilege import PrivilegeDetector
    from threatml.detectors.identity.unusual_logon import UnusualLogonDetector

    state = IdentityState(store=getattr(opts, "store", None))
    # the unusual-logon detector goes last: its flush saves the shared baselines to the store
    return [
        CredentialAttackDetector(state=state),
        CompromiseDetector(state=state),
        PrivilegeDetector(state=state),
        KerberoastDetector(state=state),
        LsassAccessDetector(state=state),
        UnusualLogonDetector(state=state),
    ]
