"""No time finer than the day recoverable from the instance folder (issue 8, item 2).

Reports, messages and files arrive at distinct injected times on two days; we then
look where someone holding the seized disk (and the database key) would: every
path's name and times, and every value of every table of the decrypted database.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from securedrop_like import db
from securedrop_like.service import ReportService
from tests.conftest import Instance, SourceBrowser

# The database's own files show only when it was last written.
DB_FILES = {"db.sqlite", "db.sqlite-wal", "db.sqlite-shm"}
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\b\d\d:\d\d(:\d\d)?\b")
# Seconds, milliseconds, microseconds or nanoseconds since the epoch, 2001 to 2100.
EPOCHS = [(10**9 * f, 4.1 * 10**9 * f) for f in (1, 10**3, 10**6, 10**9)]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2031, 3, 4, 9, 15, 7, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked_app(instance: Instance, clock: Clock) -> Iterator[Flask]:
    from source_interface import create_app

    opened = ReportService.open(instance.config)
    service = ReportService(instance.config, opened.db, opened.writer, clock)
    application = create_app(instance.config, service=service, TESTING=True)
    yield application
    service.close()


def snapshot(home: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under the instance folder (and the folder) with its mtime, ctime, size."""
    found = {}
    for path in [home, *home.rglob("*")]:
        st = os.lstat(path)
        found[str(path.relative_to(home))] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    return found


def test_submissions_leave_no_name_time_or_order_finer_than_the_day(
    clocked_app: Flask, instance: Instance, clock: Clock
) -> None:
    home = instance.home
    big = os.urandom(700_000)  # several chunks; far over the inline limit
    # Warm up: the database files exist before we look.
    SourceBrowser(clocked_app.test_client()).client.get("/")
    before = snapshot(home)
    sources = []
    for n, (day, hour) in enumerate([(4, 9), (4, 13), (4, 22), (5, 1), (5, 18)]):
        clock.now = clock.now.replace(day=day, hour=hour, minute=7 * n)
        browser = SourceBrowser(clocked_app.test_client())
        browser.report_and_get_codename(
            f"Report {n}: " + ("😀" * 90_000 if n == 2 else "x"),  # one sealed over the limit
            files=[(big, f"photo-{n}.jpg"), (b"small", f"note-{n}.txt")],
        )
        time.sleep(0.02)  # distinct file times, were any file written
        clock.now += dt.timedelta(minutes=3)
        browser.client.get("/case")
        assert browser.send_message(f"More {n}", files=[(big, f"video-{n}.mp4")]).status_code == 303
        sources.append(browser)
        time.sleep(0.02)
    after = snapshot(home)

    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    # Only the database files (and the folder holding them, whose entries did not
    # change: its times must not move either).
    assert changed <= DB_FILES, sorted(changed - DB_FILES)
    assert set(after) == set(before)

    conn = db.Database.for_config(instance.config).open()
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        ]
        assert {"blobs", "blob_chunks", "items", "sources"} <= set(tables)
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"').fetchall():  # noqa: S608
                for value in row:
                    assert not _is_a_time(value), (table, value)
        # Uploads and large sealed documents are blobs under random ids: 128-bit hex,
        # all distinct, claimed by their items; nothing is left unclaimed.
        blob_ids = [r[0] for r in conn.execute("SELECT id FROM blobs").fetchall()]
        assert len(blob_ids) == 5 * 3 + 1  # every upload (even a small one), one long report
        assert all(re.fullmatch(r"[0-9a-f]{32}", b) for b in blob_ids)
        assert len(set(blob_ids)) == len(blob_ids)
        assert conn.execute("SELECT count(*) FROM blobs WHERE claimed = 0").fetchone()[0] == 0
        days = {r[0] for r in conn.execute("SELECT DISTINCT day FROM items").fetchall()}
        assert days == {"2031-03-04", "2031-03-05"}
        # The first write of the second day started a rebuild of the file in key order
        # (in the background: her request does not wait for it).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            vacuumed = conn.execute("SELECT value FROM housekeeping WHERE key = 'vacuum_day'")
            if (vacuumed.fetchone() or [None])[0] == "2031-03-05":
                break
            time.sleep(0.05)
        else:
            pytest.fail("no VACUUM on the second day")
    finally:
        conn.close()


def _is_a_time(value: object) -> bool:
    if isinstance(value, str):
        return bool(ISO_TIME.search(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return any(low <= value <= high for low, high in EPOCHS)
    return False
