"""Server-side sessions in memory: expiry, bounded size, and the signed-id cookie.

The store tests run against both stores (one process, and shared between
worker processes): they keep one contract.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, jsonify, session
from flask.testing import FlaskClient

from crypto import new_secret_key
from securedrop_like.errors import Busy
from securedrop_like.sessions import (
    COOKIE_NAME,
    SEALED_KEY,
    SECURE_COOKIE_NAME,
    MemorySessionInterface,
    MemorySessionStore,
    ServerSession,
    SessionsFull,
    _unb64,
    server_session,
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
        # Within one time bucket: a store keeps times only that coarse (see sessions.py).
        clock.now += IDLE - store.bucket - 1
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


def _plain(client: FlaskClient, data: dict[str, Any], cookie: str) -> dict[str, Any]:
    """What a stored session holds, opened with the key of her cookie."""
    interface = client.application.session_interface
    assert isinstance(interface, MemorySessionInterface)
    return interface._opened(data, _unb64(cookie.rsplit(".", 2)[1]))


def test_the_cookie_carries_only_a_signed_id_not_the_data(
    client: FlaskClient, store: MemorySessionStore
) -> None:
    client.post("/set/secret/value-kept-server-side")
    value = cookie_of(client)
    assert value and "value-kept-server-side" not in value
    data = store.get(value.rsplit(".", 2)[0])
    assert _plain(client, data, value) == {"secret": "value-kept-server-side"}
    if store.seals_at_rest:  # the shared table holds it only sealed under her cookie's key
        assert "value-kept-server-side" not in repr(data)


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


def test_a_non_ascii_cookie_gives_a_new_empty_session_not_an_error(
    app: Flask, client: FlaskClient
) -> None:
    """Review L1: compare_digest refuses non-ASCII str; such a cookie was a 500."""
    client.post("/set/source/42")
    value = cookie_of(client)
    assert value
    signed = value.rsplit(".", 1)[0]
    bare = app.test_client(use_cookies=False)
    # As a server hands them over: header bytes decoded as latin-1.
    for forged in (f"{signed}.\u00e9", f"{signed}.\u00c3\u00a9", "x.y.\u00e9", "\u00e9" * 299):
        response = bare.get("/show", environ_overrides={"HTTP_COOKIE": f"{COOKIE_NAME}={forged}"})
        assert (response.status_code, response.json) == (200, {})
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
    assert old
    assert [_plain(client, d, old) for d in discards] == [{"source": "42"}]
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
    assert [_plain(client, d, old) for d in discards] == [{"lang": "ru", "source": "42"}]
    client.set_cookie(COOKIE_NAME, old)
    assert client.get("/show").json == {}


# -- protected sessions (issue 8, 5b) ------------------------------------------------------------


def test_a_new_session_never_evicts_a_protected_one(
    store: Any, clock: FakeClock, discards: Discards
) -> None:
    her = store.new_id(protected=True)  # reserved at log-in, before any data
    store.put(her, {"source_id": "x"}, protected=True)
    kept = store.new_id()
    store.put(kept, {"pending": ["upload"]}, protected=True)
    for n in range(20):  # a flood of light sessions: they evict only each other
        store.put(store.new_id(), {"lang": "ru", "n": n})
    assert store.get(her) == {"source_id": "x"}
    assert store.get(kept) == {"pending": ["upload"]}
    assert len(store) == 3
    assert sorted(d["n"] for d in discards) == list(range(19))


def test_a_store_full_of_protected_sessions_refuses_a_new_one(
    store: Any, clock: FakeClock, discards: Discards
) -> None:
    protected = [store.new_id(protected=True) for _ in range(3)]
    with pytest.raises(SessionsFull):
        store.new_id()
    with pytest.raises(SessionsFull):
        store.new_id(protected=True)
    assert all(store.get(sid) == {} for sid in protected)
    clock.now += IDLE + 1  # an expired protected session is no longer spared
    assert store.new_id() is not None


def test_a_put_can_lift_the_protection(store: Any) -> None:
    sid = store.new_id(protected=True)
    store.put(sid, {"lang": "az"})  # her log-in failed: just a light session now
    for _ in range(3):
        store.new_id(protected=True)
    assert store.get(sid) is None


# -- sealed secrets and the cookie's key -----------------------------------------------------


@pytest.fixture
def sealing_app(app: Flask) -> Flask:
    @app.post("/seal/<name>/<value>")
    def seal(name: str, value: str) -> str:
        server_session().seal(name, value.encode())
        return "ok"

    @app.get("/unseal/<name>")
    def unseal(name: str) -> str:
        value = server_session().unseal(name)
        return "none" if value is None else value.decode()

    @app.post("/login")
    def login() -> str:
        server_session().regenerate()
        session["source_id"] = "42"
        return "ok"

    return app


def test_a_sealed_value_is_kept_only_as_ciphertext_and_opens_with_her_cookie(
    sealing_app: Flask, store: Any
) -> None:
    client = sealing_app.test_client()
    client.post("/seal/private_key/the-secret-key-bytes")
    assert client.get("/unseal/private_key").get_data(as_text=True) == "the-secret-key-bytes"
    assert "the-secret-key-bytes" not in repr(store.live_data())
    value = cookie_of(client)
    assert value
    sid, key, _ = value.rsplit(".", 2)
    # The server's copy of the session, with any key but hers, opens nothing.
    data = _plain(client, store.get(sid), value)
    for other in (new_secret_key(), b"\0" * 32):
        assert ServerSession(sid, data, other).unseal("private_key") is None
    assert ServerSession(sid, data, _unb64(key)).unseal("private_key") == b"the-secret-key-bytes"
    # Under another name, it does not open either.
    sealed = data[SEALED_KEY]
    swapped = {SEALED_KEY: {"fresh_codename": sealed["private_key"]}}
    assert ServerSession(sid, swapped, _unb64(key)).unseal("fresh_codename") is None


def test_log_in_gives_a_new_cookie_key_and_carries_sealed_values_over(
    sealing_app: Flask, store: Any
) -> None:
    client = sealing_app.test_client()
    client.post("/seal/private_key/abc")
    before = cookie_of(client)
    client.post("/login")
    after = cookie_of(client)
    assert before and after
    assert before.rsplit(".", 2)[:2] != after.rsplit(".", 2)[:2]
    assert before.rsplit(".", 2)[1] != after.rsplit(".", 2)[1]  # the key itself is new
    assert client.get("/unseal/private_key").get_data(as_text=True) == "abc"
    assert len(store) == 1


def test_a_full_store_stores_no_light_session_and_refuses_a_log_in_with_busy(
    sealing_app: Flask, store: Any
) -> None:
    for _ in range(3):
        store.new_id(protected=True)
    client = sealing_app.test_client()
    response = client.post("/set/lang/ru")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    sealing_app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(Busy):
        client.post("/login")


def test_on_the_https_mirror_the_cookie_is_host_prefixed_and_secure(store: Any) -> None:
    app = Flask(__name__)
    app.session_interface = MemorySessionInterface(
        store, b"s" * 32, mirror_host="sesim.example.org"
    )

    @app.post("/set")
    def set_() -> str:
        session["lang"] = "ru"
        return "ok"

    @app.get("/show")
    def show() -> Any:
        return jsonify(dict(session))

    mirror = app.test_client()
    header = mirror.post("/set", headers={"Host": "sesim.example.org"}).headers["Set-Cookie"]
    assert header.startswith(f"{SECURE_COOKIE_NAME}=")
    assert "; Secure" in header and "Path=/" in header and "Domain" not in header
    assert mirror.get("/show", headers={"Host": "sesim.example.org"}).json == {"lang": "ru"}
    onion = app.test_client()
    header = onion.post("/set", headers={"Host": "localhost"}).headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE_NAME}=") and "Secure" not in header


# -- ranks, shares and owners (review H2) ---------------------------------------------------------


def test_a_log_in_evicts_the_least_recently_used_session_that_only_keeps_files(
    store: Any, discards: Discards
) -> None:
    from securedrop_like.sessions import KEPT, LOGGED_IN

    # A store of 3 keeps files for at most one session (a quarter, at least one).
    weak = store.new_id(KEPT)
    store.put(weak, {"pending": ["upload"]}, KEPT)
    with pytest.raises(SessionsFull):
        store.new_id(KEPT)
    other = store.new_id(LOGGED_IN)
    assert store.reserve(other, KEPT) is True  # already more than that
    light = store.new_id()
    assert store.reserve(light, KEPT) is False  # no share left: her files are not kept
    store.put(light, {"lang": "az"})
    store.new_id(LOGGED_IN)  # takes the light one first
    assert store.get(light) is None and store.get(weak) is not None
    with pytest.raises(SessionsFull):
        store.new_id()  # a light session never evicts one that keeps files
    store.new_id(LOGGED_IN)  # a log-in does
    assert store.get(weak) is None
    assert {"pending": ["upload"]} in discards
    with pytest.raises(SessionsFull):
        store.new_id(LOGGED_IN)  # never another log-in


def test_one_owner_keeps_at_most_three_sessions(store: Any, clock: FakeClock) -> None:
    from securedrop_like.sessions import LOGGED_IN, PER_OWNER

    big = (
        MemorySessionStore(IDLE, ABSOLUTE, capacity=8, clock=clock)
        if isinstance(store, MemorySessionStore)
        else SharedSessionStore(SharedSegment(8), IDLE, ABSOLUTE, clock=clock)
    )
    hers = []
    for n in range(5):
        sid = big.new_id(LOGGED_IN)
        assert big.put(sid, {"n": n}, LOGGED_IN, owner=b"h" * 16)
        hers.append(sid)
    other = big.new_id(LOGGED_IN)
    big.put(other, {"n": "other"}, LOGGED_IN, owner=b"o" * 16)
    assert [big.get(s) is not None for s in hers] == [False, False, True, True, True]
    assert PER_OWNER == 3 and big.get(other) is not None
    big.put(hers[2], {"n": 2}, LOGGED_IN)  # a later request: no owner given, none lost
    assert len(big) == 4
