"""Server-side sessions in memory: expiry, bounded size, and the signed-id cookie."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, jsonify, session
from flask.testing import FlaskClient

from securedrop_like.sessions import (
    COOKIE_NAME,
    MemorySessionInterface,
    MemorySessionStore,
    ServerSession,
)

IDLE, ABSOLUTE = 60.0, 300.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Discards(list[dict[str, Any]]):
    """Records what on_discard was given."""

    def __call__(self, data: dict[str, Any]) -> None:
        self.append(data)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def discards() -> Discards:
    return Discards()


@pytest.fixture
def store(clock: FakeClock, discards: Discards) -> MemorySessionStore:
    return MemorySessionStore(IDLE, ABSOLUTE, capacity=3, clock=clock, on_discard=discards)


# -- the store ---------------------------------------------------------------------------


def test_a_session_lives_until_idle_for_longer_than_the_idle_limit(
    store: MemorySessionStore, clock: FakeClock, discards: Discards
) -> None:
    assert store.get("s") is None
    store.put("s", {"n": 1})
    clock.now += IDLE
    assert store.get("s") == {"n": 1}  # exactly at the limit: still alive
    clock.now += IDLE + 0.001
    assert store.get("s") is None
    assert discards == [{"n": 1}]
    assert len(store) == 0


def test_each_use_restarts_the_idle_timer(store: MemorySessionStore, clock: FakeClock) -> None:
    store.put("s", {"n": 1})
    for _ in range(3):
        clock.now += IDLE - 1
        assert store.get("s") == {"n": 1}


def test_a_session_dies_at_its_absolute_limit_however_busy(
    store: MemorySessionStore, clock: FakeClock, discards: Discards
) -> None:
    store.put("s", {"n": 1})
    start = clock.now
    while clock.now - start + IDLE / 2 <= ABSOLUTE:
        clock.now += IDLE / 2
        assert store.get("s") is not None
        store.put("s", {"n": 2})  # a write refreshes use, never the creation time
    clock.now += IDLE / 2
    assert clock.now - start > ABSOLUTE
    assert store.get("s") is None
    assert discards == [{"n": 2}]


def test_over_capacity_the_least_recently_used_session_is_evicted_and_discarded(
    store: MemorySessionStore, discards: Discards
) -> None:
    for name in ("a", "b", "c"):
        store.put(name, {"name": name})
    assert store.get("a") is not None  # "a" is now the most recently used
    store.put("d", {"name": "d"})
    assert store.get("b") is None
    assert [store.get(n) is not None for n in ("a", "c", "d")] == [True, True, True]
    assert discards == [{"name": "b"}]
    assert len(store) == 3


def test_delete_discards_but_forget_does_not(store: MemorySessionStore, discards: Discards) -> None:
    store.put("gone", {"pending": ["upload"]})
    store.put("moved", {"pending": ["kept"]})
    store.forget("moved")
    assert discards == []
    store.delete("gone")
    assert discards == [{"pending": ["upload"]}]
    assert store.get("gone") is None and store.get("moved") is None
    store.delete("gone")  # twice: nothing more discarded
    assert len(discards) == 1


def test_sweep_drops_only_expired_sessions(
    store: MemorySessionStore, clock: FakeClock, discards: Discards
) -> None:
    store.put("old1", {"n": 1})
    store.put("old2", {"n": 2})
    clock.now += IDLE - 10
    store.put("fresh", {"n": 3})
    clock.now += 11  # old ones idle for IDLE + 1, fresh one for 11 s
    assert store.sweep() == 2
    assert sorted(d["n"] for d in discards) == [1, 2]
    assert store.live_data() == [{"n": 3}]
    assert store.sweep() == 0


def test_new_ids_are_long_random_and_distinct() -> None:
    ids = {MemorySessionStore.new_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) >= 43 for i in ids)


# -- the Flask interface -----------------------------------------------------------------


@pytest.fixture
def app(store: MemorySessionStore) -> Flask:
    app = Flask(__name__)
    app.session_interface = MemorySessionInterface(store, b"s" * 32)

    @app.get("/show")
    def show() -> Any:
        return jsonify(dict(session))

    @app.post("/set/<key>/<value>")
    def set_(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.post("/do/<action>")
    def do(action: str) -> str:
        assert isinstance(session, ServerSession)
        if action == "clear":
            session.clear()
        elif action == "regenerate":
            session.regenerate()
        elif action == "end":
            session.end()
        else:  # end, keeping one setting
            session.end(keep={action: session[action]})
        return "ok"

    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def cookie_of(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(COOKIE_NAME)
    return cookie.value if cookie else None


def test_the_session_cookie_is_http_only_strict_and_dies_with_the_browser(
    client: FlaskClient,
) -> None:
    response = client.post("/set/lang/az")
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in header and "SameSite=Strict" in header
    assert "Path=/" in header
    assert "Expires" not in header and "Max-Age" not in header
    assert "Secure" not in header  # the onion service is plain HTTP; see below
    assert client.get("/show").json == {"lang": "az"}


def test_the_cookie_is_secure_when_the_app_says_so(app: Flask, client: FlaskClient) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "Secure" in client.post("/set/a/b").headers["Set-Cookie"]


def test_the_cookie_carries_only_a_signed_id_not_the_data(
    client: FlaskClient, store: MemorySessionStore
) -> None:
    client.post("/set/secret/value-kept-server-side")
    value = cookie_of(client)
    assert value and "value-kept-server-side" not in value
    assert store.get(value.rsplit(".", 1)[0]) == {"secret": "value-kept-server-side"}


def test_a_tampered_cookie_gives_a_new_empty_session(client: FlaskClient) -> None:
    client.post("/set/source/42")
    value = cookie_of(client)
    assert value
    sid, signature = value.rsplit(".", 1)
    for forged in (sid + "." + signature[::-1], sid, sid[:-1] + "x." + signature, "x" * 300):
        client.set_cookie(COOKIE_NAME, forged)
        assert client.get("/show").json == {}
    client.set_cookie(COOKIE_NAME, value)
    assert client.get("/show").json == {"source": "42"}


def test_only_a_new_session_id_sets_a_cookie(
    client: FlaskClient, store: MemorySessionStore
) -> None:
    assert "Set-Cookie" not in client.get("/show").headers
    assert "Set-Cookie" in client.post("/set/a/b").headers
    assert "Set-Cookie" not in client.get("/show").headers
    assert "Set-Cookie" not in client.post("/set/c/d").headers  # same id: stored only
    assert client.get("/show").json == {"a": "b", "c": "d"}
    assert len(store) == 1


def test_regenerate_keeps_the_data_under_a_new_id_and_the_old_id_stops_working(
    client: FlaskClient, store: MemorySessionStore, discards: Discards
) -> None:
    client.post("/set/source/42")
    old = cookie_of(client)
    client.post("/do/regenerate")
    new = cookie_of(client)
    assert new and old and new != old
    assert client.get("/show").json == {"source": "42"}
    assert len(store) == 1
    assert discards == []  # the data moved; pending uploads must not be wiped
    client.set_cookie(COOKIE_NAME, old)
    assert client.get("/show").json == {}


def test_end_deletes_the_server_session_and_the_cookie(
    client: FlaskClient, store: MemorySessionStore, discards: Discards
) -> None:
    client.post("/set/source/42")
    old = cookie_of(client)
    response = client.post("/do/end")
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE_NAME}=;")
    assert "Max-Age=0" in header or "1970" in header
    assert cookie_of(client) is None
    assert len(store) == 0
    assert discards == [{"source": "42"}]
    assert old
    client.set_cookie(COOKIE_NAME, old)
    assert client.get("/show").json == {}


def test_emptying_a_session_removes_it_from_the_server(
    client: FlaskClient, store: MemorySessionStore
) -> None:
    client.post("/set/a/b")
    client.post("/do/clear")
    assert len(store) == 0
    assert cookie_of(client) is None


def test_end_keeping_a_setting_starts_a_fresh_session_under_a_new_id(
    client: FlaskClient, store: MemorySessionStore, discards: Discards
) -> None:
    client.post("/set/lang/ru")
    client.post("/set/source/42")
    old = cookie_of(client)
    client.post("/do/lang")
    new = cookie_of(client)
    assert new and old and new != old
    assert client.get("/show").json == {"lang": "ru"}
    assert len(store) == 1
    assert discards == [{"lang": "ru", "source": "42"}]
    client.set_cookie(COOKIE_NAME, old)
    assert client.get("/show").json == {}
