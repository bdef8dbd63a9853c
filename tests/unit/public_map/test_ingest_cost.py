"""What an anonymous upload can cost the map: a forged 16 MiB body is refused before any
JSON is parsed and without touching the database; a database whose write lock another
process holds gives "busy, try again" (CLI: an Error line; HTTP: 503), never a traceback."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from public_map import store
from public_map.app import create_app
from public_map.ingest import BAD_BUNDLE, BUSY, BUSY_MESSAGE, IngestRefused, ingest
from public_map.instance import init_map
from securedrop_like.bundles import BundleError, read_publication
from securedrop_like.bundles.publication import MAX_PUBLICATION_BYTES
from sesim.cli import main

from .chain import ONE, VERIFY, write_verify_file


@pytest.fixture
def home(tmp_path: Path) -> Path:
    init_map(tmp_path / "map", write_verify_file(tmp_path / "publication.verify"))
    return tmp_path / "map"


def _nested_forgery() -> bytes:
    """The reviewer's body: the bundle's outer shape, 16 MiB of ``{}`` in the manifest,
    a well-formed signature that is nobody's."""
    head = b'{"manifest":{"x":['
    tail = b'{}]},"signature":"' + b"0" * 128 + b'"}'
    body = head + b"{}," * ((MAX_PUBLICATION_BYTES - len(head) - len(tail)) // 3) + tail
    assert len(body) <= MAX_PUBLICATION_BYTES
    return body


def _deep_forgery() -> bytes:
    """Nesting instead: ``[[[[…]]]]`` as deep as 16 MiB allows."""
    depth = (MAX_PUBLICATION_BYTES - 200) // 2
    return (
        b'{"manifest":{"x":' + b"[" * depth + b"]" * depth
        + b'},"signature":"' + b"ab" * 64 + b'"}'
    )  # fmt: skip


@pytest.fixture
def no_json(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """json.loads fails the test if called (the reader parses with it, nothing else)."""
    calls: list[int] = []

    def refuse(text: str | bytes, *args: object, **kwargs: object) -> object:
        calls.append(len(text))
        raise AssertionError(f"json.loads called on {len(text)} bytes of an unsigned body")

    monkeypatch.setattr(json, "loads", refuse)
    yield calls


@pytest.mark.parametrize("make", [_nested_forgery, _deep_forgery])
def test_a_forged_16_mib_body_is_refused_before_any_parse(
    home: Path, no_json: list[int], make: object
) -> None:
    body = make()  # type: ignore[operator]
    with pytest.raises(BundleError, match="signature does not verify"):
        read_publication(body, VERIFY)
    with pytest.raises(IngestRefused, match="signature does not verify") as refused:
        ingest(home, body)
    assert refused.value.kind == BAD_BUNDLE
    assert no_json == []


def test_a_body_of_another_shape_is_refused_at_once(home: Path, no_json: list[int]) -> None:
    for body in (
        b"{}" * 1000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"manifest":[],"signature":"' + b"0" * 128 + b'"}',
        b'{"signature":"' + b"0" * 128 + b'","manifest":{}}',
        b'{"manifest":{},"signature":"' + b"0" * 127 + b'"}',
        ONE.replace(b'"signature"', b'"Signature"'),
    ):
        with pytest.raises(IngestRefused) as refused:
            ingest(home, body)
        assert refused.value.kind == BAD_BUNDLE
    assert no_json == []


@pytest.fixture
def locked(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the map database's write lock; the map's
    own connections wait only a moment for it."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.2)
    other = sqlite3.connect(home / store.DB_FILE, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_forged_body_is_refused_without_waiting_for_the_lock(
    home: Path, locked: sqlite3.Connection
) -> None:
    with pytest.raises(IngestRefused) as refused:
        ingest(home, _nested_forgery())
    assert refused.value.kind == BAD_BUNDLE  # not BUSY: the database was never asked


def test_a_busy_database_is_said_plainly(home: Path, locked: sqlite3.Connection) -> None:
    with pytest.raises(IngestRefused) as refused:
        ingest(home, ONE)
    assert refused.value.kind == BUSY and str(refused.value) == BUSY_MESSAGE
    locked.execute("ROLLBACK")
    locked.execute("BEGIN")  # the fixture's ROLLBACK needs a transaction
    assert ingest(home, ONE).sequence == 1


def test_a_busy_database_on_the_command_line(
    home: Path, locked: sqlite3.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "sesim-publication-1.json"
    path.write_bytes(ONE)
    result = CliRunner().invoke(main, ["map", "ingest", "--home", str(home), str(path)])
    assert result.exit_code == 1
    assert result.output == f"Error: {BUSY_MESSAGE}\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_busy_database_over_http(home: Path, locked: sqlite3.Connection) -> None:
    client = create_app(home).test_client()
    response = client.post("/ingest", data=ONE, content_type="application/json")
    assert response.status_code == 503
    assert response.get_json() == {"error": BUSY_MESSAGE, "kind": BUSY}
