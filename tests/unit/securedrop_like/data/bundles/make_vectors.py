"""Make the known-answer bundles in this folder. Run once; keep the output.

    .venv/bin/python tests/unit/securedrop_like/data/bundles/make_vectors.py [--force]

This script deliberately does NOT import ``securedrop_like``: it builds each
bundle with the standard library's own stream writer
(``tarfile.open(mode="w|", format=tarfile.PAX_FORMAT)``) and :mod:`json`,
following ``securedrop_like/BUNDLES.md``. The tests check that
``securedrop_like.bundles`` reads these files and, given the same input,
writes the very same bytes.

The ciphertexts are real envelopes, taken from the crypto known-answer files
``tests/unit/crypto/data/envelope_v1.txt`` (vectors "short-text", "empty" and
"two-recipients-second-decrypts"; export and reply bundle version 1) and
``envelope_v2.txt`` (vectors "reply-opened-by-the-source" and
"reply-opened-by-a-reviewer", each bound to its reply id and source; reply
bundle version 2, whose replies must be so bound), so the tests can also
decrypt what they read back with those files' keys.

Export bundle version 2 (``export_v2.tar``) takes envelopes version 2 from
``envelope_v2.txt`` ("report-short-text", "message-short" and
"reply-opened-by-the-source"), each under the item id its context is bound
to, and adds the "sources" section: each source's public key in the
``sesim-x25519-pk:`` text form (unpadded base64url of the 32 raw bytes, as
``crypto/keys.py`` writes it), her channel and her consent decisions. One
source there has no item, only a decision.

The publication bundles (``publication_v1_seq1.json``, ``publication_v1_seq2.json``,
a chain of two) are canonical JSON written here with :mod:`json` and signed with
PyNaCl directly, with the fixed test seed ``PUBLICATION_SEED`` (its verify key is in
``publication_v1_key.txt``).

Do not regenerate without a reason: these files pin export bundle format
versions 1 and 2, reply bundle format versions 1 and 2 and publication bundle
version 1. A new version gets new files beside these; the script only writes
files that are missing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENVELOPES = HERE.parents[2] / "crypto" / "data" / "envelope_v1.txt"
ENVELOPES_V2 = HERE.parents[2] / "crypto" / "data" / "envelope_v2.txt"
EXPORT_FILE = HERE / "export_v1.tar"
EXPORT_V2_FILE = HERE / "export_v2.tar"
REPLIES_FILE = HERE / "replies_v1.tar"
REPLIES_V2_FILE = HERE / "replies_v2.tar"
PUBLICATION_FILES = (HERE / "publication_v1_seq1.json", HERE / "publication_v1_seq2.json")
PUBLICATION_KEY_FILE = HERE / "publication_v1_key.txt"
# A fixed seed, for tests only: SHA-256 of this phrase.
PUBLICATION_SEED = hashlib.sha256(b"sesim publication known-answer seed").digest()

REPORT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
FILE_ID = "1f2e3d4c5b6a79880796a5b4c3d2e1f0"
REPLY_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"
RETRACTION_ID = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
NEW_REPLY_IDS = ("aaaabbbbccccddddeeeeffff00001111", "22223333444455556666777788889999")


def envelopes(path: Path = ENVELOPES) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    name = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("name = "):
            name = line.split(" = ", 1)[1]
        elif line.startswith("ciphertext = "):
            found[name] = bytes.fromhex(line.split(" = ", 1)[1])
    return found


def context_item_ids(path: Path = ENVELOPES_V2, field: str = "context_item_id") -> dict[str, str]:
    found: dict[str, str] = {}
    name = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("name = "):
            name = line.split(" = ", 1)[1]
        elif line.startswith(f"{field} = "):
            found[name] = line.split(" = ", 1)[1]
    return found


def public_key_text(hex_key: str) -> str:
    raw = bytes.fromhex(hex_key)
    return "sesim-x25519-pk:" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def tar_of(members: list[tuple[str, bytes]]) -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return sink.getvalue()


def dumps(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle() -> bytes:
    env = envelopes()
    items = [
        (REPORT_ID, "qırmızı nar", "report", None, "2024-05-27", env["short-text"]),
        (FILE_ID, "qırmızı nar", "file", REPORT_ID, "2024-05-27", env["empty"]),
        (
            REPLY_ID,
            "a1b2c3d4e5f6",
            "reply",
            None,
            "2024-05-28",
            env["two-recipients-second-decrypts"],
        ),
    ]
    manifest = {
        "format": "sesim-export",
        "version": 1,
        "created_day": "2024-05-28",
        "items": [
            {
                "id": i,
                "source": s,
                "kind": k,
                "parent": p,
                "day": d,
                "size": len(c),
                "sha256": sha256(c),
            }
            for i, s, k, p, d, c in items
        ],
        "retractions": [
            {
                "id": RETRACTION_ID,
                "designation": "sarı çay",
                "day": "2024-05-28",
                "item_ids": [
                    "77777777777777777777777777777777",
                    "88888888888888888888888888888888",
                ],
            }
        ],
    }
    return tar_of([("manifest.json", dumps(manifest))] + [(f"items/{i[0]}", i[5]) for i in items])


def export_bundle_v2() -> bytes:
    """Version 2: items are envelopes version 2 bound to their ids; "sources" carries
    each source's key, channel and consent decisions."""
    env, ids = envelopes(ENVELOPES_V2), context_item_ids()
    her_key = context_item_ids(field="context_source_public_key")["reply-opened-by-the-source"]
    report = ids["report-short-text"]
    items = [
        (report, "qırmızı nar", "report", None, "2024-05-27", env["report-short-text"]),
        (ids["message-short"], "qırmızı nar", "message", None, "2024-05-28", env["message-short"]),
        (
            ids["reply-opened-by-the-source"],
            "qırmızı nar",
            "reply",
            None,
            "2024-05-28",
            env["reply-opened-by-the-source"],
        ),
    ]
    manifest = {
        "format": "sesim-export",
        "version": 2,
        "created_day": "2024-06-02",
        "items": [
            {
                "id": i,
                "source": s,
                "kind": k,
                "parent": p,
                "day": d,
                "size": len(c),
                "sha256": sha256(c),
            }
            for i, s, k, p, d, c in items
        ],
        "retractions": [
            {
                "id": RETRACTION_ID,
                "designation": "sarı çay",
                "day": "2024-06-01",
                "item_ids": ["77777777777777777777777777777777"],
            }
        ],
        "sources": [
            {
                "designation": "qırmızı nar",
                "public_key": public_key_text(her_key),
                "channel": "web",
                "consent": [
                    {
                        "draft_id": "d4af7d4af7d4af7d4af7d4af7d4af7d4",
                        "decision": "approve",
                        "day": "2024-06-01",
                    }
                ],
            },
            {
                "designation": "mavi göl",
                "public_key": public_key_text("ab" * 32),
                "channel": "sms",
                "consent": [
                    {
                        "draft_id": "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d",
                        "decision": "refuse",
                        "day": "2024-05-30",
                    },
                    {
                        "draft_id": "1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e",
                        "decision": "approve",
                        "day": "2024-06-02",
                    },
                ],
            },
        ],
    }
    return tar_of([("manifest.json", dumps(manifest))] + [(f"items/{i[0]}", i[5]) for i in items])


