"""The channels' commands through the servers' writer process (marshal over a socket),
as the staff interface uses them: a reply queued for her phone, a notice for a sealed
reply, closing her case; and the intake commands themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crypto import EnvelopeContext, PrivateKey, PublicKey, encrypt_bytes
from securedrop_like.intake_store import IntakeStore
from securedrop_like.service import ReportService
from securedrop_like.store import new_id
from securedrop_like.writer_process import WriterProcess
from tests.conftest import Instance
from tests.intake.core_support import PHONE, channel_key, inbound, thread_rows

__all__ = ["channel_key"]  # fixture


@pytest.fixture
def remote(instance: Instance) -> Iterator[ReportService]:
    process = WriterProcess(instance.config)
    process.start()
    service = ReportService.open(instance.config, process.address, process.authkey)
    yield service
    service.close()
    process.stop()


@pytest.mark.timeout(120)
def test_the_channel_commands_through_the_writer_process(
    instance: Instance, remote: ReportService, channel_key: PrivateKey
) -> None:
    intake = IntakeStore(remote)  # every write through the writer process
    assert intake.add_part(inbound("report", message_id="a"))
    assert intake.add_part(inbound("report", message_id="a")) is False
    (source_id,) = intake.flush_pending(channel_key, lambda lang, receipt: [f"r {receipt}"])
    assert intake.opt_in(inbound("yes"), "ok")
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    remote.place_reply(source_id, "javab", "az", author="lawyer")
    (reply,) = intake.outbox(channel_key)
    assert (reply.text, reply.address) == ("javab", PHONE)
    intake.failed(reply.id)
    intake.delivered([reply.id])
    source = remote.source(source_id)
    reply_id = new_id()
    key = PublicKey(source.public_key)
    sealed = encrypt_bytes(b"{}", [key], context=EnvelopeContext.reply(reply_id, key))
    assert remote.store_sealed_replies([(source_id, reply_id, "lawyer", sealed)]) == 1
    (notice,) = intake.outbox(channel_key)
    assert notice.address == PHONE and notice.text
    assert remote.set_case_status([source_id], "closed") == [(source_id, "new")]
    assert intake.outbox(channel_key) == []
    assert all(r[6] is None for r in thread_rows(instance.config))
    assert intake.withdraw(inbound("stop"), "bye")
    assert intake.prune_seen() == 0
    assert [o.text for o in intake.outbox(channel_key)] == ["bye"]
