"""Real mail servers for the e-mail channel's tests: dovecot (IMAP over TLS) and
aiosmtpd (SMTP over TLS or STARTTLS), on 127.0.0.1, with certificates made here by
the ``openssl`` command line. Each server is stopped by the test that started it
(dovecot by its PID).

Also runnable as ``python -m tests.intake.email_support poll …``: one poll in a
child process, for the crash-window test (which pauses it between the commit and
the expunge and kills it with SIGKILL).
"""

from __future__ import annotations

import contextlib
import email.policy
import grp
import imaplib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

DOVECOT = "/usr/sbin/dovecot"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
USER = "report"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(  # noqa: S603 - fixed argv
        [OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60
    )


@dataclass(frozen=True)
class Certs:
    ca: Path  # the CA certificate (PEM): what a client trusts
    cert: Path  # the server's certificate (PEM), for 127.0.0.1 and localhost
    key: Path  # its key


def make_certs(folder: Path, name: str = "test") -> Certs:
    """A fresh CA and a server certificate it signed (EC P-256, two days)."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", f"/CN=Sesim {name} CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=folder,
    )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
        cwd=folder,
    )  # fmt: skip
    return Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key")


# -- dovecot ---------------------------------------------------------------------------------


@dataclass
class Dovecot:
    base: Path
    port: int
    certs: Certs
    password: str
    process: subprocess.Popen[bytes] | None = None
    user: str = USER

    @property
    def maildir(self) -> Path:
        return self.base / "mail" / self.user

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.certs.ca))
        imap = imaplib.IMAP4_SSL(HOST, self.port, ssl_context=context, timeout=10)
        imap.login(self.user, self.password)
        imap.select("INBOX")
        return imap

    def append(self, raw: bytes) -> None:
        """Deliver one message into the box (IMAP APPEND)."""
        imap = self.client()
        try:
            typ, _ = imap.append("INBOX", None, None, raw)
            assert typ == "OK"
        finally:
            imap.logout()

    def messages(self) -> list[bytes]:
        """Every message in the box, whole (without marking them seen)."""
        imap = self.client()
        try:
            typ, data = imap.uid("SEARCH", "ALL")
            assert typ == "OK"
            found = []
            for uid in (data[0] or b"").decode().split():
                typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                assert typ == "OK"
                found += [i[1] for i in fetched if isinstance(i, tuple)]
            return found
        finally:
            imap.logout()

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def _dovecot_conf(d: Dovecot, certs: Certs) -> str:
    nobody = 65534
    b = d.base
    return f"""
base_dir = {b}/run
state_dir = {b}/state
log_path = {b}/dovecot.log
protocols = imap
listen = {HOST}
ssl = required
ssl_cert = <{certs.cert}
ssl_key = <{certs.key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:{b}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {b}/users
}}
userdb {{
  driver = static
  args = uid={nobody} gid={nobody} home={b}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {d.port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def start_dovecot(certs: Certs, password: str = "test-imap-password") -> Dovecot:  # noqa: S107
    """A dovecot of our own: its own folder (outside pytest's private tmp, which the
    unprivileged mail user could not enter), config, users and port."""
    base = Path(tempfile.mkdtemp(prefix="sesim-dovecot-"))
    base.chmod(0o755)
    d = Dovecot(base=base, port=free_port(), certs=certs, password=password)
    for sub in ("run", "state", "mail", "home"):
        (base / sub).mkdir()
    for sub in ("mail", "home"):
        os.chown(base / sub, 65534, 65534)
    (base / "users").write_text(f"{d.user}:{{PLAIN}}{password}::::::\n")
    (base / "users").chmod(0o640)
    os.chown(base / "users", 0, grp.getgrnam("dovecot").gr_gid)  # its auth process reads it
    conf = base / "dovecot.conf"
    conf.write_text(_dovecot_conf(d, certs))
    d.process = subprocess.Popen(  # noqa: S603 - fixed argv
        [DOVECOT, "-c", str(conf), "-F"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if d.process.poll() is not None:
            err = d.process.stderr.read().decode(errors="replace") if d.process.stderr else ""
            raise RuntimeError(f"dovecot stopped at start: {err}\n{d.log()}")
        try:
            with socket.create_connection((HOST, d.port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        d.stop()
        raise RuntimeError(f"dovecot did not listen: {d.log()}")
    return d


@contextlib.contextmanager
def dovecot(certs: Certs) -> Iterator[Dovecot]:
    d = start_dovecot(certs)
    try:
        yield d
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)


# -- aiosmtpd ---------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    authenticated: str | None


@dataclass
class SmtpServer:
    port: int
    security: str
    username: str
    password: str
    received: list[Received] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)
    controller: Any = None

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
        return list(self.received)


@contextlib.contextmanager
def smtp_server(
    certs: Certs,
    security: str = "tls",
    username: str = "report",
    password: str = "test-smtp-password",  # noqa: S107
) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 with TLS (``tls``: implicit TLS; ``starttls``: STARTTLS
    required before anything else), AUTH required and only over TLS; ``none``: plain
    SMTP that accepts anything (what a STARTTLS-stripping attacker would offer)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certs.cert), str(certs.key))
    server = SmtpServer(free_port(), security, username, password)

    class Handler:
        async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            server.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    bytes(envelope.original_content or envelope.content),
                    smtp.transport.get_extra_info("ssl_object") is not None,
                    _login_of(session),
                )
            )
            server.event.set()
            return "250 OK"

    def _login_of(session: Any) -> str | None:
        data = session.auth_data
        return data.login.decode() if isinstance(data, LoginPassword) else None

    def authenticator(smtp: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = (
            isinstance(auth, LoginPassword)
            and auth.login == username.encode()
            and auth.password == password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth if ok else None)

    kwargs: dict[str, Any] = {
        "authenticator": authenticator,
        "auth_required": True,
        "auth_require_tls": True,
    }

    class TlsController(Controller):  # type: ignore[misc]
        def factory(self) -> Any:
            # aiosmtpd's auth_require_tls knows STARTTLS only and warns without it; here
            # the whole connection is TLS from its first byte (handle_DATA records it).
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                return super().factory()

    if security == "none":  # a server (or a man in the middle) that offers no STARTTLS
        controller = Controller(Handler(), hostname=HOST, port=server.port)
    elif security == "tls":
        kwargs["auth_require_tls"] = False
        controller = TlsController(
            Handler(), hostname=HOST, port=server.port, ssl_context=context,
            **kwargs,
        )  # fmt: skip
    else:
        controller = Controller(
            Handler(), hostname=HOST, port=server.port, tls_context=context,
            require_starttls=True, **kwargs,
        )  # fmt: skip
    server.controller = controller
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


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
