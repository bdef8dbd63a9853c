"""The app package's test helpers: a small fake channel module (until the real ones
exist, and to test the app alone) and a fake store that records what it was asked.

The fake channel serves provider "webhook" at ``/sms/webhook`` (JSON
``{"from","text","id"}``, header ``X-Test-Key`` compared in constant time) and
"smssync" at ``/sms/smssync`` (for the 404 of a disabled provider)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response

from crypto import PrivateKey
from intake import base, texts
from securedrop_like.config import Config, ConfigError
from securedrop_like.i18n import gettext
from securedrop_like.intake_store import Inbound, Outgoing

FAKE_SECRET = "fake-secret-for-tests"
CONSTANT = b'{"ok":true}'


@dataclass
class FakeClock:
    """An injected clock: a test moves ``now``."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeSettings:
    provider: str
    key: str


class FakeSender:
    """A Sender whose first ``failures`` sends fail; records what it delivered."""

    def __init__(self, provider: str, failures: int = 0) -> None:
        self.provider = provider
        self.failures = failures
        self.sent: list[tuple[str, str]] = []
        self.attempts = 0
        self.lock = threading.Lock()

    def send(self, address: str, text: str) -> None:
        with self.lock:
            self.attempts += 1
            if self.failures > 0:
                self.failures -= 1
                raise base.SendError("the fake provider refused (test)")
            self.sent.append((address, text))


def fake_channel(senders: dict[str, FakeSender] | None = None) -> types.ModuleType:
    """A channel module serving "webhook" and "smssync" the way a real one would."""
    module = types.ModuleType("tests_fake_channel")
    module.PROVIDERS = ("webhook", "smssync")  # type: ignore[attr-defined]
    made = senders if senders is not None else {}

    def load_settings(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> Any:
        key = base.require_secret(secrets, f"{provider}_secret", provider)
        if section.get("bad"):
            raise ConfigError(f"[intake.{provider}] bad must not be set")
        return FakeSettings(provider, key)

    def blueprint() -> Blueprint:
        bp = Blueprint("fake_channel", __name__)

        def handle(provider: str) -> Response:
            from flask import request

            body = base.read_body(base.MAX_BODY_BYTES)
            settings: FakeSettings = base.current().settings[provider]
            sent = (request.headers.get("X-Test-Key") or "").encode()
            if not hmac.compare_digest(sent, settings.key.encode()):
                return base.forbidden()
            try:
                doc = json.loads(body.decode("utf-8"))
                sender, text, mid = str(doc["from"]), str(doc["text"]), str(doc["id"])
            except (UnicodeDecodeError, ValueError, KeyError, TypeError):
                return base.bad_request(gettext("The request could not be understood."))
            base.receive(Inbound(provider, sender, text, mid, texts.detect_language(text)))
            return Response(CONSTANT, content_type="application/json")

        bp.add_url_rule("/sms/webhook", "webhook", lambda: handle("webhook"), methods=["POST"])
        bp.add_url_rule("/sms/smssync", "smssync", lambda: handle("smssync"), methods=["POST"])
        return bp

    def make_sender(provider: str, settings: Any) -> Any:
        if provider == "smssync":
            return None  # pull-based
        return made.setdefault(provider, FakeSender(provider))

    module.load_settings = load_settings  # type: ignore[attr-defined]
    module.blueprint = blueprint  # type: ignore[attr-defined]
    module.make_sender = make_sender  # type: ignore[attr-defined]
    return module


def with_intake(config: Config, section: dict[str, Any], secrets: dict[str, str] | None) -> Config:
    """``config`` with ``[intake]`` set to ``section`` and secrets/intake.toml written
    (0600) from ``secrets`` (None: no file)."""
    path = config.secrets_dir / "intake.toml"
    if secrets is not None:
        path.write_text("".join(f'{k} = "{v}"\n' for k, v in secrets.items()), "utf-8")
        path.chmod(0o600)
    return config.with_changes(extra={**config.extra, "intake": section})


def thread_of(msg: Inbound) -> str:
    return hashlib.sha256(f"{msg.channel}\0{msg.address}".encode()).hexdigest()


@dataclass
class FakeStore:
    """What the app and the courier ask of IntakeStore, recorded in memory."""

    calls: list[tuple[str, Inbound]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    parts: dict[str, list[Inbound]] = field(default_factory=dict)
    known: dict[str, str] = field(default_factory=dict)  # thread -> source id
    queued: list[Outgoing] = field(default_factory=list)
    flushed: list[tuple[str, list[str]]] = field(default_factory=list)  # thread, texts
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _fresh(self, msg: Inbound) -> bool:
        mark = (msg.provider, msg.message_id)
        if mark in self.seen:
            return False
        self.seen.add(mark)
        return True

    def _queue(self, msg: Inbound, text: str) -> None:
        n = len(self.queued) + len(self.flushed) + 1
        self.queued.append(Outgoing(f"o{n}", msg.provider, msg.address, msg.lang, text))

    def thread_hash(self, msg: Inbound) -> str:
        return thread_of(msg)

    def add_part(self, msg: Inbound) -> bool:
        with self.lock:
            self.calls.append(("add_part", msg))
            if not self._fresh(msg):
                return False
            self.parts.setdefault(thread_of(msg), []).append(msg)
            return True

    def withdraw(self, msg: Inbound, confirmation: str) -> bool:
        with self.lock:
            self.calls.append(("withdraw", msg))
            if not self._fresh(msg):
                return False
            self.parts.pop(thread_of(msg), None)
            self.known.pop(thread_of(msg), None)
            self._queue(msg, confirmation)
            return True

    def opt_in(self, msg: Inbound, confirmation: str) -> bool:
        with self.lock:
            self.calls.append(("opt_in", msg))
            if not self._fresh(msg):
                return False
            if thread_of(msg) not in self.known:
                self.parts.setdefault(thread_of(msg), []).append(msg)
            else:
                self._queue(msg, confirmation)
            return True

    def pending_threads(self) -> list[str]:
        with self.lock:
            return [t for t, p in self.parts.items() if p]

    def flush(
        self,
        thread_hash: str,
        channel_key: PrivateKey,
        answer: Callable[[str, str | None], list[str]],
    ) -> str | None:
        with self.lock:
            parts = self.parts.pop(thread_hash, [])
            if not parts:
                return None
            receipt = None if thread_hash in self.known else "1234 5678 9012 3456 7890"
            source = self.known.setdefault(thread_hash, f"s{len(self.known) + 1}")
            said = answer(parts[0].lang, receipt)
            self.flushed.append((thread_hash, said))
            for text in said:
                self._queue(parts[-1], text)
            return source

    def outbox(
        self, channel_key: PrivateKey, provider: str | None = None, limit: int = 50
    ) -> list[Outgoing]:
        with self.lock:
            rows = [o for o in self.queued if provider is None or o.provider == provider]
            return rows[:limit]

    def drop_undeliverable(self, enabled_providers: list[str]) -> int:
        with self.lock:
            kept = [o for o in self.queued if o.provider in enabled_providers]
            dropped = len(self.queued) - len(kept)
            self.queued = kept
            return dropped

    def delivered(self, outbox_ids: list[str]) -> None:
        with self.lock:
            self.queued = [o for o in self.queued if o.id not in outbox_ids]

    def failed(self, outbox_id: str) -> None:
        with self.lock:
            self.failures[outbox_id] = self.failures.get(outbox_id, 0) + 1

    def close(self) -> None:
        pass
