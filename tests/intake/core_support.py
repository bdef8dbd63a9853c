"""Fixtures and helpers of the core package's intake tests (and for anyone who wants an
IntakeStore over the test instance)."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crypto import PrivateKey
from securedrop_like import db, models
from securedrop_like.channels import channel_private_key
from securedrop_like.intake_store import Inbound, IntakeStore
from securedrop_like.service import ReportService
from tests.conftest import Instance

PHONE = "+994501234567"


@pytest.fixture
def intake(instance: Instance) -> Iterator[IntakeStore]:
    store = IntakeStore.open(instance.config)
    yield store
    store.close()


@pytest.fixture
def channel_key(instance: Instance) -> PrivateKey:
    return channel_private_key(instance.config)


def inbound(
    text: str,
    *,
    address: str = PHONE,
    provider: str = "twilio",
    message_id: str | None = None,
    lang: str = "az",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    join: bool = True,
) -> Inbound:
    return Inbound(
        provider=provider,
        address=address,
        text=text,
        message_id=message_id or secrets.token_hex(8),
        lang=lang,
        attachments=attachments,
        join=join,
    )


def answers(lang: str, receipt: str | None) -> list[str]:
    """Stand-in for intake.texts (the app package's): the receipt travels in the first."""
    if receipt is None:
        return []
    return [f"[{lang}] receipt {receipt}", f"[{lang}] reply YES"]


def flush_all(store: IntakeStore, key: PrivateKey) -> list[str]:
    out = []
    for thread_hash in store.pending_threads():
        source_id = store.flush(thread_hash, key, answers)
        assert source_id is not None
        out.append(source_id)
    return out


def decrypt_items(service: ReportService, source_id: str, key: PrivateKey) -> list[Any]:
    """(kind, document or bytes) of each of her items, opened with a reviewer's key."""
    out: list[Any] = []
    for item in service.items(source_id):
        sink = io.BytesIO()
        service.decrypt_item_to(item, key, sink)
        data = sink.getvalue()
        out.append((item.kind, json.loads(data) if item.kind != "file" else data))
    return out


def table_rows(config: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read through SQLCipher with the instance's key."""
    conn = db.Database.for_config(config).open()
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        ]
        return {
            t: [tuple(r) for r in conn.execute(f'SELECT * FROM "{t}"').fetchall()]  # noqa: S608
            for t in tables
        }
    finally:
        conn.close()


def _forms(canary: str) -> list[bytes]:
    return [canary.encode("utf-8"), canary.encode("utf-16-le"), canary.encode("utf-16-be")]


def canary_hits(config: Any, canaries: list[str]) -> list[str]:
    """Where any canary appears in plaintext: a decrypted database row or a file of the
    instance (the database, its WAL, spool, run, logs …), as bytes in UTF-8 or UTF-16."""
    hits = []
    for table, rows in table_rows(config).items():
        for row in rows:
            for value in row:
                raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
                for canary in canaries:
                    if any(form in raw for form in _forms(canary)):
                        hits.append(f"table {table}")
    home: Path = config.home
    for path in sorted(home.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for canary in canaries:
                if any(form in data for form in _forms(canary)):
                    hits.append(str(path.relative_to(home)))
    return hits


def thread_rows(config: Any) -> list[tuple[Any, ...]]:
    return table_rows(config)["channel_threads"]


def count(config: Any, table: str) -> int:
    return len(table_rows(config)[table])


def source_channel(service: ReportService, source_id: str) -> str:
    found = models.source_by_id(service.db.reader(), source_id)
    assert found is not None
    return found.channel
