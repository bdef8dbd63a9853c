"""A full disk: a translated "could not save" page (503) with her text kept, nothing
left behind, and the same request works once space is freed, without a restart.

The instance lives on a small tmpfs mounted for the test (root only), so the
disk really fills: the upload's spool file, the database's WAL, everything.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance
from tests.conftest import FAST_ARGON2, SourceBrowser

COULD_NOT_SAVE = "We could not save this. Nothing was sent. Please try again later."


@pytest.fixture
def small_disk() -> Iterator[Path]:
    # A short path: the writer process's Unix socket lives inside the instance.
    mount = Path(tempfile.mkdtemp(prefix="sesim-disk-"))
    if os.geteuid() != 0:
        mount.rmdir()
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


@pytest.fixture
def full_app(small_disk: Path) -> Iterator[Flask]:
    from source_interface import create_app

    config = init_instance(small_disk / "instance", dict(FAST_ARGON2))
    install_demo_reviewer(config)
    application = create_app(config, TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


def fill(disk: Path, leave: int = 0) -> Path:
    """Take every free byte of the disk with one file, then give back ``leave`` bytes."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for size in (1 << 20, 4096, 512, 1):
            block = bytes(size)
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return filler


def state(app: Flask) -> tuple[int, int, list[str]]:
    service = app.extensions["sesim"].service
    conn = service.db.reader()
    items = int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    blobs = int(conn.execute("SELECT count(*) FROM blob_chunks").fetchone()[0])
    spool = sorted(p.name for p in service.config.spool_dir.iterdir())
    return items, blobs, spool


@pytest.mark.parametrize("with_file", [True, False])
def test_a_full_disk_gets_a_translated_page_keeps_her_text_and_recovers(
    full_app: Flask, small_disk: Path, with_file: bool
) -> None:
    source = SourceBrowser(full_app.test_client())
    source.report_and_get_codename("First report, saved while there was room.")
    source.client.get("/lang/en")
    service = full_app.extensions["sesim"].service
    service.writer.command("checkpoint", ())  # the WAL must grow for the next write
    before = state(full_app)
    files = [(os.urandom(3 << 20), "evidence.mp4")] if with_file else None
    filler = fill(small_disk)

    response = source.send_message("Every word of this must come back.", files=files)
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert COULD_NOT_SAVE in html
    assert "Every word of this must come back." in html
    assert state(full_app) == before  # no item, no chunk, no spool file left behind
    assert service.unclaimed_uploads() == set()

    filler.unlink()  # an admin frees space; no restart
    again = source.send_message("Every word of this must come back.", files=files)
    assert again.status_code == 303
    items, _, spool = state(full_app)
    assert items == before[0] + (2 if with_file else 1) and spool == []


def test_the_page_is_translated(full_app: Flask, small_disk: Path) -> None:
    source = SourceBrowser(full_app.test_client())
    source.client.get("/lang/ru")
    filler = fill(small_disk)
    try:
        response = source.report("Текст остаётся.", files=[(os.urandom(1 << 20), "a.jpg")])
    finally:
        filler.unlink()
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Нам не удалось это сохранить." in html and "Текст остаётся." in html


def test_any_other_write_on_a_full_disk_gets_the_same_page_not_a_500(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from securedrop_like.errors import StorageFull

    source = SourceBrowser(app.test_client())
    source.report_and_get_codename()
    source.client.get("/lang/en")

    def full(*args: object) -> None:
        raise StorageFull()

    monkeypatch.setattr(app.extensions["sesim"].service, "withdraw", full)
    response = source.client.post(
        "/case/withdraw", data={"csrf_token": source.token("/case"), "confirm": "yes"}
    )
    assert response.status_code == 503
    assert COULD_NOT_SAVE in response.get_data(as_text=True)
