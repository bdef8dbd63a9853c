"""Codename → keys, with the Argon2id work bounded for the whole machine.

Each derivation holds ``argon2_memlimit`` bytes for a fraction of a second.
A burst of log-ins (or someone hammering the form) must not push a 2-core
server out of memory, so at most ``max_concurrent_derivations`` run at once.

The slots are lock files in the instance's ``run/`` folder (mode 0700), one
per slot, held with ``flock``: every process of every server of the instance
sees the same slots, and when a holder dies (a worker killed during a
derivation) the kernel drops its lock, so no slot is ever lost.

Waiting holds a server thread, so only a few may wait: a request that finds
every slot taken takes one of ``max_waiting_derivations`` queue tickets (lock
files too) and waits up to ``derivation_wait_seconds`` for a slot; when the
queue is full too it is refused at once. Either way the refusal is
:class:`~securedrop_like.errors.Busy`, which the apps turn into a translated
"busy, try again" page, and the other pages keep their threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from crypto import SourceKeys, derive_source_keys

from . import codenames
from .config import Config, run_dir
from .errors import BadCodename, Busy

POLL_SECONDS = 0.02
RETRY_AFTER = 10


class DerivationSlots:
    """N slot files and Q queue-ticket files, locked with ``flock``.

    Every attempt opens its own file descriptor (``O_CLOEXEC``), so a lock is
    never shared with a forked child, and two threads of one process exclude
    each other as two processes do.
    """

    def __init__(self, folder: Path, slots: int, queue: int, wait_seconds: float) -> None:
        self.slot_paths = [folder / f"derive-slot-{n}.lock" for n in range(slots)]
        self.queue_paths = [folder / f"derive-queue-{n}.lock" for n in range(queue)]
        self.wait_seconds = wait_seconds
        for path in (*self.slot_paths, *self.queue_paths):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))

    @classmethod
    def for_config(cls, config: Config) -> DerivationSlots:
        return cls(
            run_dir(config),
            config.max_concurrent_derivations,
            config.max_waiting_derivations,
            config.derivation_wait_seconds,
        )

    @staticmethod
    def _try(paths: list[Path]) -> int | None:
        """A descriptor holding the lock of one of ``paths``, or None if all are taken."""
        for path in paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            return fd
        return None

    def try_acquire(self) -> int | None:
        """A slot now, or None (no waiting)."""
        return self._try(self.slot_paths)

    def acquire(self) -> int:
        """A slot (its descriptor), waiting in the bounded queue; :class:`Busy` otherwise."""
        fd = self._try(self.slot_paths)
        if fd is not None:
            return fd
        ticket = self._try(self.queue_paths)
        if ticket is None:
            raise Busy(retry_after=RETRY_AFTER)
        try:
            deadline = time.monotonic() + self.wait_seconds
            while time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                fd = self._try(self.slot_paths)
                if fd is not None:
                    return fd
        finally:
            os.close(ticket)  # closing the descriptor drops its lock
        raise Busy(retry_after=RETRY_AFTER)

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        fd = self.acquire()
        try:
            yield
        finally:
            self.release(fd)


class Deriver:
    """Derives a source's keys, at most ``max_concurrent_derivations`` at a time."""

    def __init__(self, config: Config, slots: DerivationSlots | None = None) -> None:
        self._salt = config.read_secret(config.salt_path)
        self._ops = config.argon2_opslimit
        self._mem = config.argon2_memlimit
        self.slots = slots or DerivationSlots.for_config(config)

    def normalise(self, typed: str) -> str:
        """Canonical form of what she typed, or :class:`BadCodename`."""
        try:
            normalised = codenames.normalise(typed)
            codenames.check_plausible(normalised)
        except codenames.InvalidCodename as exc:
            raise BadCodename(exc.reason) from exc
        return normalised

    def derive(self, normalised: str) -> SourceKeys:
        with self.slots.held():
            return derive_source_keys(
                normalised, self._salt, opslimit=self._ops, memlimit=self._mem
            )
