"""Derivation slots the kernel frees, and a short bounded queue in front of them."""

from __future__ import annotations

import os
import signal
import stat
import threading

import pytest

from securedrop_like.config import run_dir
from securedrop_like.derivation import DerivationSlots, Deriver
from securedrop_like.errors import Busy
from tests.conftest import Instance


def _hold_in_child(slots: DerivationSlots, count: int) -> int:
    """A forked process takes ``count`` slots and sleeps holding them; returns its PID."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            held = [slots.try_acquire() for _ in range(count)]
            os.write(ready_w, b"1" if all(fd is not None for fd in held) else b"0")
            signal.pause()
        finally:
            os._exit(0)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"1"
    os.close(ready_r)
    return pid


def test_a_slot_held_by_a_killed_process_is_free_at_once(instance: Instance) -> None:
    # A worker SIGKILLed in the middle of a derivation: its slot must not leak.
    deriver = Deriver(instance.config)
    slots = deriver.slots
    pid = _hold_in_child(slots, instance.config.max_concurrent_derivations)
    try:
        assert slots.try_acquire() is None  # every slot is the child's
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    fd = slots.try_acquire()
    assert fd is not None
    slots.release(fd)
    for _ in range(5):  # and no slot was lost: derivations go on
        deriver.derive(deriver.normalise("1234 5678 9012 3456 7890"))
    held = [slots.try_acquire() for _ in range(instance.config.max_concurrent_derivations)]
    assert all(fd is not None for fd in held)


def test_the_slots_live_in_the_instance_run_folder(instance: Instance) -> None:
    slots = Deriver(instance.config).slots
    run = instance.home / "run"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert len(slots.slot_paths) == instance.config.max_concurrent_derivations
    assert all(p.parent == run for p in (*slots.slot_paths, *slots.queue_paths))


def test_threads_of_one_process_exclude_each_other(instance: Instance) -> None:
    slots = DerivationSlots(run_dir(instance.config), 1, 0, 0.0)
    fd = slots.try_acquire()
    assert fd is not None
    assert slots.try_acquire() is None
    slots.release(fd)
    assert slots.try_acquire() is not None


def test_beyond_the_queue_a_request_is_refused_at_once(instance: Instance) -> None:
    # The wait is an hour: a request that waited instead of being refused would hang.
    slots = DerivationSlots(run_dir(instance.config), 2, 2, 3600.0)
    held = [slots.try_acquire(), slots.try_acquire()]
    queued = [slots._try(slots.queue_paths) for _ in range(2)]  # noqa: SLF001 - two waiters
    assert None not in held + queued
    outcome: list[BaseException] = []

    def third() -> None:
        try:
            slots.acquire()
        except Busy as exc:
            outcome.append(exc)

    thread = threading.Thread(target=third, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and len(outcome) == 1


def test_a_waiter_gets_the_slot_freed_while_it_waits(instance: Instance) -> None:
    slots = DerivationSlots(run_dir(instance.config), 1, 1, 3600.0)
    fd = slots.try_acquire()
    assert fd is not None
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(slots.acquire()), daemon=True)
    thread.start()
    slots.release(fd)
    thread.join(timeout=30)
    assert len(got) == 1
    slots.release(got[0])


def test_a_full_queue_and_slots_give_busy_not_a_hang(instance: Instance) -> None:
    config = instance.config.with_changes(derivation_wait_seconds=0.05)
    deriver = Deriver(config)
    pid = _hold_in_child(deriver.slots, config.max_concurrent_derivations)
    try:
        with pytest.raises(Busy):
            deriver.derive(deriver.normalise("1234 5678 9012 3456 7890"))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
