"""`sesim demo` (what `make run` starts): the source and staff interfaces, the
offline workstation on 127.0.0.1 with the demo's reports already imported and a
first publication bundle, the public map on base-port + 3 serving that bundle, the
intake server (SMS, e-mail, Messenger, X) on base-port + 4, and for e-mail a demo
mailbox (dovecot) on base-port + 5 with a demo SMTP server on base-port + 6, and one
encrypted backup made at start that the printed commands restore."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

from journalist_interface.workstation.keys import read_verify_key_file
from securedrop_like.bundles import read_publication
from securedrop_like.db import Database
from securedrop_like.demo import load_demo_data
from securedrop_like.instance import open_instance
from sesim.demo_mail import DEMO_ADDRESS, imap_login, mail_unavailable
from tests.conftest import csrf_of
from tests.integration.server import free_port, stop
from tests.integration.test_demo_tor import _free, _wait_for


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _answers(url: str, proc: subprocess.Popen[bytes], log: Path) -> requests.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)


def test_the_demo_serves_every_part_and_its_workstation_holds_the_reports(
    tmp_path: Path,
) -> None:
    home = tmp_path / "demo"
    port = free_port()
    while not all(_free(port + n) for n in (1, 2, 3, 4, 5, 6)):
        port = free_port()
    log = tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "sesim", "demo", "--home", str(home), "--host", "127.0.0.1"]
    cmd += ["--base-port", str(port), "--reports", "12"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        text = _wait_for(log, r"Press Ctrl-C", proc, 120)
        found = re.search(r"Workstation:\s+http://127\.0\.0\.1:(\d+)/", text)
        phrase = re.search(r"Its passphrase:\s+(.+?)  \(DEMO ONLY\)", text)
        shown_map = re.search(r"Public map:\s+http://127\.0\.0\.1:(\d+)/", text)
        signer = re.search(r"Demo lawyer:\s+(\S+) / ", text)
        assert found and phrase and shown_map and signer, text
        assert int(found[1]) == port + 2
        assert int(shown_map[1]) == port + 3
        shown_intake = re.search(r"Intake \(SMS, Messenger, X\):\s+http://[\d.]+:(\d+)/", text)
        webhook_secret = re.search(r"webhook_secret = (\S+)", text)
        assert shown_intake and webhook_secret, text
        assert int(shown_intake[1]) == port + 4
        _the_demo_backup_restores(home, text, webhook_secret[1], tmp_path)
        intake = f"http://127.0.0.1:{port + 4}"
        assert _answers(intake + "/healthz", proc, log).text == "ok"
        # A signed STOP through the generic SMS webhook: answered at once, and its
        # confirmation reaches the demo's sink, which logs the provider and size only.
        her = "+994507776655"
        body = json.dumps({"from": her, "to": "+994501234500", "text": "STOP", "id": "demo-1"})
        mac = hmac.new(webhook_secret[1].encode(), body.encode(), hashlib.sha256).hexdigest()
        stop_sent = requests.post(
            intake + "/sms/webhook",
            data=body,
            headers={"Content-Type": "application/json", "X-Sesim-Signature": "sha256=" + mac},
            timeout=10,
        )
        assert stop_sent.status_code == 200, stop_sent.text
        assert requests.post(intake + "/sms/webhook", data=body, timeout=10).status_code == 403
        _wait_for(log, r"Demo sink: webhook was sent \d+ bytes", proc, 30)
        assert her not in log.read_text() and her[1:] not in log.read_text()
        _the_demo_takes_an_email(home, port, proc, log)
        assert _answers(f"http://127.0.0.1:{port}/", proc, log).status_code == 200
        assert _answers(f"http://127.0.0.1:{port + 1}/login", proc, log).status_code == 200

        desk = f"http://127.0.0.1:{port + 2}"
        browser = requests.Session()
        page = _answers(desk + "/unlock", proc, log)
        assert page.status_code == 200
        browser.cookies.update(page.cookies)
        unlocked = browser.post(
            desk + "/unlock",
            data={"csrf_token": csrf_of(page.text), "passphrase": phrase[1]},
            timeout=30,
        )
        assert unlocked.status_code == 200, unlocked.text
        cases = browser.get(desk + "/cases", timeout=10)
        assert cases.status_code == 200
        # Every demo source is a case here (the one who withdrew is marked so).
        assert len(set(re.findall(r'href="/cases/(\d+)"', cases.text))) >= 12

        bundle = home / "workstation" / "publications" / "sesim-publication-1.json"
        verify_key = read_verify_key_file(home / "workstation" / "publication.verify")
        published = read_publication(bundle, verify_key, expect_sequence=1)
        ids = {entry.id for entry in published.entries}
        # Enough synthetic consented entries that the map looks like one.
        assert len(ids) >= 40

        # The map serves exactly what the workstation published: the open data and
        # every page of the no-JavaScript list.
        public_map = f"http://127.0.0.1:{port + 3}"
        data = _answers(public_map + "/data/entries.json", proc, log).json()
        assert data["count"] == len(data["entries"]) == len(ids)
        assert {entry["id"] for entry in data["entries"]} == ids
        listed: list[str] = []
        url: str | None = public_map + "/list/"
        while url:
            page = requests.get(url, timeout=10)
            assert page.status_code == 200
            count = re.search(r'id="count"[^>]*>\D*(\d+)', page.text)
            assert count and int(count[1]) == len(ids), page.text
            listed += re.findall(r'href="/entry/([0-9a-f]{32})/"', page.text)
            more = re.search(r'rel="next" href="([^"]+)"', page.text)
            url = urljoin(url, more[1].replace("&amp;", "&")) if more else None
        assert sorted(listed) == sorted(ids)
        # Its "how to report" page offers what the demo's intake really takes.
        report = requests.get(public_map + "/en/report/", timeout=10)
        assert report.status_code == 200
        assert "+994501234500" in report.text and "sesim_demo" in report.text, report.text
        assert "https://m.me/sesim.demo" in report.text, report.text

        # The demo's map folder is a map like any other: it builds as a static site.
        site = tmp_path / "site"
        built = subprocess.run(
            [sys.executable, "-m", "sesim", "map", "build", "--home", str(home / "map")]
            + ["--out", str(site)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert built.returncode == 0, built.stderr
        assert (site / "index.html").is_file()
        static_data = json.loads((site / "data" / "entries.json").read_text("utf-8"))
        assert {entry["id"] for entry in static_data["entries"]} == ids
    finally:
        stop(proc, signal.SIGINT, timeout=30)
    assert proc.returncode is not None
    deadline = time.monotonic() + 15
    # Nothing listens any more (a port in TIME_WAIT after a werkzeug server closed its
    # connections cannot be bound for a minute, but nobody serves on it).
    while taken := [p - port for p in range(port, port + 7) if _listening(p)]:
        assert time.monotonic() < deadline, f"a part of the demo outlived it (base + {taken})"
        time.sleep(0.1)
    # The synthetic replies are signed by the demo's own staff account, who exists.
    conn = Database.for_config(open_instance(home)).open()
    try:
        authors = {r[0] for r in conn.execute("SELECT author FROM items WHERE kind = 'reply'")}
    finally:
        conn.close()
    assert authors == {signer[1]}


def _the_demo_backup_restores(home: Path, text: str, secret: str, tmp_path: Path) -> None:
    """The backup the demo made at start is there, encrypted (no report text, no
    database key, no intake secret, not even a tar member's name in its bytes), and
    each printed restore command makes an instance whose key opens its database."""
    shown = re.search(r"^  Backup:\s+(\S+)$", text, re.M)
    assert shown, text
    backup = Path(shown[1])
    assert backup.parent == home / "backups" and backup.is_file(), text
    assert re.fullmatch(r"sesim-backup-\d{4}-\d{2}-\d{2}\.tar\.gpg", backup.name)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    data = backup.read_bytes()
    db_key = (home / "secrets" / "db.key").read_text("ascii").strip()
    assert len(db_key) == 64
    for needle in (db_key.encode(), db_key.upper().encode(), bytes.fromhex(db_key)):
        assert needle not in data
    assert secret.encode() not in data
    assert b"config.toml" not in data and b"sesim-backup.json" not in data
    texts = [r["text"].encode("utf-8")[:40] for r in load_demo_data()["reports"]]
    assert len(texts) >= 12 and all(len(t) == 40 for t in texts)
    assert not [t for t in texts if t in data]
    piped = re.search(
        r"^    (gpg --homedir \S+ -d \S+ \| \S+ restore --home NEWDIR --from -)$", text, re.M
    )
    direct = re.search(
        r"^    (\S+ restore --home NEWDIR --from \S+ --gnupghome (\S+))$", text, re.M
    )
    assert piped and direct, text
    assert str(backup) in piped[1] and str(backup) in direct[1]
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    try:
        for n, command in enumerate((piped[1], direct[1])):
            new = tmp_path / f"restored-{n}"
            line = command.replace("NEWDIR", shlex.quote(str(new)))
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", line],
                capture_output=True, text=True, timeout=120, check=False, env=env,
            )  # fmt: skip
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            assert f"Restored a Səsim instance into {new}" in done.stdout, done.stdout
            sesim = command.split(" restore ")[0].split(" | ")[-1]
            checked = subprocess.run(
                [*shlex.split(sesim), "db-key", "check", "--home", str(new)],
                capture_output=True, text=True, timeout=60, check=False, env=env,
            )  # fmt: skip
            assert checked.returncode == 0, checked.stderr
            assert "opens the database" in checked.stdout, checked.stdout
            restored_key = new / "secrets" / "db.key"
            assert restored_key.read_text("ascii").strip() == db_key
            assert stat.S_IMODE(restored_key.stat().st_mode) == 0o600
    finally:
        # The printed gpg started an agent for the demo's keyring: stop it (by its home).
        subprocess.run(
            ["gpgconf", "--homedir", direct[2], "--kill", "gpg-agent"],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip


def _email_reports(home: Path) -> int:
    conn = Database.for_config(open_instance(home)).open()
    try:
        return int(
            conn.execute("SELECT count(*) FROM sources WHERE channel = 'email'").fetchone()[0]
        )
    finally:
        conn.close()


def _the_demo_takes_an_email(
    home: Path, port: int, proc: subprocess.Popen[bytes], log: Path
) -> None:
    """An e-mail put into the demo mailbox (the printed command) becomes an e-mail
    report in the store and leaves the box; its answers reach the demo SMTP server,
    which prints their size only."""
    text = log.read_text("utf-8", "replace")
    why = mail_unavailable()
    if why:  # without dovecot the demo says so, in one line
        assert f"E-mail:            off in this demo: {why}" in text, text
        return
    shown = re.search(
        r"E-mail:\s+(\S+), a demo mailbox: .*?127\.0\.0\.1:(\d+) \(user (\w+), "
        r"its CA (\S+)\).*?127\.0\.0\.1:(\d+) \(TLS\)",
        text,
        re.S,
    )
    password = re.search(r"imap_password = (\S+)", text)
    command = re.search(r"^\s+(\S+ -m sesim\.demo_mail send --home \S+) --text", text, re.M)
    assert shown and password and command, text
    assert shown[1] == DEMO_ADDRESS
    assert (int(shown[2]), int(shown[5])) == (port + 5, port + 6)
    assert _email_reports(home) == 0
    canary, sender = "Canary-e41c: he wrote to me at night", "nigar.demo@example.org"
    sent = subprocess.run(
        [*command[1].split(), "--text", canary, "--sender", sender],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    # The automatic answers (receipt, then the YES/STOP question) reach the demo SMTP.
    _wait_for(log, r"(?s)Demo mail: an answer of \d+ bytes.*Demo mail: an answer of", proc, 30)
    assert _email_reports(home) == 1
    imap = imap_login("127.0.0.1", port + 5, Path(shown[4]), shown[3], password[1])
    try:
        typ, found = imap.search(None, "ALL")
        assert typ == "OK" and found == [b""]  # fetched, committed, then expunged
    finally:
        imap.logout()
    shown_log = log.read_text("utf-8", "replace")
    assert canary not in shown_log and sender not in shown_log
