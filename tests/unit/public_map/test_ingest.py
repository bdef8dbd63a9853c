"""Ingest: a chain of three (with retractions) is applied; everything out of order,
forged or changed is refused and changes nothing in the database."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from crypto import onion_address
from public_map import store
from public_map.ingest import BAD_BUNDLE, CONFLICT, OUT_OF_ORDER, IngestRefused, ingest
from public_map.instance import MapError, init_map, open_map
from securedrop_like.bundles import bundle_sha256

from .chain import (
    ONE,
    REMAINING,
    SABAIL_ID,
    SABAIL_SUMMARY,
    STATION_ID,
    STATION_SUMMARY,
    THREE,
    TWO,
    UNKNOWN_ID,
    XSS_ID,
    bundle,
    refused_after_two,
    write_verify_file,
    xss_entry,
)


def _dump(home: Path) -> list[str]:
    conn = store.connect(home / store.DB_FILE)
    try:
        return store.dump(conn)
    finally:
        conn.close()


def _ids(home: Path) -> set[str]:
    conn = sqlite3.connect(home / store.DB_FILE)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM entries")}
    finally:
        conn.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    init_map(tmp_path / "map", write_verify_file(tmp_path / "publication.verify"))
    return tmp_path / "map"


def test_init_makes_a_private_folder_with_settings_and_an_empty_chain(home: Path) -> None:
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    instance = open_map(home)
    assert instance.settings.onion == "" and instance.settings.help == ()
    conn = store.connect(instance.db_path)
    state = store.chain_state(conn, instance.verify_key_text)
    conn.close()
    assert (state.last_sequence, state.last_sha256) == (0, None)


def test_init_refuses_a_bad_key_file_and_a_used_folder(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "bad.verify"
    bad.write_text("sesim-ed25519-verify:short\n")
    with pytest.raises(MapError, match="not a Səsim publication verify key"):
        init_map(tmp_path / "other", bad)
    assert not (tmp_path / "other").exists()
    with pytest.raises(MapError, match="not an empty folder"):
        init_map(home, write_verify_file(tmp_path / "good.verify"))


def test_settings_are_read_and_checked(home: Path) -> None:
    onion = onion_address(bytes(32))
    (home / "map.toml").write_text(
        f'[site]\nonion = "{onion}"\n[[help]]\nname = "Hotline"\nphone = "123"\n'
    )
    settings = open_map(home).settings
    assert settings.onion == onion and settings.help[0].phone == "123"
    (home / "map.toml").write_text('[site]\nonion = "abc.onion"\n')  # not a v3 address
    with pytest.raises(MapError, match=r"site.onion must be a v3 onion address"):
        open_map(home)
    (home / "map.toml").write_text('[site]\nonoin = "typo"\n')
    with pytest.raises(MapError, match=r"\[site\] takes only"):
        open_map(home)


def test_a_chain_of_three_with_retractions(home: Path) -> None:
    first = ingest(home, ONE)
    assert (first.sequence, first.added, first.retracted) == (1, 3, 0)
    second = ingest(home, TWO)
    assert (second.sequence, second.added, second.retracted) == (2, 1, 1)
    third = ingest(home, THREE)
    assert (third.sequence, third.added, third.retracted, third.sha256) == (
        3, 1, 1, bundle_sha256(THREE))  # fmt: skip
    assert _ids(home) == REMAINING
    dump = "\n".join(_dump(home))
    for gone in (SABAIL_SUMMARY, STATION_SUMMARY):  # the retracted rows are gone, not hidden
        assert gone not in dump
    conn = store.connect(home / store.DB_FILE)
    try:
        retracted = {r[0]: r[1] for r in conn.execute("SELECT id, known FROM retractions")}
        types = conn.execute(
            "SELECT count(*) FROM entry_types WHERE entry_id IN (?, ?)", (SABAIL_ID, STATION_ID)
        ).fetchone()[0]
        state = store.chain_state(conn, open_map(home).verify_key_text)
    finally:
        conn.close()
    assert retracted == {STATION_ID: 1, SABAIL_ID: 1} and types == 0
    assert (state.last_sequence, state.last_sha256) == (3, bundle_sha256(THREE))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("replay", OUT_OF_ORDER),
        ("rollback", OUT_OF_ORDER),
        ("skip", OUT_OF_ORDER),
        ("fork", OUT_OF_ORDER),
        ("tamper", BAD_BUNDLE),
        ("wrong_key", BAD_BUNDLE),
        ("not_json", BAD_BUNDLE),
        ("empty", BAD_BUNDLE),
    ],
)
def test_refused_bundles_change_nothing(home: Path, name: str, kind: str) -> None:
    ingest(home, ONE)
    ingest(home, TWO)
    before = _dump(home)
    with pytest.raises(IngestRefused) as refused:
        ingest(home, refused_after_two()[name])
    assert refused.value.kind == kind
    assert _dump(home) == before
    assert ingest(home, THREE).sequence == 3  # and the right next one still goes in


def test_the_reasons_are_clear(home: Path) -> None:
    ingest(home, ONE)
    ingest(home, TWO)
    bad = refused_after_two()
    for name, words in [
        ("replay", "replayed or rolled-back"),
        ("skip", "skips ahead"),
        ("fork", "a fork"),
        ("tamper", "signature does not verify"),
        ("wrong_key", "signature does not verify"),
    ]:
        with pytest.raises(IngestRefused, match=words):
            ingest(home, bad[name])


def test_a_bundle_cannot_start_anywhere_but_at_one(home: Path) -> None:
    before = _dump(home)
    with pytest.raises(IngestRefused, match="skips ahead"):
        ingest(home, TWO)
    assert _dump(home) == before


def test_an_id_published_twice_or_after_its_retraction_is_refused(home: Path) -> None:
    ingest(home, ONE)
    ingest(home, TWO)
    again = bundle(3, bundle_sha256(TWO), (xss_entry(),))
    ingest(home, again)
    before = _dump(home)
    twice = bundle(4, bundle_sha256(again), (xss_entry(),))
    with pytest.raises(IngestRefused, match="already on the map") as refused:
        ingest(home, twice)
    assert refused.value.kind == CONFLICT and _dump(home) == before
    retract = bundle(4, bundle_sha256(again), (), (XSS_ID,))
    ingest(home, retract)
    before = _dump(home)
    with pytest.raises(IngestRefused, match="was retracted"):
        ingest(home, bundle(5, bundle_sha256(retract), (xss_entry(),)))
    assert _dump(home) == before


def test_a_retraction_of_an_unknown_id_is_recorded(home: Path) -> None:
    """BUNDLES.md: not an error (refusing would stall every later retraction)."""
    ingest(home, ONE)
    result = ingest(home, bundle(2, bundle_sha256(ONE), (), (UNKNOWN_ID,)))
    assert (result.retracted, result.retracted_unknown) == (0, 1)
    conn = sqlite3.connect(home / store.DB_FILE)
    known = conn.execute("SELECT known FROM retractions WHERE id = ?", (UNKNOWN_ID,)).fetchone()
    conn.close()
    assert known == (0,)


def test_a_map_follows_the_key_it_was_made_with(home: Path, tmp_path: Path) -> None:
    ingest(home, ONE)
    write_verify_file(home / "publication.verify", bytes(range(1, 33)))
    with pytest.raises(MapError, match="not the key this map was made with"):
        open_map(home)


def test_a_retracted_story_leaves_no_bytes_in_the_database_files(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``store.connect`` sets ``secure_delete`` itself. Simulated here on an SQLite built
    with it off (Debian's is built with it on): every connection starts with it off."""
    real = sqlite3.connect

    def built_without_secure_delete(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = real(*args, **kwargs)  # type: ignore[arg-type]
        conn.execute("PRAGMA secure_delete = OFF")
        return conn

    monkeypatch.setattr(sqlite3, "connect", built_without_secure_delete)
    instance = open_map(home)
    for body in (ONE, TWO, THREE):
        ingest(instance, body)
    story = ("Retracted-story-7f3a " * 40).strip()  # her words, long enough for a page
    summary = "Retracted-summary-9c2e"
    secret = dataclasses.replace(xss_entry(), id="00000000000000000000000000000def",
                                 summary=summary, story=story)  # fmt: skip
    fourth = bundle(4, bundle_sha256(THREE), (secret,))
    ingest(instance, fourth)
    db = home / store.DB_FILE
    wal = db.with_name(db.name + "-wal")

    def files() -> bytes:
        conn = store.connect(db)
        try:
            assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert b"Retracted-story-7f3a" in files()  # the test can see them while published
    ingest(instance, bundle(5, bundle_sha256(fourth), (), (secret.id,)))
    left = files()
    assert b"Retracted-story-7f3a" not in left and summary.encode() not in left
    # A reader holding the database open (the server) keeps the WAL: not in it either.
    reader = store.connect(db)
    try:
        reader.execute("SELECT COUNT(*) FROM entries").fetchone()
        conn = store.connect(db)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        assert b"Retracted-story-7f3a" not in db.read_bytes()
        assert not wal.exists() or b"Retracted-story-7f3a" not in wal.read_bytes()
    finally:
        reader.close()


@pytest.mark.parametrize("way", ["http", "command"])
def test_a_retraction_empties_the_wal_even_while_the_server_holds_the_database_open(
    home: Path, tmp_path: Path, way: str
) -> None:
    """While any connection holds the database open (the server's readers), the WAL file
    stays, with the frames that inserted an entry. After a bundle that retracts it, the
    ingest (over HTTP or by the command) empties the WAL: her text is in no file."""
    from click.testing import CliRunner

    from public_map.app import create_app
    from sesim.cli import main

    instance = open_map(home)
    for body in (ONE, TWO, THREE):
        ingest(instance, body)
    story = ("Withdrawn-story-51c0 " * 40).strip()
    secret = dataclasses.replace(xss_entry(), id="00000000000000000000000000000fed",
                                 story=story)  # fmt: skip
    fourth = bundle(4, bundle_sha256(THREE), (secret,))
    db = home / store.DB_FILE
    wal = db.with_name(db.name + "-wal")
    reader = store.connect(db)  # the server, between two requests
    try:
        reader.execute("SELECT COUNT(*) FROM entries").fetchone()
        ingest(instance, fourth)
        assert b"Withdrawn-story-51c0" in wal.read_bytes()  # the test can see it there
        fifth = bundle(5, bundle_sha256(fourth), (), (secret.id,))
        if way == "http":
            response = (
                create_app(home)
                .test_client()
                .post("/ingest", data=fifth, content_type="application/json")
            )
            assert response.status_code == 200 and response.get_json()["retracted"] == 1
        else:
            path = tmp_path / "fifth.json"
            path.write_bytes(fifth)
            done = CliRunner().invoke(main, ["map", "ingest", "--home", str(home), str(path)])
            assert done.exit_code == 0 and "Entries retracted: 1" in done.output, done.output
        assert reader.execute("SELECT COUNT(*) FROM entries WHERE id = ?",
                              (secret.id,)).fetchone()[0] == 0  # fmt: skip
        for name in (db, wal):
            assert not name.exists() or b"Withdrawn-story-51c0" not in name.read_bytes(), name
    finally:
        reader.close()
