"""The courier: joining parts after the window, flushing at start, delivering the
outbox with retries (a fake store and senders; a fake clock where time matters)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from flask import Flask

from crypto import PrivateKey
from intake.app import create_app
from intake.base import Intake
from intake.courier import Courier, make_courier
from securedrop_like.intake_store import Inbound, Outgoing
from tests.conftest import Instance
from tests.intake.app_support import (
    FAKE_SECRET,
    FakeClock,
    FakeSender,
    FakeStore,
    fake_channel,
    with_intake,
)

ADDRESS = "+994501112233"
SECRETS = {"webhook_secret": FAKE_SECRET, "smssync_secret": FAKE_SECRET + "2"}


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def app(instance: Instance, store: FakeStore) -> Flask:
    config = with_intake(instance.config, {"webhook": {}, "smssync": {}}, SECRETS)
    return create_app(config, Intake(config, store), modules=[fake_channel()])  # type: ignore[arg-type]


def _courier(app: Flask, clock: FakeClock, **kw: object) -> Courier:
    ctx: Intake = app.extensions["intake"]
    return Courier(ctx, app, PrivateKey.generate(), join_window=90, clock=clock, **kw)  # type: ignore[arg-type]


def _part(text: str, mid: str, address: str = ADDRESS, join: bool = True) -> Inbound:
    return Inbound("webhook", address, text, mid, "en", join=join)


def _receive(app: Flask, msg: Inbound) -> None:
    from intake.base import receive

    with app.test_request_context():
        receive(msg)


def test_parts_are_joined_after_the_window_after_her_last_part(
    app: Flask, store: FakeStore
) -> None:
    clock = FakeClock()
    courier = _courier(app, clock)
    _receive(app, _part("He said come back alone", "p1"))
    clock.now += 60
    _receive(app, _part("to the passport office", "p2"))  # the window starts again
    clock.now += 80
    assert courier.flush_due() == 0
    assert store.pending_threads() != []
    clock.now += 11
    assert courier.flush_due() == 1
    assert store.pending_threads() == []
    assert courier.waiting() == 0
    ((thread, said),) = store.flushed
    assert "1234 5678 9012 3456 7890" in said[0]
    assert said[1].startswith("Reply YES")
    # Both parts made the one report; her answers are queued to her address.
    assert [o.address for o in store.queued] == [ADDRESS, ADDRESS]


def test_two_women_have_two_windows(app: Flask, store: FakeStore) -> None:
    clock = FakeClock()
    courier = _courier(app, clock)
    _receive(app, _part("one", "a1", "+994500000001"))
    clock.now += 50
    _receive(app, _part("two", "b1", "+994500000002"))
    clock.now += 41
    assert courier.flush_due() == 1
    assert len(store.pending_threads()) == 1
    clock.now += 50
    assert courier.flush_due() == 1
    assert store.pending_threads() == []


def test_a_message_that_must_not_wait_is_flushed_at_once(app: Flask, store: FakeStore) -> None:
    clock = FakeClock()
    courier = _courier(app, clock)
    _receive(app, _part("an e-mail", "e1", join=False))
    assert courier.flush_due() == 1


def test_a_later_message_of_a_known_thread_gets_a_short_answer(
    app: Flask, store: FakeStore
) -> None:
    clock = FakeClock()
    courier = _courier(app, clock)
    _receive(app, _part("first", "k1"))
    clock.now += 91
    courier.flush_due()
    _receive(app, _part("more", "k2"))
    clock.now += 91
    assert courier.flush_due() == 1
    assert store.flushed[-1][1] == ["We received your message. Thank you."]


def test_a_replay_does_not_restart_the_window(app: Flask, store: FakeStore) -> None:
    clock = FakeClock()
    courier = _courier(app, clock)
    _receive(app, _part("first", "r1"))
    clock.now += 80
    _receive(app, _part("first", "r1"))  # the provider sent it again
    clock.now += 11
    assert courier.flush_due() == 1


def test_at_start_every_pending_thread_is_flushed(app: Flask, store: FakeStore) -> None:
    # Parts stored by a server that stopped before their window passed.
    for n, address in enumerate(("+994500000001", "+994500000002", "+994500000003")):
        store.add_part(_part(f"part {n}", f"s{n}", address))
    courier = _courier(app, FakeClock())
    assert courier.waiting() == 0  # their deadlines died with the old process
    assert courier.flush_all() == 3
    assert store.pending_threads() == []
    assert len(store.queued) == 6


def test_pending_threads_nobody_told_of_get_a_window(app: Flask, store: FakeStore) -> None:
    clock = FakeClock()
    courier = _courier(app, clock)
    store.add_part(_part("stored elsewhere", "x1"))
    assert courier.flush_due() == 0  # found by the scan: its window starts now
    clock.now += 91
    assert courier.flush_due() == 1


def test_delivery_retries_with_back_off_after_a_failure(
    app: Flask, store: FakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    sender = FakeSender("webhook", failures=2)
    courier = _courier(app, clock, senders={"webhook": sender, "smssync": None})
    text = "A secret answer for her"
    store.queued.append(Outgoing("o1", "webhook", ADDRESS, "en", text))
    caplog.set_level(logging.INFO)
    with app.app_context():
        assert courier.deliver() == 0
        assert store.failures == {"o1": 1}
        assert courier.deliver() == 0  # too soon: nothing tried
        assert sender.attempts == 1
        clock.now += 5
        assert courier.deliver() == 0  # the second failure: the wait doubles
        assert store.failures == {"o1": 2}
        clock.now += 5
        assert courier.deliver() == 0 and sender.attempts == 2
        clock.now += 5
        assert courier.deliver() == 1
    assert sender.sent == [(ADDRESS, text)]
    assert store.queued == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed" in logged
    assert ADDRESS not in logged and "994501112233" not in logged and text not in logged


def test_a_pull_based_provider_is_left_to_its_module(app: Flask, store: FakeStore) -> None:
    courier = _courier(app, FakeClock(), senders={"smssync": None})
    store.queued.append(Outgoing("o1", "smssync", ADDRESS, "az", "salam"))
    with app.app_context():
        assert courier.deliver() == 0
    assert len(store.queued) == 1


def test_make_courier_takes_senders_and_loops_from_the_modules(
    instance: Instance, store: FakeStore
) -> None:
    ran = threading.Event()
    senders: dict[str, FakeSender] = {}
    module = fake_channel(senders)

    def background(provider: str, settings: object, ctx: Intake) -> list[object]:
        def loop(stop: threading.Event) -> None:
            ran.set()
            stop.wait()

        return [loop] if provider == "webhook" else []

    module.background = background  # type: ignore[attr-defined]
    config = with_intake(instance.config, {"webhook": {}, "smssync": {}}, SECRETS)
    app = create_app(config, Intake(config, store), modules=[module])  # type: ignore[arg-type]
    ctx = app.extensions["intake"]
    courier = make_courier(
        ctx, app, PrivateKey.generate(), {"webhook": module, "smssync": module}, 0.2
    )
    assert courier.senders == {"webhook": senders["webhook"], "smssync": None}
    assert ctx.on_part == courier.note_part
    courier.start()
    try:
        assert ran.wait(5)
        _receive(app, _part("threads for real", "t1"))
        deadline = time.monotonic() + 10
        while not senders["webhook"].sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(senders["webhook"].sent) == 2  # joined, answered and delivered
    finally:
        started = time.monotonic()
        courier.stop(timeout=10)
        assert time.monotonic() - started < 5
    assert courier._threads == []


def test_at_start_queued_messages_of_a_disabled_provider_are_deleted(
    app: Flask, store: FakeStore
) -> None:
    store.queued += [
        Outgoing("o1", "twilio", ADDRESS, "az", "no longer configured"),
        Outgoing("o2", "webhook", ADDRESS, "az", "still configured"),
    ]
    courier = _courier(app, FakeClock())
    assert courier.drop_undeliverable() == 1
    assert [o.id for o in store.queued] == ["o2"]
