"""ReportService: sources, sealed submissions and replies, withdrawal, re-keying."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from crypto import (
    ContextMismatch,
    CryptoError,
    EnvelopeContext,
    PrivateKey,
    PublicKey,
    SourceKeys,
    decrypt_bytes,
    encrypt_bytes,
    read_envelope_context,
)
from crypto.envelope import legacy_v1_encrypt_bytes
from securedrop_like import codenames, models
from securedrop_like.db import Database
from securedrop_like.derivation import Deriver
from securedrop_like.errors import MissingBlob, NotFound, NotReady
from securedrop_like.instance import init_instance
from securedrop_like.service import Attachment, ReportService, Submission, UnclaimedSweeper
from securedrop_like.store import EncryptingSpool
from tests.conftest import FAST_ARGON2, Instance


@pytest.fixture
def service(instance: Instance) -> Iterator[ReportService]:
    svc = ReportService.open(instance.config)
    yield svc
    svc.close()


@pytest.fixture
def deriver(instance: Instance) -> Deriver:
    return Deriver(instance.config)


def new_keys(deriver: Deriver) -> SourceKeys:
    return deriver.derive(deriver.normalise(codenames.generate_codename()))


def report(text: str = "At the benefits office.") -> Submission:
    return Submission("report", {"what_happened": text, "lang": "en"})


def opened(service: ReportService, item: models.Item, key: PrivateKey) -> bytes:
    """Open an item as a reviewer or the source must: expecting its own id, kind and source."""
    return decrypt_bytes(service.ciphertext(item), key, expected=service.expected_context(item))


def blobs(service: ReportService) -> dict[str, tuple[int, bool]]:
    """Every blob in the database: id -> (size, claimed)."""
    rows = service.db.reader().execute("SELECT id, size, claimed FROM blobs").fetchall()
    return {r[0]: (r[1], bool(r[2])) for r in rows}


def chunk_count(service: ReportService) -> int:
    return int(service.db.reader().execute("SELECT count(*) FROM blob_chunks").fetchone()[0])


def spooled(service: ReportService, body: bytes) -> EncryptingSpool:
    spool = service.spool()
    spool.write(body)
    spool.seek(0)
    return spool


@contextmanager
def inline_limit(instance: Instance, limit: int) -> Iterator[ReportService]:
    """A second service on the same instance that keeps ciphertexts up to ``limit`` inline."""
    svc = ReportService.open(instance.config.with_changes(inline_ciphertext_bytes=limit))
    try:
        yield svc
    finally:
        svc.close()


def test_create_source_records_her_keys_and_a_sealed_report(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    keys = new_keys(deriver)
    source_id = service.create_source(keys, report("the clerk asked"))
    source = service.source(source_id)
    assert source.lookup_id == keys.lookup_id
    assert source.public_key == keys.public_key.raw
    assert source.channel == "web" and not source.has_replies
    assert service.find_source(keys.lookup_id) == source
    [item] = service.items(source_id)
    assert (item.kind, item.seq, item.is_inline) == ("report", 1, True)
    ciphertext = service.ciphertext(item)
    assert b"the clerk asked" not in ciphertext
    assert read_envelope_context(ciphertext) == EnvelopeContext.report(item.id)
    document = json.loads(opened(service, item, instance.reviewer_key))
    assert document["what_happened"] == "the clerk asked"
    assert [document[k] for k in ("format", "v", "attachments")] == ["sesim-report", 1, []]


def test_attachments_become_file_items_listed_inside_the_sealed_report(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    spool = spooled(service, b"%PDF-1.7 a scanned complaint")
    attachment = Attachment.from_spool(spool, "complaint.pdf", "application/pdf")
    submission = report()
    submission.attachments.append(attachment)
    source_id = service.create_source(new_keys(deriver), submission)
    main, file_item = service.items(source_id)
    assert (file_item.kind, file_item.id, file_item.parent_id) == ("file", spool.item_id, main.id)
    assert not file_item.is_inline and file_item.size == spool.size
    sink = io.BytesIO()
    service.decrypt_item_to(file_item, instance.reviewer_key, sink)
    assert sink.getvalue() == b"%PDF-1.7 a scanned complaint"
    listed = json.loads(opened(service, main, instance.reviewer_key))["attachments"]
    assert listed == [
        {"id": spool.item_id, "name": "complaint.pdf", "type": "application/pdf", "size": 28}
    ]


def test_add_submission_appends_a_message_in_order(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    source_id = service.create_source(new_keys(deriver), report())
    [message_id] = service.add_submission(source_id, Submission("message", {"text": "more"}))
    items = service.items(source_id)
    assert [(i.kind, i.seq) for i in items] == [("report", 1), ("message", 2)]
    assert items[1].id == message_id
    document = json.loads(opened(service, items[1], instance.reviewer_key))
    assert document["format"] == "sesim-message"


def test_without_reviewer_keys_nothing_can_be_sealed(tmp_path: Path) -> None:
    config = init_instance(tmp_path / "bare", dict(FAST_ARGON2))
    with closing(ReportService.open(config)) as svc:
        with pytest.raises(NotReady):
            svc.recipients()
        with pytest.raises(NotReady):
            svc.spool()
        with pytest.raises(NotReady):
            svc.create_source(new_keys(Deriver(config)), report())
        assert models.count_sources(svc.db.reader()) == 0


def test_a_reply_opens_with_her_key_and_the_reviewers_but_no_other_sources(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    hers, other = new_keys(deriver), new_keys(deriver)
    source_id = service.create_source(hers, report())
    service.create_source(other, report())
    reply_id = service.place_reply(source_id, "We can help. Call us.", "en", "lawyer-1")
    reply = next(i for i in service.items(source_id) if i.id == reply_id)
    assert (reply.kind, reply.author, reply.source_read) == ("reply", "lawyer-1", False)
    for key in (hers.private_key, instance.reviewer_key):
        document = json.loads(opened(service, reply, key))
        assert document["format"] == "sesim-reply"
        assert (document["text"], document["lang"]) == ("We can help. Call us.", "en")
    with pytest.raises(CryptoError):
        opened(service, reply, other.private_key)
    assert [(r.text, r.lang) for r in service.replies(source_id, hers.private_key)] == [
        ("We can help. Call us.", "en")
    ]
    assert service.source(source_id).has_replies


def test_mark_replies_read_marks_only_the_given_items(
    service: ReportService, deriver: Deriver
) -> None:
    source_id = service.create_source(new_keys(deriver), report())
    first, second = (service.place_reply(source_id, t, "en", "l") for t in ("one", "two"))
    service.mark_replies_read(source_id, [first])
    read = {i.id: i.source_read for i in service.items(source_id)}
    assert (read[first], read[second]) == (True, False)


def test_small_ciphertexts_stay_inline_and_larger_ones_become_a_blob(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    source_id = service.create_source(new_keys(deriver), report())
    text = "x" * 3000
    first_id = service.place_reply(source_id, text, "en", "l")
    size = {i.id: i.size for i in service.items(source_id)}[first_id]
    with inline_limit(instance, size) as at_limit, inline_limit(instance, size - 1) as below:
        inline_id = at_limit.place_reply(source_id, text, "en", "l")
        file_id = below.place_reply(source_id, text, "en", "l")
    items = {i.id: i for i in service.items(source_id)}
    assert items[inline_id].is_inline and items[inline_id].size == size
    assert inline_id not in blobs(service)
    assert not items[file_id].is_inline and items[file_id].size == size
    assert blobs(service)[file_id] == (size, True)  # written and claimed with its row
    assert len(service.replies(source_id, instance.reviewer_key)) == 3


def test_withdraw_removes_her_rows_and_ciphertexts_and_leaves_a_retraction(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    keys = new_keys(deriver)
    spool = spooled(service, b"photo")
    submission = report()
    submission.attachments.append(Attachment.from_spool(spool, "p.jpg", "image/jpeg"))
    source_id = service.create_source(keys, submission)
    with inline_limit(instance, 0) as files_only:
        files_only.place_reply(source_id, "a reply kept in a file", "en", "l")
    designation = service.source(source_id).designation
    item_ids = [i.id for i in service.items(source_id)]
    files = [i.id for i in service.items(source_id) if not i.is_inline]
    assert len(item_ids) == 3 and len(files) == 2 and set(files) == set(blobs(service))
    retraction = service.withdraw(source_id)
    assert retraction.designation == designation
    assert sorted(retraction.item_ids) == sorted(item_ids)
    assert retraction.day == service.today()
    assert models.retractions(service.db.reader()) == [retraction]
    assert blobs(service) == {} and chunk_count(service) == 0
    assert service.items(source_id) == []
    assert service.find_source(keys.lookup_id) is None
    with pytest.raises(NotFound):
        service.source(source_id)
    with pytest.raises(NotFound):
        service.withdraw(source_id)


def test_delete_reply_removes_her_own_reply_and_its_ciphertext(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    source_id = service.create_source(new_keys(deriver), report())
    with inline_limit(instance, 0) as files_only:
        reply_id = files_only.place_reply(source_id, "read and deleted", "en", "l")
    assert reply_id in blobs(service)
    service.delete_reply(source_id, reply_id)
    assert [i.kind for i in service.items(source_id)] == ["report"]
    assert blobs(service) == {} and chunk_count(service) == 0


def test_delete_reply_refuses_another_sources_reply_and_her_own_report(
    service: ReportService, deriver: Deriver
) -> None:
    hers = service.create_source(new_keys(deriver), report())
    other = service.create_source(new_keys(deriver), report())
    other_reply = service.place_reply(other, "not hers", "en", "l")
    with pytest.raises(NotFound):
        service.delete_reply(hers, other_reply)
    [her_report] = service.items(hers)
    with pytest.raises(NotFound):
        service.delete_reply(hers, her_report.id)
    assert [i.id for i in service.items(other)][-1] == other_reply
    assert len(service.items(hers)) == 1


def test_rekey_works_before_a_reply_and_is_refused_after(
    service: ReportService, deriver: Deriver
) -> None:
    source_id = service.create_source(new_keys(deriver), report())
    fresh = new_keys(deriver)
    service.rekey(source_id, fresh)
    assert service.source(source_id).lookup_id == fresh.lookup_id
    service.place_reply(source_id, "sealed to the current key", "en", "l")
    with pytest.raises(NotFound):
        service.rekey(source_id, new_keys(deriver))
    assert service.source(source_id).lookup_id == fresh.lookup_id
    assert service.source(source_id).public_key == fresh.public_key.raw


def test_an_upload_is_an_unclaimed_blob_until_its_submission_claims_it(
    service: ReportService, deriver: Deriver
) -> None:
    spool = spooled(service, b"photo")
    assert blobs(service) == {spool.item_id: (spool.size, False)}
    assert service.unclaimed_uploads() == {spool.item_id}
    submission = report()
    submission.attachments.append(Attachment.from_spool(spool, "p.jpg", "image/jpeg"))
    service.create_source(new_keys(deriver), submission)
    assert blobs(service) == {spool.item_id: (spool.size, True)}
    assert service.unclaimed_uploads() == set()
    assert service.discard_uploads([spool.item_id]) == 0  # a claimed one is never deleted


@pytest.mark.parametrize("first", [True, False])
def test_a_submission_whose_upload_is_gone_is_refused_and_writes_nothing(
    service: ReportService, deriver: Deriver, first: bool
) -> None:
    source_id = None if first else service.create_source(new_keys(deriver), report())
    before = {i.id for i in service.items(source_id)} if source_id else set()
    here, gone = spooled(service, b"kept"), spooled(service, b"swept meanwhile")
    assert service.discard_uploads([gone.item_id]) == 1
    submission = Submission("message", {"text": "with two files"})
    for spool in (here, gone):
        submission.attachments.append(Attachment.from_spool(spool, "f", "text/plain"))
    with pytest.raises(MissingBlob) as refused:
        if source_id is None:
            service.create_source(new_keys(deriver), submission)
        else:
            service.add_submission(source_id, submission)
    assert refused.value.ids == [gone.item_id]
    if source_id is None:
        assert models.count_sources(service.db.reader()) == 0
    else:
        assert {i.id for i in service.items(source_id)} == before
    assert service.unclaimed_uploads() == {here.item_id}  # still hers to send again


def test_sweep_unclaimed_spares_what_sessions_keep(service: ReportService) -> None:
    abandoned = spooled(service, b"abandoned")
    kept = spooled(service, b"still in a session")
    assert service.sweep_unclaimed(keep={kept.item_id}) == 1
    assert set(blobs(service)) == {kept.item_id}
    assert abandoned.item_id not in service.unclaimed_uploads()


def test_the_sweeper_deletes_only_what_two_runs_in_a_row_found_unclaimed_and_unkept(
    instance: Instance, service: ReportService, deriver: Deriver
) -> None:
    opened_services: list[ReportService] = []

    def open_service() -> ReportService:
        opened_services.append(ReportService.open(instance.config))
        return opened_services[-1]

    sweeper = UnclaimedSweeper(open_service)
    stale = spooled(service, b"abandoned")
    in_flight = spooled(service, b"her submission is on its way")
    kept = spooled(service, b"kept for her form")
    assert sweeper.run(keep={kept.item_id}) == 0  # the first run only marks
    submission = report()
    submission.attachments.append(Attachment.from_spool(in_flight, "f", "text/plain"))
    service.create_source(new_keys(deriver), submission)  # claimed between two runs
    late = spooled(service, b"arrived after the first run")
    assert sweeper.run(keep={kept.item_id}) == 1
    assert set(blobs(service)) == {in_flight.item_id, kept.item_id, late.item_id}
    # Her session ended: what it kept goes after two more runs, not one.
    assert sweeper.run(keep=set()) == 1  # the late upload, seen twice now
    assert kept.item_id in blobs(service)
    assert sweeper.run(keep=set()) == 1
    assert set(blobs(service)) == {in_flight.item_id}
    assert stale.item_id not in blobs(service)
    # Every run opened its own service and closed it (nothing stays open in a master).
    assert len(opened_services) == 4


def test_decrypt_item_to_returns_the_plaintext_bytes_written(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    source_id = service.create_source(new_keys(deriver), report())
    [item] = service.items(source_id)
    sink = io.BytesIO()
    assert service.decrypt_item_to(item, instance.reviewer_key, sink) == len(sink.getvalue())


def test_days_come_from_the_injected_clock(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    fixed = dt.datetime(2030, 1, 2, 23, 59, tzinfo=dt.UTC)
    clocked = ReportService(instance.config, service.db, service.writer, lambda: fixed)
    assert clocked.today() == "2030-01-02"
    source_id = clocked.create_source(new_keys(deriver), report())
    source = clocked.source(source_id)
    assert (source.created_day, source.activity_day) == ("2030-01-02", "2030-01-02")
    assert [i.day for i in clocked.items(source_id)] == ["2030-01-02"]


def test_a_partial_upload_is_deleted_even_when_the_disk_was_too_full_to_delete_it(
    instance: Instance, service: ReportService, deriver: Deriver
) -> None:
    """The disk fills in the middle of an upload and deleting its first batches fails
    too: the next submission deletes them (the master's sweep is only the backstop)."""
    real = service.writer

    class FillingUp:
        full = True
        puts = 0

        def command(self, name: str, args: tuple[object, ...]) -> object:
            if name == "put_blob":
                self.puts += 1
                if self.full and self.puts > 1:
                    raise OSError(28, "No space left on device")
            if name == "discard_uploads" and self.full:
                raise OSError(28, "No space left on device")
            return real.command(name, args)

        def close(self) -> None:
            real.close()

    writer = FillingUp()
    flaky = ReportService(instance.config, service.db, writer)
    spool = spooled(flaky, b"v" * (5 << 20))  # several batches
    assert spool.failed and not spool.ingested
    assert flaky.unclaimed_uploads() == {spool.item_id}  # the first batch is there
    writer.full = False  # space is freed
    flaky.create_source(new_keys(deriver), report())
    assert flaky.unclaimed_uploads() == set() and chunk_count(flaky) == 0


def _vacuum_day(service: ReportService) -> str | None:
    row = (
        service.db.reader()
        .execute("SELECT value FROM housekeeping WHERE key = 'vacuum_day'")
        .fetchone()
    )
    return None if row is None else str(row[0])


def test_her_submissions_never_start_the_vacuum(
    instance: Instance, service: ReportService, deriver: Deriver
) -> None:
    """M3: maintenance started by her write would stamp its time on the disk."""
    keys = new_keys(deriver)
    source_id = service.create_source(keys, report())
    service.add_submission(source_id, Submission("message", {"text": "more"}))
    for thread in threading.enumerate():  # main's VACUUM ran in a thread of its own
        if thread is not threading.current_thread() and thread.name == "sesim-vacuum":
            thread.join(30)
    assert _vacuum_day(service) is None


def test_the_vacuum_runs_once_a_day_and_is_skipped_above_the_size_limit(
    instance: Instance, service: ReportService
) -> None:
    now = [dt.datetime(2030, 5, 1, 0, 0, 1, tzinfo=dt.UTC)]
    clocked = ReportService(instance.config, service.db, service.writer, lambda: now[0])
    assert clocked.vacuum() == "ran"  # the first of 1 May
    assert clocked.vacuum() == "already"
    other = ReportService(instance.config, service.db, service.writer, lambda: now[0])
    assert other.vacuum() == "already"  # another process: the database remembers
    now[0] = dt.datetime(2030, 5, 2, 0, 0, 1, tzinfo=dt.UTC)
    small = instance.config.with_changes(daily_vacuum_max_bytes=4096)
    capped = ReportService(small, service.db, service.writer, lambda: now[0])
    assert capped.vacuum() == "too_big"
    assert _vacuum_day(service) == "2030-05-02"  # recorded: no retry all day
    assert capped.vacuum() == "already"
    assert capped.vacuum(force=True) == "ran"  # `sesim vacuum`


def test_the_sweeper_can_wait_more_runs_for_long_requests(
    instance: Instance, service: ReportService
) -> None:
    sweeper = UnclaimedSweeper(lambda: ReportService.open(instance.config), runs=3)
    upload = spooled(service, b"the first file of a long form")
    assert [sweeper.run(), sweeper.run()] == [0, 0]
    assert sweeper.run() == 1
    assert upload.item_id not in blobs(service)
    with pytest.raises(ValueError):
        UnclaimedSweeper(lambda: service, runs=1)


# -- the envelope binds each ciphertext to its item (issue 8) ---------------------------


def _swap_inline(instance: Instance, first: str, second: str) -> None:
    """What an attacker with the database (or a bug) could do: exchange two items'
    ciphertexts, here kept inline in their rows."""
    with closing(Database.for_config(instance.config).open()) as conn, conn:
        a, b = (models.inline_ciphertext(conn, i) for i in (first, second))
        assert a is not None and b is not None
        conn.execute("UPDATE items SET inline = ? WHERE id = ?", (b, first))
        conn.execute("UPDATE items SET inline = ? WHERE id = ?", (a, second))


def _swap_blobs(instance: Instance, first: str, second: str) -> None:
    """The same for two ciphertexts kept as chunked blobs (one chunk each)."""
    with closing(Database.for_config(instance.config).open()) as conn, conn:
        rows = {
            i: conn.execute(
                "SELECT b.size, b.sha256, c.data FROM blobs b JOIN blob_chunks c"
                " ON c.blob_id = b.id WHERE b.id = ?",
                (i,),
            ).fetchall()
            for i in (first, second)
        }
        assert all(len(r) == 1 for r in rows.values())  # one chunk each
        for target, source in ((first, second), (second, first)):
            size, sha, data = rows[source][0]
            conn.execute("UPDATE blobs SET size = ?, sha256 = ? WHERE id = ?", (size, sha, target))
            conn.execute("UPDATE blob_chunks SET data = ? WHERE blob_id = ?", (data, target))


def _set_inline(instance: Instance, item_id: str, ciphertext: bytes) -> None:
    with closing(Database.for_config(instance.config).open()) as conn, conn:
        conn.execute("UPDATE items SET inline = ? WHERE id = ?", (ciphertext, item_id))


def test_a_report_moved_to_another_item_does_not_open_for_the_reviewer(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    first = service.create_source(new_keys(deriver), report("hers"))
    second = service.create_source(new_keys(deriver), report("someone else's"))
    [a], [b] = service.items(first), service.items(second)
    [message_id] = service.add_submission(first, Submission("message", {"text": "later"}))
    message = next(i for i in service.items(first) if i.id == message_id)
    assert json.loads(opened(service, a, instance.reviewer_key))["what_happened"] == "hers"
    _swap_inline(instance, a.id, b.id)  # another source's report: same kind, other id
    for item in (a, b):
        with pytest.raises(ContextMismatch, match="another item"):
            opened(service, item, instance.reviewer_key)
        with pytest.raises(ContextMismatch):
            service.decrypt_item_to(item, instance.reviewer_key, io.BytesIO())
    _swap_inline(instance, a.id, b.id)
    _swap_inline(instance, a.id, message.id)  # the same source, another kind
    with pytest.raises(ContextMismatch, match="another kind"):
        opened(service, message, instance.reviewer_key)


def test_a_file_moved_to_another_files_blob_does_not_open_for_the_reviewer(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    items = []
    for body in (b"first scan", b"second scan"):
        spool = spooled(service, body)
        submission = report()
        submission.attachments.append(Attachment.from_spool(spool, "a.pdf", "application/pdf"))
        source_id = service.create_source(new_keys(deriver), submission)
        items.append(next(i for i in service.items(source_id) if i.kind == "file"))
    sink = io.BytesIO()
    service.decrypt_item_to(items[0], instance.reviewer_key, sink)
    assert sink.getvalue() == b"first scan"
    _swap_blobs(instance, items[0].id, items[1].id)
    for item in items:
        with pytest.raises(ContextMismatch, match="another item"):
            service.decrypt_item_to(item, instance.reviewer_key, io.BytesIO())


def test_a_reply_moved_to_another_reply_does_not_open_and_shows_as_unreadable(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    hers = new_keys(deriver)
    source_id = service.create_source(hers, report())
    first = service.place_reply(source_id, "First answer.", "en", "l")
    second = service.place_reply(source_id, "Second answer.", "en", "l")
    replies = {r.item.id: r for r in service.replies(source_id, hers.private_key)}
    assert (replies[first].text, replies[first].readable) == ("First answer.", True)
    _swap_inline(instance, first, second)  # both sealed to her: only the binding tells
    for item in (i for i in service.items(source_id) if i.kind == "reply"):
        for key in (hers.private_key, instance.reviewer_key):
            with pytest.raises(ContextMismatch, match="another item"):
                opened(service, item, key)
    got = service.replies(source_id, hers.private_key)
    assert [(r.item.id, r.readable, r.text) for r in got] == [
        (first, False, ""),
        (second, False, ""),
    ]


def test_a_reply_moved_to_another_source_does_not_open_for_the_reviewer(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    hers, other = new_keys(deriver), new_keys(deriver)
    source_id = service.create_source(hers, report())
    other_id = service.create_source(other, report())
    mine = service.place_reply(source_id, "For her.", "en", "l")
    theirs = service.place_reply(other_id, "For the other.", "en", "l")
    _swap_inline(instance, mine, theirs)
    for source, reply_id in ((source_id, mine), (other_id, theirs)):
        item = next(i for i in service.items(source) if i.id == reply_id)
        with pytest.raises(ContextMismatch):
            opened(service, item, instance.reviewer_key)
    # She cannot open the other woman's reply at all; her page says so, it does not fail.
    [reply] = service.replies(source_id, hers.private_key)
    assert (reply.item.id, reply.readable) == (mine, False)


def test_a_reply_bound_to_another_source_under_its_own_id_does_not_open(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    """Sealed to her, with the right id, but naming another source's key."""
    hers, other = new_keys(deriver), new_keys(deriver)
    source_id = service.create_source(hers, report())
    reply_id = service.place_reply(source_id, "placeholder", "en", "l")
    forged = encrypt_bytes(
        b'{"text":"moved","lang":"en"}',
        [hers.public_key, *service.recipients()],
        context=EnvelopeContext.reply(reply_id, other.public_key),
    )
    _set_inline(instance, reply_id, forged)
    [item] = [i for i in service.items(source_id) if i.kind == "reply"]
    for key in (hers.private_key, instance.reviewer_key):
        with pytest.raises(ContextMismatch, match="another source"):
            opened(service, item, key)
    assert [r.readable for r in service.replies(source_id, hers.private_key)] == [False]


def test_version_1_items_written_before_the_binding_still_open(
    service: ReportService, deriver: Deriver, instance: Instance
) -> None:
    hers = new_keys(deriver)
    source_id = service.create_source(hers, report())
    reply_id = service.place_reply(source_id, "placeholder", "en", "l")
    [main] = [i for i in service.items(source_id) if i.kind == "report"]
    reviewers = service.recipients()
    _set_inline(instance, main.id, legacy_v1_encrypt_bytes(b'{"what":"from 2025"}', reviewers))
    old_reply = b'{"format":"sesim-reply","v":1,"text":"An old answer.","lang":"az"}'
    _set_inline(
        instance, reply_id, legacy_v1_encrypt_bytes(old_reply, [hers.public_key, *reviewers])
    )
    sink = io.BytesIO()
    service.decrypt_item_to(main, instance.reviewer_key, sink)
    assert json.loads(sink.getvalue()) == {"what": "from 2025"}
    [reply] = service.replies(source_id, hers.private_key)
    assert (reply.item.id, reply.text, reply.lang, reply.readable) == (
        reply_id,
        "An old answer.",
        "az",
        True,
    )


def test_everything_the_service_writes_is_bound_to_its_item(
    service: ReportService, deriver: Deriver
) -> None:
    hers = new_keys(deriver)
    spool = spooled(service, b"photo")
    submission = report()
    submission.attachments.append(Attachment.from_spool(spool, "p.jpg", "image/jpeg"))
    source_id = service.create_source(hers, submission)
    service.add_submission(source_id, Submission("message", {"text": "more"}))
    service.place_reply(source_id, "An answer.", "en", "l")
    items = service.items(source_id)
    assert sorted(i.kind for i in items) == ["file", "message", "reply", "report"]
    for item in items:
        ciphertext = service.ciphertext(item)
        assert ciphertext[8:10] == b"\x00\x02", item.kind  # envelope version 2
        assert read_envelope_context(ciphertext) == service.expected_context(item)
    [reply] = [i for i in items if i.kind == "reply"]
    assert service.expected_context(reply) == EnvelopeContext.reply(
        reply.id, PublicKey(hers.public_key.raw)
    )


def test_replies_of_a_source_deleted_meanwhile_are_none(
    service: ReportService, deriver: Deriver
) -> None:
    hers = new_keys(deriver)
    source_id = service.create_source(hers, report())
    service.place_reply(source_id, "An answer.", "en", "l")
    service.delete_source(source_id)
    assert service.replies(source_id, hers.private_key) == []
