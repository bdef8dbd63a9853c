"""Staff side hardening: inbox cursors, and reply bundles spooled inside the instance."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from securedrop_like import bundles, inbox, models
from securedrop_like.store import new_id
from tests.conftest import Instance, csrf_of
from tests.functional import test_staff_actions
from tests.functional.test_staff_manage import _bundle, _conn, _new_source, _sealed

staff = test_staff_actions.staff  # the logged-in lawyer "rena" (language en)

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BAD_CURSOR_TITLE = "This link does not work"


# -- inbox cursors -----------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_cursor(value: Any) -> str:
    return _b64(json.dumps(value).encode())


VALID_DAY, VALID_ID = "2026-11-01", "a" * 32
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
_parts = st.tuples(
    st.sampled_from([0, 1, 2, -1, True, False, None, "1", 1.0, [1]]),
    st.sampled_from([VALID_DAY, "", "yesterday", 20261101, None, "2026-11-01'--"]),
    st.sampled_from([VALID_ID, "A" * 32, "a" * 31, "a" * 33, "g" * 32, 5, None, ["a"]]),
).filter(lambda t: not (type(t[0]) is int and t[0] in (0, 1) and t[1:] == (VALID_DAY, VALID_ID)))
bad_cursors = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300),
    st.binary(min_size=1, max_size=200).map(_b64),
    _json_values.map(_json_cursor),
    _parts.map(lambda t: _json_cursor(list(t))),
    _parts.map(lambda t: _json_cursor([*t, "extra"])),
    st.integers(201, 20_000).map(lambda n: "W" * n),
)
NESTED = _b64(b"[" * 1100)


def _inbox(client: Any, cursor: str) -> Any:
    return client.get("/", query_string={"after": cursor})


def test_a_cursor_the_inbox_wrote_still_works(staff: Any) -> None:
    _, client, _ = staff
    row = inbox.InboxRow(VALID_ID, "d", "web", VALID_DAY, False, None, 0, 0)
    assert inbox.decode_cursor(inbox.encode_cursor(row)) == (0, VALID_DAY, VALID_ID)
    response = _inbox(client, inbox.encode_cursor(row))
    assert response.status_code == 200


def test_deeply_nested_cursor_is_a_400_not_a_recursion_error(staff: Any) -> None:
    _, client, _ = staff
    response = _inbox(client, NESTED)
    assert response.status_code == 400
    assert BAD_CURSOR_TITLE in response.get_data(as_text=True)


@FUZZ
@given(cursor=bad_cursors)
def test_any_bad_cursor_is_a_translated_400(staff: Any, cursor: str) -> None:
    _, client, _ = staff
    response = _inbox(client, cursor)
    assert response.status_code == 400, cursor[:100]
    assert BAD_CURSOR_TITLE in response.get_data(as_text=True)


def test_the_bad_cursor_page_is_translated(staff: Any) -> None:
    app, client, _ = staff
    from flask_babel import force_locale, gettext

    for lang in ("az", "ru"):
        client.get(f"/lang/{lang}")
        with app.test_request_context("/"), force_locale(lang):
            title = str(gettext(BAD_CURSOR_TITLE))
        assert title != BAD_CURSOR_TITLE
        response = _inbox(client, NESTED)
        assert response.status_code == 400
        assert title in response.get_data(as_text=True)


# -- reply bundles: spooled inside the instance, wiped; audit; author ----------------------------


def _open_files() -> dict[int, str]:
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
    return out


def _instance_files(instance: Instance) -> set[str]:
    """Every file in the instance but the database's own and the ciphertext store."""
    home = instance.home
    return {
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and not p.name.startswith("db.sqlite") and "store" not in p.parts
    }


def _watch(monkeypatch: pytest.MonkeyPatch, system_tmp: Path, spool: Path) -> dict[str, Any]:
    """While the server reads an uploaded bundle: which files does it hold open where?"""
    seen: dict[str, Any] = {}
    read_replies = bundles.read_replies

    def watching(stream: Any, max_bytes: int) -> Any:
        files = _open_files()
        seen["system_tmp"] = [t for t in files.values() if t.startswith(str(system_tmp))]
        # Hold the spool files open ourselves, to read their blocks after the request.
        seen["spools"] = [
            os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
            for fd, target in files.items()
            if target.startswith(str(spool) + "/")
        ]
        return read_replies(stream, max_bytes)

    monkeypatch.setattr(bundles, "read_replies", watching)
    return seen


