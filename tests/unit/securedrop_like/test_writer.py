"""Group commit: results, per-job rollback, batching, and failures reaching every caller."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from securedrop_like import db
from securedrop_like.writer import GroupCommitWriter, WriterClosed

SCHEMA = [
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY,"
    " parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
]


class Opener:
    """Opens connections to a scratch SQLCipher database with a small schema."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = secrets.token_bytes(32)
        conn = self()
        for statement in SCHEMA:
            conn.execute(statement)
        conn.close()

    def __call__(self) -> db.Connection:
        # The writer's connection is used by whichever thread leads a batch.
        return db.connect(self.path, self.key, check_same_thread=False)

    def values(self) -> list[str]:
        conn = self()
        try:
            return [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")]
        finally:
            conn.close()


@pytest.fixture
def opener(tmp_path: Path) -> Opener:
    return Opener(tmp_path / "scratch.sqlite")


@pytest.fixture
def group_writer(opener: Opener) -> Iterator[GroupCommitWriter]:
    instance = GroupCommitWriter(opener)
    yield instance
    instance.close()


def insert(value: str) -> Callable[[db.Connection], str]:
    def job(conn: db.Connection) -> str:
        conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
        return value

    return job


def wait_for_queue(w: GroupCommitWriter, size: int, timeout: float = 5.0) -> None:
    """Block until ``size`` jobs wait in the writer's queue (so they share one batch)."""
    deadline = time.monotonic() + timeout
    while len(w._queue) < size:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(w._queue)} of {size} jobs queued")
        time.sleep(0.001)


class Blocker:
    """A first job that holds the writer until released, so that later jobs queue up.

    Construction returns once the writer is inside the job; every job submitted
    next waits in the queue and lands in the following batch(es).
    """

    def __init__(self, pool: ThreadPoolExecutor, w: GroupCommitWriter) -> None:
        self.writer = w
        started, self._release = threading.Event(), threading.Event()

        def job(conn: db.Connection) -> str:
            started.set()
            assert self._release.wait(timeout=10)
            return "blocker"

        self.future = pool.submit(w.run, job)
        assert started.wait(timeout=5), repr(self.future.exception(timeout=1))

    def release_once_queued(self, queued: int) -> str:
        wait_for_queue(self.writer, queued)
        self._release.set()
        return self.future.result(timeout=10)


def submit_in_order(
    pool: ThreadPoolExecutor, w: GroupCommitWriter, calls: list[Callable[[], Any]]
) -> list[Future[Any]]:
    """Submit calls one at a time, each queued before the next (a fixed queue order)."""
    futures = []
    base = len(w._queue)
    for n, call in enumerate(calls, start=1):
        futures.append(pool.submit(call))
        wait_for_queue(w, base + n)
    return futures


def test_run_returns_the_jobs_result_once_committed(
    group_writer: GroupCommitWriter, opener: Opener
) -> None:
    assert group_writer.run(insert("a")) == "a"
    assert opener.values() == ["a"]
    assert (group_writer.batches, group_writer.jobs) == (1, 1)


def test_a_failing_job_raises_to_its_caller_while_its_batch_commits(
    group_writer: GroupCommitWriter, opener: Opener
) -> None:
    def failing(conn: db.Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES ('failed')")
        raise ValueError("my own error")

    jobs = [insert("a"), insert("b"), failing, insert("c"), insert("d")]
    with ThreadPoolExecutor(max_workers=len(jobs) + 1) as pool:
        blocker = Blocker(pool, group_writer)
        futures = [pool.submit(group_writer.run, job) for job in jobs]
        assert blocker.release_once_queued(len(jobs)) == "blocker"
        outcomes = [f.exception(timeout=10) or f.result() for f in futures]
    assert [o for o in outcomes if isinstance(o, str)] == ["a", "b", "c", "d"]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], ValueError)
    assert str(errors[0]) == "my own error"
    assert opener.values() == ["a", "b", "c", "d"]  # the failed job's row rolled back
    assert group_writer.jobs == len(jobs) + 1
    assert group_writer.batches == 2 < group_writer.jobs


def test_batches_are_bounded_by_max_batch(opener: Opener) -> None:
    w = GroupCommitWriter(opener, max_batch=2)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            blocker = Blocker(pool, w)
            futures = [pool.submit(w.run, insert(v)) for v in "abcd"]
            blocker.release_once_queued(4)
            assert sorted(f.result(timeout=10) for f in futures) == list("abcd")
        assert (w.batches, w.jobs) == (3, 5)
    finally:
        w.close()


