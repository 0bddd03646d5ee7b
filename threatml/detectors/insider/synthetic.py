"""A synthetic organisation writing CERT-style activity logs, with planted insiders.

Users keep office hours (a few work evenings or nights, by habit), log on to
their own PC, some use removable drives every day, everyone mails colleagues
and a few outside addresses and browses a shared pool of web sites. Three
insider stories modelled on the CERT r4.2 scenarios are planted on chosen
users, each on a stretch of days, and returned as ground truth:

* ``leak``: a user who never worked late nor used a thumb drive starts logging
  on at night, copying files to a drive and visiting a leak site, then leaves.
* ``jobhunt``: a user browses job sites for weeks, then copies files to a drive
  at several times their usual rate (and mails a competitor) before leaving.
* ``sabotage``: an administrator fetches a keylogger from an unknown site, puts
  it on their supervisor's PC with a drive and logs on there at night.

Every user has a role (written as monthly CERT-style ``LDAP/YYYY-MM.csv``
directory snapshots); habits differ by role (administrators use drives and
work nights more, salespeople mail outsiders more).

>>> import tempfile, pathlib
>>> truth = generate_cert(pathlib.Path(tempfile.mkdtemp()), users=20, weeks=3, seed=2)
>>> sorted({t["scenario"] for t in truth})
['jobhunt', 'leak', 'sabotage']
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

ORG = "dtaa.com"
ROLES = np.array(["Salesman", "ITAdmin", "Engineer", "Manager", "Administrative"])
START = pd.Timestamp("2010-01-04")  # a Monday
_WORDS = np.array("report budget meeting project client schedule review draft plan update design test data "
                  "quarter sales contract invoice team deadline proposal".split())
_MAIL_DOMAINS = np.array(["gmail.com", "yahoo.com", "hotmail.com", "aol.com", "comcast.net", "verizon.net",
                          "partner-corp.com", "supplier.net", "msn.com", "cox.net"])
_JOB_SITES = ["monster.com", "careerbuilder.com", "indeed.com", "simplyhired.com", "hotjobs.yahoo.com",
              "jobhuntersbible.com", "job-hunt.org", "aol.job-search.com", "craigslist.org", "linkedin.com",
              "careers.lockheedmartin.com", "jobs.raytheon.com", "careers.northropgrumman.com", "jobs.boeing.com"]


def _domains(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    popular = [f"site{i:03d}.com" for i in range(300)] + ["google.com", "facebook.com", "cnn.com", "weather.com"]
    tail = [f"blog{i:04d}.net" for i in range(2000)]
    names = np.array(popular + tail + _JOB_SITES[:4])  # a few big job boards are visited by anybody, rarely
    w = np.r_[1.0 / np.arange(1, len(popular) + 1) ** 0.9, np.full(len(tail), 0.0015), np.full(4, 0.002)]
    return names, w / w.sum()


def _times(day: np.ndarray, hour: np.ndarray) -> np.ndarray:
    return (START.timestamp() + day * 86400.0 + np.clip(hour, 0, 23.999) * 3600.0)


def generate_cert(out: Path, users: int = 200, weeks: int = 10, seed: int = 0, http_header: bool = False,
                  insiders: dict[str, int] | None = None) -> list[dict]:
    """Write logon/device/file/email/http CSVs into ``out``; return the planted insiders.

    ``http.csv`` is headerless by default, as in CERT r4.2. Ground truth also
    goes to ``out/ground_truth.json`` (a name ``threatml scan`` skips) (``user``, ``scenario``, ``first_day``,
    ``last_day`` as YYYY-MM-DD).
    """
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    insiders = {"leak": 1, "jobhunt": 1, "sabotage": 1} if insiders is None else insiders
    days = weeks * 7
    uid = np.array([f"{''.join(rng.choice(list('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), 3))}{i:04d}" for i in range(users)])
    pc = np.array([f"PC-{i:04d}" for i in rng.choice(10000, users, replace=False)])
    role = rng.choice(ROLES, users, p=[0.3, 0.1, 0.3, 0.1, 0.2])
    start_h = rng.normal(8.0, 0.6, users)
    night = rng.random(users) < np.where(role == "ITAdmin", 0.25, 0.03)
    start_h[night] = rng.normal(18.0, 1.0, night.sum())
    length = rng.normal(9.0, 0.5, users)
    weekend_p = np.where(rng.random(users) < 0.05, 0.4, 0.01)
    usb_share = np.select([role == "ITAdmin", role == "Engineer", role == "Salesman"], [0.7, 0.35, 0.05], 0.15)
    usb_rate = np.where(rng.random(users) < usb_share, rng.gamma(2.0, 0.8, users), 0.0)
    mail_rate = rng.gamma(3.0, 2.5, users)
    ext_frac = np.where(role == "Salesman", rng.beta(5, 8, users), rng.beta(2, 12, users))
    web_rate = rng.gamma(4.0, 6.0, users)
    dom_names, dom_w = _domains(rng)
    favourites = np.stack([rng.choice(len(dom_names), 15, p=dom_w) for _ in range(users)])

    # ---- who does what and when (insiders are chosen among suitable users)
    truth: list[dict] = []
    taken: set[int] = set()
    plan: dict[int, dict] = {}

    def pick(ok: np.ndarray) -> int:
        cand = [i for i in np.flatnonzero(ok) if i not in taken]
        i = int(rng.choice(cand))
        taken.add(i)
        return i

    for scen, k in insiders.items():
        for _ in range(k):
            if scen == "leak":
                u = pick((usb_rate == 0) & ~night & (weekend_p < 0.1))
                first = int(rng.integers(days // 2, days - 10))
                span = sorted(rng.choice(np.arange(first, first + 10), 4, replace=False).tolist())
                plan[u] = {"scenario": scen, "act": span, "leave": span[-1] + 1}
            elif scen == "jobhunt":
                u = pick(~night)
                first = int(rng.integers(days // 3, max(days // 3 + 1, days - 28)))
                hunt = list(range(first, min(first + 21, days - 7)))
                theft = list(range(hunt[-1] + 1, min(hunt[-1] + 8, days)))
                plan[u] = {"scenario": scen, "hunt": hunt, "act": theft, "leave": theft[-1] + 1}
                usb_rate[u] = max(usb_rate[u], 0.7)  # an ordinary drive user before the theft
            else:
                u = pick(~night & (weekend_p < 0.1) & (role == "ITAdmin"))
                boss = pick(~night & (role == "Manager"))
                d0 = int(rng.integers(days // 2, days - 3))
                plan[u] = {"scenario": scen, "act": [d0, d0 + 1], "leave": d0 + 2, "boss": boss}
            p = plan[u]
            last = max(p["act"])
            first_day = min(p.get("hunt", p["act"]))
            truth.append({"user": uid[u].lower(), "scenario": scen,
                          "first_day": str((START + pd.Timedelta(days=first_day)).date()),
                          "last_day": str((START + pd.Timedelta(days=last)).date())})

    # ---- ordinary days: a user-day grid
    U, D = np.meshgrid(np.arange(users), np.arange(days), indexing="ij")
    U, D = U.ravel(), D.ravel()
    weekday = (D % 7) < 5
    present = np.where(weekday, rng.random(len(U)) > 0.05, rng.random(len(U)) < weekend_p[U])
    for u, p in plan.items():
        present &= ~((U == u) & (D >= p["leave"]))  # gone after leaving
    U, D = U[present], D[present]
    s = start_h[U] + rng.normal(0, 0.3, len(U))
    e = s + length[U] + rng.normal(0, 0.4, len(U))

    logon = [pd.DataFrame({"t": _times(D, s), "u": U, "pc": pc[U], "activity": "Logon"}),
             pd.DataFrame({"t": _times(D, e), "u": U, "pc": pc[U], "activity": "Logoff"})]
    shared = rng.random(len(U)) < 0.01  # now and then someone uses a meeting-room or lab computer
    sh_pc = np.array([f"PC-S{i:03d}" for i in rng.integers(0, 30, shared.sum())])
    sh_h = s[shared] + rng.uniform(1, 6, shared.sum())
    logon += [pd.DataFrame({"t": _times(D[shared], sh_h), "u": U[shared], "pc": sh_pc, "activity": "Logon"}),
              pd.DataFrame({"t": _times(D[shared], sh_h + 0.7), "u": U[shared], "pc": sh_pc, "activity": "Logoff"})]
    mid = rng.random(len(U)) < 0.3
    mh = s[mid] + rng.uniform(2, 6, mid.sum())
    logon += [pd.DataFrame({"t": _times(D[mid], mh), "u": U[mid], "pc": pc[U[mid]], "activity": "Logon"}),
              pd.DataFrame({"t": _times(D[mid], mh - 0.5), "u": U[mid], "pc": pc[U[mid]], "activity": "Logoff"})]

    def spread(rate: np.ndarray, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Events per user-day with ``rate``: (row index into U/D, hour)."""
        n = rng.poisson(rate)
        rows = np.repeat(np.arange(len(rate)) if idx is None else idx, n)
        return rows, s[rows] + rng.uniform(0.2, 1.0, len(rows)) * (e[rows] - s[rows] - 0.3)

    r_usb, h_usb = spread(usb_rate[U])
    device = [pd.DataFrame({"t": _times(D[r_usb], h_usb), "u": U[r_usb], "pc": pc[U[r_usb]], "activity": "Connect"}),
              pd.DataFrame({"t": _times(D[r_usb], h_usb + rng.uniform(0.05, 0.5, len(r_usb))), "u": U[r_usb],
                            "pc": pc[U[r_usb]], "activity": "Disconnect"})]
    nf = rng.poisson(2.0, len(r_usb))
    fr = np.repeat(np.arange(len(r_usb)), nf)
    files = [pd.DataFrame({"t": _times(D[r_usb[fr]], h_usb[fr] + rng.uniform(0.01, 0.04, len(fr))),
                           "u": U[r_usb[fr]], "pc": pc[U[r_usb[fr]]],
                           "filename": [f"{x}.{ext}" for x, ext in zip(rng.integers(10**5, 10**6, len(fr)),
                                                                     rng.choice(["doc", "pdf", "xls", "txt"], len(fr)))]})]

    r_m, h_m = spread(mail_rate[U])
    mails = [_mail_frame(rng, uid, U[r_m], pc[U[r_m]], _times(D[r_m], h_m), ext_frac[U[r_m]], users)]
    r_w, h_w = spread(web_rate[U])
    fav = rng.random(len(r_w)) < 0.7
    dom = np.where(fav, favourites[U[r_w], rng.integers(0, 15, len(r_w))], rng.choice(len(dom_names), len(r_w), p=dom_w))
    web = [pd.DataFrame({"t": _times(D[r_w], h_w), "u": U[r_w], "pc": pc[U[r_w]], "domain": dom_names[dom]})]

    # ---- the planted stories
    for u, p in plan.items():
        sc = p["scenario"]
        if sc == "leak":
            for d in p["act"]:
                h = rng.uniform(21.0, 23.5)
                logon.append(pd.DataFrame({"t": _times(np.array([d, d]), np.array([h, h + 0.4])), "u": u, "pc": pc[u],
                                           "activity": ["Logon", "Logoff"]}))
                k = int(rng.integers(2, 4))
                ch = h + np.sort(rng.uniform(0.02, 0.35, k))
                device.append(pd.DataFrame({"t": _times(np.full(2 * k, d), np.r_[ch, ch + 0.02]), "u": u, "pc": pc[u],
                                            "activity": ["Connect"] * k + ["Disconnect"] * k}))
                nfl = int(rng.integers(8, 25))
                files.append(pd.DataFrame({"t": _times(np.full(nfl, d), rng.uniform(h, h + 0.35, nfl)), "u": u,
                                           "pc": pc[u], "filename": [f"secret_{i}.doc" for i in rng.integers(0, 999, nfl)]}))
                nw = int(rng.integers(3, 8))
                web.append(pd.DataFrame({"t": _times(np.full(nw, d), rng.uniform(h, h + 0.35, nw)), "u": u, "pc": pc[u],
                                         "domain": "wikileaks.org"}))
        elif sc == "jobhunt":
            for d in p["hunt"]:
                if (d % 7) >= 5:
                    continue
                nw = int(rng.integers(4, 12))
                web.append(pd.DataFrame({"t": _times(np.full(nw, d), rng.uniform(9, 17, nw)), "u": u, "pc": pc[u],
                                         "domain": rng.choice(_JOB_SITES, nw)}))
            for d in p["act"]:
                if (d % 7) >= 5:
                    continue
                k = int(rng.integers(4, 8))
                ch = np.sort(rng.uniform(9, 17, k))
                device.append(pd.DataFrame({"t": _times(np.full(2 * k, d), np.r_[ch, ch + 0.1]), "u": u, "pc": pc[u],
                                            "activity": ["Connect"] * k + ["Disconnect"] * k}))
                nfl = int(rng.integers(15, 40))
                files.append(pd.DataFrame({"t": _times(np.full(nfl, d), rng.uniform(9, 17, nfl)), "u": u, "pc": pc[u],
                                           "filename": [f"design_{i}.pdf" for i in rng.integers(0, 999, nfl)]}))
                mails.append(_mail_frame(rng, uid, np.array([u]), np.array([pc[u]]), _times(np.array([d]), np.array([15.0])),
                                         np.array([1.0]), users, to_domain="competitor-corp.com", size=4_000_000))
        else:
            boss = p["boss"]
            d0, d1 = p["act"]
            web.append(pd.DataFrame({"t": _times(np.full(3, d0), np.array([10.0, 10.1, 10.2])), "u": u, "pc": pc[u],
                                     "domain": "keylogger-downloads.net"}))
            device.append(pd.DataFrame({"t": _times(np.full(4, d0), np.array([10.3, 10.5, 12.0, 12.2])), "u": u,
                                        "pc": [pc[u], pc[u], pc[boss], pc[boss]],
                                        "activity": ["Connect", "Disconnect", "Connect", "Disconnect"]}))
            logon.append(pd.DataFrame({"t": _times(np.array([d0, d0, d1, d1]), np.array([11.9, 12.4, 22.5, 23.0])),
                                       "u": u, "pc": [pc[boss], pc[boss], pc[boss], pc[boss]],
                                       "activity": ["Logon", "Logoff", "Logon", "Logoff"]}))
            files.append(pd.DataFrame({"t": _times(np.full(2, d0), np.array([10.35, 12.05])), "u": u,
                                       "pc": [pc[u], pc[boss]], "filename": ["kl.exe", "kl.exe"]}))
            mails.append(_mail_frame(rng, uid, np.array([boss]), np.array([pc[boss]]),
                                     _times(np.array([d1]), np.array([22.8])), np.array([0.0]), users, mass=True))

    _write(out / "logon.csv", pd.concat(logon), uid, ["activity"])
    _write(out / "device.csv", pd.concat(device), uid, ["activity"])
    f = pd.concat(files)
    f["content"] = _content(rng, len(f))
    _write(out / "file.csv", f, uid, ["filename", "content"])
    m = pd.concat(mails)
    m["content"] = _content(rng, len(m))
    _write(out / "email.csv", m, uid, ["to", "cc", "bcc", "from", "size", "attachments", "content"])
    w = pd.concat(web)
    w["url"] = "http://" + w["domain"].astype(str) + "/" + pd.Series(_WORDS[rng.integers(0, len(_WORDS), len(w))]).to_numpy()
    w["content"] = _content(rng, len(w))
    _write(out / "http.csv", w, uid, ["url", "content"], header=http_header)
    _write_ldap(out / "LDAP", uid, role, days)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def _mail_frame(rng, uid, U, pcs, t, ext_frac, users, to_domain=None, size=None, mass=False) -> pd.DataFrame:
    n = len(U)
    nrc = rng.integers(1, 4, n)
    colleague = uid[rng.integers(0, users, n)]
    internal = np.char.add(np.char.lower(colleague.astype(str)), "@" + ORG)
    ext = rng.random(n) < ext_frac
    outside = np.char.add(np.char.add("user", rng.integers(100, 999, n).astype(str)), "@")
    outside = np.char.add(outside, _MAIL_DOMAINS[rng.integers(0, len(_MAIL_DOMAINS), n)] if to_domain is None
                          else np.full(n, to_domain))
    to = np.where(ext, outside, internal).astype(object)
    extra = nrc > 1
    to[extra] = to[extra] + ";" + np.char.add(np.char.lower(uid[rng.integers(0, users, extra.sum())].astype(str)), "@" + ORG)
    if mass:
        to = np.array([";".join(f"{x.lower()}@{ORG}" for x in uid)], dtype=object)
    return pd.DataFrame({"t": t, "u": U, "pc": pcs, "to": to, "cc": "", "bcc": "",
                         "from": np.char.add(np.char.lower(uid[U].astype(str)), "@" + ORG),
                         "size": np.full(n, size) if size else rng.lognormal(10.0, 0.8, n).astype(int),
                         "attachments": np.where(rng.random(n) < 0.2, rng.integers(1, 3, n), 0) if not size else 2})


