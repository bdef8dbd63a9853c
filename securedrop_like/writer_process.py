"""The server's writer process: one committer for every worker's writes.

Several worker processes cannot share one group commit: each would commit
its own small batches, one after another, and each commit holds SQLite's
write lock while its thread waits for the GIL among its busy siblings. So the
server's master starts one more process, before it forks the workers, that
does nothing but write: it waits for commands (securedrop_like.commands) from
any worker thread, runs all that have arrived as one transaction with one
fsync, and answers each. It has no other threads, so nothing delays a commit.

The channel is a Unix socket in the instance's ``run/`` folder (mode 0700)
with a random 256-bit key that multiprocessing's handshake checks, so no
other process can send a command. Messages are ``marshal`` data: our own
plain values (strings, bytes, numbers, tuples, lists) between our own
processes, nothing that executes.

Each command carries a deadline (``time.monotonic()``, one clock for every
process of the machine): a worker waits for its answer until a little after
it, and the writer drops a command whose deadline has passed before it starts
(answering "expired"). So a woman whose request got the "busy" page never has
her report stored behind her back by a writer that was slow to get to it.

The writer also runs the day's VACUUM itself, at its first turn after 00:00
UTC (:class:`DailyVacuum`), never because of a submission.
"""

from __future__ import annotations

import logging
import marshal
import multiprocessing
import os
import secrets
import selectors
import signal
import socket
import struct
import threading
import time
from multiprocessing.connection import (
    Connection,
    Listener,
    answer_challenge,
    deliver_challenge,
)
from pathlib import Path
from typing import Any

from . import commands
from .config import Config, run_dir, sqlite_tmp_dir
from .db import Database, today
from .errors import Busy, MissingBlob, StorageFull, is_storage_full
from .hardening import harden_process
from .writer import GroupCommitWriter, _Job

log = logging.getLogger(__name__)


COMMIT_DELAY = 0.0005  # seconds
# A worker waits this long past a command's deadline for the writer's answer
# (an "expired" one, or the result of a batch that had just started).
REPLY_GRACE_SECONDS = 2.0


class WriterUnavailable(Busy):
    """The writer process cannot be reached (stopped or restarting).

    A :class:`~securedrop_like.errors.Busy`: the master starts a new writer
    within a second or two, so the apps answer "busy, try again", never a 500.
    """

    def __init__(self, message: str = "the writer process is not answering") -> None:
        super().__init__(retry_after=5)
        self.args = (message,)


class WriterFailed(RuntimeError):
    """A command failed in the writer process (the type of error only)."""


# The master's signal handlers (gunicorn's) must not run in the writer.
_RESET_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGCHLD,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGTTIN,
    signal.SIGTTOU,
)


def _listening(path: Path) -> bool:
    """Whether a live writer still answers on this socket (another server of
    the same instance, e.g. the staff server beside the source server)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def writer_running(config: Config) -> Path | None:
    """The socket of a live writer of this instance (its servers run), else None.
    Never makes the ``run/`` folder (a command run while the servers are stopped)."""
    run = config.home / "run"
    try:
        sockets = sorted(run.glob("writer-*.sock"))
    except OSError:  # pragma: no cover - an unreadable run/ folder
        return None
    for path in sockets:
        if _listening(path):
            return path
    return None


def _logging_fds() -> set[int]:
    """The fds the logging handlers write to (the writer logs like the master)."""
    handlers = list(logging.getLogger().handlers)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            handlers.extend(logger.handlers)
    fds = set()
    for handler in handlers:
        stream = getattr(handler, "stream", None)
        try:
            fds.add(stream.fileno())  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            continue
    return fds


def _drop_inherited_fds() -> None:
    """In a forked writer: let go of every fd inherited from the master (its
    public listening socket, the workers' heartbeat files, gunicorn's pipe)
    except stdio and the log's.

    Each is replaced by /dev/null rather than closed, so its number is not
    reused while a Python object inherited from the master still names it: a
    stale object closed later by the garbage collector would otherwise close
    one of the writer's own files (the database).
    """
    keep = {0, 1, 2} | _logging_fds()
    inherited = [int(name) for name in os.listdir("/proc/self/fd")]
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for fd in inherited:
        if fd in keep or fd == null:
            continue
        try:
            os.fstat(fd)
        except OSError:
            continue  # the listing's own fd, already closed
        os.dup2(null, fd, inheritable=False)
    os.close(null)


class WriterProcess:
    """Started by the server's master before it forks the workers."""

    def __init__(self, config: Config) -> None:
        self.config = config
        run = run_dir(config)
        for old in run.glob("writer-*.sock"):
            if not _listening(old):  # left by a server that was killed
                old.unlink(missing_ok=True)
        self.address = str(run / f"writer-{secrets.token_hex(8)}.sock")
        self.authkey = secrets.token_bytes(32)
        self._pid: int | None = None
        self._owner = os.getpid()

    def start(self, timeout: float = 30) -> None:
        # A plain fork, not multiprocessing.Process: gunicorn's workers are
        # forks of this process too, and must not inherit a child to join.
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the writer
            code = 0
            try:
                for signum in _RESET_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                # Ctrl-C reaches the whole process group: the writer keeps serving
                # the workers' last writes until the master stops it (SIGTERM).
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.set_wakeup_fd(-1)
                harden_process()
                _drop_inherited_fds()
                _serve(self.config, self.address, self.authkey, parent)
            except BaseException:  # noqa: BLE001 - a child must never return into the caller
                log.error("the writer process stopped on an error")
                code = 1
            finally:
                os._exit(code)
        self._pid = pid
        deadline = time.monotonic() + timeout
        # The socket's file appears at bind(), a moment before listen(): wait until
        # it takes a connection, so that no first command is refused.
        while not _listening(Path(self.address)):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # already reaped by gunicorn's master
                done = pid
            if done or time.monotonic() > deadline:
                raise WriterUnavailable("the writer process did not start")
            time.sleep(0.01)

    @property
    def pid(self) -> int | None:
        return self._pid

    def alive(self) -> bool:
        """Whether the writer still runs. gunicorn's master reaps every child with
        ``waitpid(-1)``, so "no such child" means it died and was reaped."""
        if self._pid is None:
            return False
        try:
            done, _ = os.waitpid(self._pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def restart(self, timeout: float = 10) -> None:
        """Start a new writer on the same socket and key (workers reconnect)."""
        if self._pid is not None and self.alive():
            return
        self._pid = None
        Path(self.address).unlink(missing_ok=True)
        self.start(timeout)

    def stop(self) -> None:
        # gunicorn's workers are forks of the master that unwind through the
        # master's frames when they exit: only the master stops the writer.
        if os.getpid() != self._owner:
            return
        if self._pid is not None:
            pid, self._pid = self._pid, None
            try:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while os.waitpid(pid, os.WNOHANG) == (0, 0):
                    if time.monotonic() > deadline:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        break
                    time.sleep(0.01)
            except (ProcessLookupError, ChildProcessError):
                pass
        Path(self.address).unlink(missing_ok=True)


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1_000_000))


