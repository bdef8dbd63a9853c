"""Uploads through the server's writer process: batches of chunks in, claimed by the
submission's insert, and a missing upload refused with its id (never a bare 500)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest

from crypto import EnvelopeContext, decrypt_stream
from securedrop_like import codenames
from securedrop_like.db import Database
from securedrop_like.derivation import Deriver
from securedrop_like.errors import MissingBlob
from securedrop_like.service import Attachment, ReportService, Submission
from securedrop_like.store import CHUNK_BYTES
from securedrop_like.writer_process import RemoteWriter, WriterProcess
from tests.conftest import Instance


@pytest.fixture
def remote_service(instance: Instance) -> Iterator[ReportService]:
    process = WriterProcess(instance.config)
    process.start()
    service = ReportService(
        instance.config,
        Database.for_config(instance.config),
        RemoteWriter(process.address, process.authkey),
    )
    yield service
    service.close()
    process.stop()


def test_uploads_from_many_threads_arrive_whole_and_a_lost_one_is_refused(
    instance: Instance, remote_service: ReportService
) -> None:
    service = remote_service
    bodies = [bytes([n]) * (CHUNK_BYTES * 5 + n) for n in range(6)]  # two batches each
    spools: list[object] = [None] * len(bodies)

    def upload(n: int) -> None:
        spool = service.spool()
        for start in range(0, len(bodies[n]), 65536):
            spool.write(bodies[n][start : start + 65536])
        spool.seek(0)
        spools[n] = spool

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    attachments = [Attachment.from_spool(s, f"f{n}", "x") for n, s in enumerate(spools)]  # type: ignore[arg-type]
    assert service.unclaimed_uploads() == {a.item_id for a in attachments}
    deriver = Deriver(instance.config)
    keys = deriver.derive(deriver.normalise(codenames.generate_codename()))
    assert service.discard_uploads([attachments[3].item_id]) == 1
    with pytest.raises(MissingBlob) as refused:
        service.create_source(keys, Submission("report", {"t": "x"}, attachments))
    assert refused.value.ids == [attachments[3].item_id]
    del attachments[3], bodies[3]
    source_id = service.create_source(keys, Submission("report", {"t": "x"}, attachments))
    files = [i for i in service.items(source_id) if i.kind == "file"]
    assert [f.id for f in files] == [a.item_id for a in attachments]
    for item, body in zip(files, bodies, strict=True):
        sink = io.BytesIO()
        with service.open_ciphertext(item) as fh:
            decrypt_stream(fh, sink, instance.reviewer_key, expected=EnvelopeContext.file(item.id))
        assert sink.getvalue() == body
    assert service.unclaimed_uploads() == set()
