"""Real mail servers on 127.0.0.1 for the demo's e-mail channel and the e-mail tests.

- dovecot (Debian's ``/usr/sbin/dovecot``), IMAP over TLS only, with a configuration,
  a passwd-file user and a folder of its own, stopped by its PID;
- aiosmtpd, SMTP over TLS (or STARTTLS), AUTH required;
- their certificates: a fresh CA and a server certificate it signed, made by the
  ``openssl`` command line.

``sesim demo`` (see :func:`start_demo_mail`) runs a demo mailbox and a demo SMTP
server with these and points ``[intake.imap]`` at them; the e-mail tests
(``tests/intake/email_support.py``) use the same code. The production code
(``intake/``) never imports this module.

Run as ``python -m sesim.demo_mail``:

- ``send --home H --text "…"``: put a test e-mail into the demo mailbox (IMAP
  APPEND, as if delivered);
- ``smtp --home H --port P``: the demo's SMTP server (a process of its own), which
  prints ``Demo mail: an answer of N bytes`` for each message it is given and keeps
  nothing (never an address).
"""

from __future__ import annotations

import argparse
import contextlib
import email.policy
import email.utils
import grp
import imaplib
import logging
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

DOVECOT = "/usr/sbin/dovecot"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
USER = "report"
HOST = "127.0.0.1"
#: The demo mailbox's address (``.invalid``: a name that can never be a real domain).
DEMO_ADDRESS = "report@sesim.invalid"
DEMO_SENDER = "Demo Sender <demo.sender@example.org>"
#: The demo's certificates, under the demo instance (made again at every start).
CERT_FOLDER = Path("run") / "demo-mail"
DEMO_POLL_SECONDS = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


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


