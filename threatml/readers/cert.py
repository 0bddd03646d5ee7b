"""CERT insider-threat activity CSVs (logon, device, file, email, http) -> ``activity`` events.

The CMU CERT synthetic insider-threat data (r1 .. r6.2) logs what each user
did, one CSV per kind, each row ``id,date,user,pc,...`` with dates written
``MM/DD/YYYY HH:MM:SS`` (local clock time; kept as written and stored as if it
were UTC, so hours of the day stay the office's own). The kind is told by the
header, so renamed files still read:

================  ===================================================  ===========================
file              columns (besides id, date, user, pc)                 event.action
================  ===================================================  ===========================
logon.csv         activity (Logon / Logoff)                            logon, logoff
device.csv        activity (Connect / Disconnect) [, file_tree]        connect, disconnect
file.csv          filename [, activity, to/from_removable_media], ...  file-copy (r4) or file-open,
                                                                       file-write, file-copy, file-delete
email.csv         to, cc, bcc, from, size, attachments [, activity]    email-send (or email-view)
http.csv          url [, activity], content                            web-visit (or web-download,
                                                                       web-upload)
LDAP/YYYY-MM.csv  employee_name, user_id, email, role, ... (no id,     directory-entry (per user,
                  date, user, pc columns)                              dated the 1st of the month)
================  ===================================================  ===========================

The directory snapshots become ``directory-entry`` events carrying
``user.roles`` (role), ``organization.unit`` (functional unit / department)
and ``user.manager`` (supervisor) as extra columns: the insider detector uses
the role as the user's peer group. Their date is taken from the file name
(``2010-01.csv``), else left unknown.

``http.csv`` of r4.2 has no header row; it is recognised by its first line
(``{ID},date,user,PC-…,http…``). The free-text ``content`` columns are not read.
Rows with an unreadable date, no user or an id already seen in the same
block of rows (a duplicated record) are skipped and counted by reason;
a header without ``id,date,user,pc`` is not this format.

>>> import pathlib, tempfile
>>> from threatml.errors import ReadReport
>>> p = pathlib.Path(tempfile.mkdtemp()) / "logon.csv"
>>> _ = p.write_text("id,date,user,pc,activity\\n{A1},01/04/2010 07:12:34,ACM2278,PC-6427,Logon\\n"
...                  "{A2},13/45/2010 07:13:00,ACM2278,PC-6427,Logoff\\n")
>>> r = ReadReport()
>>> b = next(CertActivityReader().read(p, r))
>>> b.frame[["event.action", "user.name", "host.name"]].values.tolist(), r.skipped_total()
([['logon', 'acm2278', 'PC-6427']], 1)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from threatml.errors import InputError, ReadReport
from threatml.events import EventBatch
from threatml.readers.base import DEFAULT_BATCH_SIZE, Reader, open_binary

_BASE = ("id", "date", "user", "pc")
_HTTP_R4 = ["id", "date", "user", "pc", "url", "content"]
_HEADERLESS_HTTP = re.compile(rb"^\{[0-9A-Za-z-]+\},\d\d/\d\d/\d{4} \d\d:\d\d:\d\d,[^,]+,[^,]+,https?://")
_ACTIONS = {
    "logon": "logon", "logoff": "logoff", "connect": "connect", "disconnect": "disconnect",
    "file open": "file-open", "file write": "file-write", "file copy": "file-copy", "file delete": "file-delete",
    "send": "email-send", "view": "email-view",
    "www visit": "web-visit", "www download": "web-download", "www upload": "web-upload",
}
_DATE_FORMAT = "%m/%d/%Y %H:%M:%S"


_LDAP = ("employee_name", "user_id", "email", "role")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _header(head: bytes) -> list[str] | None:
    first = head.split(b"\n", 1)[0].strip().lstrip(b"\xef\xbb\xbf")
    try:
        cols = [c.strip().strip('"').lower() for c in first.decode("ascii").split(",")]
    except UnicodeDecodeError:
        return None
    return cols if tuple(cols[:4]) in (_BASE, _LDAP) else None


def cert_kind(cols: list[str]) -> str | None:
    """logon_device, file, email or http from a CERT header (None if it is none of them)."""
    s = set(cols)
    if tuple(cols[:4]) == _LDAP:
        return "ldap"
    if "url" in s:
        return "http"
    if {"to", "from"} <= s:
        return "email"
    if "filename" in s:
        return "file"
    if "activity" in s and len(cols) <= 6:
        return "logon_device"
    return None


class CertActivityReader(Reader):
    """CERT insider-threat style activity logs -> ``activity`` batches."""

    name = "cert"
    kinds = ("activity",)

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        cols = _header(head)
        if cols is not None:
            return cert_kind(cols) is not None
        return bool(_HEADERLESS_HTTP.match(head))

    def read(self, path: Path, report: ReadReport, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[EventBatch]:
        from threatml.readers.base import read_head

        path = Path(path)
        head = read_head(path, 8192)
        cols = _header(head)
        if cols is None:
            if not _HEADERLESS_HTTP.match(head):
                raise InputError(path, "not a CERT activity file: the header must start with id,date,user,pc", "line 1")
            cols, names = list(_HTTP_R4), list(_HTTP_R4)
        else:
            names = None
        kind = cert_kind(cols)
        if kind is None:
            raise InputError(path, f"CERT header with no known activity columns: {','.join(cols)}", "line 1")
        if kind == "ldap":
            yield from self._read_ldap(path, report, cols, batch_size)
            return
        wanted = [c for c in cols if c != "content"]
        offset = 1 if names is None else 0  # line number of the first data row minus one
        for chunk in self._chunks(path, report, names, wanted, batch_size):
            n = len(chunk)
            frame = self._convert(kind, chunk, path, report, offset)
            offset += n
            if len(frame):
                yield EventBatch.of("activity", frame, source=str(path))

    # ------------------------------------------------------------------
    def _chunks(self, path: Path, report: ReadReport, names: list[str] | None, wanted: list[str],
                batch_size: int) -> Iterator[pd.DataFrame]:
        src = str(path)
        bad = {"n": 0, "first": None}

        def on_bad(row) -> str:
            bad["n"] += 1
            if bad["first"] is None:
                bad["first"] = f"line {row.number}" if row.number is not None else row.text[:60]
            return "skip"

        read_opts = pcsv.ReadOptions(column_names=names, block_size=8 << 20) if names else \
            pcsv.ReadOptions(block_size=8 << 20)
        conv = pcsv.ConvertOptions(include_columns=wanted, column_types={c: pa.string() for c in wanted},
                                   strings_can_be_null=False)
        with open_binary(path, report) as fh:
            try:
                reader = pcsv.open_csv(fh, read_options=read_opts, parse_options=pcsv.ParseOptions(
                    invalid_row_handler=on_bad, newlines_in_values=False), convert_options=conv)
            except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
                raise InputError(path, f"not a readable CERT CSV: {exc}", "line 1") from None
            try:
                for rb in reader:
                    frame = rb.to_pandas()
                    for i in range(0, len(frame), batch_size):
                        yield frame.iloc[i:i + batch_size].reset_index(drop=True)
            except pa.ArrowInvalid as exc:
                report.skip(src, f"CSV parsing stopped, rest of file not read: {exc}")
        if bad["n"]:
            report.skip(src, "row with the wrong number of fields", where=bad["first"], n=bad["n"])

    def _read_ldap(self, path: Path, report: ReadReport, cols: list[str], batch_size: int) -> Iterator[EventBatch]:
        m = _MONTH.search(path.stem)
        when = pd.Timestamp(f"{m.group(1)}-{m.group(2)}-01").timestamp() if m and 1 <= int(m.group(2)) <= 12 else np.nan
        wanted = [c for c in cols if c in ("user_id", "email", "role", "functional_unit", "department", "supervisor")]
        offset = 1
        for c in self._chunks(path, report, None, wanted, batch_size):
            user = c["user_id"].str.strip().str.lower()
            keep = user.ne("").to_numpy()
            if not keep.all():
                report.skip(str(path), "directory row without a user_id",
                            where=f"line {offset + 1 + int(np.flatnonzero(~keep)[0])}", n=int((~keep).sum()))
            unit = c["functional_unit"] if "functional_unit" in c.columns else pd.Series([""] * len(c))
            if "department" in c.columns:
                unit = unit.str.strip().str.cat(c["department"].str.strip(), sep=" / ").str.strip(" /")
            frame = pd.DataFrame({
                "event.id": [f"{path.name}:{offset + 1 + i}" for i in range(len(c))],
                "event.dataset": "cert.ldap",
                "event.action": "directory-entry",
                "@timestamp": when,
                "user.name": user,
                "email.from.address": c["email"].str.strip().str.lower() if "email" in c.columns else "",
                "user.roles": c["role"].str.strip() if "role" in c.columns else "",
                "organization.unit": unit.to_numpy(),
                "user.manager": c["supervisor"].str.strip() if "supervisor" in c.columns else "",
            }).loc[keep].reset_index(drop=True)
            offset += len(c)
            if len(frame):
                yield EventBatch.of("activity", frame, source=str(path))

    def _convert(self, kind: str, c: pd.DataFrame, path: Path, report: ReadReport, offset: int) -> pd.DataFrame:
        src = str(path)
        n = len(c)
        # pyarrow's strptime is ~10x faster than pandas' for one fixed format
        parsed = pc.strptime(pc.utf8_trim_whitespace(pa.array(c["date"], type=pa.string())), format=_DATE_FORMAT,
                             unit="s", error_is_null=True)
        secs = pc.cast(parsed, pa.int64()).to_numpy(zero_copy_only=False).astype("float64")
        secs[np.asarray(parsed.is_null())] = np.nan
        user = c["user"].str.strip().str.lower()
        keep = ~np.isnan(secs) & user.ne("").to_numpy()
        for mask, why in ((np.isnan(secs), "unreadable date (expected MM/DD/YYYY HH:MM:SS)"),
                          (~np.isnan(secs) & user.eq("").to_numpy(), "row without a user")):
            if mask.any():
                report.skip(src, why, where=f"line {offset + 1 + int(np.flatnonzero(mask)[0])}", n=int(mask.sum()))
        ids = c["id"].str.strip()
        dup = (ids.duplicated() & ids.ne("")).to_numpy() & keep
        if dup.any():  # a record written twice (a copied log) would count twice in the daily vectors
            report.skip(src, "duplicate record id (kept the first)", where=f"line {offset + 1 + int(np.flatnonzero(dup)[0])}",
                        n=int(dup.sum()))
            keep &= ~dup
        no_id = ids.eq("").to_numpy()
        if no_id.any():  # the line number names a record without an id
            name = path.name
            ids = ids.copy()
            ids[no_id] = [f"{name}:{offset + 1 + int(i)}" for i in np.flatnonzero(no_id)]
        out = pd.DataFrame({
            "event.id": ids,
            "@timestamp": secs,
            "user.name": user,
            "host.name": c["pc"].str.strip(),
        })
        act = c["activity"].str.strip().str.lower().map(_ACTIONS) if "activity" in c.columns else None
        if kind == "logon_device":
            action = act.fillna("")
            out["event.action"] = action
            out["event.dataset"] = np.where(action.isin(["connect", "disconnect"]), "cert.device", "cert.logon")
            unknown = action.eq("").to_numpy() & keep
            if unknown.any():
                report.skip(src, "activity neither Logon/Logoff nor Connect/Disconnect",
                            where=f"line {offset + 1 + int(np.flatnonzero(unknown)[0])}", n=int(unknown.sum()))
                keep &= ~unknown
        elif kind == "file":
            out["event.dataset"] = "cert.file"
            out["event.action"] = act.fillna("file-copy") if act is not None else "file-copy"
            out["file.path"] = c["filename"].str.strip()
            if "to_removable_media" in c.columns:
                to_rm = c["to_removable_media"].str.strip().str.lower().isin(["true", "1"])
                from_rm = c.get("from_removable_media", pd.Series([""] * n)).str.strip().str.lower().isin(["true", "1"])
                out["file.removable"] = (to_rm | from_rm).astype("float64")
            else:
                out["file.removable"] = 1.0  # r1-r4 log only copies to removable media
        elif kind == "email":
            out["event.dataset"] = "cert.email"
            out["event.action"] = act.fillna("email-send") if act is not None else "email-send"
            rcpt = c["to"].str.cat([c[k] for k in ("cc", "bcc") if k in c.columns], sep=";")
            out["email.to.address"] = (rcpt.str.lower().str.replace(r"[;\s]+", ",", regex=True).str.strip(","))
            out["email.from.address"] = c["from"].str.strip().str.lower()
            if "size" in c.columns:
                out["activity.bytes"] = pd.to_numeric(c["size"], errors="coerce")
            if "attachments" in c.columns:
                att = c["attachments"].str.strip()
                num = pd.to_numeric(att, errors="coerce")
                listed = att.str.count(";") + att.ne("").astype(int)  # r6: "path(size);path(size)"
                out["email.attachment_count"] = num.fillna(listed.astype("float64"))
        elif kind == "http":
            out["event.dataset"] = "cert.http"
            out["event.action"] = act.fillna("web-visit") if act is not None else "web-visit"
            url = c["url"].str.strip()
            out["url.original"] = url
            host = pc.extract_regex(pc.utf8_lower(pa.array(url, type=pa.string())),
                                    r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?(?P<host>[^/:?#]+)")
            out["url.domain"] = pd.Series(pc.struct_field(host, [0]).fill_null("").to_numpy(zero_copy_only=False),
                                          dtype="str")
        return out.loc[keep].reset_index(drop=True)
