"""A kept file she ticks "remove" for is never sent, and leaves nothing behind.

After a failed form her finished uploads are kept for the next try. A wrongly
attached, identifying photo must be removable (a plain checkbox, no
JavaScript), and removing it must delete its data from the server's temporary
store: not only the rows, but the bytes an attacker who seized the server
(with the database key, which lives on its disk) would look for in the
database file and its WAL, page by page.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from pathlib import Path
from typing import Any

from flask import Flask

from securedrop_like.db import Database
from securedrop_like.store import BlobReader
from source_interface import uploads
from tests.conftest import Instance, SourceBrowser
from tests.functional.test_kept_files import _pending

PHOTO = b"\xff\xd8\xff\xe0 JPEG with GPS 40.3777N 49.8920E, Samsung SM-A105F " * 400
OTHER = b"%PDF-1.4 the complaint I wrote " * 50
REMOVE_RE = re.compile(r'name="remove_files" value="([0-9a-f]{32})"')

# -- SQLCipher pages as an attacker with the key reads them ------------------------------------

PAGE = 4096
RESERVE = 80  # SQLCipher 4: a 16-byte IV and a 64-byte HMAC at the end of every page
WAL_HEADER, FRAME_HEADER = 32, 24
_libcrypto = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
_libcrypto.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
_libcrypto.EVP_aes_256_cbc.restype = ctypes.c_void_p
_libcrypto.EVP_DecryptInit_ex.argtypes = [ctypes.c_void_p] * 5
_libcrypto.EVP_CIPHER_CTX_set_padding.argtypes = [ctypes.c_void_p, ctypes.c_int]
_libcrypto.EVP_DecryptUpdate.argtypes = [
    ctypes.c_void_p,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_int),
    ctypes.c_char_p,
    ctypes.c_int,
]
_libcrypto.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]


def _aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    ctx = _libcrypto.EVP_CIPHER_CTX_new()
    try:
        _libcrypto.EVP_DecryptInit_ex(ctx, _libcrypto.EVP_aes_256_cbc(), None, key, iv)
        _libcrypto.EVP_CIPHER_CTX_set_padding(ctx, 0)
        out = ctypes.create_string_buffer(len(data) + 32)
        n = ctypes.c_int(0)
        _libcrypto.EVP_DecryptUpdate(ctx, out, ctypes.byref(n), data, len(data))
        return out.raw[: n.value]
    finally:
        _libcrypto.EVP_CIPHER_CTX_free(ctx)


def _page_plain(key: bytes, page: bytes, first: bool) -> bytes:
    start = 16 if first else 0  # page 1 begins with the file's salt
    iv = page[PAGE - RESERVE : PAGE - RESERVE + 16]
    return _aes_cbc_decrypt(key, iv, page[start : PAGE - RESERVE])


def decrypted_pages(db_path: Path, key: bytes) -> bytes:
    """Every page of the database file and of every frame in its WAL, decrypted:
    live rows, free pages and old copies alike."""
    out = []
    raw = db_path.read_bytes()
    for n in range(len(raw) // PAGE):
        out.append(_page_plain(key, raw[n * PAGE : (n + 1) * PAGE], n == 0))
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists():
        data = wal.read_bytes()
        offset = WAL_HEADER
        while offset + FRAME_HEADER + PAGE <= len(data):
            number = int.from_bytes(data[offset : offset + 4], "big")
            frame = data[offset + FRAME_HEADER : offset + FRAME_HEADER + PAGE]
            out.append(_page_plain(key, frame, number == 1))
            offset += FRAME_HEADER + PAGE
    return b"".join(out)


def _ciphertext(app: Flask, item_id: str) -> bytes:
    reader = BlobReader(app.extensions["sesim"].service.db.reader(), item_id)
    return reader.read(reader.size)  # type: ignore[no-any-return]


def _fail_with(source: SourceBrowser) -> str:
    source.client.get("/lang/en")
    response = source.report(
        "", files=[(PHOTO, "IMG_2041.jpg"), (OTHER, "complaint.pdf")], landmark="window 4"
    )
    assert response.status_code == 400
    return response.get_data(as_text=True)


def _ids(app: Flask, source: SourceBrowser) -> dict[str, str]:
    return {a.name: a.item_id for a in _pending(app, source)}


def test_a_removed_kept_file_is_not_sent_and_its_bytes_are_gone(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    html = _fail_with(source)
    ids = _ids(app, source)
    # One checkbox per kept file, labelled with its name, in the form she sends anyway.
    assert sorted(REMOVE_RE.findall(html)) == sorted(ids.values())
    assert html.count('type="checkbox" id="rm-') == 2
    photo = ids["IMG_2041.jpg"]
    sealed = _ciphertext(app, photo)
    needles = [sealed[i : i + 48] for i in range(1000, len(sealed) - 48, len(sealed) // 5)]
    config = instance.config
    key = config.read_secret(config.db_key_path)
    before = decrypted_pages(config.db_path, key)
    # The probe works: the photo's ciphertext is there to be found before she removes it.
    assert all(n in before for n in needles)

    # Still no "what happened": the form fails again, but the photo goes at once.
    response = source.report("", remove_files=photo, landmark="window 4")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Removed and deleted from our server: “IMG_2041.jpg”" in page
    assert REMOVE_RE.findall(page) == [ids["complaint.pdf"]]
    assert [a.name for a in _pending(app, source)] == ["complaint.pdf"]
    service = app.extensions["sesim"].service
    assert service.unclaimed_uploads() == {ids["complaint.pdf"]}
    with Database.for_config(config).open() as conn:
        for table, column in (("blobs", "id"), ("blob_chunks", "blob_id")):
            count = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (photo,))  # noqa: S608
            assert count.fetchone()[0] == 0, table
    # Where an attacker with the database key looks: every page, free or live, and the WAL.
    after = decrypted_pages(config.db_path, key)
    assert [n for n in needles if n in after] == []
    # Nor in any other file of the instance (the spool's files have no name and are gone).
    on_disk = b"".join(p.read_bytes() for p in config.home.rglob("*") if p.is_file())
    assert all(n not in on_disk for n in needles)
    assert list(config.spool_dir.iterdir()) == []
    # Nor in her session: its id is no longer listed for the sweep to spare.
    live = app.extensions["sesim"].sessions.live_data()
    assert all(photo not in uploads.pending_ids(d) for d in live)

    # The report goes with the file she kept, and without the photo.
    assert source.report("What happened.").status_code == 200
    source_id = next(d["source_id"] for d in app.extensions["sesim"].sessions.live_data())
    files = [i.id for i in service.items(source_id) if i.kind == "file"]
    assert files == [ids["complaint.pdf"]]


def test_removing_on_a_form_that_is_sent_sends_the_rest(app: Flask, source: SourceBrowser) -> None:
    _fail_with(source)
    ids = _ids(app, source)
    response = source.report("What happened.", remove_files=ids["IMG_2041.jpg"])
    assert response.status_code == 200  # the codename page
    source_id = next(d["source_id"] for d in app.extensions["sesim"].sessions.live_data())
    service = app.extensions["sesim"].service
    assert [i.id for i in service.items(source_id) if i.kind == "file"] == [ids["complaint.pdf"]]
    assert service.unclaimed_uploads() == set()


def test_her_case_page_removes_kept_files_too(app: Flask, source: SourceBrowser) -> None:
    source.report_and_get_codename()
    source.client.get("/lang/en")
    too_long = "x" * (app.config["SESIM"].max_text_chars + 1)
    failed = source.send_message(too_long, files=[(PHOTO, "IMG_2041.jpg")])
    assert failed.status_code == 400
    [photo] = REMOVE_RE.findall(failed.get_data(as_text=True))
    # Only the box ticked, nothing typed: the file goes, and nothing is sent or refused.
    response = source.client.post(
        "/case/message",
        data={"csrf_token": source.token("/case"), "message": "", "remove_files": photo},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Removed and deleted from our server: “IMG_2041.jpg”" in page
    assert 'class="err"' not in page and REMOVE_RE.findall(page) == []
    assert app.extensions["sesim"].service.unclaimed_uploads() == set()


def test_an_id_she_does_not_keep_removes_nothing(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    """Another session's kept file cannot be removed by naming its id."""
    _fail_with(source)
    theirs = set(_ids(app, source).values())
    stranger = SourceBrowser(app.test_client())
    data: dict[str, Any] = {"csrf_token": stranger.token(), "what_happened": ""}
    data["remove_files"] = sorted(theirs)
    response = stranger.client.post("/report", data=data)
    assert response.status_code == 400
    assert app.extensions["sesim"].service.unclaimed_uploads() == theirs
