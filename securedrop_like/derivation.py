"""Codename → keys, with the Argon2id work bounded per process.

Each derivation holds ``argon2_memlimit`` bytes for a fraction of a second.
A burst of log-ins (or someone hammering the form) must not push a 2-core
server out of memory, so at most ``max_concurrent_derivations`` run at once;
a request that cannot get a slot within ``derivation_wait_seconds`` gets
:class:`~securedrop_like.errors.Busy`, which the apps turn into a translated
"busy, try again" page.
"""

from __future__ import annotations

import threading
from typing import Any

from crypto import SourceKeys, derive_source_keys

from . import codenames
from .config import Config
from .errors import BadCodename, Busy


class Deriver:
    """Derives a source's keys, at most N at a time.

    ``slots`` is shared by all of a server's worker processes (a
    multiprocessing semaphore made before they fork) so that the bound holds
    for the server, not per process; without it the bound is per process.
    """

    def __init__(self, config: Config, slots: Any = None) -> None:
        self._salt = config.read_secret(config.salt_path)
        self._ops = config.argon2_opslimit
        self._mem = config.argon2_memlimit
        self._wait = config.derivation_wait_seconds
        self._slots = slots or threading.BoundedSemaphore(config.max_concurrent_derivations)

    def normalise(self, typed: str) -> str:
        """Canonical form of what she typed, or :class:`BadCodename`."""
        try:
            normalised = codenames.normalise(typed)
            codenames.check_plausible(normalised)
        except codenames.InvalidCodename as exc:
            raise BadCodename(exc.reason) from exc
        return normalised

    def derive(self, normalised: str) -> SourceKeys:
        if not self._slots.acquire(timeout=self._wait):
            raise Busy(retry_after=10)
        try:
            return derive_source_keys(
                normalised, self._salt, opslimit=self._ops, memlimit=self._mem
            )
        finally:
            self._slots.release()
