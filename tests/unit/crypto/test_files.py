"""crypto.new_private_file: the one helper for "a new 0600 file, never overwrite"."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crypto import new_private_file


def test_a_new_file_is_0600_whatever_the_umask(tmp_path: Path, permissive_umask: None) -> None:
    with new_private_file(tmp_path / "b") as handle:
        assert stat.S_IMODE(os.fstat(handle.fileno()).st_mode) == 0o600
        handle.write(b"\x00secret")
    with new_private_file(tmp_path / "t", encoding="utf-8") as handle:
        handle.write("sirr ə\n")
    assert (tmp_path / "b").read_bytes() == b"\x00secret"
    assert (tmp_path / "t").read_text(encoding="utf-8") == "sirr ə\n"
    for name in ("b", "t"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_a_wider_mode_only_once_complete(tmp_path: Path, permissive_umask: None) -> None:
    with new_private_file(tmp_path / "pub", mode=0o644) as handle:
        assert stat.S_IMODE(os.fstat(handle.fileno()).st_mode) == 0o600
        handle.write(b"public")
    assert stat.S_IMODE((tmp_path / "pub").stat().st_mode) == 0o644


def test_never_overwrites_nor_follows_a_symlink(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError), new_private_file(existing) as handle:
        handle.write(b"overwritten")
    assert existing.read_bytes() == b"keep me"
    target = tmp_path / "target"
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(FileExistsError), new_private_file(tmp_path / "link") as handle:
        handle.write(b"through the link")
    assert not target.exists()


def test_a_failure_while_writing_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "half"
    with pytest.raises(RuntimeError), new_private_file(path) as handle:
        handle.write(b"half of a key")
        raise RuntimeError("disk went away")
    assert not path.exists()


def test_the_descriptor_is_not_inherited(tmp_path: Path) -> None:
    with new_private_file(tmp_path / "f") as handle:
        assert not os.get_inheritable(handle.fileno())
