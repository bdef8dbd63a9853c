"""Real publication bundles for the map's tests: the known-answer chain of two
(tests/unit/securedrop_like/data/bundles, signed with the test seed) and a third bundle
written with the core's own writer, plus bundles that must be refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from securedrop_like.bundles import bundle_sha256, read_publication, write_publication_bundle
from securedrop_like.bundles.publication import PublicEntry, PublicPoint, verify_key_text

DATA = Path(__file__).resolve().parents[1] / "securedrop_like" / "data" / "bundles"
_KEYS = dict(
    line.split(" = ") for line in (DATA / "publication_v1_key.txt").read_text().splitlines()
)
SEED = bytes.fromhex(_KEYS["seed"])
VERIFY = bytes.fromhex(_KEYS["verify_key"])
OTHER_SEED = bytes(range(32))

ONE = (DATA / "publication_v1_seq1.json").read_bytes()  # 3 entries
TWO = (DATA / "publication_v1_seq2.json").read_bytes()  # 1 entry, retracts STATION_ID
STATION_ID = "8c1e2f3a4b5c6d7e8f90a1b2c3d4e5f6"
SABAIL_ID = "3b9d7f0c2a5e4d8196e0c7a1f2b3d4e5"  # retracted by THREE
XSS_ID = "ffffffffffffffffffffffffffffff01"
UNKNOWN_ID = "00000000000000000000000000000abc"

XSS_SUMMARY = '<script>alert("x")</script> & </script><img src=x onerror=alert(1)>'
XSS_STORY = 'He said "come, sign here",\nthen: =HYPERLINK("http://x")\n<b>bold</b>; \'quoted\''


def _entries(data: bytes) -> tuple[PublicEntry, ...]:
    return read_publication(data, VERIFY).entries


def _template() -> PublicEntry:
    return next(e for e in _entries(ONE) if e.id == SABAIL_ID)


def xss_entry() -> PublicEntry:
    return dataclasses.replace(_template(), id=XSS_ID, summary=XSS_SUMMARY, story=XSS_STORY)


def bundle(
    sequence: int,
    previous: str | None,
    entries: tuple[PublicEntry, ...] = (),
    retractions: tuple[str, ...] = (),
    seed: bytes = SEED,
) -> bytes:
    return write_publication_bundle(
        seed,
        sequence=sequence,
        previous=previous,
        created_day="2024-07-15",
        entries=entries,
        retractions=retractions,
    )


SABAIL_SUMMARY = _template().summary
STATION_SUMMARY = next(e for e in _entries(ONE) if e.id == STATION_ID).summary
THREE = bundle(3, bundle_sha256(TWO), (xss_entry(),), (SABAIL_ID,))
# Still on the map after ONE, TWO, THREE:
REMAINING = {
    "c4d5e6f708192a3b4c5d6e7f8091a2b3",  # online, from ONE
    "0f1e2d3c4b5a69788796a5b4c3d2e1f0",  # from TWO
    XSS_ID,
}


def write_verify_file(path: Path, raw: bytes = VERIFY) -> Path:
    path.write_text(f"# test key\n{verify_key_text(raw)}\n", "utf-8")
    return path


def refused_after_two() -> dict[str, bytes]:
    """Bundles a map that holds ONE and TWO must refuse, by name."""
    fork_one = bundle(1, None, (dataclasses.replace(_template(), summary="Another one."),))
    tampered = bytearray(THREE)
    at = THREE.index(b"bold")
    tampered[at] = ord("B")
    return {
        "replay": TWO,
        "rollback": ONE,
        "skip": bundle(4, bundle_sha256(THREE)),
        "fork": bundle(3, bundle_sha256(bundle(2, bundle_sha256(fork_one)))),
        "tamper": bytes(tampered),
        "wrong_key": bundle(3, bundle_sha256(TWO), (xss_entry(),), seed=OTHER_SEED),
        "not_json": b"{not a bundle",
        "empty": b"",
    }


# -- hostile text in every text field (QA: tests/unit/public_map/test_xss_everywhere.py) --

#: Texts the reader accepts (printable, no leading or trailing space) that would do harm
#: if any page or file put them out unescaped. Each carries a marker ``qx<n>q`` so a test
#: can find where it went.
PAYLOADS = (
    '<script>alert("qx0q")</script>',
    '"><img src=x onerror=alert("qx1q")>',
    "'><svg onload=alert('qx2q')>",
    "</textarea></title></style></script><script>alert('qx3q')</script>",
    "<a href=\"javascript:alert('qx4q')\">qx4q</a>",
    "javascript:alert('qx5q')",
    "{{7*7}} {% raw %} ${7*7} #{7*7} <%= 7*7 %> qx6q",
    "<!-- qx7q --> <![CDATA[qx7q]]> <?php qx7q ?>",
    "&lt;qx8q&gt; &amp;amp; &#60;script&#62; &quot;",
    "<style>body{display:none}</style><iframe src=//qx9q.invalid></iframe>",
    '<meta http-equiv="refresh" content="0;url=//qx10q.invalid"><base href="//qx10q.invalid/">',
    "=HYPERLINK(\"http://qx11q.invalid\") +cmd|' /C calc'!A0 @SUM(1) -1",
    "مرحبا שלום qx12q ＜script＞ Z̤͔ͧ̑ 👩🏽⚕ \\\"'` \\u003c",
    "qx13q" + "W" * 990,  # a very long word: 995 characters (summary limit 1000)
    '<div style="position:fixed;inset:0">qx14q</div>'
    "<form action=//qx14q.invalid><input name=qx14q>",
    '<object data=x></object><embed src=x><math><mi xlink:href="javascript:1">qx15q',
)


def payload_entries(first: int = 0x10) -> tuple[PublicEntry, ...]:
    """One entry per payload, in the summary AND the story (the story with a few lines
    and a very long word), spread over types, districts, months, services."""
    template = _template()
    others = _entries(ONE) + _entries(TWO)
    out = []
    for n, text in enumerate(PAYLOADS):
        shape = others[n % len(others)]
        story = f"{text}\n{text}\nqx{n}q-line3 " + "L" * 5000
        out.append(
            dataclasses.replace(
                template,
                id=f"{first + n:032x}",
                types=shape.types,
                district=shape.district,
                point=shape.point,
                month=shape.month,
                perpetrator=shape.perpetrator,
                service=shape.service,
                language=("az", "ru", "en")[n % 3],
                summary=text,
                story=story if n % 4 != 3 else None,
            )
        )
    return tuple(out)


#: ONE, TWO, THREE, then the payloads: every text field of the format holds markup.
PAYLOAD_BUNDLE = bundle(4, bundle_sha256(THREE), payload_entries())


def signed_raw(manifest: dict[str, object], seed: bytes = SEED) -> bytes:
    """A correctly signed bundle around ANY manifest (the writer refuses bad ones; this
    is how a bug in a workstation could still put one on the wire)."""
    from crypto import sign_detached
    from securedrop_like.bundles.publication import canonical_json

    signature = sign_detached(seed, canonical_json(manifest)).hex()
    return canonical_json({"manifest": manifest, "signature": signature})


def raw_manifest(
    sequence: int, previous: str | None, entries: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "format": "sesim-publication",
        "version": 1,
        "sequence": sequence,
        "previous": previous,
        "created_day": "2024-07-15",
        "entries": entries,
        "retractions": [],
    }


# -- a varied map for the counts (QA: test_counts_agree.py, test_retraction_everywhere.py) --

COUNT_TYPES = ("verbal", "touching", "stalking", "online", "threats", "sextortion")
COUNT_MONTHS = ("2023-11", "2023-12", "2024-01", "2024-02", None, "2024-02", "2024-06")
COUNT_SERVICES = ("health", "police", None, "documents")
COUNT_WHO = ("police", "stranger", None, "teacher", "official")


def _cell(district: str, n: int) -> PublicPoint:
    from securedrop_like import grid

    cells = list(grid.district_shapes()[district].cells())
    lat, lon = grid.cell_centre(*cells[(n * 7) % len(cells)])
    return PublicPoint("cell", lat, lon)


def varied_entries(count: int = 60, first: int = 0x1000) -> tuple[PublicEntry, ...]:
    """``count`` entries over types (some with two), districts (points in three districts,
    several entries on one same cell so that a cluster holds more than one, single ones,
    online, no place), months (and none), services and perpetrators (and none)."""
    places: list[tuple[str | None, PublicPoint | None]] = [
        ("nasimi", _cell("nasimi", 0)),  # every fifth entry on the SAME cell
        ("sabail", None),
        ("yasamal", None),
        ("online", None),
        (None, None),
    ]
    out = []
    for n in range(count):
        district, point = places[n % len(places)]
        if district in ("sabail", "yasamal"):
            point = _cell(district, n)  # a cell of its own, mostly: single points
        types = {COUNT_TYPES[n % 6]}
        if n % 5 == 1:
            types.add(COUNT_TYPES[(n + 3) % 6])
        out.append(
            dataclasses.replace(
                _template(),
                id=f"{first + n:032x}",
                types=tuple(sorted(types)),
                district=district,
                point=point,
                month=COUNT_MONTHS[n % len(COUNT_MONTHS)],
                service=COUNT_SERVICES[n % len(COUNT_SERVICES)],
                perpetrator=COUNT_WHO[(n // 2) % len(COUNT_WHO)],
                summary=f"Counted entry {n}.",
                story=None if n % 3 else f"Story of entry {n}.",
            )
        )
    return tuple(out)


VARIED = bundle(4, bundle_sha256(THREE), varied_entries())
