"""What the server's master process does for the source interface, besides its workers.

Sessions live in memory the master mapped before forking (shared_sessions.py),
and uploads wait in the database as unclaimed blobs until a submission claims
them (store.py). Neither may be left to chance on a quiet server:

- every :data:`SESSION_SWEEP_SECONDS`, expired session slots are zeroed (her
  sealed key, her fresh codename, the names of her kept files), and the
  uploads those sessions kept are deleted;
- every :data:`UPLOAD_SWEEP_SECONDS`, uploads that no session keeps and no
  submission claimed are deleted once they have been seen so at
  :data:`UPLOAD_SWEEP_RUNS` runs in a row, so an upload still on its way (a
  slow form over Tor holds its first files unclaimed while the rest arrive)
  is never taken from under a request;
- before any worker starts, every unclaimed upload goes: sessions start
  empty, so nobody can claim them (:func:`sweep_before_start`).

The master holds no database connection between runs: each opens a service
and closes it, because the master forks workers (a forked SQLCipher
connection is unsafe).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from securedrop_like.config import Config
from securedrop_like.serve import Task
from securedrop_like.service import ReportService, UnclaimedSweeper
from securedrop_like.shared_sessions import ServerShared, SharedSessionStore

from . import uploads

log = logging.getLogger(__name__)

SESSION_SWEEP_SECONDS = 30.0  # within a minute of expiry, as issue 8 promises
UPLOAD_SWEEP_SECONDS = 600.0
UPLOAD_SWEEP_RUNS = 3  # so an unclaimed upload lives at least 20 minutes
# The tasks run in gunicorn's arbiter loop, which also respawns workers and the
# writer: a writer busy with the daily VACUUM must not hold it for long (the
# task fails, logged by type, and the next run catches up).
MASTER_WRITER_TIMEOUT = 5.0


def sweep_before_start(config: Config) -> int:
    """Delete every unclaimed upload, before any worker of the server starts."""
    service = ReportService.open(config)
    try:
        swept = service.sweep_unclaimed()
    finally:
        service.close()
    if swept:
        log.info("deleted %d upload(s) nobody can claim", swept)
    return swept


def _limits(config: Config) -> tuple[float, float]:
    return config.source_session_idle_minutes * 60.0, config.source_session_absolute_minutes * 60.0


def sweep_sessions(
    config: Config,
    shared: ServerShared,
    open_service: Callable[[], ReportService],
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Zero every expired session slot; delete the uploads those sessions kept."""
    ended: list[dict[str, Any]] = []
    idle, absolute = _limits(config)
    swept = shared.sweep_sessions(idle, absolute, ended.append, clock)
    doomed = [i for data in ended for i in uploads.pending_ids(data)]
    if doomed:
        service = open_service()
        try:
            service.discard_uploads(doomed)
        finally:
            service.close()
    return swept


def kept_upload_ids(
    config: Config, shared: ServerShared, clock: Callable[[], float] = time.monotonic
) -> set[str]:
    """Every upload a live session keeps for her next try."""
    idle, absolute = _limits(config)
    store = SharedSessionStore(shared.segment, idle, absolute, clock)
    return {i for data in store.live_data() for i in uploads.pending_ids(data)}


def master_service(config: Config, shared: ServerShared) -> ReportService:
    """A service for one task run: its writer commands wait MASTER_WRITER_TIMEOUT at most."""
    return ReportService.open(
        config, shared.writer_address, shared.writer_authkey, MASTER_WRITER_TIMEOUT
    )


def server_tasks(config: Config, clock: Callable[[], float] = time.monotonic) -> list[Task]:
    """The master's periodic tasks for a source server (``serve(..., tasks=…)``);
    ``clock`` must be the session table's (tests inject one)."""
    sweeper: UnclaimedSweeper | None = None

    def opener(shared: ServerShared) -> Callable[[], ReportService]:
        return lambda: master_service(config, shared)

    def sessions_task(shared: ServerShared) -> None:
        sweep_sessions(config, shared, opener(shared), clock)

    def uploads_task(shared: ServerShared) -> None:
        nonlocal sweeper
        if sweeper is None:
            sweeper = UnclaimedSweeper(opener(shared), runs=UPLOAD_SWEEP_RUNS)
        sweeper.run(kept_upload_ids(config, shared, clock))

    return [(SESSION_SWEEP_SECONDS, sessions_task), (UPLOAD_SWEEP_SECONDS, uploads_task)]
