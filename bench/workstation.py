"""The workstation: import and decrypt 10,000 reports, then full-text search over them.

The export bundle is made by the server's own code: 10,000 sources, each with a report
document of about 2 KB sealed to the workstation's key exactly as the source interface
seals one (``EnvelopeContext.for_item``), 3 % of them with a file (32 to 256 KiB,
sealed as a ``file`` item, larger ones stored as chunked blobs), streamed through the
staff app's real ``/export`` route into a file.

The import runs in a child process (``python -m bench.workstation import …``) so its
peak RSS (``ru_maxrss``) is its own. The baseline, in the same run: decrypting every
item of the same bundle with ``decrypt_bytes`` and nothing else (no parsing, no database).

Search: the median of varied queries (common and rare words, prefixes, two words,
Azerbaijani and Russian, no match, punctuation) through :func:`search.search`, against a
``LIKE '%word%'`` scan of all the same documents (counting every match) as the
baseline.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Results, Workspace, median_ms, timed
from crypto import EnvelopeContext, PublicKey, decrypt_bytes, encrypt_bytes

REPORTS = 10_000
FILE_SHARE = 0.03
FILE_MIN, FILE_MAX = 32 * 1024, 256 * 1024
REPORT_BYTES = 2048
PASSPHRASE = "bench passphrase for the workstation"
QUERY_REPEAT = 5
_AZ = (
    "polis şöbə müdir işçi qadın təcavüz təhdid pul rüşvət xidmət mərkəz müraciət "
    "sənəd ev küçə avtobus metro universitet müəllim həkim xəstəxana iş yer "
    "söz toxunma mesaj telefon gecə səhər axşam qorxu kömək şikayət"
).split()
_RU = (
    "полиция начальник женщина угроза деньги взятка услуга центр документ улица "
    "автобус метро университет преподаватель врач больница работа сообщение "
    "телефон ночь утро вечер страх помощь жалоба"
).split()


def _words() -> list[str]:
    from securedrop_like.codenames import load_wordlist

    return list(load_wordlist()[:3000]) + _AZ * 20 + _RU * 20


def _report_document(rng: random.Random, words: list[str], files: list[dict[str, Any]]) -> bytes:
    text_words: list[str] = []
    while sum(len(w) + 1 for w in text_words) < REPORT_BYTES - 400:
        text_words.append(rng.choice(words))
    document = {
        "text": " ".join(text_words),
        "types": rng.sample(["verbal", "physical", "sextortion", "online", "stalking"], 2),
        "when": {"precision": "month", "date": "2026-05", "part_of_day": "evening"},
        "where": {"location": "nasimi", "landmark": rng.choice(words)},
        "perpetrator": "official",
        "service": "police",
        "role": "applicant",
        "wants": ["legal_help"],
        "consent": "ask_first",
        "lang": rng.choice(["az", "ru", "en"]),
        "channel": "web",
        "format": "sesim-report",
        "v": 1,
        "attachments": files,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def make_bundle(ws: Workspace, reviewer: PublicKey, out: Path, seed: int = 9) -> tuple[int, int]:
    """Fill a server instance and export it through /export; (items, bundle bytes)."""
    from bench.inbox import staff_client
    from securedrop_like import models, store
    from securedrop_like.db import today
    from tests.conftest import csrf_of

    app, client, db = staff_client(ws, "workstation-server")
    rng = random.Random(seed)
    words = _words()
    day = today()
    conn = db.open()
    source_rows: list[tuple[object, ...]] = []
    item_rows: list[tuple[object, ...]] = []
    designations: set[str] = set()
    try:
        conn.execute("BEGIN IMMEDIATE")
        models.insert_reviewer_key(
            conn, key_id=reviewer.key_id, name="bench", public_key=reviewer.raw, day=day
        )
        for _ in range(REPORTS):
            source_id, report_id = rng.randbytes(16).hex(), rng.randbytes(16).hex()
            while (designation := models.new_designation()) in designations:
                pass
            designations.add(designation)
            source_rows.append(
                (source_id, rng.randbytes(32).hex(), rng.randbytes(32), designation, day, day, 3)
            )
            files = []
            if rng.random() < FILE_SHARE:
                file_id = rng.randbytes(16).hex()
                body = os.urandom(rng.randint(FILE_MIN, FILE_MAX))
                sealed = encrypt_bytes(
                    body, [reviewer], context=EnvelopeContext.for_item("file", file_id)
                )
                files.append({"id": file_id, "name": "photo.jpg", "type": "image/jpeg",
                              "size": len(body)})  # fmt: skip
                store.insert_blob(conn, file_id, sealed)
                item_rows.append((file_id, source_id, 2, "file", report_id, day, len(sealed), None))
            sealed = encrypt_bytes(
                _report_document(rng, words, files),
                [reviewer],
                context=EnvelopeContext.for_item("report", report_id),
            )
            item_rows.append((report_id, source_id, 1, "report", None, day, len(sealed), sealed))
        conn.executemany(
            "INSERT INTO sources (id, lookup_id, public_key, designation, created_day,"
            " activity_day, next_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
            source_rows,
        )
        conn.executemany(
            "INSERT INTO items (id, source_id, seq, kind, parent_id, day, size, inline)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            item_rows,
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    try:
        token = csrf_of(client.get("/").get_data(as_text=True))
        response = client.post(
            "/export", data={"csrf_token": token, "which": "unread"}, buffered=False
        )
        assert response.status_code == 200, response.status_code
        size = 0
        with out.open("wb") as fh:
            for chunk in response.iter_encoded():
                fh.write(chunk)
                size += len(chunk)
        response.close()
    finally:
        app.extensions["sesim_staff"].reports.close()
    return len(item_rows), size


def _child_import(home: str, bundle: str) -> None:
    """In the child process: unlock, import, print figures as JSON."""
    from journalist_interface.workstation.casestore import CaseStore
    from journalist_interface.workstation.importer import import_bundle
    from journalist_interface.workstation.keys import unlock

    start = time.perf_counter()
    with unlock(Path(home), PASSPHRASE) as unlocked, CaseStore.open(Path(home), unlocked) as cs:
        opened = time.perf_counter()
        result = import_bundle(cs, unlocked, Path(bundle))
        done = time.perf_counter()
    print(
        json.dumps(
            {
                "unlock_s": opened - start,
                "import_s": done - opened,
                "new_items": result.new_items,
                "errors": result.errors,
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def _child_baseline(home: str, bundle: str) -> None:
    """In the child process: decrypt every item of the bundle, nothing else."""
    from journalist_interface.workstation.keys import unlock
    from securedrop_like import bundles

    with unlock(Path(home), PASSPHRASE) as unlocked:
        start = time.perf_counter()
        with open(bundle, "rb") as fh, bundles.read_export(fh) as reader:
            for entry, stream in reader:
                decrypt_bytes(
                    stream.read(),
                    unlocked.submission,
                    expected=EnvelopeContext.for_item(entry.kind, entry.id),
                )
        elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "decrypt_s": elapsed,
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def _run_child(*args: str) -> dict[str, Any]:
    env = dict(os.environ)  # bench/__main__ allowed weak KDF settings for its children
    done = subprocess.run(
        [sys.executable, "-m", "bench.workstation", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench child failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


QUERIES = [
    "polis",
    "rüşvət",
    "RUSVET",
    "полиция",
    "взятк",
    "abacus",
    "zebra",
    "pol",
    "mü",
    "metro gecə",
    "начальник угроза",
    "doctor hospital",
    "nothingmatchesthis",
    '"unbalanced',
    "NEAR(polis",
    "kömək şikayət telefon",
    "ab",
    "qadın",
    "work",
    "xəstəxana",
]


def workstation(ws: Workspace, results: Results) -> None:
    from journalist_interface.workstation import keys
    from journalist_interface.workstation.casestore import CaseStore
    from journalist_interface.workstation.search import search

    home = ws.root / "workstation"
    info = keys.init_home(home, PASSPHRASE, name="Bench", opslimit=1, memlimit=8 * 2**20)
    bundle = ws.root / "workstation-export.tar"
    items, size = make_bundle(ws, info.submission_public, bundle)
    baseline = _run_child("baseline", str(home), str(bundle))
    figures = _run_child("import", str(home), str(bundle))
    assert figures["new_items"] == items and figures["errors"] == 0, figures
    seconds = figures["import_s"]
    peak_mb = figures["maxrss_kib"] / 1024
    results.add(
        f"workstation import: {REPORTS:,} reports of ~2 KB + {items - REPORTS} files "
        f"({size / 1e6:.0f} MB bundle)",
        f"{seconds:.1f} s ({items / seconds:,.0f} items/s)",
        "≤ 60 s",
        seconds <= 60,
    )
    results.add(
        "workstation import vs decrypting the same bundle alone",
        f"×{seconds / baseline['decrypt_s']:.1f} (baseline {baseline['decrypt_s']:.1f} s, "
        f"peak {baseline['maxrss_kib'] / 1024:.0f} MiB)",
    )
    results.add(
        "workstation import: peak RSS (child, ru_maxrss)", f"{peak_mb:.0f} MiB", "≤ 500 MB",
        peak_mb * 1.048576 <= 500,
    )  # fmt: skip
    with keys.unlock(home, PASSPHRASE) as unlocked, CaseStore.open(home, unlocked) as cs:
        for query in QUERIES:  # warm the page cache once
            search(cs, query)
        samples: list[float] = []
        for query in QUERIES:
            samples += timed(lambda q=query: search(cs, q), QUERY_REPEAT)  # type: ignore[misc]
        hits = sum(1 for q in QUERIES if search(cs, q))
        with cs.connection() as conn:

            def like(word: str) -> None:
                conn.execute(
                    "SELECT count(*) FROM items WHERE document LIKE ?", (f"%{word}%",)
                ).fetchall()

            like_samples: list[float] = []
            for query in QUERIES[:8]:
                like_samples += timed(lambda q=query: like(q), 2)  # type: ignore[misc]
    median = median_ms(samples)
    results.add(
        f"workstation search over {REPORTS:,} reports, {len(QUERIES)} queries ({hits} with hits)",
        f"median {median:.1f} ms (max {max(samples) * 1000:.0f} ms)",
        "< 100 ms",
        median < 100,
    )
    results.add(
        "workstation search vs a LIKE scan of the documents",
        f"×{median / median_ms(like_samples):.2f} (scan median {median_ms(like_samples):.0f} ms)",
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("import", "baseline"):
        (_child_import if sys.argv[1] == "import" else _child_baseline)(sys.argv[2], sys.argv[3])
    else:
        print("usage: python -m bench.workstation import|baseline HOME BUNDLE", file=sys.stderr)
        sys.exit(2)
