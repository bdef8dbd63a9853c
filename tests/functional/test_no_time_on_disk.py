"""No time finer than the day recoverable from the instance folder (issue 8, item 2).

Reports, messages and files arrive at distinct injected times on two days; we then
look where someone holding the seized disk (and the database key) would: every
path's name and times, and every value of every table of the decrypted database.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from securedrop_like import db
from securedrop_like.config import sqlite_tmp_dir
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
        # No submission started the daily VACUUM (M3): its temporary file would
        # have stamped a system folder with the time of her write. (On main it
        # ran in a thread after the second day's first write.)
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and thread.name == "sesim-vacuum":
                thread.join(30)
        vacuumed = conn.execute("SELECT value FROM housekeeping WHERE key = 'vacuum_day'")
        assert vacuumed.fetchone() is None
    finally:
        conn.close()


# A writer process as a server's master starts one: SQLite already initialised
# in the parent (the master's sweep opens the database before it forks).
VACUUM_SCRIPT = """
import os, sys, time
from securedrop_like.config import load_config
from securedrop_like.db import Database, today
from securedrop_like.writer_process import RemoteWriter, WriterProcess

config = load_config(sys.argv[1])
conn = Database.for_config(config).open()
conn.execute("CREATE TABLE scratch (id TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID")
conn.execute("BEGIN")
for _ in range(8000):  # 24 MB, far over the page cache: VACUUM needs a temporary file
    conn.execute("INSERT INTO scratch VALUES (?, ?)", (os.urandom(16).hex(), os.urandom(3000)))
conn.execute("COMMIT")
conn.close()
writer = WriterProcess(config)
writer.start()
try:
    deadline = time.monotonic() + 60
    while True:
        conn = Database.for_config(config).open()
        row = conn.execute("SELECT value FROM housekeeping WHERE key = 'vacuum_day'").fetchone()
        conn.close()
        if row is not None and row[0] == today():
            break
        assert time.monotonic() < deadline, "no VACUUM"
        time.sleep(0.1)
    # The day is recorded before the VACUUM starts: a command is answered once it ends.
    remote = RemoteWriter(writer.address, writer.authkey, 120)
    remote.command("checkpoint", ())
    remote.close()
finally:
    writer.stop()
"""


def test_the_vacuums_temporary_file_stays_in_the_instance(
    instance: Instance, tmp_path: Path
) -> None:
    """M3: SQLite's default temporary folder (/var/tmp; here a stand-in named by
    SQLITE_TMPDIR, as the machine's is shared) keeps its times through the
    writer's VACUUM; the temporary file goes to run/tmp (0700) instead."""
    system_tmp = tmp_path / "var-tmp"
    system_tmp.mkdir()
    private = sqlite_tmp_dir(instance.config)
    before = os.stat(system_tmp), os.stat(private)
    time.sleep(0.05)
    subprocess.run(
        [sys.executable, "-c", VACUUM_SCRIPT, str(instance.home)],
        env={**os.environ, "SQLITE_TMPDIR": str(system_tmp)},
        check=True,
        timeout=300,
    )
    after = os.stat(system_tmp), os.stat(private)
    assert (after[0].st_mtime_ns, after[0].st_ctime_ns) == (
        before[0].st_mtime_ns,
        before[0].st_ctime_ns,
    )
    assert list(system_tmp.iterdir()) == []
    # The temporary file was made (and unlinked at once) in the instance's folder.
    assert after[1].st_mtime_ns != before[1].st_mtime_ns
    assert list(private.iterdir()) == []
    assert after[1].st_mode & 0o777 == 0o700


def _is_a_time(value: object) -> bool:
    if isinstance(value, str):
        return bool(ISO_TIME.search(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return any(low <= value <= high for low, high in EPOCHS)
    return False
