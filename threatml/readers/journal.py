"""Fields of one ``journalctl -o json`` record, shared by the auth-log and text-log readers.

>>> journal_message({"MESSAGE": [104, 105, 255]})
'hi\\ufffd'
>>> journal_program({"_COMM": "sshd"})
'sshd'
"""

from __future__ import annotations


def journal_message(rec: dict) -> str:
    """MESSAGE as text; journald writes messages that are not valid UTF-8 as arrays of byte values."""
    msg = rec.get("MESSAGE", "")
    if isinstance(msg, list):
        return bytes(x for x in msg if isinstance(x, int) and 0 <= x < 256).decode("utf-8", "replace")
    return str(msg)


def journal_program(rec: dict) -> str:
    """The program that logged the record: its syslog identifier, else its command name."""
    return str(rec.get("SYSLOG_IDENTIFIER") or rec.get("_COMM") or "")
