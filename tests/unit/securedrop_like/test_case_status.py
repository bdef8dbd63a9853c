"""Case status (staff metadata, migration 0005): codes, labels, the write command, and
the upgrade of an instance whose database was made by the previous schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale

from securedrop_like import case_status, commands, db, inbox, models
from securedrop_like.instance import open_instance
from tests.conftest import Instance

PREVIOUS_SCHEMA = 4


def test_codes_labels_and_the_column_check_agree() -> None:
    assert [c.code for c in case_status.CASE_STATUSES] == [
        "new",
        "in_progress",
        "aid_offered",
        "referred",
        "closed",
    ]
    assert case_status.DEFAULT == "new"
    sql = next(s for v, _, s in db.migrations() if v == PREVIOUS_SCHEMA + 1)
    for code in case_status.CODES:
        assert f"'{code}'" in sql


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Legal aid offered"),
        ("az", "Hüquqi yardım təklif olunub"),
        ("ru", "Предложена юридическая помощь"),
    ],
)
def test_labels_are_translated(app: Flask, lang: str, expected: str) -> None:
    with app.test_request_context(), force_locale(lang):
        assert case_status.label("aid_offered") == expected
        assert case_status.label("gone") == "gone"  # an unknown code (old audit row) as is


def test_set_case_status_returns_only_what_changed_with_the_old_value(instance: Instance) -> None:
    conn = db.Database.for_config(instance.config).open()
    try:
        conn.execute("BEGIN IMMEDIATE")
        a = models.insert_source(conn, lookup_id="1" * 64, public_key=bytes(32), day="2026-11-01")
        b = models.insert_source(conn, lookup_id="2" * 64, public_key=bytes(32), day="2026-11-01")
        assert commands.set_case_status(conn, ([a], "referred")) == [(a, "new")]
        changed = commands.set_case_status(conn, ([a, b, "0" * 32], "referred"))
        conn.execute("COMMIT")
        assert changed == [(b, "new")]  # a already was; the unknown id is skipped
        assert {r.case_status for r in inbox.page(conn).rows} == {"referred"}
    finally:
        conn.close()


def test_an_existing_instance_at_the_previous_schema_upgrades(instance: Instance) -> None:
    """Build the database exactly as the previous release did (migrations 1..4), with a
    source, a star and an assignment in it; opening the instance adds the column."""
    config = instance.config
    for suffix in ("", "-wal", "-shm"):
        Path(f"{config.db_path}{suffix}").unlink(missing_ok=True)
    key = config.read_secret(config.db_key_path)
    conn = db.connect(config.db_path, key)
    assert db.migrate(conn, target=PREVIOUS_SCHEMA) == PREVIOUS_SCHEMA
    columns = {r[1] for r in conn.execute("PRAGMA table_info(sources)")}
    assert "case_status" not in columns and "assigned_to" in columns
    conn.execute("BEGIN IMMEDIATE")
    old = models.insert_source(conn, lookup_id="3" * 64, public_key=bytes(32), day="2026-10-01")
    conn.execute("UPDATE sources SET starred = 1, assigned_to = 'aysel' WHERE id = ?", (old,))
    models.insert_items(conn, old, "2026-10-01", [models.NewItem("report", 10, inline=b"x")])
    conn.execute("COMMIT")
    conn.close()

    open_instance(config.home)

    conn = db.connect(config.db_path, key)
    try:
        assert db.schema_version(conn) == len(db.migrations()) > PREVIOUS_SCHEMA
        row = conn.execute(
            "SELECT starred, assigned_to, case_status FROM sources WHERE id = ?", (old,)
        ).fetchone()
        assert tuple(row) == (1, "aysel", "new")
        assert (
            conn.execute("SELECT count(*) FROM items WHERE source_id = ?", (old,)).fetchone()[0]
            == 1
        )
        index = {r[1] for r in conn.execute("PRAGMA index_list(sources)")}
        assert "sources_by_case_status" in index
    finally:
        conn.close()
    open_instance(config.home)  # a second start changes nothing
