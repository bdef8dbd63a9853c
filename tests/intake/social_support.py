"""Shared pieces of the Messenger and X tests: demo credentials, the providers' request
bodies exactly as their documentation shows them, and signing as the providers do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

PAGE_ID = "104857600012345"
PSID = "6021877345678901"  # her page-scoped id: the "address" on Messenger
X_USER_ID = "1400000000000000001"  # our account
X_SENDER = "3805104374"  # her user id: the "address" on X

MESSENGER_SECRETS = {
    "messenger_app_secret": "app-secret-7f3a9c",
    "messenger_verify_token": "verify-token-51b2e",
    "messenger_page_token": "EAAPageToken0123456789abcdef",
}
X_SECRETS = {
    "x_consumer_key": "xvz1evFS4wEEPTGEFPHBog",
    "x_consumer_secret": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "x_access_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    "x_access_token_secret": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
}


def messenger_section(api_base: str) -> dict[str, Any]:
    return {"page_id": PAGE_ID, "api_base": api_base, "api_version": "v21.0"}


def x_section(api_base: str) -> dict[str, Any]:
    return {"user_id": X_USER_ID, "api_base": api_base}


# -- Messenger ----------------------------------------------------------------------------


def messenger_body(
    *messages: tuple[str, str], psid: str = PSID, extra: list[Any] | None = None
) -> bytes:
    """A Messenger Platform webhook POST body: one entry, one ``messaging`` event per
    (mid, text), as Meta's webhook reference shows it."""
    events: list[Any] = [
        {
            "sender": {"id": psid},
            "recipient": {"id": PAGE_ID},
            "timestamp": 1458692752478 + n,
            "message": {"mid": mid, "text": text},
        }
        for n, (mid, text) in enumerate(messages)
    ]
    events += extra or []
    payload = {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": 1458692752478, "messaging": events}],
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def hub_signature(
    body: bytes, secret: str = MESSENGER_SECRETS["messenger_app_secret"]
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": "sha256=" + digest, "Content-Type": "application/json"}


# -- X -------------------------------------------------------------------------------------


def x_body(*messages: tuple[str, str], sender: str = X_SENDER, for_user: str = X_USER_ID) -> bytes:
    """An Account Activity API POST body with ``direct_message_events`` (one
    ``message_create`` per (event id, text)), as X's documentation shows it."""
    events = [
        {
            "type": "message_create",
            "id": event_id,
            "created_timestamp": "1392078023603",
            "message_create": {
                "target": {"recipient_id": for_user if sender != for_user else X_SENDER},
                "sender_id": sender,
                "source_app_id": "268278",
                "message_data": {
                    "text": text,
                    "entities": {"hashtags": [], "symbols": [], "urls": [], "user_mentions": []},
                },
            },
        }
        for event_id, text in messages
    ]
    payload = {
        "for_user_id": for_user,
        "direct_message_events": events,
        "users": {sender: {"id": sender, "name": "N", "screen_name": "n"}},
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def x_signature(data: bytes, secret: str = X_SECRETS["x_consumer_secret"]) -> str:
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def x_headers(body: bytes, secret: str = X_SECRETS["x_consumer_secret"]) -> dict[str, str]:
    return {
        "x-twitter-webhooks-signature": x_signature(body, secret),
        "Content-Type": "application/json",
    }