def test_a_job_outside_a_transaction_runs_alone_between_batches(
    group_writer: GroupCommitWriter,
) -> None:
    order: list[str] = []

    def note(name: str) -> Callable[[db.Connection], bool]:
        def job(conn: db.Connection) -> bool:
            order.append(name)
            return bool(conn.in_transaction)

        return job

    with ThreadPoolExecutor(max_workers=4) as pool:
        blocker = Blocker(pool, group_writer)
        futures = submit_in_order(
            pool,
            group_writer,
            [
                lambda: group_writer.run(note("before")),
                lambda: group_writer.run(note("alone"), transaction=False),
                lambda: group_writer.run(note("after")),
            ],
        )
        blocker.release_once_queued(3)
        in_transaction = [f.result(timeout=10) for f in futures]
    assert order == ["before", "alone", "after"]
    assert in_transaction == [True, False, True]
    assert group_writer.batches == 3  # blocker, before, after: "alone" is no batch


def test_a_job_outside_a_transaction_can_checkpoint_and_vacuum(
    group_writer: GroupCommitWriter,
) -> None:
    group_writer.run(insert("a"))
    busy, _, _ = group_writer.run(
        lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone(),
        transaction=False,
    )
    assert busy == 0
    group_writer.run(lambda conn: conn.execute("VACUUM"), transaction=False)
    with pytest.raises(Exception, match="(?i)transaction"):
        group_writer.run(lambda conn: conn.execute("VACUUM"))


def test_an_error_outside_a_transaction_goes_back_to_its_caller(
    group_writer: GroupCommitWriter,
) -> None:
    def boom(conn: db.Connection) -> None:
        raise KeyError("alone")

    with pytest.raises(KeyError, match="alone"):
        group_writer.run(boom, transaction=False)
    assert group_writer.run(insert("still working")) == "still working"


def test_a_commit_failure_reaches_every_job_of_the_batch(
    group_writer: GroupCommitWriter, opener: Opener
) -> None:
    def orphan_child(conn: db.Connection) -> str:
        # Deferred: only the COMMIT notices the missing parent.
        conn.execute("INSERT INTO child (id, parent_id) VALUES (1, 99)")
        return "child"

    with ThreadPoolExecutor(max_workers=4) as pool:
        blocker = Blocker(pool, group_writer)
        futures = [
            pool.submit(group_writer.run, job) for job in (insert("a"), orphan_child, insert("b"))
        ]
        assert blocker.release_once_queued(3) == "blocker"
        errors = [f.exception(timeout=10) for f in futures]
    assert all(e is not None and "FOREIGN KEY" in str(e) for e in errors), errors
    assert opener.values() == []
    assert group_writer.batches == 1  # only the blocker's batch committed
    assert group_writer.run(insert("after")) == "after"  # the writer carries on
    assert opener.values() == ["after"]


def test_run_after_close_raises_writer_closed(group_writer: GroupCommitWriter) -> None:
    group_writer.close()
    with pytest.raises(WriterClosed):
        group_writer.run(insert("late"))
    group_writer.close()  # closing twice is harmless


def test_close_lets_a_running_batch_finish_and_then_refuses_jobs(
    group_writer: GroupCommitWriter, opener: Opener
) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        blocker = Blocker(pool, group_writer)
        queued = pool.submit(group_writer.run, insert("queued before close"))
        wait_for_queue(group_writer, 1)
        closing = pool.submit(group_writer.close)
        time.sleep(0.05)
        assert not closing.done()  # close() waits for the batch under way
        with pytest.raises(WriterClosed):
            group_writer.run(insert("after close began"))
        assert blocker.release_once_queued(1) == "blocker"
        assert queued.result(timeout=10) == "queued before close"
        closing.result(timeout=10)
    assert opener.values() == ["queued before close"]


def test_an_unopenable_database_fails_the_constructor(opener: Opener) -> None:
    def wrong_key() -> db.Connection:
        return db.connect(opener.path, secrets.token_bytes(32))

    with pytest.raises(db.DatabaseError, match="wrong key"):
        GroupCommitWriter(wrong_key)
