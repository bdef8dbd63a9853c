"""OpenPGP e-mail, end to end: the workstation makes the key pair, the server publishes
the public key, a woman encrypts her e-mail to it (PGP/MIME), the poller stores it as
received (the server reads nothing of it), staff export, the workstation imports and
its case page shows the e-mail decrypted with python-gnupg. And a channel report is
shown as one: its channel, no empty form, the e-mail's text and files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

import intake.email as mail
from crypto import OpenPGP
from journalist_interface.workstation import keys
from journalist_interface.workstation.app import create_app as workstation_app
from journalist_interface.workstation.casestore import CaseStore
from journalist_interface.workstation.importer import import_bundle
from journalist_interface.workstation.mail import read_mail
from securedrop_like import pgp_key
from sesim.cli import main as sesim
from tests.conftest import Instance, csrf_of
from tests.functional.test_staff_actions import staff  # noqa: F401 - the fixture
from tests.intake.core_support import canary_hits, decrypt_items
from tests.intake.email_support import (
    Certs,
    Dovecot,
    dovecot,
    make_certs,
    pgp_mime_mail,
    plain_mail,
)
from tests.intake.test_email_imap import flush, intake_app, poller
from tests.unit.public_map.vnu import validate
from tests.unit.workstation.conftest import PASSPHRASE, make_home

SECRET = "Canary-5f0e: the inspector at the passport office asked me to meet him at night."
SECRET_FILE = b"canary-5f0e-attachment"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def box(certs: Certs) -> Iterator[Dovecot]:
    with dovecot(certs) as d:
        yield d


@pytest.fixture
def ws(tmp_path: Path, instance: Instance) -> Path:
    """A workstation whose reviewer key the instance seals to."""
    home = tmp_path / "ws"
    make_home(home)
    result = CliRunner().invoke(
        sesim, ["keys", "add-reviewer", "--home", str(instance.home), str(home / "reviewer.pub")]
    )
    assert result.exit_code == 0, result.output
    return home


def _generate_and_install(instance: Instance, ws: Path, tmp_path: Path) -> str:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE)
    public = tmp_path / "instance-pgp.asc"
    made = CliRunner().invoke(
        sesim,
        ["workstation", "pgp-key", "generate", "--home", str(ws), "--passphrase-file",
         str(passphrase), "--address", "report@sesim.test", "--out", str(public)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "PRIVATE" not in public.read_text()
    installed = CliRunner().invoke(
        sesim, ["pgp-key", "install", "--home", str(instance.home), str(public)]
    )
    assert installed.exit_code == 0, installed.output
    key = pgp_key.public_key(instance.config)
    assert key is not None and key.grouped in made.output
    # Her secret key is nowhere near the server; on the workstation it is locked.
    again = CliRunner().invoke(
        sesim,
        ["workstation", "pgp-key", "generate", "--home", str(ws), "--passphrase-file",
         str(passphrase), "--address", "report@sesim.test", "--out", str(tmp_path / "2.asc")],
    )  # fmt: skip
    assert again.exit_code == 1 and "already" in again.output
    return key.armoured


def _her_encrypted_mail(armoured: str, tmp_path: Path) -> bytes:
    """What Thunderbird sends: a MIME entity (text and a file) encrypted, PGP/MIME."""
    inner = plain_mail(SECRET, attachment=("evidence.txt", "text/plain", SECRET_FILE))
    entity = inner[inner.index(b"Content-Type") :]  # the body entity, without From/To
    with OpenPGP(tmp_path / "her-gnupg") as her:
        fingerprint = her.import_public_key(armoured)
        result = her._gpg.encrypt(entity, [fingerprint], armor=True, always_trust=True)
        assert result.ok
        return pgp_mime_mail(str(result), sender="her.pgp@example.org")


def _export(client: Any) -> bytes:
    token = csrf_of(client.get("/").get_data(as_text=True))
    response = client.post("/export", data={"csrf_token": token, "which": "unread"})
    assert response.status_code == 200
    return bytes(response.data)


@pytest.mark.timeout(180)
def test_an_openpgp_email_is_stored_as_received_and_opens_on_the_workstation(
    instance: Instance,
    ws: Path,
    box: Dovecot,
    staff: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    armoured = _generate_and_install(instance, ws, tmp_path)
    raw = _her_encrypted_mail(armoured, tmp_path)
    assert SECRET.encode() not in raw
    box.append(raw)
    _app, ctx = intake_app(instance, box)
    assert poller(ctx).poll_once().stored == 1
    (source_id,) = flush(ctx)
    items = decrypt_items(ctx.store.service, source_id, instance.reviewer_key)
    report = next(doc for kind, doc in items if kind == "report")
    assert report["text"] == "" and report["channel"] == "email"
    assert [doc for kind, doc in items if kind == "file"] == [raw]  # as received
    ctx.store.close()
    # The server never held her words, not even sealed: only the OpenPGP ciphertext.
    assert canary_hits(instance.config, ["5f0e", "passport office"]) == []
    # Staff export; the workstation imports and decrypts.
    _, client, _ = staff
    bundle = tmp_path / "export.tar"
    bundle.write_bytes(_export(client))
    unlocked = keys.unlock(ws, PASSPHRASE)
    store = CaseStore.open(ws, unlocked)
    try:
        result = import_bundle(store, unlocked, bundle)
        assert result.errors == 0
        (case,) = store.list_cases()
        eml = next(f for f in store.get_case(case.id).files if f.name == "message.eml")
        assert b"".join(store.file_plaintext(eml.item_id)) == raw
        case_id = case.id
    finally:
        store.close()
    app: Flask = workstation_app(ws, unlocked, TESTING=True)
    try:
        browser = app.test_client()
        browser.get("/lang/en")
        page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
        listed = browser.get("/cases").get_data(as_text=True)
    finally:
        app.extensions["sesim_workstation"].lock()
    assert SECRET in page  # decrypted, shown
    assert "evidence.txt" in page  # her file inside the encrypted e-mail, listed
    assert "decrypted here with the workstation" in page
    # A channel report: its channel, and no table of empty form answers.
    assert "Arrived by e-mail" in page and "by e-mail" in listed
    assert 'class="answers"' not in page
    # Shown, never written: nothing of her words on the workstation's disk in the clear.
    on_disk = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    assert b"5f0e" not in on_disk and b"passport office" not in on_disk
    saved = tmp_path / "case.html"
    saved.write_text(page, encoding="utf-8")
    assert validate([saved]) == []


def test_without_the_key_the_workstation_says_so(tmp_path: Path) -> None:
    view = read_mail(
        pgp_mime_mail("-----BEGIN PGP MESSAGE-----\n\nhQEMA\n-----END PGP MESSAGE-----")
    )
    assert view.encrypted and not view.decrypted and view.problem == "no-key"
    assert view.text == ""


def test_a_plain_email_reads_with_its_files() -> None:
    raw = plain_mail("Salam, kömək edin.", attachment=("photo.jpg", "image/jpeg", b"\xff\xd8x"))
    view = read_mail(raw)
    assert not view.encrypted and view.text == "Salam, kömək edin."
    assert view.sender == "Aysel <Aysel.Test@Example.org>" and view.subject == "Salam"
    assert [(a.name, a.content_type, a.size) for a in view.attachments] == [
        ("photo.jpg", "image/jpeg", 3)
    ]
    assert mail.inbound_from_raw(raw).text == view.text


def test_inline_armour_decrypts_and_another_key_does_not(tmp_path: Path) -> None:
    from journalist_interface.workstation.mail import generate_key

    home = tmp_path / "ws"
    make_home(home)
    with keys.unlock(home, PASSPHRASE) as unlocked:
        fingerprint = generate_key(unlocked, "Səsim", "report@sesim.test", tmp_path / "pub.asc")
        armoured = (tmp_path / "pub.asc").read_text()
        with OpenPGP(tmp_path / "her") as her:
            assert her.import_public_key(armoured) == fingerprint
            stranger = her.generate_test_key("Someone else", "else@example.org")
            mine = her._gpg.encrypt("Gizli: 5f0e inline", [fingerprint], armor=True,
                                    always_trust=True)  # fmt: skip
            theirs = her._gpg.encrypt("not for us", [stranger], armor=True, always_trust=True)
        inline = plain_mail("Hello,\n\n" + str(mine))
        view = read_mail(inline, home, unlocked)
        assert view.encrypted and view.decrypted and view.text == "Gizli: 5f0e inline"
        other = read_mail(plain_mail(str(theirs)), home, unlocked)
        assert other.encrypted and not other.decrypted and other.problem == "not-decrypted"
    # Locked (no unlocked keys): not opened, and said so.
    assert read_mail(inline).problem == "no-key"