def client_context(ca: Path) -> ssl.SSLContext:
    """A client context trusting ``ca`` besides the system's; verification on."""
    return ssl.create_default_context(cafile=str(ca))


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
        return imap_login(HOST, self.port, self.certs.ca, self.user, self.password)

    def append(self, raw: bytes) -> None:
        """Deliver one message into the box (IMAP APPEND)."""
        imap = self.client()
        try:
            typ, _ = imap.append("INBOX", None, None, raw)
            _ok(typ, "APPEND")
        finally:
            imap.logout()

    def messages(self) -> list[bytes]:
        """Every message in the box, whole (without marking them seen)."""
        imap = self.client()
        try:
            typ, data = imap.uid("SEARCH", "ALL")
            _ok(typ, "SEARCH")
            found = []
            for uid in (data[0] or b"").decode().split():
                typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                _ok(typ, "FETCH")
                found += [i[1] for i in fetched if isinstance(i, tuple)]
            return found
        finally:
            imap.logout()

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop this dovecot (its master process, by PID: it stops its children)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        """Stop it and delete its folder (the mail in it too)."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _ok(typ: str, command: str) -> None:
    if typ != "OK":
        raise RuntimeError(f"the mailbox refused {command}")


def imap_login(host: str, port: int, ca: Path, user: str, password: str) -> imaplib.IMAP4_SSL:
    """Logged in over TLS (the server's certificate verified against ``ca``), INBOX selected."""
    imap = imaplib.IMAP4_SSL(host, port, ssl_context=client_context(ca), timeout=10)
    imap.login(user, password)
    imap.select("INBOX")
    return imap


def _dovecot_conf(d: Dovecot, certs: Certs) -> str:
    b = d.base
    if os.geteuid() == 0:  # Debian's unprivileged users; the mail belongs to nobody
        internal, internal_group, login = "dovecot", "dovecot", "dovenull"
        uid = gid = 65534
    else:  # a rootless dovecot: every process runs as whoever started it
        internal = login = pwd.getpwuid(os.geteuid()).pw_name
        internal_group = grp.getgrgid(os.getegid()).gr_name
        uid, gid = os.geteuid(), os.getegid()
    # Only root may chroot: a rootless dovecot's login and anvil processes do without.
    chroot = "" if os.geteuid() == 0 else "  chroot =\n"
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
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{b}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {b}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={b}/home/%u
}}
service imap-login {{
{chroot}  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {d.port}
    ssl = yes
  }}
}}
service anvil {{
{chroot}}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def start_dovecot(
    certs: Certs,
    password: str = "test-imap-password",  # noqa: S107
    port: int | None = None,
    prefix: str = "sesim-dovecot-",
) -> Dovecot:
    """A dovecot of our own: its own folder (in the system's temporary folder, which the
    unprivileged mail user can enter, unlike pytest's or a home folder), config, user
    and port (a free one unless given). Raises RuntimeError if it does not start."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    d = Dovecot(base=base, port=port or free_port(), certs=certs, password=password)
    for sub in ("run", "state", "mail", "home"):
        (base / sub).mkdir()
    users = base / "users"
    users.write_text(f"{d.user}:{{PLAIN}}{password}::::::\n")
    if os.geteuid() == 0:
        for sub in ("mail", "home"):
            os.chown(base / sub, 65534, 65534)
        users.chmod(0o640)
        os.chown(users, 0, grp.getgrnam("dovecot").gr_gid)  # its auth process reads it
    else:
        users.chmod(0o600)
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
            log = d.log()
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"dovecot stopped at start: {err}\n{log}")
        try:
            with socket.create_connection((HOST, d.port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        log = d.log()
        d.remove()
        raise RuntimeError(f"dovecot did not listen: {log}")
    return d


@contextlib.contextmanager
def dovecot(certs: Certs) -> Iterator[Dovecot]:
    d = start_dovecot(certs)
    try:
        yield d
    finally:
        d.remove()


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
    port: int | None = None,
    keep: bool = True,
    on_receive: Callable[[Received], None] | None = None,
) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 with TLS (``tls``: implicit TLS; ``starttls``: STARTTLS
    required before anything else), AUTH required and only over TLS; ``none``: plain
    SMTP that accepts anything (what a STARTTLS-stripping attacker would offer).
    ``keep``: keep each message in ``received``; ``on_receive`` is called with each."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certs.cert), str(certs.key))
    server = SmtpServer(port or free_port(), security, username, password)

    class Handler:
        async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            got = Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.original_content or envelope.content),
                smtp.transport.get_extra_info("ssl_object") is not None,
                _login_of(session),
            )
            if keep:
                server.received.append(got)
            if on_receive is not None:
                on_receive(got)
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

    class TlsController(Controller):
        def factory(self) -> Any:
            # aiosmtpd's auth_require_tls knows STARTTLS only and warns without it; here
            # the whole connection is TLS from its first byte (handle_DATA records it).
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                return super().factory()  # type: ignore[no-untyped-call]

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


# -- the demo -----------------------------------------------------------------------------------


def mail_unavailable() -> str:
    """Why the demo cannot run its mail servers here, or "" if it can."""
    if not os.access(DOVECOT, os.X_OK):
        return f"{DOVECOT} is not installed (apt-get install dovecot-imapd)"
    if not os.access(OPENSSL, os.X_OK):
        return "the openssl command is not installed (apt-get install openssl)"
    if os.geteuid() == 0:
        try:
            grp.getgrnam("dovecot")
        except KeyError:
            return "dovecot's system user is missing (reinstall dovecot-core)"
    return ""


@dataclass
class DemoMail:
    """The demo's mailbox (dovecot) and SMTP server (a process of its own)."""

    mailbox: Dovecot
    smtp: subprocess.Popen[bytes]
    smtp_port: int

    @property
    def imap_port(self) -> int:
        return self.mailbox.port

    @property
    def ca(self) -> Path:
        return self.mailbox.certs.ca

    def stop(self) -> None:
        """Both stopped by PID (the SMTP server's, then dovecot's master); the mailbox's
        folder deleted."""
        if self.smtp.poll() is None:
            self.smtp.terminate()
            try:
                self.smtp.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.smtp.kill()
                self.smtp.wait(timeout=10)
        self.mailbox.remove()


def start_demo_mail(
    root: Path, imap_port: int, smtp_port: int, imap_password: str, smtp_password: str
) -> DemoMail:
    """Fresh certificates under ``root/run/demo-mail``, dovecot on ``imap_port`` and the
    demo SMTP server on ``smtp_port`` (both 127.0.0.1). Raises RuntimeError (or
    OSError, subprocess.SubprocessError) when one cannot start; nothing is left
    running then."""
    for port in (imap_port, smtp_port):
        if not port_is_free(port):
            raise RuntimeError(f"port {port} of 127.0.0.1 is taken")
    folder = root / CERT_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    certs = make_certs(folder, "demo")
    certs.key.chmod(0o600)
    (folder / "ca.key").chmod(0o600)
    mailbox = start_dovecot(certs, imap_password, imap_port, prefix="sesim-demo-dovecot-")
    try:
        env = {**os.environ, "SESIM_DEMO_SMTP_PASSWORD": smtp_password}
        smtp = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "sesim.demo_mail", "smtp"]
            + ["--certs", str(folder), "--port", str(smtp_port)],
            env=env,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection((HOST, smtp_port), timeout=0.5):
                    break
            except OSError:
                if smtp.poll() is not None or time.monotonic() > deadline:
                    smtp.kill()
                    smtp.wait(timeout=10)
                    raise RuntimeError("the demo SMTP server did not start") from None
                time.sleep(0.05)
    except BaseException:
        mailbox.remove()
        raise
    return DemoMail(mailbox, smtp, smtp_port)


