"""Readers for the known-answer files in ``data/`` (see data/make_vectors.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Argon2Vector:
    codename: str
    salt: bytes
    opslimit: int
    memlimit: int
    lookup_id: str
    public_key: bytes


def argon2_vectors() -> list[Argon2Vector]:
    vectors = []
    for line in (DATA / "argon2id_source_keys.txt").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        codename, salt, ops, mem, lookup_id, public = line.split("\t")
        vectors.append(
            Argon2Vector(
                codename, bytes.fromhex(salt), int(ops), int(mem), lookup_id, bytes.fromhex(public)
            )
        )
    return vectors


def envelope_vectors(version: int = 1) -> list[dict[str, str]]:
    """Blocks of ``key = value`` lines separated by blank lines."""
    text = (DATA / f"envelope_v{version}.txt").read_text(encoding="utf-8")
    vectors = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            assert sep, f"bad vector line {line[:40]!r}"
            fields[key.strip()] = value.strip()
        if fields:
            vectors.append(fields)
    return vectors
