"""Group commit: many waiting requests, one transaction and one fsync per batch.

Every committed report must be on disk before the source is told it was
received (``synchronous = FULL``). Done naively, each request pays its own
WAL fsync and a busy server spends its time waiting for the disk. Here each
request hands in a *job* (a function of the connection). If no commit is in
progress, the request's own thread becomes the *leader*: it takes every job
queued so far, runs each inside a SAVEPOINT (so a failing job rolls back
alone), commits them together, then hands leadership to the first job that
queued meanwhile, or steps down. Alone, a request commits on its own thread
with no hand-off at all; under load one fsync covers many reports, and no
request leads for longer than one batch.

Every SQL statement releases the GIL and must win it back, which under load
means waiting for another thread's time slice. So the common jobs are
*grouped*: :meth:`GroupCommitWriter.run_grouped` hands in an argument and a
function that applies many such arguments at once (a multi-row INSERT, say),
turning a dozen statements per report into a few per batch. If a group
fails, its jobs are retried one by one so that each gets its own outcome.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .db import Connection

T = TypeVar("T")
WRITER_CACHE_KIB = 16 * 1024  # the writer connection's page cache (see GroupCommitWriter)
log = logging.getLogger(__name__)


class WriterClosed(RuntimeError):
    """The writer was stopped; no more jobs are accepted."""


ApplyMany = Callable[[Connection, list[Any]], list[Any]]


class _Job(Generic[T]):
    __slots__ = ("fn", "transaction", "group", "arg", "done", "lead", "result", "error")

    def __init__(
        self,
        fn: Callable[[Connection], T] | None,
        transaction: bool,
        group: ApplyMany | None = None,
        arg: Any = None,
    ) -> None:
        self.fn = fn
        self.group = group
        self.arg = arg
        self.transaction = transaction
        self.done = threading.Event()
        self.lead = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[no-any-return]


class GroupCommitWriter:
    """Serialises every write of one process through a single connection.

    The connection is used by one leader thread at a time, so it is opened
    with ``check_same_thread=False``.
    """

    def __init__(
        self,
        open_connection: Callable[[], Connection],
        max_batch: int = 128,
        process_lock: Any = None,
    ) -> None:
        self._conn = open_connection()
        # The writer's page cache: SQLite's default (2 MiB) makes each 1 MiB upload
        # batch spill and re-read pages; this triples the rate (bench: 200 MB upload).
        self._conn.execute(f"PRAGMA cache_size = {-WRITER_CACHE_KIB:d}")
        # Shared with the other worker processes (see shared_sessions.ServerShared).
        self._process_lock = process_lock or contextlib.nullcontext()
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: deque[_Job[Any]] = deque()
        self._leading = False
        self._closed = False
        self.batches = 0
        self.jobs = 0

    def command(self, name: str, args: tuple[Any, ...]) -> Any:
        """Run one of :mod:`securedrop_like.commands` (the writer-process protocol)."""
        from . import commands

        if name in commands.GROUPED:
            return self.run_grouped(commands.GROUPED[name], args)
        fn = commands.COMMANDS[name]
        return self.run(
            lambda conn: fn(conn, args), transaction=name not in commands.OUTSIDE_TRANSACTION
        )

    def run(self, fn: Callable[[Connection], T], *, transaction: bool = True) -> T:
        """Run ``fn`` in the next batch and return its result once committed.

        With ``transaction=False`` the job runs alone, outside any transaction
        (for a WAL checkpoint or VACUUM, which a transaction forbids).
        """
        return self._submit(_Job(fn, transaction))

    def run_grouped(self, apply_many: ApplyMany, arg: Any) -> Any:
        """Run ``apply_many(conn, [arg, …])`` for this and other queued ``arg``s.

        ``apply_many`` returns one result per argument, in order; a result
        that is an exception is raised to that argument's caller. It must be
        a module-level function (jobs group by identity).
        """
        return self._submit(_Job(None, True, apply_many, arg))

    def _submit(self, job: _Job[T]) -> T:
        with self._lock:
            if self._closed:
                raise WriterClosed("the database writer is stopped")
            self._queue.append(job)
            if not self._leading:
                self._leading = True
                job.lead = True
        if not job.lead:
            job.done.wait()
            if not job.lead:  # a leader ran it; else it was promoted to lead
                return job.outcome()
        self._lead()
        return job.outcome()

    def _lead(self) -> None:
        """Commit one batch (it holds this thread's own job), then pass the lead on."""
        with self._lock:
            batch = [self._queue.popleft()]
            while batch[0].transaction and self._queue and len(batch) < self._max_batch:
                if not self._queue[0].transaction:
                    break
                batch.append(self._queue.popleft())
        try:
            with self._process_lock:
                if batch[0].transaction:
                    self._commit(batch)
                else:
                    self._run_alone(batch[0])
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._leading = False
                else:
                    successor.lead = True
            for job in batch:
                job.lead = False
                job.done.set()
            if successor is not None:
                successor.done.set()

    def close(self) -> None:
        """Refuse new jobs, let a running batch finish, close the connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self._lock:
                if not self._leading and not self._queue:
                    break
            time.sleep(0.01)
        self._conn.close()

    def commit_batch(self, batch: list[_Job[Any]]) -> None:
        """Commit a batch on the calling thread (the writer process's loop, which
        is the only thread that writes there); each job gets its outcome."""
        with self._process_lock:
            self._commit(batch)

    def run_alone(self, job: _Job[Any]) -> None:
        self._run_alone(job)

    def _run_alone(self, job: _Job[Any]) -> None:
        assert job.fn is not None  # noqa: S101 - grouped jobs always run in a transaction
        try:
            job.result = job.fn(self._conn)
        except BaseException as exc:  # the job's own error goes back to its caller
            job.error = exc

    def _commit(self, batch: list[_Job[Any]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            groups = _groups(batch)
            if len(groups) == 1 and batch[0].group is not None:
                # The common case, in as few statements as possible: no
                # savepoint; if the group fails, start over job by job.
                if not self._apply_group(batch, savepoint=False):
                    conn.execute("ROLLBACK")
                    conn.execute("BEGIN IMMEDIATE")
                    for job in batch:
                        self._apply_one(job)
            else:
                for group in groups:
                    if group[0].group is not None and len(group) > 1 and self._apply_group(group):
                        continue
                    for job in group:
                        self._apply_one(job)
            conn.execute("COMMIT")
        except BaseException as exc:
            log.error("group commit failed: %s", type(exc).__name__)
            try:
                conn.execute("ROLLBACK")
            except Exception:  # noqa: S110 - the transaction may already be gone
                pass
            for job in batch:
                job.result = None
                job.error = exc
            return
        self.batches += 1
        self.jobs += len(batch)

    def _apply_group(self, group: list[_Job[Any]], savepoint: bool = True) -> bool:
        """Apply a group in one go; False if it failed (rolled back to the
        savepoint, or, without one, for the caller to roll back)."""
        conn = self._conn
        apply_many = group[0].group
        assert apply_many is not None  # noqa: S101 - only called for grouped jobs
        if savepoint:
            conn.execute("SAVEPOINT grp")
        try:
            results = apply_many(conn, [job.arg for job in group])
            if len(results) != len(group):
                raise RuntimeError("a grouped job returned the wrong number of results")
        except BaseException:  # retried one by one, so each job gets its own error
            if savepoint:
                conn.execute("ROLLBACK TO grp")
                conn.execute("RELEASE grp")
            return False
        if savepoint:
            conn.execute("RELEASE grp")
        for job, result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                job.error = result
            else:
                job.result = result
        return True

    def _apply_one(self, job: _Job[Any]) -> None:
        conn = self._conn
        conn.execute("SAVEPOINT job")
        try:
            if job.group is not None:
                (result,) = job.group(conn, [job.arg])
                if isinstance(result, BaseException):
                    raise result
                job.result = result
            else:
                assert job.fn is not None  # noqa: S101 - a job has a function or a group
                job.result = job.fn(conn)
        except BaseException as exc:  # the job's own error goes back to its caller
            conn.execute("ROLLBACK TO job")
            job.error = exc
        conn.execute("RELEASE job")


def _groups(batch: list[_Job[Any]]) -> list[list[_Job[Any]]]:
    """Split a batch into runs of jobs that share one grouping function."""
    out: list[list[_Job[Any]]] = []
    for job in batch:
        if out and job.group is not None and out[-1][0].group is job.group:
            out[-1].append(job)
        else:
            out.append([job])
    return out
