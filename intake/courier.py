"""The intake server's background work: joining parts into reports, delivering the
outbox, and the channel modules' own loops (the IMAP poller).

- **Joining.** Parts of a thread wait, sealed, until ``join_window_seconds`` after
  her last part; then :meth:`IntakeStore.flush` makes (or adds to) her report and
  queues the automatic answers. The deadline lives here, in memory (the schema
  keeps days only): after a crash nothing knows it, so at start-up every pending
  thread is flushed at once. A message that must not wait (e-mail) is flushed at
  once. Also at start-up, queued messages of a provider no longer enabled are
  deleted (each holds a sealed address).
- **Delivery.** Each provider's ``Sender`` (its module's ``make_sender``) gets the
  outbox rows of its provider; a failure counts an attempt (the store drops a row
  after its maximum) and the row waits, with a back-off that doubles, before the
  next try. A pull-based provider (SMSSync: ``make_sender`` gives None) is served by
  its module when the phone polls; the courier leaves its rows alone. Just before
  each send it checks (a cheap query) that the row is still queued and, for a
  lawyer's reply, that her thread still takes replies: a STOP, a withdrawal or a
  closed case during a slow batch stops what is left of it (skipped, not failed).
- **Pruning.** About every six hours: replay marks older than 30 days, and queued
  messages older than ``[intake] outbox_max_days`` (default 7; an SMSSync phone that
  never polls again never fails a row) are deleted.
- **Stopping.** Every loop returns soon after the stop event is set.

Nothing here logs an address, a text or a thread hash: counts, providers and
exception types only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from flask import Flask

from crypto import PrivateKey
from securedrop_like.intake_store import OUTBOX_MAX_DAYS, Inbound

from . import texts
from .base import Intake, Sender, SendError

log = logging.getLogger(__name__)

Loop = Callable[[threading.Event], None]

#: How often the joiner looks for pending threads it was not told of (parts stored
#: by a server that stopped, or a store that cannot say a message's thread).
SCAN_SECONDS = 5.0
#: How often the outbox is read (staff replies are queued by the staff server).
OUTBOX_SECONDS = 2.0
BACKOFF_FIRST = 5.0  # seconds before the second try of a failed row
BACKOFF_MAX = 3600.0
OUTBOX_BATCH = 50
PRUNE_SECONDS = 6 * 3600.0  # old replay marks and queued messages go about this often


def _thread_of(store: Any, msg: Inbound) -> str | None:
    """The thread hash ``msg`` was stored under (the current thread key's), if the
    store can say; None makes the joiner find the thread by its scan instead."""
    hasher = getattr(store, "thread_hash", None)
    if callable(hasher):
        return str(hasher(msg))
    keys = getattr(store, "keys", None)
    if keys is not None and hasattr(keys, "get"):
        return str(keys.get().thread_hash(msg.channel, msg.address))
    return None


@dataclass
class _Retry:
    failures: int = 0
    next_try: float = 0.0


@dataclass
class Courier:
    """The joiner and the outbox delivery of one intake server."""

    ctx: Intake
    app: Flask
    channel_key: PrivateKey
    senders: dict[str, Sender | None] = field(default_factory=dict)
    join_window: float = 90.0
    clock: Callable[[], float] = time.monotonic
    scan_seconds: float = SCAN_SECONDS
    outbox_seconds: float = OUTBOX_SECONDS
    backoff_first: float = BACKOFF_FIRST
    backoff_max: float = BACKOFF_MAX
    outbox_max_days: int = OUTBOX_MAX_DAYS
    loops: list[Loop] = field(default_factory=list)  # the modules' background loops

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[str, float] = {}
        self._retries: dict[str, _Retry] = {}
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self._next_scan = 0.0
        self.flushed = 0  # reports made or added to (for tests and the bench)
        self.sent = 0
        self.skipped = 0  # rows gone (STOP, closed case) between reading and sending
        self.ctx.on_part = self.note_part

    # -- joining -----------------------------------------------------------------------
    def note_part(self, msg: Inbound) -> None:
        """A part was stored (called by ``receive`` after its commit)."""
        thread = _thread_of(self.ctx.store, msg)
        now = self.clock()
        with self._lock:
            if thread is None:
                self._next_scan = 0.0  # look now
            elif msg.join:
                self._deadlines[thread] = now + self.join_window  # after her last part
            else:
                self._deadlines[thread] = now
        self._wake.set()

    def waiting(self) -> int:
        with self._lock:
            return len(self._deadlines)

    def next_deadline(self) -> float | None:
        with self._lock:
            return min(self._deadlines.values(), default=None)

    def _flush(self, thread: str) -> bool:
        try:
            with self.app.app_context():
                made = self.ctx.store.flush(thread, self.channel_key, texts.answer)
        except Exception as exc:  # noqa: BLE001 - the parts stay pending: try again later
            log.error("joining a thread's parts failed (%s); trying again", type(exc).__name__)
            with self._lock:
                self._deadlines[thread] = self.clock() + self.scan_seconds
            return False
        with self._lock:
            self._deadlines.pop(thread, None)
        if made is not None:
            self.flushed += 1
        return made is not None

    def flush_all(self) -> int:
        """Flush every pending thread now (at start-up: their deadlines were lost)."""
        done = 0
        for thread in self.ctx.store.pending_threads():
            done += self._flush(thread)
        if done:
            log.info("joined %d waiting thread(s) at start", done)
        return done

    def flush_due(self) -> int:
        """Flush the threads whose window has passed; give a deadline to pending threads
        nobody told us of. Returns how many reports were made or added to."""
        now = self.clock()
        if now >= self._next_scan:
            self._next_scan = now + self.scan_seconds
            pending = self.ctx.store.pending_threads()
            with self._lock:
                for thread in pending:
                    self._deadlines.setdefault(thread, now + self.join_window)
        with self._lock:
            due = [t for t, when in self._deadlines.items() if when <= now]
        return sum(self._flush(thread) for thread in due)

    def drop_undeliverable(self) -> int:
        """Delete queued messages of providers no longer enabled (each holds a sealed
        address, and nothing would ever send it)."""
        drop = getattr(self.ctx.store, "drop_undeliverable", None)
        if not callable(drop):
            return 0
        dropped = int(drop(sorted(self.ctx.settings)))
        if dropped:
            log.info("deleted %d queued message(s) of providers no longer enabled", dropped)
        return dropped

    def run_joiner(self, stop: threading.Event) -> None:
        self._guarded(self.drop_undeliverable)
        self._guarded(self.flush_all)
        while not stop.is_set():
            self._guarded(self.flush_due)
            nearest = self.next_deadline()
            wait = self.scan_seconds
            if nearest is not None:
                wait = max(0.0, min(wait, nearest - self.clock()))
            self._wake.wait(wait)
            self._wake.clear()

    # -- delivery ------------------------------------------------------------------------
    def _backoff(self, failures: int) -> float:
        return float(min(self.backoff_first * 2 ** (failures - 1), self.backoff_max))

    def deliver(self) -> int:
        """One pass over the outbox of every provider with a Sender. Returns how many
        messages were delivered."""
        delivered = 0
        for provider, sender in self.senders.items():
            if sender is None:
                continue  # pull-based: its module serves the rows when polled
            delivered += self._deliver_provider(provider, sender)
        return delivered

    def _deliver_provider(self, provider: str, sender: Sender) -> int:
        now = self.clock()
        rows = self.ctx.store.outbox(self.channel_key, provider, OUTBOX_BATCH)
        live = {f"{provider}:{row.id}" for row in rows}
        delivered = 0
        with self._lock:
            for key in [k for k in self._retries if k.startswith(provider + ":")]:
                if key not in live:
                    del self._retries[key]  # delivered elsewhere, dropped or deleted
        for row in rows:
            key = f"{provider}:{row.id}"
            with self._lock:
                retry = self._retries.get(key)
            if retry is not None and now < retry.next_try:
                continue
            if not self._may_send(row):
                with self._lock:
                    self._retries.pop(key, None)
                self.skipped += 1
                continue  # gone meanwhile: not sent, not a failure
            try:
                sender.send(row.address, row.text)
            except Exception as exc:  # noqa: BLE001 - SendError or a bug: the row waits
                kind = "refused" if isinstance(exc, SendError) else type(exc).__name__
                self.ctx.store.failed(row.id)
                with self._lock:
                    retry = self._retries.setdefault(key, _Retry())
                    retry.failures += 1
                    retry.next_try = now + self._backoff(retry.failures)
                    wait = retry.next_try - now
                log.warning(
                    "a delivery through %s failed (%s); next try in %.0f s", provider, kind, wait
                )
                break  # the provider is likely down: the other rows wait for the next pass
            self.ctx.store.delivered([row.id])
            with self._lock:
                self._retries.pop(key, None)
            delivered += 1
        self.sent += delivered
        return delivered

    def _may_send(self, row: Any) -> bool:
        """Whether the store still wants ``row`` sent (a store without the check: yes)."""
        check = getattr(self.ctx.store, "may_send", None)
        return bool(check(row)) if callable(check) else True

    def prune(self) -> None:
        """Forget old replay marks; delete queued messages older than outbox_max_days."""
        prune_seen = getattr(self.ctx.store, "prune_seen", None)
        if callable(prune_seen):
            self._guarded(prune_seen)
        prune_outbox = getattr(self.ctx.store, "prune_outbox", None)
        if callable(prune_outbox):
            dropped = 0

            def outbox() -> None:
                nonlocal dropped
                dropped = int(prune_outbox(self.outbox_max_days))

            self._guarded(outbox)
            if dropped:
                log.info(
                    "deleted %d queued message(s) older than %d days", dropped, self.outbox_max_days
                )

    def run_outbox(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self.app.app_context():
                self._guarded(self.deliver)
            stop.wait(self.outbox_seconds)

    def run_pruner(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self.app.app_context():
                self.prune()
            stop.wait(PRUNE_SECONDS)

    # -- the threads -----------------------------------------------------------------------
    def _guarded(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a loop must outlive any failure
            log.error("intake background work failed (%s)", type(exc).__name__)

    def start(self) -> None:
        loops: list[tuple[str, Loop]] = [
            ("intake-joiner", self.run_joiner),
            ("intake-outbox", self.run_outbox),
            ("intake-pruner", self.run_pruner),
        ]
        loops += [(f"intake-channel-{n}", loop) for n, loop in enumerate(self.loops)]
        for name, loop in loops:
            thread = threading.Thread(target=self._run, args=(loop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, loop: Loop) -> None:
        while not self.stopping.is_set():
            try:
                loop(self.stopping)
                return
            except Exception as exc:  # noqa: BLE001 - restart it after a pause
                log.error("an intake loop stopped (%s); restarting it", type(exc).__name__)
                self.stopping.wait(self.scan_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]


def make_courier(
    ctx: Intake,
    app: Flask,
    channel_key: PrivateKey,
    modules: dict[str, ModuleType],
    join_window: float,
    **options: Any,
) -> Courier:
    """A courier with each enabled provider's Sender and background loops, from its
    module (``make_sender``; ``background`` when the module has one)."""
    senders: dict[str, Sender | None] = {}
    loops: list[Loop] = []
    for provider, settings in ctx.settings.items():
        module = modules[provider]
        senders[provider] = module.make_sender(provider, settings)
        background = getattr(module, "background", None)
        if callable(background):
            loops += list(background(provider, settings, ctx))
    return Courier(ctx, app, channel_key, senders, join_window, loops=loops, **options)
