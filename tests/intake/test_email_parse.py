"""The e-mail channel without servers: settings, reading a message into an Inbound,
composing an answer, and the instance's OpenPGP key (``sesim pgp-key``)."""

from __future__ import annotations

import hashlib
import logging
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import intake.email as mail
from crypto import FormatError, OpenPGP
from securedrop_like import pgp_key
from securedrop_like.config import ConfigError
from sesim.cli import main as sesim
from tests.conftest import Instance
from tests.intake.email_support import pgp_mime_mail, plain_mail

SECTION: dict[str, Any] = {
    "imap_host": "imap.example.org",
    "username": "report",
    "address": "Report@Example.org",
    "smtp_host": "smtp.example.org",
}
SECRETS = {"imap_password": "imap-secret-value-1", "smtp_password": "smtp-secret-value-2"}


def test_settings_defaults_and_checks() -> None:
    s = mail.load_settings("imap", dict(SECTION), dict(SECRETS))
    assert (s.imap_port, s.smtp_port, s.smtp_security, s.poll_seconds) == (993, 465, "tls", 60)
    assert s.address == "report@example.org" and s.ca_file == ""
    assert "imap-secret" not in repr(s) and "smtp-secret" not in repr(s)
    starttls = mail.load_settings("imap", {**SECTION, "smtp_security": "starttls"}, SECRETS)
    assert starttls.smtp_port == 587
    context = s.tls_context()
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


