"""Group commit: one writer thread, many waiting requests, one fsync per batch.

Every committed report must be on disk before the source is told it was
received (``synchronous = FULL``). Done naively, each request pays its own
WAL fsync and a busy server spends its time waiting for the disk. Here each
request hands the writer a *job* (a function of the connection) and waits;
the writer drains whatever jobs are queued, runs each inside a SAVEPOINT so
a failing job rolls back alone, and commits them together. Under load one
fsync covers many reports; alone, a request waits for exactly one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .db import Connection

T = TypeVar("T")
log = logging.getLogger(__name__)
_STOP = object()


class WriterClosed(RuntimeError):
    """The writer was stopped; no more jobs are accepted."""


class GroupCommitWriter:
    """Serialises every write of one process through a single connection."""

    def __init__(self, open_connection: Callable[[], Connection], max_batch: int = 128) -> None:
        self._open = open_connection
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="sesim-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        self.batches = 0
        self.jobs = 0

    def run(self, job: Callable[[Connection], T], *, transaction: bool = True) -> T:
        """Run ``job`` in the next batch and return its result once committed.

        With ``transaction=False`` the job runs alone, outside any transaction
        (for a WAL checkpoint or VACUUM, which a transaction forbids).
        """
        if self._closed:
            raise WriterClosed("the database writer is stopped")
        future: Future[T] = Future()
        self._queue.put((job, future, transaction))
        return future.result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        try:
            conn = self._open()
        except BaseException as exc:  # reported to the constructor's caller
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        held: Any = None
        try:
            while True:
                first = held if held is not None else self._queue.get()
                held = None
                if first is _STOP:
                    return
                if not first[2]:
                    self._run_alone(conn, first[0], first[1])
                    continue
                batch = [first[:2]]
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP or not item[2]:
                        held = item
                        break
                    batch.append(item[:2])
                self._commit(conn, batch)
        finally:
            conn.close()

    def _run_alone(
        self, conn: Connection, job: Callable[[Connection], Any], future: Future[Any]
    ) -> None:
        if not future.set_running_or_notify_cancel():  # pragma: no cover
            return
        try:
            future.set_result(job(conn))
        except BaseException as exc:  # the job's own error goes back to its caller
            future.set_exception(exc)

    def _commit(
        self, conn: Connection, batch: list[tuple[Callable[[Connection], Any], Future[Any]]]
    ) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, future in batch:
                if not future.set_running_or_notify_cancel():  # pragma: no cover
                    continue
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except BaseException as exc:  # the job's own error goes back to its caller
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((future, False, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((future, True, result))
            conn.execute("COMMIT")
        except BaseException as exc:
            log.error("group commit failed: %s", type(exc).__name__)
            try:
                conn.execute("ROLLBACK")
            except Exception:  # noqa: S110 - the transaction may already be gone
                pass
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.jobs += len(outcomes)
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