def replies_bundle() -> bytes:
    env = envelopes()
    replies = [
        (NEW_REPLY_IDS[0], "qırmızı nar", "leyla", env["two-recipients-second-decrypts"]),
        (NEW_REPLY_IDS[1], "a1b2c3d4e5f6", "günel", env["short-text"]),
    ]
    manifest = {
        "format": "sesim-replies",
        "version": 1,
        "replies": [
            {"id": i, "source": s, "size": len(c), "sha256": sha256(c), "author": a}
            for i, s, a, c in replies
        ],
    }
    return tar_of(
        [("manifest.json", dumps(manifest))] + [(f"replies/{r[0]}", r[3]) for r in replies]
    )


def replies_bundle_v2() -> bytes:
    """Version 2: each reply is an envelope version 2 bound to its own id and source.
    Both vectors are replies to the source whose public key is in envelope_v2.txt."""
    env, ids = envelopes(ENVELOPES_V2), context_item_ids()
    replies = [
        (ids[name], "qırmızı nar", author, env[name])
        for name, author in (
            ("reply-opened-by-the-source", "leyla"),
            ("reply-opened-by-a-reviewer", "günel"),
        )
    ]
    manifest = {
        "format": "sesim-replies",
        "version": 2,
        "replies": [
            {"id": i, "source": s, "size": len(c), "sha256": sha256(c), "author": a}
            for i, s, a, c in replies
        ],
    }
    return tar_of(
        [("manifest.json", dumps(manifest))] + [(f"replies/{r[0]}", r[3]) for r in replies]
    )


