"""The demo's e-mail channel: its ``[intake]`` tables are what the intake server and
the pages accept, and the demo says in one line why e-mail is off when it must be."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest

import intake.email as mail
import sesim.demo as demo
import sesim.demo_mail as demo_mail
from sesim.demo_intake import SECRET_KEYS, intake_tables
from sesim.demo_mail import DEMO_ADDRESS, HOST, imap_table, mail_unavailable

SECRETS = {key: f"demo-{key}-0123456789abcdef" for key in SECRET_KEYS}


def _public(tables: str) -> dict[str, str]:
    public = tomllib.loads(tables)["intake"]["public"]
    assert isinstance(public, dict)
    return public


def test_without_mail_the_tables_have_no_imap_and_no_address() -> None:
    tables = tomllib.loads(intake_tables(8084, "http://127.0.0.1:9"))
    assert "imap" not in tables["intake"]
    assert "email" not in tables["intake"]["public"]


def test_the_demo_imap_table_is_what_the_email_channel_accepts(tmp_path: Path) -> None:
    certs = demo_mail.make_certs(tmp_path / "certs", "demo")
    box = demo_mail.Dovecot(base=tmp_path, port=18305, certs=certs, password="x")
    fake = demo_mail.DemoMail(mailbox=box, smtp=None, smtp_port=18306)  # type: ignore[arg-type]
    text = intake_tables(8084, "http://127.0.0.1:9", imap_table(fake), DEMO_ADDRESS)
    section = tomllib.loads(text)["intake"]["imap"]
    settings = mail.load_settings("imap", section, SECRETS)
    assert (settings.imap_host, settings.imap_port) == (HOST, 18305)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == (HOST, 18306, "tls")
    assert settings.ca_file == str(certs.ca)
    assert settings.address == DEMO_ADDRESS
    assert _public(text)["email"] == DEMO_ADDRESS


def test_without_dovecot_the_demo_says_why_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_mail, "DOVECOT", str(tmp_path / "no-dovecot"))
    assert "dovecot-imapd" in mail_unavailable()
    started, why = demo._demo_mail(tmp_path, 18300, SECRETS)
    assert started is None and "dovecot-imapd" in why
    assert not (tmp_path / demo_mail.CERT_FOLDER).exists()


@pytest.mark.timeout(30)
def test_a_taken_port_turns_email_off_with_a_reason(tmp_path: Path) -> None:
    if mail_unavailable():
        pytest.skip(mail_unavailable())
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        base = taken.getsockname()[1] - 5  # the demo's IMAP port is base + 5
        started, why = demo._demo_mail(tmp_path, base, SECRETS)
    assert started is None
    assert why.startswith("its mail servers could not start") and "is taken" in why
