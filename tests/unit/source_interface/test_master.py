"""The server master's sweeps for the source interface (source_interface/master.py).

A quiet server must not keep an expired session's secrets or files until the
slot happens to be reused, and must not delete an upload still on its way.
"""

from __future__ import annotations

import io

from flask import Flask

from securedrop_like.service import ReportService
from securedrop_like.shared_sessions import ServerShared
from source_interface import master
from tests.conftest import Instance, SourceBrowser
from tests.unit.conftest import Clock

IDLE = 30 * 60  # the source's default idle limit, in seconds


def _fail_with_a_file(source: SourceBrowser, name: str) -> None:
    """A report form that fails its check keeps her file for her session."""
    response = source.client.post(
        "/report",
        data={"csrf_token": source.token(), "files": [(io.BytesIO(b"%PDF evidence"), name)]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400


def _service(instance: Instance) -> ReportService:
    return ReportService.open(instance.config)


def test_the_session_sweep_zeroes_expired_slots_and_deletes_what_they_kept(
    instance: Instance, shared_app: Flask, shared: ServerShared, clock: Clock
) -> None:
    her = SourceBrowser(shared_app.test_client())
    codename = her.report_and_get_codename("Something happened.")
    waiting = SourceBrowser(shared_app.test_client())
    _fail_with_a_file(waiting, "complaint.pdf")
    service = shared_app.extensions["sesim"].service
    assert len(service.unclaimed_uploads()) == 1
    assert master.sweep_sessions(instance.config, shared, lambda: _service(instance), clock) == 0

    clock.now += IDLE + 1
    assert master.sweep_sessions(instance.config, shared, lambda: _service(instance), clock) == 2
    memory = bytes(shared.segment.memory)
    assert memory[64:] == bytes(len(memory) - 64)  # every slot zeroed
    assert codename.encode() not in memory
    assert service.unclaimed_uploads() == set()  # her kept file went with her session
    assert her.client.get("/codename").status_code == 303


def test_an_upload_is_deleted_only_after_three_runs_unclaimed_and_unkept(
    instance: Instance, shared_app: Flask, shared: ServerShared, clock: Clock
) -> None:
    kept_for_her = SourceBrowser(shared_app.test_client())
    _fail_with_a_file(kept_for_her, "kept.pdf")
    service = shared_app.extensions["sesim"].service
    [kept] = service.unclaimed_uploads()
    # An upload on its way: ingested, not yet claimed, in no session.
    spool = service.spool()
    spool.write(b"a photo still arriving")
    spool.finish()
    spool.ingest_now()
    in_flight = spool.item_id
    assert service.unclaimed_uploads() == {kept, in_flight}
    assert master.kept_upload_ids(instance.config, shared, clock) == {kept}

    tasks = master.server_tasks(instance.config, clock)
    [(every_s, sessions_task), (every_u, uploads_task)] = tasks
    assert every_s <= 60 and every_u * (master.UPLOAD_SWEEP_RUNS - 1) >= 15 * 60
    for _ in range(master.UPLOAD_SWEEP_RUNS - 1):
        uploads_task(shared)
        sessions_task(shared)  # nothing expired: nothing happens
    assert service.unclaimed_uploads() == {kept, in_flight}  # a slow request still has time
    uploads_task(shared)
    assert service.unclaimed_uploads() == {kept}  # the session's file is spared
    assert kept_for_her.report("Now with what happened.").status_code == 200


def test_before_start_every_unclaimed_upload_goes(instance: Instance, app: Flask) -> None:
    source = SourceBrowser(app.test_client())
    _fail_with_a_file(source, "left.pdf")
    assert len(app.extensions["sesim"].service.unclaimed_uploads()) == 1
    assert master.sweep_before_start(instance.config) == 1
    assert app.extensions["sesim"].service.unclaimed_uploads() == set()
