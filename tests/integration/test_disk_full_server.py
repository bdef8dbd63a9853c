"""A full disk under a real server: the writer process's SQLITE_FULL and a worker's
ENOSPC both give the translated 503 page with her text, leave nothing behind, and
the server saves the same request once space is freed — no restart."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from securedrop_like import db
from securedrop_like.config import load_config
from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance
from tests.conftest import CODENAME_RE, FAST_ARGON2, csrf_of
from tests.functional.test_disk_full import COULD_NOT_SAVE, fill, small_disk
from tests.integration.server import running_server

__all__ = ["small_disk"]  # the fixture


def _counts(home: Path) -> tuple[int, int, int]:
    conn = db.Database.for_config(load_config(home)).open()
    try:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # noqa: S608
            for t in ("items", "blobs", "blob_chunks")
        )
    finally:
        conn.close()


def test_a_full_disk_under_a_real_server(small_disk: Path, tmp_path: Path) -> None:
    config = init_instance(small_disk / "instance", dict(FAST_ARGON2))
    install_demo_reviewer(config)
    with running_server(config.home, log=tmp_path / "server.log") as base:
        s = requests.Session()
        token = csrf_of(s.get(base + "/report", timeout=10).text)
        ok = s.post(
            base + "/report", data={"csrf_token": token, "what_happened": "First."}, timeout=30
        )
        assert ok.status_code == 200 and CODENAME_RE.search(ok.text)
        s.get(base + "/lang/en", timeout=10)
        before = _counts(config.home)
        video = os.urandom(3 << 20)
        text = "Every word of this must come back."
        # Room for the upload's spool file but not for the database to take it in:
        # the writer process fails (SQLITE_FULL); then no room at all: the worker fails.
        for leave in (4 << 20, 0):
            filler = fill(small_disk, leave)
            case = s.get(base + "/case", timeout=10).text
            full = s.post(
                base + "/case/message",
                data={"csrf_token": csrf_of(case), "message": text},
                files=[("files", ("evidence.mp4", video, "video/mp4"))],
                timeout=60,
            )
            assert full.status_code == 503, (leave, full.status_code)
            assert COULD_NOT_SAVE in full.text and text in full.text
            assert _counts(config.home) == before, leave
            assert list(config.spool_dir.iterdir()) == []
            filler.unlink()
        case = s.get(base + "/case", timeout=10).text
        saved = s.post(
            base + "/case/message",
            data={"csrf_token": csrf_of(case), "message": text},
            files=[("files", ("evidence.mp4", video, "video/mp4"))],
            timeout=60,
        )
        assert saved.status_code == 200 and "/case" in saved.url
        items, blobs, _ = _counts(config.home)
        assert (items, blobs) == (before[0] + 2, before[1] + 1)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log
    # The first failure was the writer process's (the database could not grow).
    assert log.count("an upload could not be stored: StorageFull") == 1
