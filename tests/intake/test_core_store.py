"""The channels' store (securedrop_like.intake_store): parts, joining, threads, opt-in,
the outbox, withdrawal, case closing; against real SQLCipher and real crypto."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from crypto import PrivateKey
from securedrop_like import codenames, models
from securedrop_like.intake_store import IntakeStore, delivery_channel
from tests.conftest import Instance, SourceBrowser
from tests.intake.core_support import (
    PHONE,
    answers,
    channel_key,
    count,
    decrypt_items,
    flush_all,
    inbound,
    intake,
    source_channel,
    table_rows,
    thread_rows,
)

__all__ = ["channel_key", "intake"]  # fixtures


def test_a_flush_makes_a_source_the_reviewer_can_read(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    assert intake.add_part(inbound("Məmur məndən pul istədi", lang="az"))
    assert intake.add_part(inbound("ikinci hissə", lang="az"))
    assert count(instance.config, "intake_parts") == 2
    seen: list[tuple[str, str | None]] = []

    def answer(lang: str, receipt: str | None) -> list[str]:
        seen.append((lang, receipt))
        return answers(lang, receipt)

    (thread_hash,) = intake.pending_threads()
    source_id = intake.flush(thread_hash, channel_key, answer)
    assert source_id is not None
    assert intake.pending_threads() == []
    assert count(instance.config, "intake_parts") == 0
    assert source_channel(intake.service, source_id) == "sms"
    ((kind, document),) = decrypt_items(intake.service, source_id, instance.reviewer_key)
    assert kind == "report"
    assert document["text"] == "Məmur məndən pul istədi\nikinci hissə"
    assert document["lang"] == "az" and document["channel"] == "sms" and document["parts"] == 2
    assert document["attachments"] == []
    # A fresh 20-digit receipt, handed to the answers, queued to her number.
    ((lang, receipt),) = seen
    assert lang == "az" and receipt is not None
    assert codenames.looks_like_receipt(codenames.normalise(receipt))
    assert len(receipt.replace(" ", "")) == 20 and receipt.replace(" ", "").isdigit()
    queued = intake.outbox(channel_key)
    # In the order the answers gave them: her receipt first, then the YES question.
    assert [o.text for o in queued] == answers("az", receipt)
    assert {(o.address, o.provider, o.lang) for o in queued} == {(PHONE, "twilio", "az")}
    # Her thread: found by its keyed hash, no address (she did not opt in).
    ((row_hash, version, row_source, provider, lang_row, opt_in, address),) = thread_rows(
        instance.config
    )
    assert (row_hash, version, row_source) == (thread_hash, 1, source_id)
    assert (provider, lang_row, opt_in, address) == ("twilio", "az", 0, None)
    assert PHONE not in row_hash


def test_the_receipt_logs_in_on_the_source_interface(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey, source: SourceBrowser
) -> None:
    intake.add_part(inbound("Polis şöbəsində təhqir", lang="az"))
    receipts: list[str] = []

    def answer(lang: str, receipt: str | None) -> list[str]:
        assert receipt is not None
        receipts.append(receipt)
        return [receipt]

    (thread_hash,) = intake.pending_threads()
    intake.flush(thread_hash, channel_key, answer)
    response = source.login(receipts[0])
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    assert response.headers["Location"].endswith("/case")
    assert source.case()  # her case page opens
    # A wrong receipt does not.
    digits = receipts[0].replace(" ", "")
    wrong = str((int(digits) + 1) % 10**20).zfill(20)
    assert source.logout().status_code == 200
    assert source.login(wrong).status_code not in (302, 303)


def test_an_email_keeps_its_attachment_as_a_sealed_file(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    raw = b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    msg = inbound(
        "body",
        address="a@example.org",
        provider="imap",
        lang="en",
        attachments=(("message.eml", "message/rfc822", raw),),
        join=False,
    )
    assert intake.add_part(msg)
    intake.add_part(inbound("an SMS thread that waits"))
    source_id = intake.flush(intake.thread_hash(msg), channel_key, answers)
    assert source_id is not None
    assert len(intake.pending_threads()) == 1  # the SMS waits for its window
    assert source_channel(intake.service, source_id) == "email"
    opened = decrypt_items(intake.service, source_id, instance.reviewer_key)
    (report,) = [d for k, d in opened if k == "report"]
    (eml,) = [d for k, d in opened if k == "file"]
    assert eml == raw
    (listed,) = report["attachments"]
    assert (listed["name"], listed["type"], listed["size"]) == (
        "message.eml",
        "message/rfc822",
        len(raw),
    )
    items = intake.service.items(source_id)
    assert [i.kind for i in items] == ["report", "file"]
    assert items[1].parent_id == items[0].id == report_id(items)


def report_id(items: list[models.Item]) -> str:
    return next(i.id for i in items if i.kind == "report")


def test_a_replayed_message_is_stored_once(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    msg = inbound("bir dəfə", message_id="SM123")
    assert intake.add_part(msg) is True
    assert intake.add_part(msg) is False
    assert intake.add_part(inbound("başqa mətn", message_id="SM123")) is False
    assert count(instance.config, "intake_parts") == 1
    # The same id from another provider is another message.
    assert intake.add_part(inbound("x", message_id="SM123", provider="smssync"))
    (source_id,) = flush_all(intake, channel_key)
    # A replay after the flush is still refused: no second message, no second source.
    assert intake.add_part(msg) is False
    assert intake.pending_threads() == []
    assert models.count_sources(intake.service.db.reader()) == 1
    (mark_row, *_) = table_rows(instance.config)["intake_seen"]
    assert "SM123" not in mark_row[0] and len(mark_row[0]) == 64
    assert len(intake.service.items(source_id)) == 1


def test_a_known_sender_adds_a_message_to_her_source(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    intake.add_part(inbound("first"))
    (first,) = flush_all(intake, channel_key)
    intake.outbox(channel_key)  # whatever is queued
    intake.add_part(inbound("later, from another SMS gateway", provider="smssync", lang="ru"))
    receipts: list[str | None] = []

    def answer(lang: str, receipt: str | None) -> list[str]:
        receipts.append(receipt)
        return ["received"]

    (thread_hash,) = intake.pending_threads()
    assert intake.flush(thread_hash, channel_key, answer) == first
    assert receipts == [None]  # no new receipt for a known source
    kinds = [k for k, _ in decrypt_items(intake.service, first, instance.reviewer_key)]
    assert kinds == ["report", "message"]
    (row,) = thread_rows(instance.config)
    assert row[3] == "smssync" and row[4] == "ru"  # she is answered where she wrote last
    assert models.count_sources(intake.service.db.reader()) == 1
    # A different number is a different woman.
    intake.add_part(inbound("other", address="+994551112233"))
    (other,) = flush_all(intake, channel_key)
    assert other != first


def test_a_second_flush_of_the_same_thread_does_nothing(
    intake: IntakeStore, channel_key: PrivateKey
) -> None:
    intake.add_part(inbound("once"))
    intake.add_part(inbound("another", address="+994519876543"))
    assert len(intake.flush_pending(channel_key, answers)) == 2
    assert intake.flush_pending(channel_key, answers) == []
    intake.add_part(inbound("once"))
    (thread_hash,) = intake.pending_threads()
    assert intake.flush(thread_hash, channel_key, answers) is not None
    assert intake.flush(thread_hash, channel_key, answers) is None
    assert models.count_sources(intake.service.db.reader()) == 2


def opt_in_source(intake: IntakeStore, key: PrivateKey, address: str = PHONE) -> str:
    intake.add_part(inbound("report", address=address))
    (source_id,) = flush_all(intake, key)
    intake.delivered([o.id for o in intake.outbox(key)])
    assert intake.opt_in(inbound("bəli", address=address), "Cavablar bura gələcək.")
    return source_id


def test_opt_in_keeps_her_address_sealed_and_replies_reach_her(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    source_id = opt_in_source(intake, channel_key)
    ((*_, opt_in, address),) = thread_rows(instance.config)
    assert opt_in == 1 and isinstance(address, bytes) and PHONE.encode() not in address
    (confirmation,) = intake.outbox(channel_key)
    assert (confirmation.text, confirmation.address) == ("Cavablar bura gələcək.", PHONE)
    intake.delivered([confirmation.id])
    assert delivery_channel(intake.service.db.reader(), source_id) == "sms"
    intake.service.place_reply(source_id, "Sizə kömək edəcəyik.", "az", author="lawyer")
    (reply,) = intake.outbox(channel_key)
    assert (reply.text, reply.address, reply.provider, reply.lang) == (
        "Sizə kömək edəcəyik.",
        PHONE,
        "twilio",
        "az",
    )
    # The queued reply itself holds no address: it is resolved from her thread.
    ((_, row_source, _, sealed, _, _),) = table_rows(instance.config)["outbox"]
    assert row_source == source_id and PHONE.encode() not in sealed
    intake.delivered([reply.id])
    assert intake.outbox(channel_key) == []
    assert count(instance.config, "outbox") == 0


def test_without_opt_in_replies_wait_on_the_web(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    intake.add_part(inbound("report"))
    (source_id,) = flush_all(intake, channel_key)
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    assert delivery_channel(intake.service.db.reader(), source_id) is None
    intake.service.place_reply(source_id, "a reply", "az", author="lawyer")
    assert intake.outbox(channel_key) == []
    assert [i.kind for i in intake.service.items(source_id)] == ["report", "reply"]


def test_yes_from_an_unknown_sender_is_an_ordinary_part(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    assert intake.opt_in(inbound("hə"), "confirmation")
    assert thread_rows(instance.config) == []
    assert count(instance.config, "intake_parts") == 1
    assert count(instance.config, "outbox") == 0  # nothing queued but what flush answers
    (source_id,) = flush_all(intake, channel_key)
    ((_, document),) = decrypt_items(intake.service, source_id, instance.reviewer_key)
    assert document["text"] == "hə"


def test_a_replayed_yes_is_refused(intake: IntakeStore, channel_key: PrivateKey) -> None:
    opt_in_source(intake, channel_key)
    msg = inbound("yes", message_id="dup")
    assert intake.opt_in(msg, "ok")
    assert intake.opt_in(msg, "ok") is False
    assert len(intake.outbox(channel_key)) == 2  # the first YES's and this one's


def test_closing_her_case_deletes_her_address_and_her_queue(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    source_id = opt_in_source(intake, channel_key)
    intake.service.place_reply(source_id, "queued", "az", author="lawyer")
    assert len(intake.outbox(channel_key)) == 2
    changed = intake.service.set_case_status([source_id], "closed")
    assert changed == [(source_id, "new")]
    # Her whole thread goes: no keyed hash links her number to the closed case.
    assert thread_rows(instance.config) == []
    assert count(instance.config, "outbox") == 0
    intake.service.place_reply(source_id, "after closing", "az", author="lawyer")
    assert intake.outbox(channel_key) == []
    assert delivery_channel(intake.service.db.reader(), source_id) is None
    # The writer command alone (as the staff interface calls it) does the same.
    other = opt_in_source(intake, channel_key, address="+994701234567")
    intake.service.writer.command("set_case_status", ([other], "closed"))
    assert thread_rows(instance.config) == []
    # YES after her case closed does not bring her address back: it is a message
    # (of a new case, when it is joined).
    assert intake.opt_in(inbound("yes", address="+994701234567"), "ok")
    assert thread_rows(instance.config) == []
    assert count(instance.config, "intake_parts") == 1


def test_a_reply_queued_before_closing_is_dropped_at_delivery(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    source_id = opt_in_source(intake, channel_key)
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    intake.service.place_reply(source_id, "queued", "az", author="lawyer")
    # Her address goes by another way than closing (e.g. a retired thread key).
    conn = intake.service.db.open()
    try:
        conn.execute("UPDATE channel_threads SET address = NULL, opt_in = 0")
    finally:
        conn.close()
    assert intake.outbox(channel_key) == []
    assert count(instance.config, "outbox") == 0


def test_stop_withdraws_everything(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    source_id = opt_in_source(intake, channel_key)
    designation = intake.service.source(source_id).designation
    intake.service.place_reply(source_id, "queued", "az", author="lawyer")
    intake.add_part(inbound("pending, not yet joined"))
    assert intake.withdraw(inbound("STOP"), "Hamısı silindi.")
    conn = intake.service.db.reader()
    assert models.source_by_id(conn, source_id) is None
    (retraction,) = models.retractions(conn)
    assert retraction.designation == designation
    rows = table_rows(instance.config)
    assert rows["channel_threads"] == [] and rows["intake_parts"] == []
    assert rows["items"] == [] and rows["sources"] == []
    # Only the confirmation is queued, to her address, with no source.
    (confirmation,) = intake.outbox(channel_key)
    assert (confirmation.text, confirmation.address) == ("Hamısı silindi.", PHONE)
    assert rows["outbox"][0][1] is None
    # Her next message starts a new source with a new receipt.
    intake.delivered([confirmation.id])
    intake.add_part(inbound("again"))
    (new,) = flush_all(intake, channel_key)
    assert new != source_id


def test_stop_from_an_unknown_sender_writes_the_same_rows(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    msg = inbound("стоп", lang="ru", message_id="m1")
    assert intake.withdraw(msg, "Удалено.")
    assert intake.withdraw(msg, "Удалено.") is False  # a replay
    rows = table_rows(instance.config)
    assert len(rows["intake_seen"]) == 1 and len(rows["outbox"]) == 1
    assert rows["retractions"] == [] and rows["sources"] == []
    (confirmation,) = intake.outbox(channel_key)
    assert confirmation.lang == "ru" and confirmation.address == PHONE


def test_a_web_withdrawal_takes_her_thread_and_queue(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    source_id = opt_in_source(intake, channel_key)
    intake.service.withdraw(source_id)
    rows = table_rows(instance.config)
    assert rows["channel_threads"] == [] and rows["outbox"] == []


def test_failed_deliveries_are_retried_then_dropped(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    from securedrop_like.intake_store import MAX_ATTEMPTS

    intake.add_part(inbound("x"))
    flush_all(intake, channel_key)
    first, second = intake.outbox(channel_key)
    for _ in range(MAX_ATTEMPTS - 1):
        intake.failed(first.id)
    assert {o.id for o in intake.outbox(channel_key)} == {first.id, second.id}
    # The rows tried least come first.
    assert intake.outbox(channel_key, limit=1)[0].id == second.id
    intake.failed(first.id)
    assert [o.id for o in intake.outbox(channel_key)] == [second.id]
    assert intake.outbox(channel_key, provider="smssync") == []
    assert [o.id for o in intake.outbox(channel_key, provider="twilio")] == [second.id]


def test_a_flush_that_fails_stores_nothing_and_loses_nothing(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey, monkeypatch: Any
) -> None:
    intake.add_part(inbound("kept"))
    (thread_hash,) = intake.pending_threads()

    def broken(lang: str, receipt: str | None) -> list[str]:
        raise RuntimeError("the answer could not be made")

    with pytest.raises(RuntimeError):
        intake.flush(thread_hash, channel_key, broken)
    # The writer fails half-way through its transaction: rolled back.
    original = models.insert_outbox

    def failing(*args: Any) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(models, "insert_outbox", failing)
    with pytest.raises(RuntimeError):
        intake.flush(thread_hash, channel_key, answers)
    monkeypatch.setattr(models, "insert_outbox", original)
    rows = table_rows(instance.config)
    assert rows["sources"] == [] and rows["items"] == [] and rows["outbox"] == []
    assert len(rows["intake_parts"]) == 1
    assert intake.pending_threads() == [thread_hash]
    (source_id,) = flush_all(intake, channel_key)
    assert len(intake.service.items(source_id)) == 1


def test_replay_marks_are_pruned_after_thirty_days(instance: Instance, intake: IntakeStore) -> None:
    intake.add_part(inbound("x", message_id="old"))
    conn = intake.service.db.open()
    try:
        conn.execute("UPDATE intake_seen SET day = '2000-01-01'")
    finally:
        conn.close()
    intake.add_part(inbound("y", message_id="new"))
    assert intake.prune_seen() == 1
    assert count(instance.config, "intake_seen") == 1
    assert intake.add_part(inbound("x", message_id="new")) is False


def test_store_sealed_replies_queues_a_notice_in_her_language(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey, app: Any
) -> None:
    from crypto import EnvelopeContext, PublicKey, encrypt_bytes
    from securedrop_like.store import new_id

    source_id = opt_in_source(intake, channel_key)  # she wrote in az
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    source = intake.service.source(source_id)
    reply_id = new_id()
    key = PublicKey(source.public_key)
    sealed = encrypt_bytes(
        b'{"text":"secret reply"}',
        [key, instance.reviewer_key.public_key],
        context=EnvelopeContext.reply(reply_id, key),
    )
    with app.test_request_context("/"):
        assert intake.service.store_sealed_replies([(source_id, reply_id, "lawyer", sealed)]) == 1
    (notice,) = intake.outbox(channel_key)
    assert notice.address == PHONE and notice.lang == "az"
    assert "secret reply" not in notice.text
    assert notice.text.startswith("Hüquqşünas sizə cavab yazdı.")  # az, as she wrote
    assert len(notice.text) <= 134  # two UCS-2 SMS segments


def test_messages_of_two_channels_are_two_threads(
    intake: IntakeStore, channel_key: PrivateKey
) -> None:
    user = secrets.token_hex(4)
    intake.add_part(inbound("dm", address=user, provider="messenger"))
    intake.add_part(inbound("dm", address=user, provider="x"))
    assert len(intake.pending_threads()) == 2
    sources = flush_all(intake, channel_key)
    channels = sorted(source_channel(intake.service, s) for s in sources)
    assert channels == ["messenger", "x"]


def test_a_reply_is_queued_only_if_her_thread_still_takes_replies_at_the_commit(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey, monkeypatch: Any
) -> None:
    source_id = opt_in_source(intake, channel_key)
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    # Her case is closed between the service's check and the writer's commit.
    real = intake.service._command

    def closing_first(name: str, args: tuple[Any, ...]) -> Any:
        if name == "insert_reply_and_queue":
            real("set_case_status", ([source_id], "closed"))
        return real(name, args)

    monkeypatch.setattr(intake.service, "_command", closing_first)
    intake.service.place_reply(source_id, "late", "az", author="lawyer")
    assert [i.kind for i in intake.service.items(source_id)] == ["report", "reply"]
    assert count(instance.config, "outbox") == 0


def test_messages_of_a_disabled_provider_are_dropped(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    intake.add_part(inbound("a", provider="twilio"))
    intake.add_part(inbound("b", address="x-user", provider="x"))
    flush_all(intake, channel_key)
    assert {o.provider for o in intake.outbox(channel_key)} == {"twilio", "x"}
    assert intake.drop_undeliverable(["twilio", "smssync"]) == 2
    assert {o.provider for o in intake.outbox(channel_key)} == {"twilio"}
    assert intake.drop_undeliverable(["twilio"]) == 0
    assert intake.drop_undeliverable([]) == 2
    assert count(instance.config, "outbox") == 0


def test_outbox_ids_keep_their_order_within_a_batch_only() -> None:
    from securedrop_like.intake_store import ordered_ids

    batches = [ordered_ids(3) for _ in range(50)]
    for ids in batches:
        assert ids == sorted(ids) and len(set(ids)) == 3
        assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    # Across batches the prefix is random: no global order to read off the table.
    firsts = [ids[0] for ids in batches]
    assert firsts != sorted(firsts)
