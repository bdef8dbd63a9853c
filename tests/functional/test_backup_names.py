"""Backup names under rotation (issue 13): a name rotation freed earlier that day is
never taken again, so the backup just made is never the one rotation deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto import OpenPGP
from securedrop_like import backup as backup_module
from tests.conftest import Instance


@pytest.fixture
def public_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with OpenPGP(tmp_path / "gnupg") as pgp:
        fingerprint = pgp.generate_test_key("Backup Admin", "backup@example.org")
        public = tmp_path / "backup-key.asc"
        public.write_text(pgp.export_public_key(fingerprint), encoding="ascii")
    return public


def test_the_newest_backup_survives_rotation_on_a_busy_day(
    instance: Instance, public_key: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    made = []
    for _ in range(4):
        path = backup_module.backup(instance.config, out, public_key, keep=2, day="2026-03-01")
        assert path.is_file(), f"{path.name} was deleted by its own rotation"
        made.append(path.name)
    assert made == [
        "sesim-backup-2026-03-01.tar.gpg",
        "sesim-backup-2026-03-01-2.tar.gpg",
        "sesim-backup-2026-03-01-3.tar.gpg",
        "sesim-backup-2026-03-01-4.tar.gpg",
    ]
    assert sorted(p.name for p in out.iterdir()) == made[2:]
    # Another day starts again at the plain name.
    other = backup_module.backup(instance.config, out, public_key, keep=2, day="2026-03-02")
    assert other.name == "sesim-backup-2026-03-02.tar.gpg" and other.is_file()
