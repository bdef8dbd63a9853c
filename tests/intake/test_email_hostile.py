"""Hostile e-mail on the workstation, where the keys are:

- an OpenPGP message of a few hundred bytes that decompresses (bzip2) past the cap is
  stopped by gpg's ``--max-output`` and shown as "not opened (too large)";
- a Subject that is not valid RFC 2047 (``=?utf-8?b?Q?=``) and thousands of nested
  MIME parts do not break her case page: it renders (200), says the e-mail could not
  be shown, and the e-mail's file is still there to download.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import intake.email as mail
from crypto import OpenPGP, OutputTooLarge
from journalist_interface.workstation import keys
from journalist_interface.workstation.app import create_app as workstation_app
from journalist_interface.workstation.casestore import CaseStore
from journalist_interface.workstation.importer import import_bundle
from journalist_interface.workstation.mail import generate_key, read_mail
from tests.conftest import Instance
from tests.functional.test_staff_actions import staff  # noqa: F401 - the fixture
from tests.intake.email_support import make_certs, plain_mail
from tests.intake.test_email_imap import flush, intake_app
from tests.intake.test_email_openpgp import _export, ws  # noqa: F401 - the fixture
from tests.unit.workstation.conftest import PASSPHRASE, make_home

BOMB_BYTES = 4 * 1024 * 1024  # what the tiny message expands to
CAP = 64 * 1024  # the cap of the test (the workstation's own is a few MiB)


def _bomb(fingerprint: str, armoured: str, folder: Path) -> str:
    """BOMB_BYTES of one letter, bzip2-compressed, encrypted to ``fingerprint``."""
    with OpenPGP(folder) as her:
        assert her.import_public_key(armoured) == fingerprint
        result = her._gpg.encrypt(
            b"A" * BOMB_BYTES, [fingerprint], armor=True, always_trust=True,
            extra_args=["--compress-algo", "bzip2", "--bzip2-compress-level", "9"],
        )  # fmt: skip
        assert result.ok
    return str(result)


@pytest.mark.timeout(120)
def test_a_decompression_bomb_is_stopped_at_the_cap(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    make_home(home)
    with keys.unlock(home, PASSPHRASE) as unlocked:
        fingerprint = generate_key(unlocked, "Səsim", "report@sesim.test", tmp_path / "pub.asc")
        bomb = _bomb(fingerprint, (tmp_path / "pub.asc").read_text(), tmp_path / "her")
        assert len(bomb) < 4096  # tiny on the wire
        raw = plain_mail(bomb)
        view = read_mail(raw, home, unlocked, max_decrypted=CAP)
        assert view.encrypted and not view.decrypted and view.problem == "too-large"
        assert view.text == ""
        # Under a cap it fits in, the same message opens (so the cap is what stopped it).
        opened = read_mail(raw, home, unlocked, max_decrypted=2 * BOMB_BYTES)
        assert opened.decrypted and opened.text.startswith("AAAA")
    # The cap is gpg's: crypto.OpenPGP stops there and says so.
    with keys.unlock(home, PASSPHRASE) as unlocked, OpenPGP(home / "gnupg") as pgp:
        from journalist_interface.workstation.mail import gnupg_passphrase

        with pytest.raises(OutputTooLarge):
            pgp.decrypt(bomb.encode(), gnupg_passphrase(unlocked), max_output=CAP)


def _nested(levels: int) -> bytes:
    head = b"From: Sevda <sevda.b71@example.org>\r\nTo: report@sesim.test\r\nSubject: Salam\r\n"
    body = b"MIME-Version: 1.0\r\n"
    for i in range(levels):
        body += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    body += b"Content-Type: text/plain\r\n\r\nKomek edin.\r\n"
    for i in reversed(range(levels)):
        body += b"--b%d--\r\n" % i
    return head + body


#: An ordinary mail from an old mail program: its attachment's file name in raw Latin-1
#: (not RFC 2231), so the Content-Disposition header reads back as a Header object.
OLD_FILENAME = (
    b"From: Nurlana <nurlana.b71@example.org>\r\nTo: report@sesim.test\r\nSubject: Salam\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="\xe6riza.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    + "Salam, ərizə əlavədədir.".encode()
    + b"\r\n--b--\r\n"
)


def test_a_raw_non_utf8_file_name_still_reads() -> None:
    view = read_mail(OLD_FILENAME)
    assert view.text == "Salam, ərizə əlavədədir."
    assert [a.content_type for a in view.attachments] == ["application/pdf"]
    assert view.attachments[0].name.endswith("riza.pdf")
    # The server reads it too: her text, answered as an ordinary mail.
    msg = mail.inbound_from_raw(OLD_FILENAME)
    assert msg.text == "Salam, ərizə əlavədədir." and msg.answer


CRAFTED = {
    "old-filename": OLD_FILENAME,
    "subject": plain_mail(
        "Salam, kömək edin.", sender="Nərmin <nermin.b71@example.org>", subject="PLACE"
    ).replace(b"Subject: PLACE", b"Subject: =?utf-8?b?Q?="),
    "nesting": _nested(3000),
}


@pytest.mark.parametrize("crafted", sorted(CRAFTED))
@pytest.mark.timeout(180)
def test_a_crafted_email_does_not_break_her_case_page(
    instance: Instance,
    ws: Path,  # noqa: F811
    staff: Any,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    crafted: str,
) -> None:
    raw = CRAFTED[crafted]
    box: Any = type("Box", (), {})()
    box.port, box.user, box.password = 1, "report", "unused-imap"
    box.certs = make_certs(tmp_path / "certs")
    _app, ctx = intake_app(instance, box)
    mail._receiver(ctx)(mail.inbound_from_raw(raw))
    assert len(flush(ctx)) == 1
    ctx.store.close()
    _, client, _ = staff
    bundle = tmp_path / "export.tar"
    bundle.write_bytes(_export(client))
    unlocked = keys.unlock(ws, PASSPHRASE)
    store = CaseStore.open(ws, unlocked)
    try:
        assert import_bundle(store, unlocked, bundle).errors == 0
        (case,) = store.list_cases()
        eml = next(f for f in store.get_case(case.id).files if f.name == "message.eml")
    finally:
        store.close()
    app: Flask = workstation_app(ws, unlocked, TESTING=True)
    try:
        browser = app.test_client()
        browser.get("/lang/en")
        with caplog.at_level(logging.INFO):
            response = browser.get(f"/cases/{case.id}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        if crafted == "nesting":
            assert "This e-mail could not be shown; its file is still in the case." in page
        elif crafted == "old-filename":  # an ordinary mail: shown, with its file listed
            assert "could not be shown" not in page
            assert "ərizə əlavədədir" in page and "riza.pdf" in page
        else:  # the header is shown as it came, undecoded; the rest of the e-mail too
            assert "=?utf-8?b?Q?=" in page and "kömək edin" in page
        assert eml.item_id in page  # her e-mail is still there to download
    finally:
        app.extensions["sesim_workstation"].lock()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "b71" not in logged and "Salam" not in logged
