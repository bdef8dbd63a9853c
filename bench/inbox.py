"""The staff inbox with 10,000 sources against the same page with 100.

Both databases are filled directly with SQL in one transaction (metadata only:
the inbox never reads a ciphertext), then the real page is rendered through
the Flask test client of the staff app, logged in with passphrase and TOTP.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from flask import Flask
from flask.testing import FlaskClient

from bench.common import Results, Workspace, median_ms, timed
from securedrop_like import models
from securedrop_like.db import Database

LARGE = (10_000, 100_000)
SMALL = (100, 1_000)
DEEP = 20  # pages: the first 1,000 sources of 10,000
REPEAT = 25
CHANNELS = (["web"] * 85) + (["sms"] * 6) + (["email"] * 4) + (["messenger"] * 3) + (["x"] * 2)
USERNAME = "bench"
_INLINE = bytes(range(40))  # a tiny stand-in ciphertext: the inbox never opens one
_CURSOR = re.compile(r"\?after=([A-Za-z0-9_-]+)")
_LABEL = re.compile(r'href="/sources/[0-9a-f]{32}"[^>]*>([^<]+)<')


def populate(db: Database, sources: int, items: int, seed: int) -> None:
    """``sources`` sources sharing ``items`` items (skewed: most write a few times,
    some dozens), activity spread over the last year, older items mostly read."""
    rng = random.Random(seed)
    today = dt.date.today()
    per_source = [1] * sources
    weights = [rng.lognormvariate(0, 1.2) for _ in range(sources)]
    for n in rng.choices(range(sources), weights, k=items - sources):
        per_source[n] += 1
    source_rows: list[tuple[object, ...]] = []
    item_rows: list[tuple[object, ...]] = []
    for count in per_source:
        source_id = f"{rng.getrandbits(128):032x}"
        last = today - dt.timedelta(days=rng.randrange(365))
        span = int(min(rng.expovariate(1 / 20), 364)) if count > 1 else 0
        first = last - dt.timedelta(days=span)
        middle = sorted(rng.randint(0, span) for _ in range(count - 2))
        days = [first, *(first + dt.timedelta(days=d) for d in middle), last][-count:]
        parent = None
        replies = 0
        for seq, day in enumerate(days, start=1):
            item_id = f"{rng.getrandbits(128):032x}"
            if seq == 1:
                kind = "report"
            else:
                kind = rng.choices(("message", "file", "reply"), (45, 35, 20))[0]
            if kind == "file":
                size = int(min(max(rng.lognormvariate(12.5, 1.5), 10_000), 200 * 2**20))
                inline = None
            else:
                size = rng.randint(900, 6000) if kind == "report" else rng.randint(300, 3000)
                inline = _INLINE
            old = (today - day).days > 30
            read = kind != "reply" and rng.random() < (0.95 if old else 0.4)
            item_rows.append(
                (
                    item_id,
                    source_id,
                    seq,
                    kind,
                    parent if kind == "file" else None,
                    day.isoformat(),
                    size,
                    inline,
                    USERNAME if kind == "reply" else None,
                    int(read),
                    int(kind == "reply" and rng.random() < 0.7),
                )
            )
            if kind in ("report", "message"):
                parent = item_id
            replies |= kind == "reply"
        source_rows.append(
            (
                source_id,
                f"{rng.getrandbits(256):064x}",
                rng.randbytes(32),
                models.new_designation(),
                rng.choice(CHANNELS),
                first.isoformat(),
                last.isoformat(),
                count + 1,
                replies,
                int(rng.random() < 0.02),
                USERNAME if rng.random() < 0.2 else None,
            )
        )
    conn = db.open()
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO sources (id, lookup_id, public_key, designation, channel, created_day,"
            " activity_day, next_seq, has_replies, starred, assigned_to)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            source_rows,
        )
        conn.executemany(
            "INSERT INTO items (id, source_id, seq, kind, parent_id, day, size, inline, author,"
            " staff_read, source_read) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            item_rows,
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def staff_client(ws: Workspace, name: str) -> tuple[Flask, FlaskClient, Database]:
    """A fresh instance and the staff app's test client, logged in (cheap Argon2id)."""
    from journalist_interface.accounts import StaffAccounts
    from journalist_interface.app import create_app
    from tests.conftest import FAST_ARGON2
    from tests.functional.test_staff_interface import _code, _login

    config, _ = ws.instance(name, **FAST_ARGON2)
    db = Database.for_config(config)
    accounts = StaffAccounts(db, opslimit=1, memlimit=8 * 1024 * 1024)
    account = accounts.add(USERNAME, language="en")
    app = create_app(config, accounts=accounts)
    client = app.test_client()
    status = _login(client, USERNAME, account.password, _code(account.totp_secret)).status_code
    assert status == 303, status
    return app, client, db


def _get(client: FlaskClient, path: str, **query: str) -> str:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _render_ms(client: FlaskClient, **query: str) -> float:
    _get(client, "/", **query)  # warm: templates, page cache
    return median_ms(timed(lambda: _get(client, "/", **query), REPEAT))


def inbox(ws: Workspace, results: Results) -> None:
    opened: list[Flask] = []
    try:
        times: dict[str, float] = {}
        for (sources, items), seed in ((SMALL, 1), (LARGE, 2)):
            app, client, db = staff_client(ws, f"inbox-{sources}")
            opened.append(app)
            populate(db, sources, items, seed)
            times[f"first-{sources}"] = _render_ms(client)
        # Deep: follow the "Older sources" link DEEP pages in, then time that page.
        cursor = ""
        for _ in range(DEEP):
            page = _get(client, "/", after=cursor) if cursor else _get(client, "/")
            found = _CURSOR.search(page)
            assert found, "no next page"
            cursor = found.group(1)
        deep_page = _get(client, "/", after=cursor)
        times["deep"] = _render_ms(client, after=cursor)
        # Search by designation as a lawyer remembers it: "Adjective noun".
        label = _LABEL.findall(deep_page)[7]
        query = " ".join(label.split()[:2])
        assert label in _get(client, "/", q=query)
        times["search"] = _render_ms(client, q=query)
    finally:
        for app in opened:
            app.extensions["sesim_staff"].reports.close()
    small, large = times[f"first-{SMALL[0]}"], times[f"first-{LARGE[0]}"]
    ratio = large / small
    results.add(
        f"staff inbox, first page: {SMALL[0]} vs {LARGE[0]:,} sources",
        f"{small:.1f} vs {large:.1f} ms (×{ratio:.1f})",
        "< 3×",
        ratio < 3,
    )
    results.add(
        f"staff inbox, {LARGE[0]:,} sources: page {DEEP + 1} (after= cursor)",
        f"{times['deep']:.1f} ms (×{times['deep'] / large:.1f} of the first)",
    )
    results.add(
        f"staff inbox, {LARGE[0]:,} sources: designation search",
        f"{times['search']:.1f} ms (×{times['search'] / large:.1f} of the first; {query!r})",
    )
