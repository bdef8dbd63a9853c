"""The writer process: commands from many threads, committed together, answered each."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Client

import pytest

from securedrop_like import models
from securedrop_like.commands import item_tuple
from securedrop_like.db import Database, today
from securedrop_like.shared_sessions import SharedSegment, SharedSessionStore
from securedrop_like.writer_process import RemoteWriter, WriterProcess, WriterUnavailable
from tests.conftest import Instance


@pytest.fixture
def writer(instance: Instance):  # type: ignore[no-untyped-def]
    process = WriterProcess(instance.config)
    process.start()
    yield process
    process.stop()


def _message() -> list[tuple[object, ...]]:
    return [item_tuple(models.NewItem("message", 3, inline=b"abc"))]


def test_commands_from_many_threads_are_all_committed(instance: Instance, writer) -> None:  # type: ignore[no-untyped-def]
    remote = RemoteWriter(writer.address, writer.authkey)
    source_id = remote.command("create_source", ("f" * 64, bytes(32), "2026-11-01", "web", []))
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            for _ in range(n):
                remote.command("insert_items", (source_id, "2026-11-02", _message()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(25,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    conn = Database.for_config(instance.config).open()
    try:
        seqs = [i.seq for i in models.items_of(conn, source_id)]
    finally:
        conn.close()
    assert seqs == list(range(1, 201))
    remote.close()


def test_a_vanished_source_is_a_lookup_error_for_her_alone(writer) -> None:  # type: ignore[no-untyped-def]
    remote = RemoteWriter(writer.address, writer.authkey)
    with pytest.raises(LookupError):
        remote.command("insert_items", ("0" * 32, "2026-11-02", _message()))
    assert remote.command("mark_read", ("0" * 32, [])) is None
    remote.close()


def test_the_writer_refuses_a_client_without_its_key(writer) -> None:  # type: ignore[no-untyped-def]
    assert oct(os.stat(writer.address).st_mode & 0o777) == "0o600"
    with pytest.raises((multiprocessing.AuthenticationError, OSError, EOFError)):
        Client(writer.address, family="AF_UNIX", authkey=b"x" * 32)


def test_a_stopped_writer_gives_a_clear_error(writer) -> None:  # type: ignore[no-untyped-def]
    remote = RemoteWriter(writer.address, writer.authkey)
    writer.stop()
    with pytest.raises(WriterUnavailable):
        remote.command("mark_read", ("0" * 32, []))


def test_shared_sessions_are_seen_by_a_forked_worker() -> None:
    store = SharedSessionStore(SharedSegment(8), 60, 600)
    sid = store.new_id()
    store.put(sid, {"lang": "ru"})
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a "worker": reads her session, writes to it, exits
        try:
            ok = store.get(sid) == {"lang": "ru"} and store.put(sid, {"lang": "az"})
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert store.get(sid) == {"lang": "az"}


def test_a_second_server_on_the_instance_keeps_the_first_ones_writer(
    instance: Instance,
    writer,  # type: ignore[no-untyped-def]
) -> None:
    # `sesim demo` runs the source and the staff server on one instance.
    stale = writer.address.replace("writer-", "writer-dead")
    with open(stale, "w"):
        pass  # a socket file nobody listens on, as a killed server leaves
    second = WriterProcess(instance.config)
    second.start()
    try:
        assert os.path.exists(writer.address) and not os.path.exists(stale)
        for process in (writer, second):
            remote = RemoteWriter(process.address, process.authkey)
            assert remote.command(
                "create_source", (os.urandom(32).hex(), bytes(32), "2026-11-01", "web", [])
            )
            remote.close()
    finally:
        second.stop()


def _template_rows(instance: Instance) -> int:
    conn = Database.for_config(instance.config).open()
    try:
        return int(conn.execute("SELECT count(*) FROM reply_templates").fetchone()[0])
    finally:
        conn.close()


def _stopped_for(pid: int, seconds: float) -> threading.Timer:
    os.kill(pid, signal.SIGSTOP)
    timer = threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    timer.start()
    return timer


def test_a_command_late_past_its_deadline_is_refused_as_busy_and_never_done(
    instance: Instance, writer
) -> None:  # type: ignore[no-untyped-def]
    """M4: a worker waits a bounded time (the busy page, her text kept); the writer,
    once free, drops the command rather than storing it behind her back."""
    remote = RemoteWriter(writer.address, writer.authkey, timeout=0.3)
    remote.command("checkpoint", ())  # this thread's connection is made
    timer = _stopped_for(writer.pid, 1.0)  # a VACUUM, say: the writer is not listening
    with pytest.raises(WriterUnavailable):
        remote.command("set_reply_template", ("late", "en", "stored too late"))
    timer.join()
    # The same thread's next command gets its own answer, not the late one's.
    assert remote.command("set_reply_template", ("next", "en", "on time")) is None
    assert _template_rows(instance) == 1
    remote.close()


def test_a_writer_that_stays_silent_costs_a_bounded_wait_and_the_connection(
    instance: Instance, writer
) -> None:  # type: ignore[no-untyped-def]
    remote = RemoteWriter(writer.address, writer.authkey, timeout=0.2)
    gave_up, resumed = threading.Event(), threading.Event()
    outcome: list[object] = []

    def call() -> None:
        remote.command("checkpoint", ())  # this thread's connection is made
        os.kill(writer.pid, signal.SIGSTOP)
        try:
            remote.command("set_reply_template", ("late", "en", "stored too late"))
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(type(exc))
        gave_up.set()
        resumed.wait(30)
        # The late answer (if any) is not read as this one's: a new connection.
        outcome.append(remote.command("delete_items", ("no-such-source", [])))

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    try:
        assert gave_up.wait(60), "the worker thread waited for ever"
    finally:
        os.kill(writer.pid, signal.SIGCONT)
        resumed.set()
    thread.join(30)
    assert outcome[0] is WriterUnavailable
    assert outcome[1] == ([], [])
    assert _template_rows(instance) == 0  # dropped by the writer, once free: too late
    remote.close()


def _vacuum_day(instance: Instance) -> str | None:
    conn = Database.for_config(instance.config).open()
    try:
        row = conn.execute("SELECT value FROM housekeeping WHERE key = 'vacuum_day'").fetchone()
    finally:
        conn.close()
    return None if row is None else str(row[0])


def test_the_writer_runs_the_days_vacuum_itself_once(instance: Instance) -> None:
    """M3: at its first turn of a UTC day (here: when it starts), not after a write."""
    off = WriterProcess(instance.config.with_changes(daily_vacuum=0))
    off.start()
    time.sleep(1.5)  # three turns of its loop
    off.stop()
    assert _vacuum_day(instance) is None
    process = WriterProcess(instance.config)
    process.start()
    try:
        deadline = time.monotonic() + 30
        while _vacuum_day(instance) != today():
            assert time.monotonic() < deadline, "no VACUUM from the writer"
            time.sleep(0.1)
        mode = (instance.home / "run" / "tmp").stat().st_mode & 0o777
        assert mode == 0o700
    finally:
        process.stop()


def test_a_large_command_to_a_stalled_writer_costs_a_bounded_wait(
    instance: Instance, writer
) -> None:  # type: ignore[no-untyped-def]
    """Sending is bounded too: 8 MB (an upload's batch) fill the socket's buffer."""
    remote = RemoteWriter(writer.address, writer.authkey, timeout=0.3)
    outcome: list[object] = []
    done = threading.Event()

    def call() -> None:
        remote.command("checkpoint", ())  # this thread's connection is made
        os.kill(writer.pid, signal.SIGSTOP)
        try:
            remote.command("set_reply_template", ("big", "en", "x" * (8 << 20)))
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(type(exc))
        done.set()

    threading.Thread(target=call, daemon=True).start()
    try:
        assert done.wait(60), "the worker thread waited for ever"
    finally:
        os.kill(writer.pid, signal.SIGCONT)
    assert outcome == [WriterUnavailable]
    assert remote.command("checkpoint", ()) is None  # the writer lives on
    assert _template_rows(instance) == 0
    remote.close()
