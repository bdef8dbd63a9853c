"""Publication bundles (sesim-publication v1): known answers, canonical bytes, signature,
the sequence/previous chain, and strict refusal of anything else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from crypto import sign_detached, verify_key_bytes
from securedrop_like import bundles, grid
from securedrop_like.bundles import (
    BundleError,
    PublicEntry,
    PublicPoint,
    bundle_sha256,
    canonical_json,
    read_publication,
    write_publication_bundle,
)

DATA = Path(__file__).parent / "data" / "bundles"
SEQ1 = DATA / "publication_v1_seq1.json"
SEQ2 = DATA / "publication_v1_seq2.json"
_KEYS = dict(
    line.split(" = ", 1)
    for line in (DATA / "publication_v1_key.txt").read_text(encoding="ascii").splitlines()
)
SEED = bytes.fromhex(_KEYS["seed"])
VERIFY = bytes.fromhex(_KEYS["verify_key"])
OTHER_SEED = bytes(range(32))


def _doc(path: Path = SEQ1) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_bytes())
    return doc["manifest"]


def _sign(manifest: object, seed: bytes = SEED) -> bytes:
    """Sign any manifest (even a bad one) the way the format says, to test the schema."""
    body = canonical_json(manifest)
    return canonical_json({"manifest": manifest, "signature": sign_detached(seed, body).hex()})


def _entry(**changes: Any) -> PublicEntry:
    fields: dict[str, Any] = {
        "id": "11111111111111111111111111111111",
        "types": ("verbal",),
        "district": "sabail",
        "point": PublicPoint("cell", 40364710, 49834567),
        "month": "2024-04",
        "perpetrator": "stranger",
        "service": "none",
        "language": "en",
        "summary": "A man made comments in the street.",
        "story": None,
    }
    fields.update(changes)
    return PublicEntry(**fields)


# -- known answers ---------------------------------------------------------------------


def test_the_key_file_matches_its_seed() -> None:
    assert verify_key_bytes(SEED) == VERIFY


def test_known_answer_chain_reads() -> None:
    first = read_publication(SEQ1, VERIFY, expect_sequence=1)
    assert first.sequence == 1 and first.previous is None
    assert first.created_day == "2024-06-01"
    assert [e.id for e in first.entries] == sorted(e.id for e in first.entries)
    station = first.entries[1]
    assert station.point == PublicPoint("station", 40379836, 49848697)
    assert grid.station_at(40379836, 49848697) is not None
    assert first.entries[0].story == "Mən sənəd üçün getdim.\nMənə dedi ki, başqa yolla da olar."
    online = first.entries[2]
    assert online.district == "online" and online.point is None and online.service is None
    assert first.sha256 == bundle_sha256(SEQ1.read_bytes())

    second = read_publication(
        SEQ2.read_bytes(), VERIFY, expect_sequence=2, expect_previous=first.sha256
    )
    assert second.previous == first.sha256
    assert second.retractions == ("8c1e2f3a4b5c6d7e8f90a1b2c3d4e5f6",)
    assert [e.district for e in second.entries] == ["nasimi"]


def test_the_writer_makes_the_known_answer_bytes() -> None:
    for path in (SEQ1, SEQ2):
        pub = read_publication(path, VERIFY)
        again = write_publication_bundle(
            SEED,
            sequence=pub.sequence,
            previous=pub.previous,
            created_day=pub.created_day,
            entries=list(reversed(pub.entries)),  # the writer sorts them
            retractions=pub.retractions,
        )
        assert again == path.read_bytes()


def test_canonical_json_bytes() -> None:
    value = {"b": [1, None, True], "a": 'ə\n"\\\u0001</script>', "A": {"z": 0, "y": -2}}
    assert (
        canonical_json(value)
        == ('{"A":{"y":-2,"z":0},"a":"ə\\n\\"\\\\\\u0001</script>","b":[1,null,true]}').encode()
    )
    for bad in (1.5, float("nan"), {1: "x"}, b"bytes", "\ud800"):
        with pytest.raises(BundleError):
            canonical_json({"x": bad})


def test_the_signature_covers_the_canonical_manifest() -> None:
    outer = json.loads(SEQ1.read_bytes())
    body = canonical_json(outer["manifest"])
    assert sign_detached(SEED, body).hex() == outer["signature"]
    assert read_publication(SEQ1, VERIFY).manifest_bytes == body


# -- tampering, keys, chain ------------------------------------------------------------


@pytest.mark.parametrize("path", [SEQ1, SEQ2])
def test_every_one_byte_change_is_refused(path: Path) -> None:
    data = path.read_bytes()
    for position in range(len(data)):
        for flip in (0x01, 0x20):
            changed = bytearray(data)
            changed[position] ^= flip
            with pytest.raises(BundleError):
                read_publication(bytes(changed), VERIFY)


def test_truncated_or_padded_is_refused() -> None:
    data = SEQ1.read_bytes()
    for bad in (data[:-1], data + b"\n", b" " + data, b"\xef\xbb\xbf" + data, b""):
        with pytest.raises(BundleError):
            read_publication(bad, VERIFY)


def test_wrong_key_is_refused_before_anything_else() -> None:
    with pytest.raises(BundleError, match="signature does not verify"):
        read_publication(SEQ1, verify_key_bytes(OTHER_SEED))
    # Even a manifest that is otherwise nonsense: the signature is checked first.
    with pytest.raises(BundleError, match="signature does not verify"):
        read_publication(_sign({"format": "other"}, OTHER_SEED), VERIFY)
    with pytest.raises(BundleError, match="verify key"):
        read_publication(SEQ1, b"short")


def test_a_valid_signature_on_non_canonical_bytes_is_refused() -> None:
    outer = json.loads(SEQ1.read_bytes())
    spaced = json.dumps(outer, ensure_ascii=False, sort_keys=True).encode("utf-8")
    with pytest.raises(BundleError, match="canonical form"):
        read_publication(spaced, VERIFY)
    escaped = json.dumps(outer, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    with pytest.raises(BundleError, match="canonical form"):
        read_publication(escaped.encode("ascii"), VERIFY)


def test_replay_and_rollback_are_refused() -> None:
    first = read_publication(SEQ1, VERIFY)
    read_publication(SEQ2, VERIFY, expect_sequence=2, expect_previous=first.sha256)
    # After bundle 2, someone serves bundle 1 again (or bundle 2 again).
    with pytest.raises(BundleError, match="replayed or rolled-back"):
        read_publication(SEQ1, VERIFY, expect_sequence=3)
    with pytest.raises(BundleError, match="replayed or rolled-back"):
        read_publication(SEQ2, VERIFY, expect_sequence=3)
    with pytest.raises(BundleError, match="skips ahead"):
        read_publication(SEQ2, VERIFY, expect_sequence=1)


def test_a_fork_is_refused() -> None:
    """Same sequence, another previous: a second history signed with the same key."""
    first = read_publication(SEQ1, VERIFY)
    forked = _doc(SEQ2)
    forked["previous"] = "ab" * 32
    data = _sign(forked)
    assert read_publication(data, VERIFY).sequence == 2  # well-formed on its own
    with pytest.raises(BundleError, match="fork"):
        read_publication(data, VERIFY, expect_sequence=2, expect_previous=first.sha256)


# -- schema ----------------------------------------------------------------------------


def _refused(change: Any, match: str) -> None:
    manifest = copy.deepcopy(_doc())
    change(manifest)
    with pytest.raises(BundleError, match=match):
        read_publication(_sign(manifest), VERIFY)


def test_unknown_or_missing_fields_are_refused() -> None:
    _refused(lambda m: m.update(extra=1), "unexpected field")
    _refused(lambda m: m["entries"][0].update(designation="mavi göl"), "unexpected field")
    _refused(lambda m: m["entries"][0]["point"].update(exact=True), "unexpected field")
    _refused(lambda m: m["entries"][0].pop("story"), "lacks story")
    _refused(lambda m: m.pop("previous"), "lacks previous")
    with pytest.raises(BundleError, match="exactly"):
        outer = json.loads(SEQ1.read_bytes())
        outer["note"] = "x"
        read_publication(canonical_json(outer), VERIFY)


def test_format_and_version_come_before_the_schema() -> None:
    _refused(lambda m: m.update(version=2, new_field=1), "unsupported publication bundle version 2")
    _refused(lambda m: m.update(format="sesim-export"), "not a Səsim publication")
    _refused(lambda m: m.update(version="1"), "unsupported")


def test_sequence_and_previous_rules() -> None:
    _refused(lambda m: m.update(sequence=0), "sequence")
    _refused(lambda m: m.update(sequence=True), "sequence")
    _refused(lambda m: m.update(sequence=2**53), "sequence")
    _refused(lambda m: m.update(previous="ab" * 32), "has no previous")
    _refused(lambda m: m.update(sequence=2), "SHA-256")
    _refused(lambda m: m.update(created_day="2024-02-30"), "real date")


def test_floats_are_refused_even_when_signed() -> None:
    manifest = _doc()
    body = canonical_json(manifest).replace(b'"lat_e6":40364710', b'"lat_e6":40364710.0')
    outer = b'{"manifest":' + body + b',"signature":"' + sign_detached(SEED, body).hex().encode()
    with pytest.raises(BundleError, match="whole"):
        read_publication(outer + b'"}', VERIFY)


def test_codes_points_and_texts_are_checked() -> None:
    def entry(key: str, value: Any) -> Any:
        return lambda m: m["entries"][0].update({key: value})

    _refused(entry("types", ["groping"]), "not a known code")
    _refused(entry("types", []), "one or more")
    _refused(entry("types", ["verbal", "sextortion"]), "sorted")
    _refused(entry("types", ["verbal", "verbal"]), "sorted")
    _refused(entry("district", "baku"), "not a known code")
    _refused(entry("perpetrator", "president"), "not a known code")
    _refused(entry("service", "police_station"), "not a known code")
    _refused(entry("language", "de"), "not a known code")
    _refused(entry("month", "2024-13"), "YYYY-MM")
    _refused(entry("month", "2024-04-01"), "YYYY-MM")
    _refused(entry("id", "3B9D7F0C2A5E4D8196E0C7A1F2B3D4E5"), "32 lowercase hex")
    # The exact place she gave, one microdegree off the centre: not on the grid.
    _refused(entry("point", {"kind": "cell", "lat_e6": 40364711, "lon_e6": 49834567}), "grid")
    # A grid centre in another district (nasimi's, labelled sabail).
    _refused(entry("point", {"kind": "cell", "lat_e6": 40387170, "lon_e6": 49828669}), "inside")
    _refused(entry("point", {"kind": "station", "lat_e6": 40364710, "lon_e6": 49834567}), "metro")
    _refused(entry("point", None), "needs a point")
    _refused(lambda m: m["entries"][2].update(point=m["entries"][0]["point"]), "must be null")
    _refused(entry("summary", ""), "empty")
    _refused(entry("summary", " padded"), "space")
    _refused(entry("summary", "x" * 1001), "longer than 1000")
    _refused(entry("story", "y" * 10_001), "longer than 10000")
    _refused(entry("summary", "tab\there"), "control")
    _refused(entry("summary", "right-to-left \u202e override"), "control")
    _refused(entry("story", "zero\u200bwidth"), "control")
    _refused(entry("story", "carriage\r\nreturn"), "control")
    _refused(lambda m: m["entries"].reverse(), "sorted by id")
    _refused(lambda m: m.update(retractions=[m["entries"][0]["id"]]), "both published")
    _refused(lambda m: m.update(retractions=["b" * 32, "a" * 32]), "sorted")


def test_months_are_from_2000_to_the_month_the_bundle_was_written() -> None:
    """A month before 2000-01 or after the month of ``created_day`` (2024-06-01 in SEQ1)
    is refused by the reader and the writer: month 0000-01 once broke the statistics
    page, and 0001-01 with 9999-12 made its month chart 120,000 columns."""

    def month(value: str) -> Any:
        return lambda m: m["entries"][0].update(month=value)

    for bad in ("0000-01", "0001-01", "1999-12", "2024-07", "9999-12"):
        _refused(month(bad), "from 2000-01 to the month the bundle is written")
    for good in ("2000-01", "2024-06"):
        manifest = copy.deepcopy(_doc())
        month(good)(manifest)
        assert read_publication(_sign(manifest), VERIFY).entries[0].month == good
    for bad in ("1999-12", "2024-07"):
        with pytest.raises(BundleError, match="2000-01"):
            write_publication_bundle(
                SEED, sequence=1, previous=None, created_day="2024-06-01",
                entries=[_entry(month=bad)], retractions=[],
            )  # fmt: skip
    entry = _entry(month="2024-07").to_json()
    assert bundles.parse_entry(entry).month == "2024-07"  # no day: no upper bound
    with pytest.raises(BundleError, match=r"entry\.month must be from 2000-01"):
        bundles.parse_entry(entry, created_day="2024-06-30")


def test_html_is_only_text() -> None:
    """The format makes no HTML promise: markup is carried as text, for the map to escape."""
    data = write_publication_bundle(
        SEED, sequence=1, previous=None, created_day="2024-06-01",
        entries=[_entry(summary="<script>alert(1)</script> & <b>")], retractions=[],
    )  # fmt: skip
    assert read_publication(data, VERIFY).entries[0].summary == "<script>alert(1)</script> & <b>"


def test_the_writer_refuses_what_the_reader_would() -> None:
    for bad in (
        _entry(point=PublicPoint("cell", 40364711, 49834567)),
        _entry(types=("nope",)),
        _entry(summary=""),
        _entry(id="item-id"),
    ):
        with pytest.raises(BundleError):
            write_publication_bundle(
                SEED, sequence=1, previous=None, created_day="2024-06-01",
                entries=[bad], retractions=[],
            )  # fmt: skip
    with pytest.raises(BundleError):
        write_publication_bundle(
            SEED, sequence=2, previous=None, created_day="2024-06-01", entries=[], retractions=[]
        )


def test_size_cap() -> None:
    with pytest.raises(BundleError, match="at most"):
        read_publication(b" " * (bundles.MAX_PUBLICATION_BYTES + 1), VERIFY)


def test_bundles_md_documents_every_field() -> None:
    spec = (Path(bundles.__file__).parent.parent / "BUNDLES.md").read_text(encoding="utf-8")
    from securedrop_like.bundles import publication

    for name in (
        *publication._PUBLICATION_KEYS,
        *publication._ENTRY_KEYS,
        *publication._POINT_KEYS,
        *publication._OUTER_KEYS,
        publication.PUBLICATION_FORMAT,
        str(publication.MAX_SUMMARY_CHARS),
    ):
        assert f"`{name}`" in spec, name
    assert "publication_v1_seq1.json" in spec
