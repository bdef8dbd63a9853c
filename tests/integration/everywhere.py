"""Search everywhere a seized server keeps bytes for secrets, in every encoding code might use.

``find_everywhere(needles, places)`` answers one line per hit, naming the
place, the thing found and how it was encoded. Needles are made from what
must never be found (:func:`text_needles` for typed text, :func:`secret_needles`
for keys and ids); places are what an attacker would read:

- :class:`Folder`: every regular file under a folder, raw (the instance
  folder, temp folders); :class:`File`: one file, raw (a server's log);
- :class:`Database`: a SQLCipher database opened with its key — its full dump
  and every BLOB value — since the raw file is encrypted page by page and a
  plaintext column would pass a raw search unseen;
- :class:`Snapshot`: bytes taken from somewhere else (a process's session
  memory, see ``memory.py``).
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

from securedrop_like.db import connect

# sqlcipher3's connections have no iterdump(); this is the function sqlite3's
# Connection.iterdump() runs, which only needs a DB-API connection.
_iterdump: Callable[[Any], Iterator[str]] = importlib.import_module("sqlite3.dump")._iterdump


@dataclass(frozen=True)
class Needle:
    label: str  # what it is and how it is encoded, for the hit's description
    data: bytes


def _base64_cores(raw: bytes) -> Iterator[tuple[str, bytes]]:
    """Base64 (standard and URL-safe) of ``raw`` at each of the three alignments it can
    start at inside longer data, minus the edge characters that depend on what is
    around it."""
    for shift in range(3):
        core = base64.b64encode(b"\x00" * shift + raw)[4:-4]
        yield f"base64 at offset {shift}", core
        urlsafe = core.translate(bytes.maketrans(b"+/", b"-_"))
        if urlsafe != core:
            yield f"base64url at offset {shift}", urlsafe


def text_needles(label: str, text: str) -> list[Needle]:
    """``text`` as UTF-8, UTF-16 (LE and BE) and base64 of its UTF-8 at each alignment;
    if it is not plain ASCII, also as JSON writes it by default (``\\u015e``) and
    percent-encoded (a form body or URL), both ASCII."""
    utf8 = text.encode()
    needles = [
        Needle(f"{label} (UTF-8)", utf8),
        Needle(f"{label} (UTF-16-LE)", text.encode("utf-16-le")),
        Needle(f"{label} (UTF-16-BE)", text.encode("utf-16-be")),
    ]
    needles += [Needle(f"{label} ({how})", core) for how, core in _base64_cores(utf8)]
    escaped = {
        "JSON-escaped": json.dumps(text)[1:-1],
        "percent-encoded": quote(text, safe=""),
        "percent-encoded, + for space": quote_plus(text, safe=""),
    }
    for how, form in escaped.items():
        if form != text:
            needles.append(Needle(f"{label} ({how})", form.encode()))
    return needles


def secret_needles(label: str, raw: bytes) -> list[Needle]:
    """Secret bytes (a key, an id) raw, as base64 of the raw bytes, and written out as
    hex (either case) or base64 text, each text in every encoding of :func:`text_needles`."""
    needles = [Needle(f"{label} (raw)", raw)]
    needles += [Needle(f"{label} (raw, {how})", core) for how, core in _base64_cores(raw)]
    written = {
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "base64 text": base64.b64encode(raw).decode().rstrip("="),
        "base64url text": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    for how, text in written.items():
        needles += text_needles(f"{label} as {how}", text)
    return needles


class Place(Protocol):
    def contents(self) -> Iterator[tuple[str, bytes]]:
        """(where, bytes) for each thing to search in this place."""
        ...


@dataclass(frozen=True)
class Folder:
    """Every regular file under ``root``, raw, recursively (symlinks are not followed).

    ``since``: only files written or changed at or after this time (for shared
    temp folders, where only what the test's servers wrote matters). ``exclude``:
    folders searched as places of their own.
    """

    root: Path
    since: float | None = None
    exclude: tuple[Path, ...] = ()

    def contents(self) -> Iterator[tuple[str, bytes]]:
        excluded = {p.resolve() for p in self.exclude}
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if (here / d).resolve() not in excluded]
            for name in filenames:
                path = here / name
                try:
                    info = path.lstat()
                    if not stat.S_ISREG(info.st_mode):
                        continue  # sockets, FIFOs, symlinks
                    if self.since is not None and max(info.st_mtime, info.st_ctime) < self.since:
                        continue
                    data = path.read_bytes()
                except OSError:  # gone meanwhile (another process's temp file)
                    continue
                yield str(path), data


@dataclass(frozen=True)
class File:
    """One file, raw (a server's log). A missing file fails: it was meant to be read."""

    path: Path

    def contents(self) -> Iterator[tuple[str, bytes]]:
        yield str(self.path), self.path.read_bytes()


@dataclass(frozen=True)
class Snapshot:
    """Bytes taken elsewhere (a process's memory, a response body)."""

    name: str
    data: bytes

    def contents(self) -> Iterator[tuple[str, bytes]]:
        yield self.name, self.data


@dataclass(frozen=True)
class Database:
    """A SQLCipher database opened with its key: its full dump and each BLOB value.

    ``allowed`` names the columns whose values are where they belong, as
    ``{table: {column, …}}`` (a source's lookup id in ``sources.lookup_id``):
    their values are blanked out of the dump and not searched, so the same
    bytes anywhere else are still found.
    """

    path: Path
    key: bytes
    allowed: Mapping[str, Collection[str]] = field(default_factory=dict)

    def contents(self) -> Iterator[tuple[str, bytes]]:
        conn = connect(self.path, self.key)
        try:
            tables = [
                str(row[0])
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            ]
            allowed_values: dict[str, set[str]] = {}
            for table, columns in self.allowed.items():
                for column in columns:
                    rows = conn.execute(f'SELECT "{column}" FROM "{table}"')  # noqa: S608
                    values = {str(v) for (v,) in rows if v is not None}
                    allowed_values.setdefault(table, set()).update(values)
            dump = []
            for line in _iterdump(conn):
                for table, values in allowed_values.items():
                    if line.startswith(f'INSERT INTO "{table}" VALUES('):
                        for value in values:
                            line = line.replace(f"'{value}'", f"'<allowed {table}>'")
                dump.append(line)
            yield f"{self.path} decrypted dump", "\n".join(dump).encode()
            for table in tables:
                columns = [str(r[1]) for r in conn.execute(f'PRAGMA table_info("{table}")')]
                for column in columns:
                    if column in self.allowed.get(table, ()):
                        continue
                    rows = conn.execute(
                        f'SELECT "{column}" FROM "{table}"'  # noqa: S608 - names from the schema
                        f" WHERE typeof(\"{column}\") = 'blob'"
                    )
                    for n, (value,) in enumerate(rows):
                        yield f"{self.path} {table}.{column} BLOB #{n}", bytes(value)
        finally:
            conn.close()


def find_everywhere(
    needles: Iterable[Needle], places: Iterable[Place], searched: list[str] | None = None
) -> list[str]:
    """One line per needle found in a place: where, what, how encoded, and at which offset.

    ``searched``, if given, receives the name of everything looked into, so a
    test can show it did not pass by looking nowhere.
    """
    unique: dict[bytes, Needle] = {}
    for needle in needles:
        if len(needle.data) < 8:
            raise ValueError(f"needle {needle.label!r} is too short to mean anything")
        unique.setdefault(needle.data, needle)
    hits = []
    for place in places:
        for where, data in place.contents():
            if searched is not None:
                searched.append(where)
            for needle in unique.values():
                offset = data.find(needle.data)
                if offset >= 0:
                    hits.append(f"{where}: {needle.label} at byte {offset}")
    return hits
