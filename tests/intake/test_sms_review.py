"""Findings of the security review of the SMS intake (issue 12): each test failed
before its fix.

- closing her case deletes her thread: a later SMS starts a new case, new receipt;
- SMSSync ``task=sent`` without a handed-out uuid opens, deletes and checkpoints
  nothing; with one, leased rows are checked by id, never opened;
- an unauthenticated caller gets the common 403 whatever is wrong with its body;
  only an authenticated one hears (400) what is wrong;
- the courier checks each row just before sending it: a STOP, a withdrawal or a
  closed case during a slow batch stops the rest (skipped, not failed).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from intake import texts
from securedrop_like import intake_store
from tests.conftest import Instance
from tests.intake.core_support import table_rows, thread_rows
from tests.intake.sms_support import (
    PUBLIC_URL,
    RECEIPT_RE,
    SMSSYNC_SECRET,
    TWILIO_TOKEN,
    SmsGateways,
    sms_gateways,
)

HER = "+994501234567"
TEXT = "Sosial müdafiə idarəsində məmur kömək üçün görüş tələb etdi."
NO_UUIDS = b'{"message_uuids":[]}'


@pytest.fixture
def sms(instance: Instance) -> Iterator[SmsGateways]:
    with sms_gateways(instance) as gateways, gateways.app.app_context():
        yield gateways


def _sent_to_her(sms: SmsGateways) -> list[str]:
    """The texts Twilio was asked to send (and forget them)."""
    sms.deliver()
    out = [r.form()["Body"][0] for r in sms.api.requests if r.path.startswith("/2010-04-01/")]
    sms.api.requests.clear()
    return out


def _receipt(said: list[str]) -> str:
    found = [m.group(0).replace(" ", "") for m in map(RECEIPT_RE.search, said) if m]
    assert len(found) == 1, said
    return found[0]


def _forbidden(sms: SmsGateways) -> tuple[int, bytes]:
    """The common 403 (a wrong SMSSync secret), for comparison."""
    r = sms.smssync(HER, TEXT, "forged", secret="wrong-secret-0123456789")
    assert r.status_code == 403
    return r.status_code, r.data


def _stored_nothing(sms: SmsGateways) -> None:
    rows = table_rows(sms.config)
    assert rows["intake_parts"] == [] and rows["intake_seen"] == [] and rows["outbox"] == []


# -- 1. closing her case deletes her thread ----------------------------------------------


@pytest.mark.timeout(120)
def test_after_her_case_closes_her_number_starts_a_new_case(sms: SmsGateways) -> None:
    assert sms.twilio(HER, TEXT, "SMa1").status_code == 200
    (first,) = sms.flush()
    receipt = _receipt(_sent_to_her(sms))
    assert sms.twilio(HER, "bəli", "SMa2").status_code == 200
    assert _sent_to_her(sms) == [texts.opted_in("az")]
    assert len(thread_rows(sms.config)) == 1
    sms.store.service.set_case_status([first], "closed")
    # Nothing links her number to the closed case any more: no hash, no sealed address.
    assert thread_rows(sms.config) == []
    assert table_rows(sms.config)["outbox"] == []
    # Her next SMS is a new case, with a new receipt.
    assert sms.twilio(HER, "Yenə yazıram: o məni yenə hədələdi.", "SMa3").status_code == 200
    (second,) = sms.flush()
    assert second != first
    again = _receipt(_sent_to_her(sms))
    assert again != receipt
    ((_, _, source_id, *_),) = thread_rows(sms.config)
    assert source_id == second
    assert len(sms.store.service.items(first)) == 1  # the closed case keeps its report


# -- 2. SMSSync task=sent without a handed-out uuid ---------------------------------------


def _queue_smssync_answers(sms: SmsGateways) -> None:
    assert sms.smssync(HER, TEXT, "ss1").status_code == 200
    sms.flush()
    assert len(table_rows(sms.config)["outbox"]) == 2


class _Spy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, sms: SmsGateways) -> None:
        self.opened = 0
        self.commands: list[str] = []
        self.outbox_reads = 0
        real_decrypt = intake_store.decrypt_bytes
        real_command = sms.store.service._command
        real_outbox = sms.store.outbox

        def decrypt(*args: Any, **kwargs: Any) -> bytes:
            self.opened += 1
            return real_decrypt(*args, **kwargs)

        def command(name: str, args: tuple[Any, ...]) -> Any:
            self.commands.append(name)
            return real_command(name, args)

        def outbox(*args: Any, **kwargs: Any) -> Any:
            self.outbox_reads += 1
            return real_outbox(*args, **kwargs)

        monkeypatch.setattr(intake_store, "decrypt_bytes", decrypt)
        monkeypatch.setattr(sms.store.service, "_command", command)
        monkeypatch.setattr(sms.store, "outbox", outbox)

    def reset(self) -> None:
        self.opened, self.commands, self.outbox_reads = 0, [], 0


@pytest.mark.timeout(120)
def test_smssync_sent_without_a_handed_out_uuid_touches_nothing(
    sms: SmsGateways, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue_smssync_answers(sms)
    spy = _Spy(monkeypatch, sms)
    guesses = [[], [secrets.token_hex(16)], [str(uuid.uuid4()) for _ in range(50)]]
    for tokens in guesses:
        r = sms.confirm(tokens)
        assert (r.status_code, r.data) == (200, NO_UUIDS)
    assert (spy.opened, spy.outbox_reads, spy.commands) == (0, 0, [])
    assert len(table_rows(sms.config)["outbox"]) == 2


@pytest.mark.timeout(120)
def test_smssync_sent_checks_leased_rows_by_id_without_opening_them(
    sms: SmsGateways, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue_smssync_answers(sms)
    spy = _Spy(monkeypatch, sms)
    handed = json.loads(sms.poll().data)["payload"]["messages"]
    assert len(handed) == 2
    spy.reset()
    r = sms.confirm([m["uuid"] for m in handed] + ["not-a-token"])
    assert r.status_code == 200
    assert sorted(json.loads(r.data)["message_uuids"]) == sorted(m["uuid"] for m in handed)
    assert (spy.opened, spy.outbox_reads) == (0, 0)
    assert "outbox_delete" in spy.commands
    assert table_rows(sms.config)["outbox"] == []


# -- 3. 403 before 400 ---------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_unauthenticated_bad_bodies_get_the_common_403(sms: SmsGateways) -> None:
    common = _forbidden(sms)
    latin = b"from=%2B994501234567&message=Bir+m\xe6mur&message_id=1"
    form = "application/x-www-form-urlencoded"
    cases = [
        # SMSSync: a bad content type, no secret
        sms.client.post("/sms/smssync", data=b"from=x&message=y", content_type="text/plain"),
        # SMSSync: not UTF-8, without and with a wrong secret
        sms.client.post("/sms/smssync", data=latin, content_type=form),
        sms.client.post("/sms/smssync", data=latin + b"&secret=wrong", content_type=form),
        sms.client.post("/sms/smssync", data=latin, content_type=form + "; charset=iso-8859-1"),
        # SMSSync JSON scheme: not UTF-8, no secret
        sms.client.post(
            "/sms/smssync",
            data=b'{"from":"+994501234567","message":"m\xe6","message_id":"1"}',
            content_type="application/json",
        ),
        # SMSSync task=sent: no secret, a body that is not what it should be
        sms.client.post("/sms/smssync?task=sent", data=b"\xff\xfe", content_type="text/plain"),
        sms.client.post(
            "/sms/smssync?task=sent", data=b'{"queued_messages":5}', content_type="application/json"
        ),
        # SMSSync: a task it never sends, without the secret
        sms.client.post("/sms/smssync?task=reboot", data=b"x=1", content_type=form),
        # SMSSync JSON: a "secret" that is a lone surrogate (no UTF-8 form), plain and
        # with a task: no secret can match it, and nothing fails on it
        sms.client.post(
            "/sms/smssync",
            data=b'{"secret":"\\ud800","from":"+994501234567","message":"m","message_id":"1"}',
            content_type="application/json",
        ),
        sms.client.post(
            "/sms/smssync?task=foo", data=b'{"secret":"\\ud800"}', content_type="application/json"
        ),
        # Twilio: a malformed form with any signature
        sms.client.post(
            "/sms/twilio", data=latin, content_type=form, headers={"X-Twilio-Signature": "abc="}
        ),
        sms.client.post(
            "/sms/twilio",
            data=b"From=x",
            content_type="text/plain",
            headers={"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        ),
    ]
    for n, r in enumerate(cases):
        assert (r.status_code, r.data) == common, (n, r.status_code, r.data)
    _stored_nothing(sms)


@pytest.mark.timeout(120)
def test_authenticated_bad_bodies_get_a_clear_400(sms: SmsGateways) -> None:
    latin = b"from=%2B994501234567&message=Bir+m\xe6mur&message_id=1"
    form = "application/x-www-form-urlencoded"
    secret = b"&secret=" + SMSSYNC_SECRET.encode()
    signed_url_only = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_URL + "/sms/twilio", {}
    )
    cases = [
        sms.client.post("/sms/smssync", data=b"from=x" + secret, content_type="text/plain"),
        sms.client.post("/sms/smssync", data=latin + secret, content_type=form),
        sms.client.post(
            "/sms/smssync?task=sent&" + urllib.parse.urlencode({"secret": SMSSYNC_SECRET}),
            data=b"\xff\xfe",
            content_type="text/plain",
        ),
        sms.client.post(
            "/sms/smssync?task=reboot&" + urllib.parse.urlencode({"secret": SMSSYNC_SECRET}),
            data=b"x=1",
            content_type=form,
        ),
        # Twilio: signed (over the URL alone: no form parameters) but not a form
        sms.client.post(
            "/sms/twilio",
            data=b"From=x",
            content_type="text/plain",
            headers={"X-Twilio-Signature": signed_url_only},
        ),
    ]
    for n, r in enumerate(cases):
        assert r.status_code == 400, (n, r.status_code, r.data)
        assert r.headers["Content-Type"].startswith("text/plain")
        assert r.data.strip() and r.data != b"forbidden\n", n
    _stored_nothing(sms)


# -- 4. the courier checks each row just before sending ---------------------------------


class _SlowTwilio:
    """A Sender whose first send lets something happen to her case meanwhile."""

    def __init__(self, meanwhile: Any) -> None:
        self.meanwhile = meanwhile
        self.sent: list[tuple[str, str]] = []

    def send(self, address: str, text: str) -> None:
        self.sent.append((address, text))
        if len(self.sent) == 1:
            self.meanwhile()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("what", ["closed", "withdrawn", "stop", "address_gone"])
def test_nothing_more_goes_out_after_stop_or_closing_during_a_batch(
    sms: SmsGateways, what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sms.twilio(HER, TEXT, "SMc1").status_code == 200
    (source_id,) = sms.flush()
    _sent_to_her(sms)
    assert sms.twilio(HER, "bəli", "SMc2").status_code == 200
    _sent_to_her(sms)
    service = sms.store.service
    for n in range(3):
        service.place_reply(source_id, f"Hüquqşünas: cavab {n}.", "az", "leyla")
    assert len(table_rows(sms.config)["outbox"]) == 3

    def meanwhile() -> None:
        if what == "closed":
            service.set_case_status([source_id], "closed")
        elif what == "withdrawn":
            service.withdraw(source_id)
        elif what == "stop":
            assert sms.twilio(HER, "STOP", "SMc3").status_code == 200
        else:  # her sealed address went by another way (the row itself stays)
            conn = service.db.open()
            try:
                conn.execute("UPDATE channel_threads SET opt_in = 0, address = NULL")
            finally:
                conn.close()

    slow = _SlowTwilio(meanwhile)
    sms.courier.senders["twilio"] = slow
    failed: list[str] = []
    real_failed = sms.store.failed
    monkeypatch.setattr(sms.store, "failed", lambda i: (failed.append(i), real_failed(i)))
    sms.deliver()
    assert len(slow.sent) == 1 and slow.sent[0][1].startswith("Hüquqşünas")
    assert failed == [] and sms.courier._retries == {}
    assert sms.courier.skipped >= 1
    if what == "stop":  # only her confirmation is left, and it goes on the next pass
        sms.deliver()
        assert [t for _, t in slow.sent[1:]] == [texts.withdrawn("az")]


# -- 5. queued rows do not wait for ever ---------------------------------------------------


@pytest.mark.timeout(120)
def test_queued_rows_older_than_outbox_max_days_are_deleted(
    sms: SmsGateways, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = sms.store.service
    day = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(service, "_clock", lambda: day)
    # An SMSSync phone that is offline for good never fails a row: it never polls.
    assert sms.smssync(HER, TEXT, "old1").status_code == 200
    sms.flush()
    rows = table_rows(sms.config)["outbox"]
    assert len(rows) == 2 and {r[-1] for r in rows} == {"2026-03-01"}  # the day only
    commands: list[str] = []
    real_command = service._command

    def command(name: str, args: tuple[Any, ...]) -> Any:
        commands.append(name)
        return real_command(name, args)

    monkeypatch.setattr(service, "_command", command)
    assert sms.courier.outbox_max_days == 7
    monkeypatch.setattr(service, "_clock", lambda: day + dt.timedelta(days=7))
    sms.courier.prune()
    assert len(table_rows(sms.config)["outbox"]) == 2 and "checkpoint" not in commands
    monkeypatch.setattr(service, "_clock", lambda: day + dt.timedelta(days=8))
    sms.courier.prune()
    assert table_rows(sms.config)["outbox"] == []
    assert commands[-2:] == ["outbox_prune", "checkpoint"]
    assert json.loads(sms.poll().data)["payload"]["messages"] == []


@pytest.mark.timeout(60)
def test_outbox_max_days_is_a_setting(sms: SmsGateways) -> None:
    from intake import settings as intake_settings
    from securedrop_like.config import ConfigError

    section = dict(sms.config.extra["intake"])
    assert intake_settings.load_settings(sms.config).outbox_max_days == 7
    for good in (1, 14, 365):
        config = sms.config.with_changes(
            extra={**sms.config.extra, "intake": {**section, "outbox_max_days": good}}
        )
        assert intake_settings.load_settings(config).outbox_max_days == good
    for bad in (0, 366, "7", True, 7.5):
        config = sms.config.with_changes(
            extra={**sms.config.extra, "intake": {**section, "outbox_max_days": bad}}
        )
        with pytest.raises(ConfigError, match="outbox_max_days"):
            intake_settings.load_settings(config)


# -- 1b. what we keep, said plainly -----------------------------------------------------------


@pytest.mark.timeout(60)
def test_what_we_keep_is_said_honestly(sms: SmsGateways) -> None:
    from flask_babel import force_locale

    from securedrop_like import channel_notes

    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    assert "Without the key the hash does not give" not in readme
    assert "test every number and link a number to\n  an open case" in readme
    assert "her receipt" in readme and "outbox_max_days" in readme
    core = (Path(__file__).parents[2] / "docs" / "intake-core.md").read_text("utf-8")
    assert "new case with a new receipt" in core and "every number can be tested" in core
    seized = {"en": "seized our server", "az": "ələ keçirən", "ru": "захватит наш сервер"}
    for lang, words in seized.items():
        with sms.app.test_request_context(), force_locale(lang):
            kept = channel_notes.kept_here()
        said = [line for line in kept if words in line]
        assert len(said) == 2, (lang, kept)  # the fingerprint, and the queued answers
        assert any(
            ("closed" if lang == "en" else "bağlan" if lang == "az" else "закрыто") in line
            for line in said
        ), lang
