"""What every channel module shares: the app's context, the common receive path,
refusals, and the outbound Sender protocol.

INTERFACE STUB written by the lead: the work package "app" fills it in and may
add to it, but keeps these names and meanings (the channel packages code
against them).

A channel module (intake/sms.py, email.py, messenger.py, x.py) exposes::

    PROVIDERS: tuple[str, ...]          # its providers (keys of intake_store.PROVIDERS)
    def load_settings(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> Any
        # ``[intake.<provider>]`` of config.toml and secrets/intake.toml, checked;
        # ConfigError (securedrop_like.config) with a clear message otherwise
    def blueprint() -> flask.Blueprint  # its endpoints (may be a blueprint with no route)
    def make_sender(provider: str, settings: Any) -> Sender | None   # None: pull-based (SMSSync)
    def background(provider: str, settings: Any, ctx: Intake)
            -> list[Callable[[threading.Event], None]]
        # long-running loops the server runs in threads (the IMAP poller); each returns
        # when the event is set. Optional: absent means none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Response

from securedrop_like.config import Config
from securedrop_like.intake_store import Inbound, IntakeStore


class SendError(Exception):
    """Delivery failed (network, provider refusal); the outbox row is retried later.
    The message says why in words that hold no address and no text."""


class Sender(Protocol):
    provider: str

    def send(self, address: str, text: str) -> None:
        """Deliver ``text`` to ``address`` now; SendError if it failed."""
        ...


@dataclass
class Intake:
    """The intake app's context: ``current_app.extensions["intake"]``."""

    config: Config
    store: IntakeStore
    # provider -> its module's settings object (only enabled providers are here)
    settings: dict[str, Any] = field(default_factory=dict)


def current() -> Intake:
    """The current app's Intake."""
    raise NotImplementedError


def receive(msg: Inbound) -> None:
    """The common path once a channel has authenticated and parsed a message: STOP
    (and its az/ru words) withdraws, YES (and its words) opts in, anything else is a
    part of her report. The same work and the same outcome for a known and an
    unknown sender; a replay stores nothing. Raises nothing for those cases."""
    raise NotImplementedError


def forbidden() -> Response:
    """403 for a caller that did not authenticate (the same body for every reason)."""
    raise NotImplementedError


def bad_request(message: str, status: int = 400) -> Response:
    """A clear refusal (``message`` translated by the caller with _()), stores nothing."""
    raise NotImplementedError


def read_body(limit: int) -> bytes:
    """The raw request body, at most ``limit`` bytes (413 raised as an HTTPException
    beyond: the caller never sees a huge body)."""
    raise NotImplementedError