def _socket_timeouts(sock: socket.socket, receive: float, send: float) -> None:
    """A blocking read (write) on ``sock`` fails with EAGAIN after ``receive``
    (``send``) seconds without progress; 0: never."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(receive))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(send))


def _bounded_client(address: str, authkey: bytes, deadline: float, timeout: float) -> Connection:
    """multiprocessing's ``Client`` (same handshake), but bounded in time: a
    writer that is stopped or hung never holds a worker thread, nor the master's
    loop, in connect, in the authentication handshake or in sending a large
    command (an upload's batch of chunks) that it does not read."""
    seconds = max(0.05, deadline - time.monotonic())
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _socket_timeouts(sock, seconds, seconds)
        sock.connect(address)
        conn = Connection(sock.detach())
    except BaseException:
        sock.close()
        raise
    try:
        answer_challenge(conn, authkey)
        deliver_challenge(conn, authkey)
        with socket.socket(fileno=os.dup(conn.fileno())) as again:
            _socket_timeouts(again, 0, timeout)  # replies are awaited with poll()
    except BaseException:
        conn.close()
        raise
    return conn


class RemoteWriter:
    """A worker's handle on the writer process: one connection per thread.

    A command waits ``timeout`` seconds (plus :data:`REPLY_GRACE_SECONDS`) at
    most, then raises :class:`WriterUnavailable` and drops its connection, so
    that a late answer is never read as the next command's.
    """

    def __init__(self, address: str, authkey: bytes, timeout: float = 30.0) -> None:
        self._address = address
        self._authkey = authkey
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[Connection] = []
        self._lock = threading.Lock()

    def _connection(self, deadline: float) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _bounded_client(self._address, self._authkey, deadline, self.timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self, conn: Connection | None) -> None:
        self._local.conn = None
        if conn is None:
            return
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        conn.close()

    def command(self, name: str, args: tuple[Any, ...]) -> Any:
        conn: Connection | None = None
        deadline = time.monotonic() + self.timeout
        try:
            conn = self._connection(deadline)
            conn.send_bytes(marshal.dumps((name, args, deadline)))
            if not conn.poll(max(0.0, deadline - time.monotonic()) + REPLY_GRACE_SECONDS):
                self._drop(conn)
                raise WriterUnavailable("the writer process did not answer in time")
            status, value = marshal.loads(conn.recv_bytes())  # noqa: S302 - see module doc
        except (OSError, EOFError, multiprocessing.AuthenticationError) as exc:
            self._drop(conn)
            raise WriterUnavailable("the writer process is not answering") from exc
        if status == "ok":
            return value
        if status == "expired":
            raise WriterUnavailable("the writer process was too busy; nothing was done")
        if status == "missing":
            raise MissingBlob(value)
        if status == "full":
            raise StorageFull()
        if status == "lookup":
            raise LookupError(value)
        raise WriterFailed(value)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def _outcome(job: _Job[Any]) -> bytes:
    if job.error is None:
        return marshal.dumps(("ok", job.result))
    if isinstance(job.error, MissingBlob):
        return marshal.dumps(("missing", list(job.error.ids)))
    if is_storage_full(job.error):
        return marshal.dumps(("full", ""))
    if isinstance(job.error, LookupError):
        return marshal.dumps(("lookup", "not found"))
    # The type only: a message could carry data.
    return marshal.dumps(("error", type(job.error).__name__))


def _job(name: str, args: tuple[Any, ...]) -> _Job[Any]:
    if name in commands.GROUPED:
        return _Job(None, True, commands.GROUPED[name], args)
    fn = commands.COMMANDS[name]
    return _Job(lambda conn: fn(conn, args), name not in commands.OUTSIDE_TRANSACTION)


def _serve(config: Config, address: str, authkey: bytes, parent: int) -> None:
    """The writer process's main loop: wait for commands, commit them together, answer."""
    db = Database.for_config(config)
    writer = GroupCommitWriter(lambda: db.open(check_same_thread=False))
    vacuum = DailyVacuum(config)
    listener = Listener(address, family="AF_UNIX", authkey=authkey)
    os.chmod(address, 0o600)
    selector = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe()
    selector.register(wake_r, selectors.EVENT_READ, None)
    arrived: list[Connection] = []
    guard = threading.Lock()

    def accept() -> None:
        # The handshake blocks, so it runs here, not in the loop that commits.
        while True:
            try:
                conn = listener.accept()
            except (OSError, EOFError, multiprocessing.AuthenticationError):
                continue
            with guard:
                arrived.append(conn)
            os.write(wake_w, b"x")

    threading.Thread(target=accept, name="sesim-writer-accept", daemon=True).start()
    delay = float(os.environ.get("SESIM_COMMIT_DELAY", COMMIT_DELAY))
    while os.getppid() == parent:
        work: list[tuple[Connection, _Job[Any]]] = []
        events = selector.select(timeout=0.5)
        if events and delay:
            # Like PostgreSQL's commit_delay: a moment's wait lets the commands
            # already on their way join this commit (each commit costs an fsync).
            time.sleep(delay)
            events = selector.select(timeout=0)
        for key, _ in events:
            if key.data is None:
                os.read(wake_r, 4096)
                with guard:
                    for conn in arrived:
                        selector.register(conn, selectors.EVENT_READ, conn)
                    arrived.clear()
                continue
            conn = key.data
            try:
                name, args, deadline = marshal.loads(conn.recv_bytes())  # noqa: S302 - module doc
                if deadline and time.monotonic() > deadline:
                    # Its worker has given up (or is about to): never do it late.
                    conn.send_bytes(marshal.dumps(("expired", "")))
                    continue
                work.append((conn, _job(name, args)))
            except (OSError, EOFError, ValueError, KeyError, TypeError):
                selector.unregister(conn)
                conn.close()
        _execute(writer, [job for _, job in work])
        for conn, job in work:
            try:
                conn.send_bytes(_outcome(job))
            except OSError:
                pass  # the worker went away; it reconnects on its next command
        vacuum.maybe_run(writer)


class DailyVacuum:
    """The writer's daily VACUUM, at its first loop turn of each UTC day (so
    just after 00:00, or when a server starts): a fixed time, never the time
    of a woman's write. The ``vacuum_day`` record in the database keeps it to
    once a day across every writer of the instance (source and staff servers).
    Commands that arrive meanwhile wait, and those whose deadline passes are
    dropped (the "busy" page); above daily_vacuum_max_bytes it is skipped."""

    def __init__(self, config: Config, clock: Any = None) -> None:
        self.config = config
        self.clock = clock
        self.tmp_dir = str(sqlite_tmp_dir(config))  # made now, not at 00:00
        self._checked = ""
        self._told_too_big = False

    def maybe_run(self, writer: GroupCommitWriter) -> str | None:
        day = today(self.clock)
        if day == self._checked or not self.config.daily_vacuum:
            return None
        self._checked = day
        args = (day, self.tmp_dir, self.config.daily_vacuum_max_bytes, False)
        job: _Job[Any] = _Job(lambda conn: commands.daily_vacuum(conn, args), False)
        writer.run_alone(job)
        if job.error is not None:
            log.warning("the daily VACUUM failed: %s", type(job.error).__name__)
            return None
        if job.result == commands.VACUUM_TOO_BIG and not self._told_too_big:
            self._told_too_big = True  # once: the size class only, never the size
            log.warning(
                "the daily VACUUM is skipped: the database is over daily_vacuum_max_bytes"
                " (%d GiB); run `sesim vacuum` with the servers stopped",
                self.config.daily_vacuum_max_bytes // 1024**3,
            )
        result: str = job.result
        return result


def _execute(writer: GroupCommitWriter, jobs: list[_Job[Any]]) -> None:
    """Run jobs in order: runs of transactional jobs share one commit."""
    run: list[_Job[Any]] = []
    for job in jobs:
        if job.transaction:
            run.append(job)
            continue
        if run:
            writer.commit_batch(run)
            run = []
        writer.run_alone(job)
    if run:
        writer.commit_batch(run)