def canonical(doc: object) -> bytes:
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def signed(manifest: dict[str, object]) -> bytes:
    import nacl.signing

    signature = nacl.signing.SigningKey(PUBLICATION_SEED).sign(canonical(manifest)).signature
    return canonical({"manifest": manifest, "signature": signature.hex()})


def publication_bundles() -> tuple[bytes, bytes]:
    def entry(**fields: object) -> dict[str, object]:
        base: dict[str, object] = {"district": None, "point": None, "month": None,
                                   "perpetrator": None, "service": None, "story": None}  # fmt: skip
        base.update(fields)
        return base

    first = {
        "format": "sesim-publication",
        "version": 1,
        "sequence": 1,
        "previous": None,
        "created_day": "2024-06-01",
        "entries": [
            entry(
                id="3b9d7f0c2a5e4d8196e0c7a1f2b3d4e5",
                types=["sextortion"],
                district="sabail",
                point={"kind": "cell", "lat_e6": 40364710, "lon_e6": 49834567},
                month="2024-04",
                perpetrator="official",
                service="documents",
                language="az",
                summary="Sənəd almaq üçün müraciət edən qadından məmur cinsi əlaqə tələb edib.",
                story="Mən sənəd üçün getdim.\nMənə dedi ki, başqa yolla da olar.",
            ),
            entry(
                id="8c1e2f3a4b5c6d7e8f90a1b2c3d4e5f6",
                types=["touching", "verbal"],
                district="nasimi",
                point={"kind": "station", "lat_e6": 40379836, "lon_e6": 49848697},
                perpetrator="stranger",
                service="none",
                language="ru",
                summary="В метро незнакомый мужчина прижимался и говорил непристойности.",
            ),
            entry(
                id="c4d5e6f708192a3b4c5d6e7f8091a2b3",
                types=["online", "threats"],
                district="online",
                month="2024-05",
                perpetrator="prefer_not_to_say",
                language="en",
                summary='Threatened with the release of private photos "unless she agreed".',
            ),
        ],
        "retractions": [],
    }
    one = signed(first)
    second = {
        "format": "sesim-publication",
        "version": 1,
        "sequence": 2,
        "previous": sha256(one),
        "created_day": "2024-07-01",
        "entries": [
            entry(
                id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                types=["verbal"],
                district="nasimi",
                point={"kind": "cell", "lat_e6": 40387170, "lon_e6": 49828669},
                month="2024-06",
                perpetrator="teacher",
                service="education",
                language="en",
                summary="A lecturer made repeated sexual comments to a student.",
            ),
        ],
        "retractions": ["8c1e2f3a4b5c6d7e8f90a1b2c3d4e5f6"],
    }
    return one, signed(second)


def main() -> None:
    force = "--force" in sys.argv
    for path, data in (
        (EXPORT_FILE, export_bundle()),
        (EXPORT_V2_FILE, export_bundle_v2()),
        (REPLIES_FILE, replies_bundle()),
        (REPLIES_V2_FILE, replies_bundle_v2()),
        *zip(PUBLICATION_FILES, publication_bundles(), strict=True),
    ):
        if path.exists() and not force:
            print(f"{path.name} exists; keeping it (use --force to overwrite)")
            continue
        path.write_bytes(data)
        print(f"wrote {path.name}: {len(data)} bytes")
    if force or not PUBLICATION_KEY_FILE.exists():
        import nacl.signing

        verify_key = bytes(nacl.signing.SigningKey(PUBLICATION_SEED).verify_key)
        PUBLICATION_KEY_FILE.write_text(
            f"seed = {PUBLICATION_SEED.hex()}\nverify_key = {verify_key.hex()}\n",
            encoding="ascii",
        )


if __name__ == "__main__":
    main()
