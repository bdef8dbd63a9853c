"""Import edge cases with synthetic bundles: version 1 (no source keys), a reply that
opens once version 2 brings her key, items moved between ids, documents of the wrong kind."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from crypto import EnvelopeContext, PrivateKey, encrypt_bytes
from journalist_interface.workstation.casestore import CaseStore
from journalist_interface.workstation.importer import import_bundle
from journalist_interface.workstation.keys import Unlocked
from securedrop_like import bundles
from securedrop_like.store import new_id

DAY = "2026-05-02"


def _v1(path: Path, items: list[tuple[str, str, str, bytes]]) -> Path:
    """A version 1 export bundle written with Python's tarfile, as BUNDLES.md describes."""
    manifest = {
        "format": "sesim-export",
        "version": 1,
        "created_day": DAY,
        "items": [
            {
                "id": i,
                "source": src,
                "kind": kind,
                "parent": None,
                "day": DAY,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for i, src, kind, data in items
        ],  # fmt: skip
        "retractions": [],
    }
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode())] + [
            (f"items/{i}", d) for i, _s, _k, d in items
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _v2(path: Path, items: list[tuple[str, str, str, bytes]], her: Any) -> Path:
    with path.open("wb") as fh:
        bundles.write_export(
            fh,
            [
                bundles.ExportItem(i, src, kind, None, DAY, len(d), open=lambda d=d: io.BytesIO(d))
                for i, src, kind, d in items
            ],
            [],
            DAY,
            sources=[bundles.ExportSource("mavi göl", her.public_key, "web")],
        )
    return path


def _doc(fmt: str, text: str) -> bytes:
    return json.dumps({"format": fmt, "v": 1, "text": text, "lang": "az"}).encode()


def test_v1_reply_waits_for_her_key_then_opens(
    store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    me = unlocked.submission.public_key
    her = PrivateKey.generate()
    report_id, reply_id = new_id(), new_id()
    report = encrypt_bytes(
        _doc("sesim-report", "Report text 1"),
        [me],
        context=EnvelopeContext.for_item("report", report_id),
    )
    reply = encrypt_bytes(
        _doc("sesim-reply", "Reply text 2"),
        [her.public_key, me],
        context=EnvelopeContext.reply(reply_id, her.public_key),
    )
    items = [(report_id, "mavi göl", "report", report), (reply_id, "mavi göl", "reply", reply)]
    first = import_bundle(store, unlocked, _v1(tmp_path / "v1.tar", items))
    assert first.new_items == 2 and first.errors == 1
    assert "version 2" in first.error_items[0][1]
    case = store.get_case(store.list_cases()[0].id)
    assert case.report is not None and case.report.text == "Report text 1"
    assert case.replies[0].error and case.source_public_key is None
    second = import_bundle(store, unlocked, _v2(tmp_path / "v2.tar", items, her))
    assert second.errors == 0 and second.new_items == 1 and second.skipped == 1
    case = store.get_case(case.id)
    assert [r.text for r in case.replies] == ["Reply text 2"]
    assert case.source_public_key == her.public_key.raw and case.channel == "web"


def test_moved_or_mislabelled_items_are_kept_with_an_error(
    store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    me = unlocked.submission.public_key
    her = PrivateKey.generate()
    a, b, c = new_id(), new_id(), new_id()
    sealed_for_a = encrypt_bytes(
        _doc("sesim-report", "moved"), [me], context=EnvelopeContext.for_item("report", a)
    )
    message_as_report = encrypt_bytes(
        _doc("sesim-message", "wrong kind"), [me], context=EnvelopeContext.for_item("report", c)
    )
    items = [
        (b, "mavi göl", "report", sealed_for_a),  # a's ciphertext under b's id
        (c, "mavi göl", "report", message_as_report),
    ]
    result = import_bundle(store, unlocked, _v2(tmp_path / "x.tar", items, her))
    assert result.errors == 2
    reasons = dict(result.error_items)
    assert "another item" in reasons[b]
    assert "not a report" in reasons[c]
    assert store.search("moved") == [] and store.search("wrong") == []


def test_a_poisoned_item_is_kept_with_its_error_and_the_rest_imports(
    store: CaseStore, unlocked: Unlocked, tmp_path: Path
) -> None:
    """A message sealed correctly whose JSON nests 200,000 deep (RecursionError in the
    parser, not a ValueError) must not abort the import of everything else (review L4)."""
    me = unlocked.submission.public_key
    her = PrivateKey.generate()
    good, bad, later = new_id(), new_id(), new_id()
    deep = b'{"format":"sesim-message","text":"x","n":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    items = [
        (
            good,
            "mavi göl",
            "report",
            encrypt_bytes(
                _doc("sesim-report", "fine report"),
                [me],
                context=EnvelopeContext.for_item("report", good),
            ),
        ),
        (bad, "mavi göl", "message", encrypt_bytes(
            deep, [me], context=EnvelopeContext.for_item("message", bad)
        )),
        (later, "mavi göl", "message", encrypt_bytes(
            _doc("sesim-message", "after the poison"),
            [me],
            context=EnvelopeContext.for_item("message", later),
        )),
    ]  # fmt: skip
    result = import_bundle(store, unlocked, _v2(tmp_path / "poison.tar", items, her))
    assert result.new_items == 3 and result.errors == 1
    assert result.error_items == [
        (bad, "did not open: the document could not be read (RecursionError)")
    ]
    case = store.get_case(store.list_cases()[0].id)
    assert case.report is not None and case.report.text == "fine report"
    assert [m.text for m in case.messages if m.document] == ["after the poison"]
    assert [e.id for e in case.errors] == [bad]


def test_publish_never_imports_the_importer() -> None:
    """The importer imports publish directly (review L5); the other way round would be a
    cycle. A fresh interpreter shows what loading publish pulls in."""
    import subprocess
    import sys

    code = (
        "import sys, journalist_interface.workstation.publish as p\n"
        "assert callable(p.queue_retractions)\n"
        "print('journalist_interface.workstation.importer' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
    from journalist_interface.workstation import importer, publish

    assert importer.queue_retractions is publish.queue_retractions
