"""The e-mail channel against real servers: dovecot (IMAP over TLS) started here on
127.0.0.1 with its own configuration, and aiosmtpd (SMTP over TLS and STARTTLS).

A plain e-mail becomes a sealed report (the whole message kept), in the staff inbox
with channel "email", and leaves the mailbox; the automatic answer arrives over TLS
in her language; certificate verification is really on; a message too large stays
in the box; the crash window between commit and expunge loses nothing and stores
nothing twice (a real poller process, killed with SIGKILL there)."""

from __future__ import annotations

import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import intake.email as mail
from intake import texts
from intake.app import create_app
from intake.base import Intake
from securedrop_like.channels import channel_private_key
from securedrop_like.config import Config
from tests.conftest import Instance
from tests.functional.test_staff_actions import staff  # noqa: F401 - the fixture
from tests.intake.app_support import with_intake
from tests.intake.core_support import canary_hits, count, decrypt_items, source_channel
from tests.intake.email_support import (
    Certs,
    Dovecot,
    SmtpServer,
    dovecot,
    imap_secrets,
    imap_section,
    make_certs,
    plain_mail,
    smtp_server,
)

ROOT = Path(__file__).resolve().parents[2]
CANARY_TEXT = "Canary-e7a1: müdir məndən rüşvət istədi, otaq 314."
CANARY_FROM = "canary.aysel.e7a1@example.org"
CANARY_ATTACHMENT = b"attachment-canary-e7a1 bytes"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("other-certs"), "untrusted")


@pytest.fixture
def box(certs: Certs) -> Iterator[Dovecot]:
    with dovecot(certs) as d:
        yield d


@pytest.fixture
def smtp(certs: Certs) -> Iterator[SmtpServer]:
    with smtp_server(certs, "tls") as server:
        yield server


def intake_app(instance: Instance, d: Dovecot, smtp: SmtpServer | None = None,
               **extra: Any) -> tuple[Flask, Intake]:  # fmt: skip
    config = with_intake(
        instance.config, {"imap": imap_section(d, smtp, **extra)}, imap_secrets(d, smtp)
    )
    app = create_app(config)
    return app, app.extensions["intake"]


def poller(ctx: Intake) -> mail.ImapPoller:
    return mail.ImapPoller(ctx.settings["imap"], mail._receiver(ctx))


def flush(ctx: Intake) -> list[str]:
    """What the courier does at once for an e-mail (join=False): its report, answers."""
    key = channel_private_key(ctx.config)
    made = []
    assert ctx.app is not None
    with ctx.app.app_context():  # the courier's: texts.answer translates with Babel
        for thread in ctx.store.pending_threads():
            source_id = ctx.store.flush(thread, key, texts.answer)
            assert source_id is not None
            made.append(source_id)
    return made


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """Our log lines (not the test SMTP server's, which logs what it was sent)."""
    return "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")
    ).lower()


def deliver_outbox(ctx: Intake) -> int:
    """What the courier does with the outbox, through this module's Sender."""
    sender = mail.make_sender("imap", ctx.settings["imap"])
    waiting = ctx.store.outbox(channel_private_key(ctx.config), "imap")
    for out in waiting:
        sender.send(out.address, out.text)
    ctx.store.delivered([o.id for o in waiting])
    return len(waiting)


