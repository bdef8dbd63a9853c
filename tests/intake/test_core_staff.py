"""Closing a case in the staff interface (one source and in bulk) deletes her sealed
channel address and her queue, so nothing more reaches her phone."""

from __future__ import annotations

from typing import Any

from crypto import PrivateKey
from securedrop_like.intake_store import IntakeStore, delivery_channel
from tests.conftest import Instance
from tests.functional.test_staff_actions import _post, staff
from tests.intake.core_support import (
    channel_key,
    flush_all,
    inbound,
    intake,
    table_rows,
    thread_rows,
)

__all__ = ["channel_key", "intake", "staff"]  # fixtures


def opted_in(intake: IntakeStore, key: PrivateKey, address: str) -> str:
    intake.add_part(inbound("report", address=address))
    (source_id,) = flush_all(intake, key)
    assert intake.opt_in(inbound("yes", address=address), "ok")
    intake.service.place_reply(source_id, "queued reply", "az", author="lawyer")
    return source_id


def test_closing_a_case_in_the_staff_interface_forgets_her_address(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey, staff: Any
) -> None:
    _app, client, _accounts = staff
    one = opted_in(intake, channel_key, "+994501110000")
    two = opted_in(intake, channel_key, "+994501110001")
    three = opted_in(intake, channel_key, "+994501110002")
    assert _post(client, f"/sources/{one}/status", status="closed").status_code == 303
    kept = {r[2]: r[6] for r in thread_rows(instance.config)}  # her whole thread goes
    assert one not in kept and kept[two] is not None and kept[three] is not None
    assert {r[1] for r in table_rows(instance.config)["outbox"]} == {two, three}
    response = _post(client, "/sources/bulk", action="status", status="closed", source=[two])
    assert response.status_code == 303
    kept = {r[2]: r[6] for r in thread_rows(instance.config)}
    assert set(kept) == {three} and kept[three] is not None
    assert {r[1] for r in table_rows(instance.config)["outbox"]} == {three}
    conn = intake.service.db.reader()
    assert delivery_channel(conn, one) is None and delivery_channel(conn, three) == "sms"
    # Another status does not touch it.
    assert _post(client, f"/sources/{three}/status", status="referred").status_code == 303
    assert delivery_channel(conn, three) == "sms"
