"""Server-side sessions in memory: expiry, bounded size, and the signed-id cookie.

The store tests run against both stores (one process, and shared between
worker processes): they keep one contract.
"""

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
from securedrop_like.shared_sessions import SharedSegment, SharedSessionStore

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


@pytest.fixture(params=["memory", "shared"])
def store(request: pytest.FixtureRequest, clock: FakeClock, discards: Discards) -> Any:
    if request.param == "memory":
        return MemorySessionStore(IDLE, ABSOLUTE, capacity=3, clock=clock, on_discard=discards)
    return SharedSessionStore(SharedSegment(3), IDLE, ABSOLUTE, clock=clock, on_discard=discards)


class Ids(dict[str, str]):
    """Session ids by name, each made by the store on first use."""

    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store

    def __missing__(self, name: str) -> str:
        self[name] = sid = self.store.new_id()
        return sid


@pytest.fixture
def ids(store: Any) -> Ids:
    return Ids(store)


# -- the store ---------------------------------------------------------------------------


def test_a_session_lives_until_idle_for_longer_than_the_idle_limit(
    ids: Ids, store: Any, clock: FakeClock, discards: Discards
) -> None:
    assert store.get("nonsense") is None
    store.put(ids["s"], {"n": 1})
    clock.now += IDLE
    assert store.get(ids["s"]) == {"n": 1}  # exactly at the limit: still alive
    clock.now += IDLE + 0.001
    assert store.get(ids["s"]) is None
    assert discards == [{"n": 1}]
    assert len(store) == 0


def test_each_use_restarts_the_idle_timer(ids: Ids, store: Any, clock: FakeClock) -> None:
    store.put(ids["s"], {"n": 1})
    for _ in range(3):
        clock.now += IDLE - 1
        assert store.get(ids["s"]) == {"n": 1}


def test_a_session_dies_at_its_absolute_limit_however_busy(
    ids: Ids, store: Any, clock: FakeClock, discards: Discards
) -> None:
    store.put(ids["s"], {"n": 1})
    start = clock.now
    while clock.now - start + IDLE / 2 <= ABSOLUTE:
        clock.now += IDLE / 2
        assert store.get(ids["s"]) is not None
        store.put(ids["s"], {"n": 2})  # a write refreshes use, never the creation time
    clock.now += IDLE / 2
    assert clock.now - start > ABSOLUTE
    assert store.get(ids["s"]) is None
    assert discards == [{"n": 2}]


def test_over_capacity_the_least_recently_used_session_is_evicted_and_discarded(
    ids: Ids, store: Any, discards: Discards
) -> None:
    for name in ("a", "b", "c"):
        store.put(ids[name], {"name": name})
    assert store.get(ids["a"]) is not None  # "a" is now the most recently used
    store.put(ids["d"], {"name": "d"})
    assert store.get(ids["b"]) is None
    assert [store.get(ids[n]) is not None for n in ("a", "c", "d")] == [True, True, True]
    assert discards == [{"name": "b"}]
    assert len(store) == 3


def test_delete_discards_but_forget_does_not(ids: Ids, store: Any, discards: Discards) -> None:
    store.put(ids["gone"], {"pending": ["upload"]})
    store.put(ids["moved"], {"pending": ["kept"]})
    store.forget(ids["moved"])
    assert discards == []
    store.delete(ids["gone"])
    assert discards == [{"pending": ["upload"]}]
    assert store.get(ids["gone"]) is None and store.get(ids["moved"]) is None
    store.delete(ids["gone"])  # twice: nothing more discarded
    assert len(discards) == 1


def test_sweep_drops_only_expired_sessions(
    ids: Ids, store: Any, clock: FakeClock, discards: Discards
) -> None:
    store.put(ids["old1"], {"n": 1})
    store.put(ids["old2"], {"n": 2})
    clock.now += IDLE - 10
    store.put(ids["fresh"], {"n": 3})
    clock.now += 11  # old ones idle for IDLE + 1, fresh one for 11 s
    assert store.sweep() == 2
    assert sorted(d["n"] for d in discards) == [1, 2]
    assert store.live_data() == [{"n": 3}]
    assert store.sweep() == 0


def test_new_ids_are_long_random_and_distinct(store: Any) -> None:
    made = set()
    for _ in range(50):
        sid = store.new_id()
        store.delete(sid)
        made.add(sid)
    assert len(made) == 50
    assert all(len(i) >= 43 for i in made)


def test_put_refuses_an_id_the_store_did_not_make(store: Any) -> None:
    assert store.put("made-up", {"n": 1}) is False
    assert store.get("made-up") is None


def test_json_data_survives_the_store_unchanged(ids: Ids, store: Any) -> None:
    data = {"private_key": "ab" * 32, "pending": [{"item_id": "x", "size": 3}], "n": 1.5}
    store.put(ids["s"], data)
    assert store.get(ids["s"]) == data


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
    assert store.get(value.rsplit(".", 2)[0]) == {"secret": "value-kept-server-side"}


def test_a_tampered_cookie_gives_a_new_empty_session(client: FlaskClient) -> None:
    client.post("/set/source/42")
    value = cookie_of(client)
    assert value
    sid, key, signature = value.rsplit(".", 2)
    other_key = "A" * len(key)
    for forged in (
        f"{sid}.{key}.{signature[::-1]}",
        sid,
        f"{sid}.{key}",
        f"{sid[:-1]}x.{key}.{signature}",
        f"{sid}.{other_key}.{signature}",  # the key is signed too
        "x" * 300,
    ):
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
