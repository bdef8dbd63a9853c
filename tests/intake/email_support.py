"""Real mail servers for the e-mail channel's tests: dovecot (IMAP over TLS) and
aiosmtpd (SMTP over TLS or STARTTLS), on 127.0.0.1, with certificates made by the
``openssl`` command line — the harness itself lives in ``sesim.demo_mail`` (the
demo runs the same servers); here are the tests' messages and settings. Each
server is stopped by the test that started it (dovecot by its PID).

Also runnable as ``python -m tests.intake.email_support poll …``: one poll in a
child process, for the crash-window test (which pauses it between the commit and
the expunge and kills it with SIGKILL).
"""

from __future__ import annotations

import email.policy
import json
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sesim.demo_mail import (  # the servers themselves, shared with `sesim demo`
    DOVECOT,
    HOST,
    OPENSSL,
    USER,
    Certs,
    Dovecot,
    Received,
    SmtpServer,
    dovecot,
    free_port,
    make_certs,
    smtp_server,
    start_dovecot,
)

__all__ = [
    "DOVECOT",
    "HOST",
    "OPENSSL",
    "USER",
    "Certs",
    "Dovecot",
    "Received",
    "SmtpServer",
    "dovecot",
    "free_port",
    "imap_secrets",
    "imap_section",
    "make_certs",
    "pgp_mime_mail",
    "plain_mail",
    "receiver_for",
    "smtp_server",
    "start_dovecot",
]


# -- messages -----------------------------------------------------------------------------------


def plain_mail(
    text: str,
    sender: str = "Aysel <Aysel.Test@Example.org>",
    subject: str = "Salam",
    attachment: tuple[str, str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "report@sesim.test"
    msg["Subject"] = subject
    msg["Message-ID"] = "<1@example.org>"
    msg.set_content(text)
    if attachment is not None:
        name, ctype, data = attachment
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF, as IMAP servers hand it out


def pgp_mime_mail(ciphertext_armoured: str, sender: str = "nigar@example.org") -> bytes:
    """An RFC 3156 PGP/MIME message, as Thunderbird sends it."""
    boundary = "sesim-pgp-boundary"
    return (
        f"From: {sender}\r\nTo: report@sesim.test\r\nSubject: ...\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";'
        f' boundary="{boundary}"\r\n\r\n'
        "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
        f"--{boundary}\r\nContent-Type: application/pgp-encrypted\r\n"
        "Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n"
        f'--{boundary}\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n'
        'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n'
        + ciphertext_armoured.strip().replace("\r\n", "\n").replace("\n", "\r\n")
        + f"\r\n\r\n--{boundary}--\r\n"
    ).encode()


def imap_section(d: Dovecot, smtp: SmtpServer | None = None, **extra: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "imap_host": HOST,
        "imap_port": d.port,
        "username": d.user,
        "address": "report@sesim.test",
        "smtp_host": HOST,
        "smtp_port": smtp.port if smtp else 465,
        "smtp_security": smtp.security if smtp else "tls",
        "ca_file": str(d.certs.ca),
        "poll_seconds": 0.2,
        "timeout_seconds": 10,
    }
    section.update(extra)
    return section


def imap_secrets(d: Dovecot, smtp: SmtpServer | None = None) -> dict[str, str]:
    return {
        "imap_password": d.password,
        "smtp_password": smtp.password if smtp else "unused-smtp-password",
    }


# -- the child poller of the crash-window test -------------------------------------------------


def _child_poll(home: str, section_json: str, secrets_json: str, pause_file: str) -> int:
    """One poll with the intake's real receive path; after the first commit it writes
    ``pause_file`` and sleeps until killed."""
    import intake.email as mail
    from securedrop_like.config import load_config

    config = load_config(home)
    settings = mail.load_settings("imap", json.loads(section_json), json.loads(secrets_json))
    deliver, close = receiver_for(config)

    def pause() -> None:
        Path(pause_file).write_text("committed")
        while True:
            time.sleep(1)

    if pause_file:
        mail.AFTER_COMMIT = pause
    try:
        result = mail.ImapPoller(settings, deliver).poll_once()
    finally:
        close()
    print(json.dumps(result.__dict__))
    return 0


def receiver_for(config: Any) -> tuple[Any, Any]:
    """(deliver, close): the intake's receive path over this instance's store, as the
    intake server runs it, outside any request."""
    from intake.app import create_app

    app = create_app(config)
    ctx = app.extensions["intake"]
    deliver = __import__("intake.email", fromlist=["_receiver"])._receiver(ctx)

    def run(msg: Any) -> None:
        with app.app_context():
            deliver(msg)

    def close() -> None:
        ctx.store.close()

    return run, close


if __name__ == "__main__":  # pragma: no cover - the crash test's child
    if len(sys.argv) == 6 and sys.argv[1] == "poll":
        sys.exit(_child_poll(*sys.argv[2:6]))
    sys.exit("usage: python -m tests.intake.email_support poll HOME SECTION SECRETS PAUSE")
