"""A workstation home with cheap Argon2id costs (the suite sets the weak-KDF flag)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from journalist_interface.workstation import keys
from journalist_interface.workstation.casestore import CaseStore

PASSPHRASE = "correct horse battery staple"
WEAK = {"opslimit": 1, "memlimit": 8 * 1024 * 1024}


def make_home(path: Path, name: str = "Aysel") -> keys.KeyInfo:
    return keys.init_home(path, PASSPHRASE, name=name, **WEAK)


@pytest.fixture
def ws_home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    make_home(home)
    return home


@pytest.fixture
def unlocked(ws_home: Path) -> Iterator[keys.Unlocked]:
    with keys.unlock(ws_home, PASSPHRASE) as opened:
        yield opened


@pytest.fixture
def store(ws_home: Path, unlocked: keys.Unlocked) -> Iterator[CaseStore]:
    with CaseStore.open(ws_home, unlocked) as opened:
        yield opened