def _upload(client: Any, data: bytes) -> Any:
    """Upload a bundle. The body is encoded here, in memory: Werkzeug's test client would
    otherwise spool a large multipart body to the temporary folder itself (a gunicorn
    worker reads it from the socket)."""
    token = csrf_of(client.get("/replies/upload").get_data(as_text=True))
    boundary, body = encode_multipart(
        {"csrf_token": token, "bundle": FileStorage(io.BytesIO(data), "replies.tar")}
    )
    return client.post(
        "/replies/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_a_large_reply_bundle_spools_inside_the_instance_and_is_wiped(
    app: Flask,
    instance: Instance,
    staff: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staff_app, client, accounts = staff
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))

    first_id, first = _new_source(app, "Please answer me offline.")
    second_id, _second = _new_source(app, "Me too.")
    conn = _conn(instance)
    sources = [models.source_by_id(conn, sid) for sid in (first_id, second_id)]
    assert all(sources)
    reviewer = instance.reviewer_key.public_key
    text = "Workstation reply 7e1d: we can meet you."
    entries = [
        bundles.ReplyEntry(i, s.designation, "leyla", _sealed(i, t, s.public_key, reviewer))  # type: ignore[union-attr]
        for i, s, t in [
            (new_id(), sources[0], text),
            (new_id(), sources[0], "A long answer. " * 50_000),  # makes the bundle > 500 KB
            (new_id(), sources[1], "Short answer."),
        ]
    ]
    data = _bundle(entries)
    assert len(data) > 600 * 1024  # over Werkzeug's in-memory limit for a file part
    spool = instance.home / "run" / "spool"
    before = _instance_files(instance)

    seen = _watch(monkeypatch, system_tmp, spool)
    response = _upload(client, data)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]

    try:
        assert seen["system_tmp"] == []  # never in the system's temporary folder
        assert len({os.fstat(fd).st_ino for fd in seen["spools"]}) == 1  # one file part
        for fd in seen["spools"]:
            size = os.fstat(fd).st_size
            assert size >= len(data)
            assert os.pread(fd, size, 0) == bytes(size)  # overwritten with zeros
    finally:
        for fd in seen.get("spools", []):
            os.close(fd)
    assert list(system_tmp.iterdir()) == []
    assert list(spool.iterdir()) == []
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    assert stat.S_IMODE(spool.parent.stat().st_mode) == 0o700
    assert not [t for t in _open_files().values() if t.startswith((str(spool), str(system_tmp)))]
    assert _instance_files(instance) == before

    # Stored, read by her; audit: who uploaded, how many; the author shown as the workstation's.
    stored = [i for i in models.items_of(conn, first_id) if i.kind == "reply"]
    assert len(stored) == 2
    assert text in first.case()
    rows = [e for e in accounts.audit_entries() if e.action == "reply_bundle"]
    assert [(e.staff, e.target) for e in rows] == [("rena", "3")]
    page = client.get(f"/sources/{first_id}").get_data(as_text=True)
    assert page.count("(written on the workstation by leyla)") == 2
    assert "(leyla)" not in page
    conn.close()


def test_a_failed_upload_leaves_nothing_in_the_spool(
    instance: Instance, staff: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client, _ = staff
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    spool = instance.home / "run" / "spool"
    seen = _watch(monkeypatch, system_tmp, spool)
    junk = os.urandom(700 * 1024)
    response = _upload(client, junk)
    assert response.status_code == 400
    try:
        assert seen["system_tmp"] == []
        assert seen["spools"]
        for fd in seen["spools"]:
            size = os.fstat(fd).st_size
            assert size >= len(junk) and os.pread(fd, size, 0) == bytes(size)
    finally:
        for fd in seen.get("spools", []):
            os.close(fd)
    assert list(spool.iterdir()) == []
    assert list(system_tmp.iterdir()) == []