def _write_ldap(folder: Path, uid: np.ndarray, role: np.ndarray, days: int) -> None:
    """Monthly directory snapshots (CERT ``LDAP/YYYY-MM.csv``): who has which role."""
    folder.mkdir(exist_ok=True)
    months = pd.period_range(START, START + pd.Timedelta(days=days - 1), freq="M")
    unit = {"Salesman": "Sales", "ITAdmin": "IT", "Engineer": "Research", "Manager": "Management",
            "Administrative": "Administration"}
    for m in months:
        pd.DataFrame({
            "employee_name": [f"Employee {u}" for u in uid], "user_id": uid,
            "email": [f"{u.lower()}@{ORG}" for u in uid], "role": role, "business_unit": 1,
            "functional_unit": [unit[r] for r in role], "department": [f"{unit[r]} {i % 3 + 1}" for i, r in enumerate(role)],
            "team": "", "supervisor": "",
        }).to_csv(folder / f"{m}.csv", index=False)


def _content(rng, n: int) -> np.ndarray:
    w = _WORDS[rng.integers(0, len(_WORDS), (n, 4))]
    return np.array([" ".join(r) for r in w], dtype=object) if n else np.array([], dtype=object)


def _write(path: Path, f: pd.DataFrame, uid: np.ndarray, cols: list[str], header: bool = True) -> None:
    f = f.sort_values("t", kind="stable").reset_index(drop=True)
    out = pd.DataFrame({
        "id": [f"{{R{i:07X}-{path.stem.upper()[:3]}}}" for i in range(len(f))],
        "date": pd.to_datetime(f["t"], unit="s").dt.strftime("%m/%d/%Y %H:%M:%S"),
        "user": uid[f["u"].to_numpy(dtype=int)],
        "pc": f["pc"].to_numpy(),
    })
    for c in cols:
        out[c] = f[c].to_numpy()
    out.to_csv(path, index=False, header=header)