def imap_table(mail: DemoMail) -> str:
    """The demo's ``[intake.imap]`` table (its secrets are in secrets/intake.toml)."""
    return f"""[intake.imap]
imap_host = "{HOST}"
imap_port = {mail.imap_port}
username = "{USER}"
address = "{DEMO_ADDRESS}"
smtp_host = "{HOST}"
smtp_port = {mail.smtp_port}
smtp_security = "tls"
ca_file = "{mail.ca}"
poll_seconds = {DEMO_POLL_SECONDS}
timeout_seconds = 10
"""


def demo_message(text: str, sender: str = DEMO_SENDER) -> bytes:
    """A plain-text e-mail to the demo mailbox, as a mail client would send it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = DEMO_ADDRESS
    msg["Subject"] = "Salam"
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    msg.set_content(text)
    return msg.as_bytes(policy=email.policy.SMTP)


def send_to_demo(home: Path, text: str, sender: str = DEMO_SENDER) -> int:
    """APPEND an e-mail to a running demo's mailbox (as if it had been delivered); the
    size of what was appended."""
    config = tomllib.loads((home / "config.toml").read_text("utf-8"))
    section = config.get("intake", {}).get("imap")
    if not isinstance(section, dict):
        raise RuntimeError(f"{home} has no [intake.imap]: the demo runs without e-mail")
    secrets = tomllib.loads((home / "secrets" / "intake.toml").read_text("utf-8"))
    raw = demo_message(text, sender)
    imap = imap_login(
        str(section["imap_host"]),
        int(section["imap_port"]),
        Path(section["ca_file"]),
        str(section["username"]),
        str(secrets["imap_password"]),
    )
    try:
        typ, _ = imap.append("INBOX", None, None, raw)
        _ok(typ, "APPEND")
    finally:
        imap.logout()
    return len(raw)


def _print_answer(got: Received) -> None:
    print(f"Demo mail: an answer of {len(got.data)} bytes", flush=True)


def _serve_smtp(certs_folder: Path, port: int) -> None:
    password = os.environ.get("SESIM_DEMO_SMTP_PASSWORD", "")
    if not password:
        sys.exit("SESIM_DEMO_SMTP_PASSWORD is not set")
    certs = Certs(certs_folder / "ca.pem", certs_folder / "server.pem", certs_folder / "server.key")
    # aiosmtpd's own warnings (AUTH over implicit TLS, a deprecated name it uses
    # itself) are no news here; its log would be noise in the demo's terminal.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", "Session.login_data is deprecated")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with smtp_server(certs, "tls", USER, password, port=port, keep=False, on_receive=_print_answer):
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:  # Ctrl-C in the demo's terminal reaches us too
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sesim.demo_mail")
    sub = parser.add_subparsers(dest="command", required=True)
    send = sub.add_parser("send", help="put a test e-mail into a running demo's mailbox")
    send.add_argument("--home", required=True, type=Path, help="the demo instance folder")
    send.add_argument("--text", required=True, help="the e-mail's text")
    send.add_argument("--sender", default=DEMO_SENDER, help="its From (invented)")
    smtp = sub.add_parser("smtp", help="the demo's SMTP server (sesim demo starts it)")
    smtp.add_argument("--certs", required=True, type=Path)
    smtp.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    if args.command == "send":
        try:
            size = send_to_demo(args.home, args.text, args.sender)
        except (OSError, RuntimeError, KeyError, tomllib.TOMLDecodeError, imaplib.IMAP4.error) as e:
            sys.exit(f"Could not put the e-mail in the demo mailbox: {e}")
        print(
            f"Put an e-mail of {size} bytes into the demo mailbox; the intake server "
            f"fetches it within {DEMO_POLL_SECONDS} seconds."
        )
    else:
        _serve_smtp(args.certs, args.port)


if __name__ == "__main__":
    main()
