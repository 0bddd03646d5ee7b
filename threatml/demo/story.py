"""The demo's cross-domain story: a phishing mail, then the stolen password in use.

Beside the network logs of :mod:`threatml.demo.network` this writes what the
same office's mail server and SSH jump host would have logged:

* ``mail/``: a day's worth of ordinary messages (internal notes, partner
  newsletters, calendar mail), all passing SPF/DKIM/DMARC, and one credential
  phishing mail to :data:`VICTIM_USER` from a look-alike of the company domain,
  sent 90 minutes before the SSH brute force begins;
* ``jump01-auth.log``: jump01's sshd/sudo/cron log. Admins log on with keys
  from the monitoring and admin hosts; the brute-force connections of the
  network scenario appear as failed passwords; the attack ends with an
  accepted password for the phished user from the attacker's address, and a
  refused ``sudo``.

Both are written from the scenario's own times and addresses, so a scan that
joins domains can tell one story: phishing → password guessing → valid account.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import numpy as np

from threatml.demo.network import BRUTEFORCE_IP, PUBLIC_DOMAIN, SERVERS, DemoScenario, InjectedAttack

VICTIM_USER = "dana.reyes"
VICTIM_MAILBOX = f"{VICTIM_USER}@{PUBLIC_DOMAIN}"
#: the phishing sender's domain: one character away from the company's
PHISH_DOMAIN = PUBLIC_DOMAIN.replace("northwind", "northwlnd")
PHISH_URL = f"http://{PUBLIC_DOMAIN.split('.')[0]}-sso.account-verify.top/owa/login.php?u={VICTIM_USER}"
_STAFF = ["dana.reyes", "li.wei", "omar.haddad", "sara.lind", "tom.becker", "ana.costa", "raj.patel", "eve.moreau",
          "jon.kim", "mia.novak", "ops.admin", "backup"]
_ADMINS = ["ops.admin", "li.wei"]
#: partner mail: sender, display name, subject, body (a partner writes its own kind of message)
_PARTNERS = [("newsletter@news.contoso-supplies.example", "Contoso Supplies", "Your March newsletter",
              "Hello {first},\n\nthis month's edition covers the new shipping options for business accounts and "
              "our spring catalogue of office furniture. The trade fair in Lyon is on 14 April; our stand is B12.\n\n"
              "Best wishes from the Contoso Supplies team\n\nYou get this newsletter because you signed up at "
              "contoso-supplies.example. Unsubscribe: https://news.contoso-supplies.example/unsubscribe"),
             ("billing@fabrikam-logistics.example", "Fabrikam Logistics", "Invoice 2026-0311",
              "Hello {first},\n\nthe invoice for the February shipments (2026-0311, 14 pallets Rotterdam to Leeds) is "
              "in the customer portal as usual. Payment terms are unchanged, 30 days.\n\nKind regards\nAnna Berg\n"
              "Fabrikam Logistics accounts"),
             ("events@tailspin-conf.example", "Tailspin Conference", "Programme for Tailspin 2026",
              "Hi {first},\n\nthe programme for Tailspin 2026 (Utrecht, 2-3 June) is out. Talks on supply chain data "
              "and warehouse robotics; see you there.\n\nThe Tailspin team")]
_SUBJECTS = ["Quarterly planning notes", "Lunch on Thursday?", "Updated slide deck", "Re: customer call follow-up",
             "Team offsite agenda", "Build pipeline is green again", "Holiday calendar", "Re: budget review",
             "Meeting moved to 3 pm", "Welcome our new colleague"]
_BODIES = ["Hi all,\n\nthe notes from today's meeting are on the team site. Let me know if I missed anything.\n\nThanks",
           "Hello,\n\nplease find the figures for this month below. Numbers look in line with the forecast.\n\nBest",
           "Hi,\n\nquick reminder that the review is tomorrow morning. Slides are in the shared folder.\n\nCheers"]


def add_story(scenario: DemoScenario, seed: int = 7) -> tuple[list[Path], list[InjectedAttack]]:
    """Write the mail folder and jump01's auth.log for ``scenario``; add the two attacks to its ground truth.

    Returns (paths to scan, injected attacks added).
    """
    rng = np.random.default_rng(seed + 1009)
    brute = next(a for a in scenario.attacks if a.kind == "bruteforce")
    mail_dir = scenario.out_dir / "mail"
    mail_dir.mkdir(exist_ok=True)
    phish_at = brute.start - 90 * 60
    _write_mail(mail_dir, rng, scenario.start, scenario.end, phish_at)
    auth_log = scenario.out_dir / "jump01-auth.log"
    accepted_at = _write_auth_log(auth_log, rng, scenario.start, scenario.end, brute)
    added = [
        InjectedAttack(kind="phishing", technique="T1566.002", technique_name="Phishing: Spearphishing Link",
                       attacker=f"it-servicedesk@{PHISH_DOMAIN}", victim=VICTIM_MAILBOX, start=phish_at, end=phish_at,
                       uids=(), description=f"credential phishing mail to {VICTIM_MAILBOX} linking to {PHISH_URL}"),
        InjectedAttack(kind="account-compromise", technique="T1078", technique_name="Valid Accounts",
                       attacker=BRUTEFORCE_IP, victim=VICTIM_USER, start=brute.start, end=accepted_at, uids=(),
                       description=f"SSH password guessing on jump01 ending in an accepted password for {VICTIM_USER} "
                                   f"from {BRUTEFORCE_IP}"),
    ]
    scenario.attacks.extend(added)
    doc = json.loads(scenario.ground_truth.read_text(encoding="utf-8"))
    doc["attacks"] = [a.to_json() for a in scenario.attacks]
    doc["story"] = {"mail": str(mail_dir.name), "auth_log": auth_log.name, "victim_user": VICTIM_USER}
    scenario.ground_truth.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return [mail_dir, auth_log], added


# --------------------------------------------------------------------------- mail


def _message(sender: str, to: str, subject: str, when: float, body: str, auth: str) -> EmailMessage:
    m = EmailMessage()
    m["Received"] = (f"from mx.{sender.split('@')[1]} (mx.{sender.split('@')[1]} [192.0.2.25]) by mail01.{PUBLIC_DOMAIN} "
                     f"with ESMTPS; {format_datetime(datetime.fromtimestamp(when, tz=timezone.utc))}")
    m["Authentication-Results"] = f"mail01.{PUBLIC_DOMAIN}; {auth}"
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = format_datetime(datetime.fromtimestamp(when, tz=timezone.utc))
    m["Message-ID"] = make_msgid(domain=sender.split("@")[1].strip(">"))
    m.set_content(body)
    return m


def _write_mail(folder: Path, rng: np.random.Generator, t0: float, t1: float, phish_at: float) -> None:
    ok = "spf=pass smtp.mailfrom={d}; dkim=pass header.d={d}; dmarc=pass header.from={d}"
    for i in range(48):
        when = float(rng.uniform(t0 - 8 * 3600, t1))
        to_user = _STAFF[rng.integers(len(_STAFF) - 2)]
        if rng.random() < 0.3:
            addr, name, subject, body = _PARTNERS[rng.integers(len(_PARTNERS))]
            sender, dom = f"{name} <{addr}>", addr.split("@")[1]
            body = body.format(first=to_user.split(".")[0].title())
        else:
            who = _STAFF[rng.integers(len(_STAFF) - 2)]
            sender, dom = f"{who.replace('.', ' ').title()} <{who}@{PUBLIC_DOMAIN}>", PUBLIC_DOMAIN
            subject, body = _SUBJECTS[rng.integers(len(_SUBJECTS))], _BODIES[rng.integers(len(_BODIES))]
        msg = _message(sender, f"{to_user}@{PUBLIC_DOMAIN}", subject, when, body, ok.format(d=dom))
        (folder / f"msg-{i:03d}.eml").write_bytes(bytes(msg))

    phish = _message(f"Northwind IT Service Desk <it-servicedesk@{PHISH_DOMAIN}>", VICTIM_MAILBOX,
                     "Action required: your password expires today", phish_at,
                     "Your mailbox password expires today. Verify your account now to avoid losing access: "
                     f"{PHISH_URL}\n\nIT Service Desk",
                     f"spf=fail smtp.mailfrom={PHISH_DOMAIN}; dkim=none; dmarc=fail header.from={PHISH_DOMAIN}")
    phish["Reply-To"] = "helpdesk-verify@proton-mailbox.example"
    phish.add_alternative(
        "<html><body><p>Dear user,</p><p>Your mailbox password <b>expires today</b>. To keep access, verify your "
        f"account now:</p><p><a href=\"{PHISH_URL}\">https://portal.{PUBLIC_DOMAIN}/password-reset</a></p>"
        "<p style=\"font-size:0px\">invoice meeting notes lunch</p><p>IT Service Desk</p></body></html>",
        subtype="html")
    (folder / "msg-phish.eml").write_bytes(bytes(phish))


# --------------------------------------------------------------------------- jump01's auth.log


def _syslog_time(t: float) -> str:
    d = datetime.fromtimestamp(t, tz=timezone.utc)
    return f"{d:%b} {d.day:2d} {d:%H:%M:%S}"


def _write_auth_log(path: Path, rng: np.random.Generator, t0: float, t1: float, brute: InjectedAttack) -> float:
    """Write the log; returns when the attacker's password was accepted."""
    lines: list[tuple[float, str]] = []
    pid = [20000]

    def add(t: float, prog: str, text: str, new_pid: bool = False) -> int:
        if new_pid:
            pid[0] += int(rng.integers(1, 40))
        lines.append((t, f"{_syslog_time(t)} jump01 {prog}[{pid[0]}]: {text}"))
        return pid[0]

    mon, admin_ws = SERVERS["mon01"], "10.10.2.11"
    # admins with keys, every 20-60 minutes, sometimes with sudo
    t = t0 + float(rng.uniform(60, 600))
    while t < t1:
        user = _ADMINS[rng.integers(len(_ADMINS))]
        src = mon if user == "ops.admin" else admin_ws
        port = int(rng.integers(40000, 60000))
        add(t, "sshd", f"Accepted publickey for {user} from {src} port {port} ssh2: ED25519 SHA256:"
                       f"{'k' * 8}{user[:3]}Q7x", new_pid=True)
        add(t, "sshd", f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)")
        if rng.random() < 0.5:
            add(t + 30, "sudo", f"   {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl status nginx",
                new_pid=True)
        end = t + float(rng.uniform(120, 900))
        add(end, "sshd", f"pam_unix(sshd:session): session closed for user {user}")
        t += float(rng.uniform(1200, 3600))
    # cron every 10 minutes
    for tc in np.arange(t0 - t0 % 600 + 600, t1, 600):
        add(float(tc), "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", new_pid=True)
        add(float(tc) + 1, "CRON", "pam_unix(cron:session): session closed for user root")
    # the brute force: one failed password per connection of the network scenario
    guesses = ["root", "admin", "test", "oracle", "ubuntu", "postgres", "git", VICTIM_USER, "user", "deploy"]
    n = max(len(brute.uids), 50)
    times = np.sort(rng.uniform(brute.start, brute.end, n))
    for tb in times:
        user = guesses[rng.integers(len(guesses))]
        port = int(rng.integers(32768, 61000))
        if user in ("root", VICTIM_USER):
            add(float(tb), "sshd", f"Failed password for {user} from {BRUTEFORCE_IP} port {port} ssh2", new_pid=True)
        else:
            add(float(tb), "sshd", f"Invalid user {user} from {BRUTEFORCE_IP} port {port}", new_pid=True)
            add(float(tb), "sshd", f"Failed password for invalid user {user} from {BRUTEFORCE_IP} port {port} ssh2")
        add(float(tb) + 1, "sshd", f"Connection closed by authenticating user {user} {BRUTEFORCE_IP} port {port} [preauth]")
    accepted = float(brute.end) + 5
    port = int(rng.integers(32768, 61000))
    add(accepted, "sshd", f"Accepted password for {VICTIM_USER} from {BRUTEFORCE_IP} port {port} ssh2", new_pid=True)
    add(accepted, "sshd", f"pam_unix(sshd:session): session opened for user {VICTIM_USER}(uid=1004) by (uid=0)")
    add(accepted + 40, "sudo", f"{VICTIM_USER} : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/{VICTIM_USER} ; "
                               "USER=root ; COMMAND=/bin/bash", new_pid=True)
    add(accepted + 300, "sshd", f"pam_unix(sshd:session): session closed for user {VICTIM_USER}")
    lines.sort(key=lambda x: x[0])
    path.write_text("".join(line + "\n" for _, line in lines), encoding="utf-8")
    return accepted
