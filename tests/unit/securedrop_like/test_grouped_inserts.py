"""Grouped inserts: many messages in one statement, and one vanished source fails alone."""

from __future__ import annotations

from securedrop_like import models
from securedrop_like.service import ReportService
from securedrop_like.writer import _Job
from tests.conftest import Instance


def _source(service: ReportService, n: int) -> str:
    return service.writer.run(
        lambda conn: models.insert_source(
            conn, lookup_id=f"{n:064x}", public_key=bytes(32), day="2026-11-01"
        )
    )


def _message(size: int = 10) -> list[models.NewItem]:
    return [models.NewItem("message", size, inline=b"x" * size)]


def test_a_batch_of_messages_gets_consecutive_sequence_numbers(instance: Instance) -> None:
    service = ReportService.open(instance.config)
    try:
        a, b = _source(service, 1), _source(service, 2)
        args = [
            (a, "2026-11-02", _message()),
            (b, "2026-11-02", _message()),
            (a, "2026-11-03", _message() + _message()),
        ]
        jobs = [_Job(None, True, models.insert_items_many, arg) for arg in args]
        service.writer._commit(jobs)  # noqa: SLF001 - one deterministic batch
        assert all(job.error is None for job in jobs)
        assert [i.seq for i in service.items(a)] == [1, 2, 3]
        assert [i.seq for i in service.items(b)] == [1]
        assert service.source(a).activity_day == "2026-11-03"
        assert models.source_by_id(service.db.reader(), a).has_replies is False  # type: ignore[union-attr]
    finally:
        service.close()


def test_a_vanished_source_fails_alone_and_the_rest_of_the_batch_commits(
    instance: Instance,
) -> None:
    service = ReportService.open(instance.config)
    try:
        a = _source(service, 1)
        jobs = [
            _Job(None, True, models.insert_items_many, (a, "2026-11-02", _message())),
            _Job(None, True, models.insert_items_many, ("0" * 32, "2026-11-02", _message())),
            _Job(None, True, models.insert_items_many, (a, "2026-11-02", _message())),
        ]
        service.writer._commit(jobs)  # noqa: SLF001
        assert isinstance(jobs[1].error, LookupError)
        assert jobs[0].error is None and jobs[2].error is None
        assert [i.seq for i in service.items(a)] == [1, 2]
    finally:
        service.close()