@pytest.mark.timeout(120)
def test_a_plain_email_becomes_a_sealed_report_and_leaves_the_box(
    instance: Instance,
    box: Dovecot,
    smtp: SmtpServer,
    staff: Any,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = plain_mail(
        CANARY_TEXT,
        sender=f"Aysel <{CANARY_FROM.upper()}>",
        attachment=("photo.jpg", "image/jpeg", CANARY_ATTACHMENT),
    )
    box.append(raw)
    app, ctx = intake_app(instance, box, smtp)
    with caplog.at_level(logging.DEBUG):
        result = poller(ctx).poll_once()
        assert (result.stored, result.oversized, result.failed) == (1, 0, 0)
        assert box.messages() == []  # expunged after the commit
        (source_id,) = flush(ctx)
        assert deliver_outbox(ctx) == 2
    # Sealed: the reviewer's key opens the report and the whole message, byte for byte.
    service = ctx.store.service
    assert source_channel(service, source_id) == "email"
    items = decrypt_items(service, source_id, instance.reviewer_key)
    report = next(doc for kind, doc in items if kind == "report")
    assert report["text"] == CANARY_TEXT and report["channel"] == "email"
    assert report["lang"] == "az"
    files = [doc for kind, doc in items if kind == "file"]
    assert files == [raw]  # headers, body and the attachment, as received
    # In the staff inbox, by its channel.
    _staff_app, client, _accounts = staff
    inbox = client.get("/").get_data(as_text=True)
    row = next(r for r in inbox.split("<tr") if f"/sources/{source_id}" in r)
    assert "mail" in row.lower()  # its channel ("email", or its label in words)
    page = client.get(f"/sources/{source_id}").get_data(as_text=True)
    assert CANARY_TEXT not in page  # the server shows ciphertext only
    # The answer: her receipt, over TLS, in Azerbaijani, from the mailbox's address.
    received = smtp.wait(2)
    assert len(received) == 2
    for r in received:
        assert r.tls and r.authenticated == "report"
        assert r.rcpt_tos == [CANARY_FROM] and r.mail_from == "report@sesim.test"
    bodies = [
        message_from_bytes(r.data).get_payload(decode=True).decode().rstrip() for r in received
    ]
    with app.app_context():  # (the outbox has no order)
        assert sorted(bodies) == sorted(texts.answer("az", _receipt_in(bodies)))
    assert all(b"Content-Language: az" in r.data for r in received)
    # Nothing of her in plaintext anywhere: the decrypted database, the instance's files,
    # the log.
    ctx.store.close()
    app.extensions.clear()
    assert canary_hits(instance.config, ["e7a1", "rüşvət", "attachment-canary"]) == []
    assert "e7a1" not in ours(caplog) and "aysel" not in ours(caplog)


def _receipt_in(bodies: list[str]) -> str:
    import re

    match = re.search(r"\d[\d ]{18,}\d", " | ".join(bodies))  # 20 digits, maybe grouped
    assert match and len(match.group(0).replace(" ", "")) == 20, bodies
    return match.group(0)


@pytest.mark.timeout(120)
def test_the_answer_is_in_her_language_over_starttls(
    instance: Instance, box: Dovecot, certs: Certs
) -> None:
    with smtp_server(certs, "starttls") as smtp:
        box.append(plain_mail("Здравствуйте. Начальник требует от меня встречи.",
                              sender="nigar@example.org"))  # fmt: skip
        _app, ctx = intake_app(instance, box, smtp)
        assert poller(ctx).poll_once().stored == 1
        flush(ctx)
        assert deliver_outbox(ctx) == 2
        received = smtp.wait(2)
        ctx.store.close()
    assert len(received) == 2 and all(r.tls for r in received)
    parsed = [message_from_bytes(r.data) for r in received]
    assert [m["Content-Language"] for m in parsed] == ["ru", "ru"]
    assert {str(make_header(decode_header(m["Subject"]))) for m in parsed} == {"Ваше сообщение"}
    bodies = [m.get_payload(decode=True).decode().rstrip() for m in parsed]
    with _app.app_context():
        assert sorted(bodies) == sorted(texts.answer("ru", _receipt_in(bodies)))


@pytest.mark.timeout(120)
def test_an_untrusted_certificate_is_refused(
    instance: Instance, other_certs: Certs, certs: Certs
) -> None:
    # The server's certificate is signed by a CA the poller does not trust.
    with dovecot(other_certs) as d:
        d.append(plain_mail("Trust me."))
        logins = d.log().count("Login: user=<report>")
        calls: list[Any] = []
        settings = mail.load_settings("imap", imap_section(d, ca_file=str(certs.ca)),
                                      imap_secrets(d))  # fmt: skip
        with pytest.raises(ssl.SSLCertVerificationError):
            mail.ImapPoller(settings, calls.append).poll_once()
        # Without ca_file, the system's CAs: refused too (verification is never off).
        plain = mail.load_settings("imap", imap_section(d, ca_file=""), imap_secrets(d))
        with pytest.raises(ssl.SSLCertVerificationError):
            mail.ImapPoller(plain, calls.append).poll_once()
        assert calls == []  # nothing fetched
        # It stopped at the handshake: no login, so the password never went out.
        assert d.log().count("Login: user=<report>") == logins
        assert "unknown ca" in d.log()
        assert len(d.messages()) == 1  # nothing deleted


@pytest.mark.timeout(120)
def test_an_untrusted_smtp_server_gets_nothing(
    instance: Instance, box: Dovecot, other_certs: Certs
) -> None:
    with smtp_server(other_certs, "tls") as smtp:
        _app, ctx = intake_app(instance, box, smtp)
        sender = mail.make_sender("imap", ctx.settings["imap"])
        with pytest.raises(mail.SendError) as caught:
            sender.send("her@example.org", "Your receipt: 12345678901234567890")
        ctx.store.close()
    assert "her@example.org" not in str(caught.value)
    assert smtp.received == []


@pytest.mark.timeout(120)
def test_no_starttls_means_nothing_sent(instance: Instance, box: Dovecot, certs: Certs) -> None:
    with smtp_server(certs, "none") as plain:
        section = imap_section(box, smtp_port=plain.port, smtp_security="starttls")
        settings = mail.load_settings("imap", section, imap_secrets(box))
        with pytest.raises(mail.SendError) as caught:
            mail.SmtpSender(settings).send("her@example.org", "Your receipt: 1234")
    assert "STARTTLS" in str(caught.value)
    assert plain.received == []  # her message did not go out in the clear


@pytest.mark.timeout(120)
def test_a_huge_message_stays_in_the_box(
    instance: Instance, box: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    box.append(plain_mail("x" * 20_000, sender="big.sender@example.org"))
    box.append(plain_mail("A small one."))
    _app, ctx = intake_app(instance, box, max_message_bytes=8192)
    with caplog.at_level(logging.INFO):
        result = poller(ctx).poll_once()
        assert (result.stored, result.oversized) == (1, 1)
        assert poller(ctx).poll_once().oversized == 1  # left, again, unharmed
    left = box.messages()
    assert len(left) == 1 and b"From: big.sender@example.org" in left[0]
    assert "larger than max_message_bytes" in ours(caplog)
    assert "big.sender" not in ours(caplog)
    ctx.store.close()
    assert count(instance.config, "intake_parts") == 1  # only the small one


@pytest.mark.timeout(120)
def test_a_replayed_message_is_stored_once_and_expunged(instance: Instance, box: Dovecot) -> None:
    raw = plain_mail("The same message, delivered twice.")
    box.append(raw)
    _app, ctx = intake_app(instance, box)
    assert poller(ctx).poll_once().stored == 1
    box.append(raw)  # a second copy, byte for byte (a client's retry)
    assert poller(ctx).poll_once().stored == 1
    assert box.messages() == []
    assert len(flush(ctx)) == 1
    ctx.store.close()
    assert count(instance.config, "sources") == 1


def _write_config(config: Config, d: Dovecot) -> None:
    """[intake.imap] in config.toml and the secrets file, for a child process."""
    section = imap_section(d)
    lines = ["", "[intake.imap]"]
    for key, value in section.items():
        lines.append(f"{key} = {json.dumps(value)}")
    with (config.home / "config.toml").open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with_intake(config, {"imap": section}, imap_secrets(d))


def _run_child(instance: Instance, d: Dovecot, pause: Path | None) -> subprocess.Popen[str]:
    section = json.dumps(imap_section(d))
    secrets = json.dumps(imap_secrets(d))
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "tests.intake.email_support",
            "poll",
            str(instance.home),
            section,
            secrets,
            str(pause) if pause else "",
        ],  # fmt: skip
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.timeout(180)
def test_a_crash_between_commit_and_expunge_loses_nothing_and_duplicates_nothing(
    instance: Instance, box: Dovecot, tmp_path: Path
) -> None:
    raw = plain_mail("Canary-c4a5: the crash window.")
    box.append(raw)
    _write_config(instance.config, box)
    pause = tmp_path / "committed"
    child = _run_child(instance, box, pause)
    try:
        deadline = time.monotonic() + 60
        while not pause.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the poller never reached the commit"
            time.sleep(0.05)
        # Committed, not yet deleted: kill it there, as a power cut would.
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert box.messages() == [raw]  # still in the box
    assert count(instance.config, "intake_parts") == 1  # and sealed in the store
    # The restarted poller fetches it again, stores nothing, and expunges it.
    again = _run_child(instance, box, None)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["stored"] == 1
    assert box.messages() == []
    assert count(instance.config, "intake_parts") == 1
    assert count(instance.config, "intake_seen") == 1
    # The courier's flush makes exactly one report of it.
    from securedrop_like.intake_store import IntakeStore

    store = IntakeStore.open(instance.config)
    try:
        made = [
            store.flush(t, channel_private_key(instance.config), lambda lang, receipt: [])
            for t in store.pending_threads()
        ]
    finally:
        store.close()
    assert len(made) == 1
    assert count(instance.config, "sources") == 1
    items = decrypt_items_of(instance, made[0])
    assert [doc for kind, doc in items if kind == "file"] == [raw]


def decrypt_items_of(instance: Instance, source_id: str | None) -> list[Any]:
    from securedrop_like.service import ReportService

    assert source_id is not None
    service = ReportService.open(instance.config)
    try:
        return decrypt_items(service, source_id, instance.reviewer_key)
    finally:
        service.close()


@pytest.mark.timeout(120)
def test_the_background_loop_polls_until_stopped(instance: Instance, box: Dovecot) -> None:
    import threading

    _app, ctx = intake_app(instance, box)
    (loop,) = mail.background("imap", ctx.settings["imap"], ctx)
    stop = threading.Event()
    thread = threading.Thread(target=loop, args=(stop,), daemon=True)
    thread.start()
    try:
        box.append(plain_mail("First, while it runs."))
        box.append(plain_mail("Second, while it runs."))
        deadline = time.monotonic() + 30
        while box.messages() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert box.messages() == []
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    ctx.store.close()
    assert count(instance.config, "intake_parts") + count(instance.config, "sources") == 2


@pytest.mark.timeout(120)
def test_through_the_intake_servers_courier(
    instance: Instance, box: Dovecot, smtp: SmtpServer
) -> None:
    """The server's own wiring: the courier runs the poller from ``background``, flushes
    the e-mail at once (no join window), and delivers the answers over SMTP. A bare
    STOP by e-mail (anyone who knows her address can send one) deletes nothing and
    tells her how; STOP with her receipt withdraws, as on the other channels."""
    from intake.courier import make_courier

    app, ctx = intake_app(instance, box, smtp)
    courier = make_courier(
        ctx, app, channel_private_key(ctx.config), {"imap": mail}, 90.0,
        scan_seconds=0.2, outbox_seconds=0.2,
    )  # fmt: skip
    courier.start()
    try:
        box.append(plain_mail("Salam. Mən kömək istəyirəm.", sender="leyla@example.org"))
        first = smtp.wait(2, timeout=30)
        assert len(first) == 2 and all(r.rcpt_tos == ["leyla@example.org"] for r in first)
        assert box.messages() == []
        receipt = _receipt_in(
            [message_from_bytes(r.data).get_payload(decode=True).decode() for r in first]
        )
        # STOP alone, with our message quoted below, as mail clients do: not proven hers.
        box.append(plain_mail("STOP\n\nOn Monday, report@sesim.test wrote:\n> Salam\n",
                              sender="Leyla <LEYLA@example.org>"))  # fmt: skip
        told = smtp.wait(3, timeout=30)
        assert len(told) == 3
        notice = message_from_bytes(told[2].data).get_payload(decode=True).decode()
        assert notice.rstrip() == mail.needs_receipt("az", stop=True)
        assert count(instance.config, "channel_threads") == 1  # nothing deleted
        # STOP with her receipt (which only she has): everything goes.
        box.append(plain_mail(f"STOP {receipt}\n\nOn Monday, report@sesim.test wrote:\n> x\n",
                              sender="Leyla <LEYLA@example.org>"))  # fmt: skip
        done = smtp.wait(4, timeout=30)
        assert len(done) == 4
        confirmation = message_from_bytes(done[3].data).get_payload(decode=True).decode()
        with app.app_context():
            assert confirmation.rstrip() == texts.withdrawn("az")
    finally:
        courier.stop()
        ctx.store.close()
    rows = [count(instance.config, t) for t in ("intake_parts", "outbox", "channel_threads")]
    assert rows == [0, 0, 0]