@pytest.mark.parametrize(
    ("change", "secrets", "needle"),
    [
        ({"smtp_security": "none"}, SECRETS, "smtp_security"),
        ({"imap_port": 0}, SECRETS, "imap_port"),
        ({"imap_port": True}, SECRETS, "imap_port"),
        ({"address": "not an address"}, SECRETS, "address"),
        ({"imap_host": "bad host name"}, SECRETS, "imap_host"),
        ({"ca_file": "/nonexistent/ca.pem"}, SECRETS, "ca_file"),
        ({"verify": False}, SECRETS, "unknown keys: verify"),
        ({}, {"imap_password": "imap-secret-value-1"}, "smtp_password"),
        ({}, {"smtp_password": "smtp-secret-value-2"}, "imap_password"),
    ],
)
def test_settings_refused_with_a_clear_error(
    change: dict[str, Any], secrets: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        mail.load_settings("imap", {**SECTION, **change}, dict(secrets))
    assert needle in str(caught.value)
    assert "secret-value" not in str(caught.value)


def test_a_plain_message_becomes_an_inbound() -> None:
    raw = plain_mail(
        "Salam. Məktəbdə direktor məndən pul istədi.",
        attachment=("photo.jpg", "image/jpeg", b"\xff\xd8jpeg-bytes"),
    )
    msg = mail.inbound_from_raw(raw)
    assert msg.provider == "imap" and msg.channel == "email"
    assert msg.address == "aysel.test@example.org"  # lower-case, without the name
    assert msg.text == "Salam. Məktəbdə direktor məndən pul istədi."
    assert msg.message_id == hashlib.sha256(raw).hexdigest()
    assert msg.attachments == (("message.eml", "message/rfc822", raw),)
    assert msg.join is False and msg.lang == "az"
    assert mail.inbound_from_raw(plain_mail("Здравствуйте, мне нужна помощь юриста.")).lang == "ru"
    assert mail.inbound_from_raw(plain_mail("Hello, I need help from a lawyer.")).lang == "en"


def test_a_reply_keeps_her_words_only() -> None:
    body = (
        "STOP\n\nOn Mon, 1 Dec 2026 at 10:00, report@sesim.test wrote:\n"
        "> Your receipt: 12345678901234567890\n> Keep it safe.\n-- \nSent from my phone\n"
    )
    msg = mail.inbound_from_raw(plain_mail(body))
    assert msg.text == "STOP"
    assert b"12345678901234567890" in msg.attachments[0][2]  # the whole mail is kept


def test_html_only_and_odd_charsets() -> None:
    m = EmailMessage()
    m["From"] = "x@example.org"
    m.set_content("<html><body><p>Salam</p><script>x()</script><p>kömək</p></body></html>",
                  subtype="html")  # fmt: skip
    assert mail.inbound_from_raw(bytes(m)).text == "Salam\nkömək"
    odd = b"From: y@example.org\r\nContent-Type: text/plain; charset=x-unknown-9\r\n\r\nhello\r\n"
    assert mail.inbound_from_raw(odd).text == "hello"
    nofrom = b"Subject: hi\r\n\r\nbody\r\n"
    other = b"Subject: hi\r\n\r\nanother body\r\n"
    # Each message without a sender is a thread of its own, and nothing is sent to it.
    a, b = mail.inbound_from_raw(nofrom).address, mail.inbound_from_raw(other).address
    assert a.startswith(mail.NO_SENDER) and b.startswith(mail.NO_SENDER) and a != b
    assert "@" not in a


ARMOURED = "-----BEGIN PGP MESSAGE-----\n\nhQEMA0xyz\n=abcd\n-----END PGP MESSAGE-----\n"


def test_openpgp_mail_has_no_text() -> None:
    pgp_mime = pgp_mime_mail(ARMOURED)
    msg = mail.inbound_from_raw(pgp_mime)
    assert msg.text == "" and msg.attachments[0][2] == pgp_mime and msg.lang == "az"
    inline = plain_mail("Some words before\n" + ARMOURED, subject="Здравствуйте")
    inline_msg = mail.inbound_from_raw(inline)
    assert inline_msg.text == "" and inline_msg.lang == "az"  # nothing read, not even the subject
    assert mail.is_openpgp(message_from_bytes(pgp_mime))


def test_the_answer_is_plain_utf8_with_a_neutral_subject_in_her_language() -> None:
    s = mail.load_settings("imap", dict(SECTION), dict(SECRETS))
    text = "Ваш номер: 12345678901234567890. Сохраните его."
    msg = mail.SmtpSender(s).message("her@example.org", text)
    assert msg["From"] == "report@example.org" and msg["To"] == "her@example.org"
    assert msg["Content-Language"] == "ru"
    assert msg["Subject"] == "Ваше сообщение"
    assert "12345678901234567890" not in str(msg["Subject"])
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content().strip() == text
    with pytest.raises(mail.SendError) as caught:
        mail.SmtpSender(s).send("no address", text)
    assert "no address" not in str(caught.value)


def test_the_module_protocol() -> None:
    s = mail.load_settings("imap", dict(SECTION), dict(SECRETS))
    assert mail.PROVIDERS == ("imap",)
    assert not list(mail.blueprint().deferred_functions)  # no route
    assert isinstance(mail.make_sender("imap", s), mail.SmtpSender)
    with pytest.raises(ConfigError):
        mail.load_settings("twilio", dict(SECTION), dict(SECRETS))


def test_a_failed_delivery_stays_in_the_box_and_logs_no_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class FakeImap:
        capabilities = ("UIDPLUS",)

        def __init__(self) -> None:
            self.stored: list[str] = []

        def uid(self, command: str, *args: Any) -> tuple[str, list[Any]]:
            if command == "FETCH" and args[1] == "(RFC822.SIZE)":
                return "OK", [b"1 (UID 7 RFC822.SIZE 100)"]
            if command == "FETCH":
                return "OK", [(b"1 (UID 7 BODY[] {10}", plain_mail("secret words"))]
            self.stored.append(command)
            return "OK", []

    def broken(msg: Any) -> None:
        raise RuntimeError(f"cannot store {msg.address}")

    poller = mail.ImapPoller(mail.load_settings("imap", dict(SECTION), dict(SECRETS)), broken)
    imap = FakeImap()
    result = mail.PollResult()
    with caplog.at_level(logging.DEBUG):
        poller._one(imap, "7", True, result)  # type: ignore[arg-type]
    assert result.failed == 1 and imap.stored == []  # neither flagged nor expunged
    assert "aysel" not in caplog.text.lower() and "secret words" not in caplog.text
    assert "RuntimeError" in caplog.text


# -- the instance's OpenPGP key ----------------------------------------------------------------


@pytest.fixture
def keyring(tmp_path: Path) -> Any:
    with OpenPGP(tmp_path / "gnupg") as pgp:
        yield pgp


def test_install_and_public_key(instance: Instance, keyring: OpenPGP, tmp_path: Path) -> None:
    assert pgp_key.public_key(instance.config) is None
    fingerprint = keyring.generate_test_key("Səsim", "report@sesim.test")
    armoured = keyring.export_public_key(fingerprint)
    assert pgp_key.fingerprint_of(armoured) == fingerprint
    key_file = tmp_path / "pub.asc"
    key_file.write_text(armoured)
    result = CliRunner().invoke(
        sesim, ["pgp-key", "install", "--home", str(instance.home), str(key_file)]
    )
    assert result.exit_code == 0, result.output
    installed = pgp_key.public_key(instance.config)
    assert installed is not None and installed.fingerprint == fingerprint
    assert installed.grouped.replace(" ", "") == fingerprint and installed.grouped in result.output
    assert "PRIVATE" not in installed.armoured
    assert (instance.home / pgp_key.KEY_FILE).stat().st_mode & 0o777 == 0o644
    shown = CliRunner().invoke(sesim, ["pgp-key", "show", "--home", str(instance.home)])
    assert shown.exit_code == 0 and fingerprint[:4] in shown.output


def test_install_refuses_secret_keys_and_garbage(
    instance: Instance, keyring: OpenPGP, tmp_path: Path
) -> None:
    fingerprint = keyring.generate_test_key("Səsim", "report@sesim.test")
    secret = keyring._gpg.export_keys(fingerprint, secret=True, expect_passphrase=False)
    assert "PRIVATE KEY BLOCK" in secret
    damaged = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n"
    for name, content in (("secret.asc", secret), ("junk.asc", "hello"), ("bad.asc", damaged)):
        path = tmp_path / name
        path.write_text(content)
        result = CliRunner().invoke(
            sesim, ["pgp-key", "install", "--home", str(instance.home), str(path)]
        )
        assert result.exit_code == 1 and "Error:" in result.output
        assert "PRIVATE KEY BLOCK" not in result.output
        assert not (instance.home / pgp_key.KEY_FILE).exists()
    with pytest.raises(FormatError):
        pgp_key.install(instance.config, secret)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe" * 1000,
        b"From: =?utf-8?b?////?= <\xff@\xfe>\r\nContent-Type: multipart/mixed\r\n\r\nno boundary",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n" * 5000,
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n%%%",
    ],
)
def test_a_malformed_message_is_still_kept_whole(raw: bytes) -> None:
    msg = mail.inbound_from_raw(raw)
    assert msg.attachments == (("message.eml", "message/rfc822", raw),)
    assert msg.message_id == hashlib.sha256(raw).hexdigest()
    assert isinstance(msg.text, str) and msg.lang in ("az", "ru", "en")
    s = mail.load_settings("imap", dict(SECTION), dict(SECRETS))
    if msg.address.startswith(mail.NO_SENDER):
        with pytest.raises(mail.SendError):
            mail.SmtpSender(s).send(msg.address, "x")


def test_a_refused_delete_is_counted_and_said(caplog: pytest.LogCaptureFixture) -> None:
    class ReadOnlyImap:
        capabilities = ("UIDPLUS",)

        def uid(self, command: str, *args: Any) -> tuple[str, list[Any]]:
            if command == "FETCH" and args[1] == "(RFC822.SIZE)":
                return "OK", [b"1 (UID 7 RFC822.SIZE 100)"]
            if command == "FETCH":
                return "OK", [(b"1 (UID 7 BODY[] {10}", plain_mail("words"))]
            return "NO", [b"read-only"]

    got: list[Any] = []
    poller = mail.ImapPoller(mail.load_settings("imap", dict(SECTION), dict(SECRETS)), got.append)
    result = mail.PollResult()
    with caplog.at_level(logging.WARNING):
        poller._one(ReadOnlyImap(), "7", True, result)  # type: ignore[arg-type]
    assert len(got) == 1 and (result.stored, result.undeleted) == (1, 1)
    assert "could not be deleted" in caplog.text
