"""Her public key is pinned (review M1): a hostile server cannot swap it silently once
replies were exchanged with it; the case carries a warning and replies wait for a
reviewer who checked with her (`sesim workstation accept-new-key`)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crypto import (
    CryptoError,
    EnvelopeContext,
    PrivateKey,
    PublicKey,
    decrypt_bytes,
    encrypt_bytes,
)
from journalist_interface.workstation import keypin, replies
from journalist_interface.workstation.casestore import CaseStore
from journalist_interface.workstation.importer import ImportResult, import_bundle
from journalist_interface.workstation.keys import Unlocked
from securedrop_like import bundles
from securedrop_like.store import new_id
from sesim.cli import main as sesim
from tests.unit.workstation.conftest import PASSPHRASE
from tests.unit.workstation.test_importer import DAY, _doc

SOURCE = "mavi göl"


def _bundle(path: Path, items: list[tuple[str, str, bytes]], key: PublicKey) -> Path:
    with path.open("wb") as fh:
        bundles.write_export(
            fh,
            [
                bundles.ExportItem(
                    i, SOURCE, kind, None, DAY, len(d), open=lambda d=d: io.BytesIO(d)
                )
                for i, kind, d in items
            ],
            [],
            DAY,
            sources=[bundles.ExportSource(SOURCE, key, "web")],
        )
    return path


def _message(unlocked: Unlocked, text: str) -> tuple[str, str, bytes]:
    item = new_id()
    sealed = encrypt_bytes(
        _doc("sesim-message", text),
        [unlocked.submission.public_key],
        context=EnvelopeContext.for_item("message", item),
    )
    return item, "message", sealed


def _key(store: CaseStore, case_id: int) -> bytes | None:
    return store.get_case(case_id).source_public_key


def _import(store: CaseStore, unlocked: Unlocked, path: Path, key: PublicKey) -> ImportResult:
    """One new message of hers in an export that names ``key`` as hers."""
    return import_bundle(store, unlocked, _bundle(path, [_message(unlocked, path.stem)], key))


def _swapped_after_a_reply(
    store: CaseStore, unlocked: Unlocked, tmp_path: Path, her: PublicKey, other: PublicKey
) -> tuple[int, ImportResult]:
    """Her case from an export naming ``her``, a reply sealed to her, then an export
    naming ``other``: (case id, that import's result)."""
    _import(store, unlocked, tmp_path / "1.tar", her)
    case_id = store.case_id(SOURCE)
    assert case_id is not None
    replies.add_reply(store, unlocked, case_id, "Salam", "az", "Aysel")
    return case_id, _import(store, unlocked, tmp_path / "2.tar", other)


def _sealed(store: CaseStore, reply_id: str) -> bytes:
    with store.connection() as conn:
        row = conn.execute("SELECT ciphertext FROM items WHERE id = ?", (reply_id,)).fetchone()
    return bytes(row[0])


def test_a_different_key_before_any_reply_is_taken(
    store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    first, second = PrivateKey.generate(), PrivateKey.generate()
    _import(store, unlocked, tmp_path / "1.tar", first.public_key)
    case_id = store.case_id(SOURCE)
    assert case_id is not None and _key(store, case_id) == first.public_key.raw
    result = _import(store, unlocked, tmp_path / "2.tar", second.public_key)
    assert result.key_conflicts == []
    assert _key(store, case_id) == second.public_key.raw
    assert store.get_case(case_id).offered_key is None


def test_a_swap_after_a_reply_was_sealed_keeps_her_key_and_stops_replies(
    store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    her, server = PrivateKey.generate(), PrivateKey.generate()
    case_id, swapped = _swapped_after_a_reply(
        store, unlocked, tmp_path, her.public_key, server.public_key
    )
    # Loud, not silent: reported by the import, kept on the case, her key unchanged.
    assert swapped.key_conflicts == [SOURCE]
    assert swapped.new_items == 1 and swapped.errors == 0  # the rest of the bundle imported
    case = store.get_case(case_id)
    assert case.source_public_key == her.public_key.raw
    assert case.offered_key == server.public_key.raw and case.key_conflict_day
    with pytest.raises(keypin.KeyChanged):
        replies.add_reply(store, unlocked, case_id, "Salam again", "az", "Aysel")
    assert len(store.get_case(case_id).replies) == 1  # nothing sealed to anybody
    # A later export naming the same wrong key keeps the warning; her key stays pinned.
    again = _import(store, unlocked, tmp_path / "3.tar", server.public_key)
    assert again.key_conflicts == [SOURCE] and _key(store, case_id) == her.public_key.raw


def test_a_swap_after_a_reply_from_the_server_opened_is_refused(
    store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    her, server = PrivateKey.generate(), PrivateKey.generate()
    reply_id = new_id()
    reply = encrypt_bytes(
        _doc("sesim-reply", "from the staff interface"),
        [her.public_key, unlocked.submission.public_key],
        context=EnvelopeContext.reply(reply_id, her.public_key),
    )
    first = import_bundle(
        store, unlocked, _bundle(tmp_path / "1.tar", [(reply_id, "reply", reply)], her.public_key)
    )
    assert first.errors == 0
    swapped = _import(store, unlocked, tmp_path / "2.tar", server.public_key)
    case_id = store.case_id(SOURCE)
    assert case_id is not None and swapped.key_conflicts == [SOURCE]
    assert _key(store, case_id) == her.public_key.raw


def _cli(home: Path, *args: str, answer: str = "") -> Result:
    return CliRunner().invoke(
        sesim,
        ["workstation", "accept-new-key", "--home", str(home), *args],
        env={"SESIM_WORKSTATION_PASSPHRASE": PASSPHRASE},
        input=answer,
    )


def test_accept_new_key_after_checking_with_her(
    ws_home: Path, store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    her, new = PrivateKey.generate(), PrivateKey.generate()
    case_id, _ = _swapped_after_a_reply(store, unlocked, tmp_path, her.public_key, new.public_key)
    # Not without confirming; the warning stays.
    refused = _cli(ws_home, str(case_id), answer="n\n")
    assert refused.exit_code == 1 and "nothing changed" in refused.output
    assert store.get_case(case_id).offered_key == new.public_key.raw
    done = _cli(ws_home, SOURCE, "--yes")
    assert done.exit_code == 0, done.output
    case = store.get_case(case_id)
    assert case.source_public_key == new.public_key.raw and case.offered_key is None
    reply_id = replies.add_reply(store, unlocked, case_id, "Salam yenə", "az", "Aysel")
    opened = decrypt_bytes(
        _sealed(store, reply_id), new, expected=EnvelopeContext.reply(reply_id, new.public_key)
    )
    assert b"Salam yen" in opened
    # Nothing left to resolve.
    assert _cli(ws_home, str(case_id), "--yes").exit_code == 1


def test_keep_old_key_drops_the_warning_and_replies_go_to_her(
    ws_home: Path, store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    her, server = PrivateKey.generate(), PrivateKey.generate()
    case_id, _ = _swapped_after_a_reply(
        store, unlocked, tmp_path, her.public_key, server.public_key
    )
    done = _cli(ws_home, str(case_id), "--keep-old", "--yes")
    assert done.exit_code == 0, done.output
    assert store.get_case(case_id).offered_key is None
    reply_id = replies.add_reply(store, unlocked, case_id, "Salam yenə", "az", "Aysel")
    sealed = _sealed(store, reply_id)
    with pytest.raises(CryptoError):
        decrypt_bytes(sealed, server, expected=EnvelopeContext.reply(reply_id, server.public_key))
    assert decrypt_bytes(sealed, her, expected=EnvelopeContext.reply(reply_id, her.public_key))
