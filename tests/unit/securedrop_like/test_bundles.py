"""Export and reply bundles: round trips, known answers, tampering, limits, bounded memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import EnvelopeContext, PrivateKey, PublicKey, decrypt_bytes, encrypt_bytes
from crypto.envelope import legacy_v1_encrypt_bytes
from securedrop_like import bundles, db, models
from securedrop_like import store as blob_store
from securedrop_like.bundles import (
    BLOCK_SIZE,
    BundleError,
    ConsentDecision,
    ExportItem,
    ExportManifest,
    ExportSource,
    ReplyBindingError,
    ReplyEntry,
    iter_export_chunks,
    plan_export,
    read_export,
    read_replies,
    write_export,
    write_replies,
)
from securedrop_like.errors import SesimError
from securedrop_like.store import BlobReader, new_id
from tests.conftest import Instance

DATA = Path(__file__).parent / "data" / "bundles"
DAY = "2024-05-28"
MiB = 1024 * 1024
REVIEWER = PrivateKey.from_seed(b"\x5a" * 32)  # module-level: hypothesis refuses fixtures
SOURCE = PrivateKey.from_seed(b"\x5b" * 32)


# -- helpers ---------------------------------------------------------------------------


def item_of(
    data: bytes, kind: str = "report", parent: str | None = None, item_id: str = "", **kw: Any
) -> ExportItem:
    fields: dict[str, Any] = {"source": "qırmızı nar", "day": "2024-05-27", **kw}
    return ExportItem(
        item_id or new_id(), kind=kind, parent=parent, size=len(data),
        open=lambda: io.BytesIO(data), **fields,
    )  # fmt: skip


def sources_of(items: Sequence[ExportItem], channel: str = "web") -> list[ExportSource]:
    """One source entry per designation the items name (version 2 needs each)."""
    names = dict.fromkeys(i.source for i in items)
    return [ExportSource(name, SOURCE.public_key, channel) for name in names]


def export_of(items: list[ExportItem], retractions: list[Any] | None = None) -> bytes:
    sink = io.BytesIO()
    write_export(sink, items, retractions or [], DAY, sources=sources_of(items))
    return sink.getvalue()


def plan_of(items: list[ExportItem], retractions: list[Any] | None = None) -> Any:
    return plan_export(items, retractions or [], DAY, sources=sources_of(items))


def chunks_of(items: list[ExportItem], chunk_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    return iter_export_chunks(items, [], DAY, chunk_size, sources=sources_of(items))


def read_all(bundle: bytes) -> tuple[ExportManifest, dict[str, bytes]]:
    reader = read_export(io.BytesIO(bundle))
    got = {entry.id: stream.read() for entry, stream in reader}
    return reader.manifest, got


Member = tuple[str, bytes]


def tar_of(members: Sequence[tuple[str | tarfile.TarInfo, bytes]]) -> bytes:
    """A tar made by tarfile's own stream writer, for hand-built (often bad) bundles."""
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = name if isinstance(name, tarfile.TarInfo) else tarfile.TarInfo(name)
            if info.isreg():
                info.size = len(data)
            info.mode, info.mtime = 0o600, 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return sink.getvalue()


def members_of(bundle: bytes) -> list[Member]:
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:") as tar:
        out: list[Member] = []
        for m in tar.getmembers():
            stream = tar.extractfile(m)
            assert stream is not None
            out.append((m.name, stream.read()))
        return out


def with_manifest(members: list[Member], change: Callable[[dict[str, Any]], object]) -> bytes:
    manifest = json.loads(members[0][1])
    change(manifest)
    return tar_of([("manifest.json", json.dumps(manifest).encode()), *members[1:]])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def three() -> tuple[list[ExportItem], list[bytes]]:
    datas = [b"report envelope", b"", random.Random(3).randbytes(70_000)]
    report = item_of(datas[0])
    items = [report, item_of(datas[1], "file", report.id), item_of(datas[2], "file", report.id)]
    return items, datas


@pytest.fixture
def good(three: tuple[list[ExportItem], list[bytes]]) -> list[Member]:
    return members_of(export_of(three[0]))


# -- round trips and known answers -----------------------------------------------------


def test_export_round_trip_keeps_items_retractions_and_bytes(three: Any) -> None:
    items, datas = three
    retraction = models.Retraction(new_id(), "mavi göl", "2024-05-20", [new_id(), new_id()])
    as_dict = {"id": new_id(), "designation": "b1c2", "day": DAY, "item_ids": ()}
    manifest, got = read_all(export_of(items, [retraction, as_dict]))
    assert got == {item.id: data for item, data in zip(items, datas, strict=True)}
    assert manifest.created_day == DAY
    assert [(e.id, e.kind, e.parent, e.size, e.sha256) for e in manifest.items] == [
        (i.id, i.kind, i.parent, i.size, sha(d)) for i, d in zip(items, datas, strict=True)
    ]
    first, second = manifest.retractions
    assert (first.id, first.designation, first.day) == (retraction.id, "mavi göl", "2024-05-20")
    assert list(first.item_ids) == retraction.item_ids
    assert second.item_ids == ()


def test_export_is_what_tarfiles_stream_writer_makes_and_gnu_tar_reads(three: Any) -> None:
    bundle = export_of(three[0])
    assert bundle == tar_of(members_of(bundle))
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        for m in tar.getmembers():
            assert (m.mode, m.uid, m.gid, m.uname, m.gname, m.mtime) == (0o600, 0, 0, "", "", 0)


def test_same_input_gives_same_bytes_with_or_without_known_hashes(three: Any) -> None:
    items, datas = three
    known = [
        ExportItem(i.id, i.source, i.kind, i.parent, i.day, i.size, i.open, sha(d))
        for i, d in zip(items, datas, strict=True)
    ]
    assert export_of(items) == export_of(items) == export_of(known)


def test_chunks_are_the_written_bytes_in_64_kib_pieces_and_size_is_exact(three: Any) -> None:
    plan = plan_of(three[0])
    chunks = list(chunks_of(three[0]))
    assert b"".join(chunks) == export_of(three[0])
    assert len(b"".join(chunks)) == plan.size
    assert {len(c) for c in chunks[:-1]} == {BLOCK_SIZE} and 0 < len(chunks[-1]) <= BLOCK_SIZE


def test_known_answer_export_v1_is_still_read_and_decrypts() -> None:
    """Version 1 stays readable (the writer now writes version 2: see below)."""
    kat = (DATA / "export_v1.tar").read_bytes()
    manifest, got = read_all(kat)
    assert (manifest.version, manifest.sources) == (1, {})
    assert [(e.source, e.kind) for e in manifest.items] == [
        ("qırmızı nar", "report"), ("qırmızı nar", "file"), ("a1b2c3d4e5f6", "reply"),
    ]  # fmt: skip
    assert manifest.retractions[0].designation == "sarı çay"
    keys = [PrivateKey.from_seed(bytes([b]) * 32) for b in (0x11, 0x11, 0x22)]
    plain = [decrypt_bytes(got[e.id], k) for e, k in zip(manifest.items, keys, strict=True)]
    assert plain[0] == "Metroda, 28 May stansiyası, axşam 19:00 radələrində.".encode()
    assert plain[1] == b""
    # What version 1 may not carry: a version 2 field.
    members = members_of(kat)
    with pytest.raises(BundleError, match="unexpected field\\(s\\) sources"):
        read_export(io.BytesIO(with_manifest(members, set_("sources", []))))


def test_known_answer_export_v2_reads_decrypts_and_is_rewritten_byte_for_byte() -> None:
    kat = (DATA / "export_v2.tar").read_bytes()
    manifest, got = read_all(kat)
    assert manifest.version == 2 and manifest.created_day == "2024-06-02"
    assert [(e.source, e.kind) for e in manifest.items] == [
        ("qırmızı nar", "report"), ("qırmızı nar", "message"), ("qırmızı nar", "reply"),
    ]  # fmt: skip
    assert list(manifest.sources) == ["qırmızı nar", "mavi göl"]
    her = manifest.sources["qırmızı nar"]
    source_key = PrivateKey.from_seed(b"\x5a" * 32)  # the source of envelope_v2.txt's replies
    assert her.public_key == source_key.public_key and her.channel == "web"
    draft = "d4af7d4af7d4af7d4af7d4af7d4af7d4"
    assert her.consent == (ConsentDecision(draft, "approve", "2024-06-01"),)
    other = manifest.sources["mavi göl"]  # no item here: only her decisions travel
    assert other.channel == "sms" and other.public_key == PublicKey(bytes([0xAB]) * 32)
    assert [(c.decision, c.day) for c in other.consent] == [
        ("refuse", "2024-05-30"), ("approve", "2024-06-02"),
    ]  # fmt: skip
    # Every item opens with the context the workstation builds from the manifest alone:
    # the reply with her key from "sources".
    reviewer = PrivateKey.from_seed(b"\x22" * 32)
    plain = {}
    for e in manifest.items:
        key = source_key if e.kind == "reply" else reviewer
        source_pk = manifest.sources[e.source].public_key if e.kind == "reply" else None
        expected = EnvelopeContext.for_item(e.kind, e.id, source_pk)
        plain[e.kind] = decrypt_bytes(got[e.id], key, expected=expected)
    assert plain["reply"].startswith(b'{"text"')
    items = [
        ExportItem(e.id, e.source, e.kind, e.parent, e.day, e.size, partial(io.BytesIO, got[e.id]))
        for e in manifest.items
    ]
    retractions = [vars(r) for r in manifest.retractions]
    sink = io.BytesIO()
    write_export(
        sink, items, retractions, manifest.created_day, sources=list(manifest.sources.values())
    )
    assert sink.getvalue() == kat


def test_export_v2_round_trip_keeps_sources_and_decisions(three: Any) -> None:
    items, _ = three
    decisions = (
        ConsentDecision("ab" * 16, "approve", "2024-05-27"),
        ConsentDecision("cd" * 16, "refuse", DAY),
    )
    only_decided = ExportSource("синее море", REVIEWER.public_key, "email", decisions[1:])
    sources = [ExportSource("qırmızı nar", SOURCE.public_key, "web", decisions), only_decided]
    sink = io.BytesIO()
    write_export(sink, items, [], DAY, sources=sources)
    manifest, _ = read_all(sink.getvalue())
    assert manifest.version == bundles.EXPORT_VERSION == 2
    assert manifest.sources == {s.designation: s for s in sources}
    raw = json.loads(members_of(sink.getvalue())[0][1])
    assert raw["sources"][0]["public_key"] == SOURCE.public_key.to_text()


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([], "source 'qırmızı nar' is not in sources"),
        (
            [ExportSource("qırmızı nar", SOURCE.public_key, "web")] * 2,
            "source 'qırmızı nar' is listed twice",
        ),
        (
            [
                ExportSource("qırmızı nar", SOURCE.public_key, "web"),
                ExportSource("idle", SOURCE.public_key, "web"),
            ],
            "source 'idle' has no item and no decision",
        ),  # fmt: skip
        ([ExportSource("qırmızı nar", b"\x01" * 32, "web")], "public_key must be a PublicKey"),  # type: ignore[arg-type]
        ([ExportSource("qırmızı nar", SOURCE.public_key, "Web!")], "channel must be a channel"),
        (
            [
                ExportSource(
                    "qırmızı nar",
                    SOURCE.public_key,
                    "web",
                    (ConsentDecision("ab" * 16, "maybe", DAY),),
                )
            ],
            "decision must be one of approve, refuse",
        ),  # fmt: skip
        (
            [
                ExportSource(
                    "qırmızı nar",
                    SOURCE.public_key,
                    "web",
                    (ConsentDecision("ab" * 16, "approve", "2024-05-28 10:00"),),
                )
            ],
            "consent\\[0\\].day must be a date",
        ),  # fmt: skip
        (
            [
                ExportSource(
                    "qırmızı nar",
                    SOURCE.public_key,
                    "web",
                    (ConsentDecision("ab" * 16, "approve", DAY),) * 2,
                )
            ],
            "decides draft abab",
        ),  # fmt: skip
    ],
)
def test_the_writer_refuses_bad_sources(sources: list[Any], message: str) -> None:
    with pytest.raises(BundleError, match=message):
        plan_export([item_of(b"abc")], [], DAY, sources=sources)


def test_known_answer_replies_read_and_are_rewritten_byte_for_byte() -> None:
    kat = (DATA / "replies_v2.tar").read_bytes()
    replies = read_replies(io.BytesIO(kat), max_bytes=MiB)
    assert [(r.source, r.author) for r in replies] == [
        ("qırmızı nar", "leyla"),
        ("qırmızı nar", "günel"),
    ]
    source = PrivateKey.from_seed(b"\x5a" * 32)  # the source of envelope_v2.txt's replies
    expected = EnvelopeContext.reply(replies[0].id, source.public_key)
    assert replies[0].context == expected
    assert decrypt_bytes(replies[0].ciphertext, source, expected=expected).startswith(b'{"text"')
    sink = io.BytesIO()
    write_replies(sink, [ReplyEntry(r.id, r.source, r.author, r.ciphertext) for r in replies])
    assert sink.getvalue() == kat


def test_a_version_1_reply_bundle_is_refused() -> None:
    """Its replies are unbound envelopes that could have been moved: no longer accepted."""
    with pytest.raises(BundleError, match="unsupported reply bundle version 1"):
        read_replies(io.BytesIO((DATA / "replies_v1.tar").read_bytes()), max_bytes=MiB)


def test_real_envelopes_from_the_store_survive_export_and_decrypt(
    tmp_path: Path, instance: Instance
) -> None:
    """Blobs streamed from their chunks, with the SHA-256 recorded when written."""
    conn = db.Database.for_config(instance.config).open()
    plaintexts = [b"", b"short report", random.Random(1).randbytes(3 * 65536 + 5)]
    plaintexts.append(random.Random(2).randbytes(2 * blob_store.CHUNK_BYTES + 7))
    items = []
    for text in plaintexts:
        item_id = new_id()
        sealed = encrypt_bytes(
            text, [REVIEWER.public_key], context=EnvelopeContext.message(item_id)
        )
        blob_store.insert_blob(conn, item_id, sealed)
        size = BlobReader(conn, item_id).size
        items.append(
            ExportItem(
                item_id,
                "qırmızı nar",
                "message",
                None,
                DAY,
                size,
                partial(BlobReader, conn, item_id),
                sha256=blob_store.blob_sha256(conn, item_id),
            )
        )
    path = tmp_path / "export.tar"
    with path.open("wb") as sink:
        summary = write_export(sink, items, [], DAY, sources=sources_of(items))
    conn.close()
    assert summary.count == 4 and summary.bytes == path.stat().st_size
    with path.open("rb") as src, read_export(src) as reader:
        # The workstation opens each item with the context its manifest entry names.
        opened = [
            decrypt_bytes(
                stream.read(), REVIEWER, expected=EnvelopeContext.for_item(entry.kind, entry.id)
            )
            for entry, stream in reader
        ]
    assert opened == plaintexts


SIZES = st.sampled_from([0, 1, 511, 512, 65535, 65536, 65537, 140_000]) | st.integers(0, 140_000)
DESIGNATIONS = st.sampled_from(["qırmızı nar", "синее море", "a1b2c3d4e5f6", "x"])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(SIZES, st.sampled_from(models.ITEM_KINDS), DESIGNATIONS), max_size=5),
    st.integers(0, 2**32),
)
def test_random_exports_round_trip_and_match_tarfile(specs: list[Any], seed: int) -> None:
    rng = random.Random(seed)
    items: list[ExportItem] = []
    datas: list[bytes] = []
    for size, kind, designation in specs:
        data = rng.randbytes(size)
        parent = items[-1].id if kind == "file" and items else None
        items.append(item_of(data, kind, parent, source=designation))
        datas.append(data)
    bundle = b"".join(chunks_of(items, chunk_size=rng.choice([512, BLOCK_SIZE])))
    manifest, got = read_all(bundle)
    assert [got[e.id] for e in manifest.items] == datas
    assert [(e.source, e.kind, e.parent) for e in manifest.items] == [
        (i.source, i.kind, i.parent) for i in items
    ]
    assert bundle == tar_of(members_of(bundle)) and len(bundle) == plan_of(items).size


def test_reply_round_trip_exposes_designations_key_ids_and_context() -> None:
    reply_id = new_id()
    context = EnvelopeContext.reply(reply_id, SOURCE.public_key)
    sealed = encrypt_bytes(
        b"We can help.", [SOURCE.public_key, REVIEWER.public_key], context=context
    )
    entries = [ReplyEntry(reply_id, "qırmızı nar", "leyla", sealed)]
    sink = io.BytesIO()
    assert write_replies(sink, entries).count == 1
    [reply] = read_replies(io.BytesIO(sink.getvalue()), max_bytes=MiB)
    assert (reply.id, reply.source, reply.author) == (entries[0].id, "qırmızı nar", "leyla")
    assert reply.ciphertext == sealed and reply.sha256 == sha(sealed)
    assert reply.recipient_ids == (SOURCE.public_key.key_id, REVIEWER.public_key.key_id)
    assert reply.context == context
    assert decrypt_bytes(reply.ciphertext, SOURCE, expected=context) == b"We can help."


# -- tampering -------------------------------------------------------------------------


def test_a_flipped_byte_names_the_item_even_if_it_is_never_read(good: list[Member]) -> None:
    name, data = good[3]
    bad = tar_of([*good[:3], (name, data[:100] + bytes([data[100] ^ 1]) + data[101:])])
    reader = read_export(io.BytesIO(bad))
    with pytest.raises(BundleError, match=f"item {name[6:]} does not match its SHA-256") as err:
        for _ in reader:
            pass
    assert err.value.item_id == name[6:]


def test_the_read_that_reaches_a_bad_end_raises_instead_of_returning(good: list[Member]) -> None:
    name, data = good[3]
    bad = tar_of([*good[:3], (name, data[:-1] + bytes([data[-1] ^ 1]))])
    got = 0
    for entry, stream in read_export(io.BytesIO(bad)):
        if entry.id != name[6:]:
            continue
        with pytest.raises(BundleError, match="does not match"):
            while block := stream.read(1000):
                got += len(block)
        break
    assert got < entry.size and not stream.verified


def change_size(m: dict[str, Any]) -> None:
    m["items"][2]["size"] += 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda g: with_manifest(g, change_size), "bytes; the manifest says"),
        (lambda g: tar_of([g[0], g[1], (g[2][0], g[2][1] + b"x"), g[3]]), "bytes; the manifest"),
        (lambda g: tar_of([g[0], g[2], g[1], g[3]]), "should \\(missing or out of order\\)"),
        (lambda g: tar_of([g[0], g[1], g[3]]), "should \\(missing or out of order\\)"),
        (lambda g: tar_of(g[:3]), "the bundle ends before items/"),
        (lambda g: tar_of([*g, ("items/" + "f" * 32, b"x")]), "is not in the manifest"),
        (lambda g: tar_of([*g, g[1]]), "appears twice"),
        (lambda g: tar_of([*g, ("manifest.json", g[0][1])]), "unexpected member"),
        (lambda g: tar_of([*g, ("items/../x", b"")]), "unsafe member path"),
        (lambda g: tar_of([*g[:1], ("../x", b""), *g[1:]]), "unsafe member path"),
        (lambda g: tar_of([*g[:1], ("/etc/passwd", b"")]), "unsafe member path"),
        (lambda g: tar_of([*g[:1], ("items\\x", b"")]), "unsafe member path"),
        (lambda g: tar_of([*g[:1], ("notes.txt", b"")]), "unexpected member"),
        (lambda g: tar_of(g[1:]), "first member must be manifest.json"),
        (lambda g: b"", "not a bundle"),
        (lambda g: b"PK\x03\x04" + bytes(1000), "not a bundle"),
        (lambda g: gzip.compress(tar_of(g)), "not a bundle"),
    ],
)
def test_members_must_be_exactly_those_listed_in_order(
    good: list[Member], make: Callable[[list[Member]], bytes], message: str
) -> None:
    with pytest.raises(BundleError, match=message):
        read_all(make(good))


def link(kind: bytes, name: str = "items/" + "e" * 32) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, "/etc/shadow"
    return info


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        (tarfile.SYMTYPE, "symbolic link"),
        (tarfile.LNKTYPE, "hard link"),
        (tarfile.DIRTYPE, "directory"),
        (tarfile.CHRTYPE, "character device"),
        (tarfile.BLKTYPE, "block device"),
        (tarfile.FIFOTYPE, "FIFO"),
    ],
)
def test_only_regular_files_are_accepted(good: list[Member], kind: bytes, what: str) -> None:
    with pytest.raises(BundleError, match=f"is a {what}; bundles hold regular files only"):
        read_all(tar_of([good[0], (link(kind), b""), *good[1:]]))
    with pytest.raises(BundleError, match=what):
        read_all(tar_of([(link(kind, "manifest.json"), b""), *good]))


def test_a_sparse_member_is_refused(good: list[Member]) -> None:
    info = tarfile.TarInfo(good[1][0])
    info.pax_headers = {"GNU.sparse.map": "0,1", "GNU.sparse.size": str(len(good[1][1]))}
    with pytest.raises(BundleError, match="sparse"):
        read_all(tar_of([good[0], (info, good[1][1]), *good[2:]]))


def test_every_truncation_is_refused(good: list[Member]) -> None:
    bundle = tar_of(good)
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        last = tar.getmembers()[-1]
        data_end = last.offset_data + last.size
    for cut in [*range(0, data_end, 509), data_end - 1]:
        with pytest.raises(BundleError):
            read_all(bundle[:cut])
    read_all(bundle[: data_end + 512])  # all members whole: only tar's end blocks are missing


# -- manifests -------------------------------------------------------------------------


def set_(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target: Any = manifest
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[key] = value

    return change


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda m: m["items"][0].pop(key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            set_("version", 3),
            "unsupported export bundle version 3; this reader knows versions 1 and 2",
        ),  # noqa: E501
        (set_("version", 0), "unsupported export bundle version 0"),
        (set_("version", "1"), "unsupported export bundle version '1'"),
        (set_("version", True), "unsupported export bundle version True"),
        (set_("format", "sesim-replies"), "not a Səsim export bundle"),
        (set_("extra", 1), "unexpected field\\(s\\) extra"),
        (drop("sha256"), "items\\[0\\] lacks sha256"),
        (set_("items.0.id", "A" * 32), "items\\[0\\].id must be 32 lowercase hex"),
        (set_("items.0.parent", "../etc"), "items\\[0\\].parent must be 32 lowercase hex"),
        (set_("items.0.kind", "photo"), "kind must be one of"),
        (set_("items.0.day", "2024-02-30"), "not a real date"),
        (set_("items.0.day", "2024-05-27T10:00"), "must be a date"),
        (set_("items.0.size", -1), "size must be a whole number"),
        (set_("items.0.size", True), "size must be a whole number"),
        (set_("items.0.size", 1.0), "size must be a whole number"),
        (set_("items.0.source", ""), "source must be 1 to 100 printable"),
        (set_("items.0.source", "a\nb"), "source must be 1 to 100 printable"),
        (set_("items.0.sha256", "0" * 63), "sha256 must be 64 lowercase hex"),
        (set_("items.1.id", None), "must be 32 lowercase hex"),
        (set_("created_day", None), "created_day must be a date"),
        (set_("retractions", {}), "retractions must be a list"),
        (set_("retractions", [{"id": "0" * 32}]), "retractions\\[0\\] lacks designation"),
        (lambda m: m["items"].append(m["items"][0]), "is listed twice"),
        # version 2's sources
        (lambda m: m.pop("sources"), "the top level lacks sources"),
        (set_("sources", {}), "sources must be a list"),
        (set_("sources.0.public_key", "sesim-x25519-pk:AAAA"), "public_key must be a public key"),
        (set_("sources.0.public_key", "ab" * 32), "public_key must be a public key"),
        (set_("sources.0.public_key", None), "public_key must be a public key"),
        (
            set_("sources.0.public_key", PrivateKey.from_seed(b"\x01" * 32).to_text()),
            "public_key must be a public key",
        ),  # fmt: skip
        (
            set_("sources.0.public_key", SOURCE.public_key.to_text()[:-1] + "B"),
            "public_key must be a public key",
        ),  # fmt: skip
        (set_("sources.0.note", "x"), "sources\\[0\\] has unexpected field\\(s\\) note"),
        (lambda m: m["sources"][0].pop("channel"), "sources\\[0\\] lacks channel"),
        (set_("sources.0.channel", ""), "channel must be a channel"),
        (set_("sources.0.channel", "WEB"), "channel must be a channel"),
        (set_("sources.0.designation", " qırmızı nar"), "designation must be 1 to 100"),
        (set_("sources.0.designation", "mavi göl"), "source 'qırmızı nar' is not in sources"),
        (lambda m: m["sources"].append(m["sources"][0]), "source 'qırmızı nar' is listed twice"),
        (set_("sources.0.consent", None), "consent must be a list"),
        (
            set_("sources.0.consent", [{"draft_id": "ab" * 16, "decision": "yes", "day": DAY}]),
            "decision must be one of approve, refuse",
        ),  # fmt: skip
        (
            set_("sources.0.consent", [{"draft_id": "AB" * 16, "decision": "refuse", "day": DAY}]),
            "draft_id must be 32 lowercase hex",
        ),  # fmt: skip
        (
            set_(
                "sources.0.consent",
                [{"draft_id": "ab" * 16, "decision": "refuse", "day": DAY, "text": "her story"}],
            ),
            "consent\\[0\\] has unexpected field\\(s\\) text",
        ),  # fmt: skip
        (
            set_("sources.0.consent", [{"draft_id": "ab" * 16, "decision": "refuse"}]),
            "consent\\[0\\] lacks day",
        ),  # fmt: skip
        (
            set_(
                "sources.0.consent", [{"draft_id": "ab" * 16, "decision": "refuse", "day": DAY}] * 2
            ),
            "decides draft abab",
        ),  # fmt: skip
        (
            lambda m: m["sources"].append(dict(m["sources"][0], designation="idle")),
            "source 'idle' has no item and no decision",
        ),  # fmt: skip
    ],
)
def test_manifest_schema_is_checked_strictly(
    good: list[Member], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(BundleError, match=message):
        read_export(io.BytesIO(with_manifest(good, change)))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"format":"sesim-export","format":"x"}', "appears twice"),
        (b'{"format":"sesim-export","version":NaN}', "NaN is not allowed"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[" * 100_000, "not valid UTF-8 JSON"),
        (b"[]", "must be a JSON object"),
    ],
)
def test_manifest_must_be_plain_json(good: list[Member], raw: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        read_export(io.BytesIO(tar_of([("manifest.json", raw), *good[1:]])))


def test_an_oversize_manifest_is_refused_before_it_is_read() -> None:
    info = tarfile.TarInfo("manifest.json")
    info.size = bundles.MAX_MANIFEST_BYTES + 1
    header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    with pytest.raises(BundleError, match="manifest.json is 16777217 bytes; the limit is"):
        read_export(io.BytesIO(header + bytes(1024)))


def test_a_huge_member_header_is_refused_without_buffering_it(good: list[Member]) -> None:
    info = tarfile.TarInfo(good[1][0])
    info.pax_headers = {"comment": "x" * (2 * MiB)}
    bad = tar_of([good[0], (info, good[1][1]), *good[2:]])
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match="implausibly large"):
            read_all(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * MiB


def test_a_reader_is_used_once_and_a_stream_not_after_the_next(good: list[Member]) -> None:
    reader = read_export(io.BytesIO(tar_of(good)))
    streams = [stream for _, stream in reader]
    with pytest.raises(BundleError, match="read after the next item"):
        streams[0].read()
    with pytest.raises(BundleError, match="read only once"):
        iter(reader)


# -- writing ---------------------------------------------------------------------------


class ChangingItem:
    """Opens with different bytes each time: a file that changed between the passes."""

    def __init__(self, size: int) -> None:
        self.opened = 0
        self.size = size

    def __call__(self) -> io.BytesIO:
        self.opened += 1
        return io.BytesIO(bytes([self.opened]) * self.size)


def test_an_item_changed_between_passes_leaves_a_bundle_readers_refuse() -> None:
    changing = ChangingItem(100_000)
    item = ExportItem(new_id(), "x", "file", None, DAY, 100_000, changing)
    out = io.BytesIO()
    with pytest.raises(BundleError, match=f"item {item.id} does not match its SHA-256"):
        for chunk in chunks_of([item]):
            out.write(chunk)
    assert out.tell() < 100_000  # its last block was held back
    with pytest.raises(BundleError, match="cut short|ends before"):
        read_all(out.getvalue())


def never_opened() -> io.BytesIO:
    raise AssertionError("a bad item was read before its other fields were checked")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (ExportItem("0" * 32, "x", "file", None, DAY, 5, lambda: io.BytesIO(b"1234")), "shorter"),
        (ExportItem("0" * 32, "x", "file", None, DAY, 3, lambda: io.BytesIO(b"1234")), "longer"),
        (ExportItem("0" * 32, "x", "file", None, DAY, -1, lambda: io.BytesIO(b"")), "size must"),
        (ExportItem("../x", "x", "file", None, DAY, 0, lambda: io.BytesIO(b"")), "lowercase hex"),
        (ExportItem("0" * 32, "x", "pdf", None, DAY, 9, never_opened), "kind must"),
        (ExportItem("0" * 32, "x", "file", None, "28.05.2024", 9, never_opened), "must be a date"),
        (ExportItem("0" * 32, "", "file", None, DAY, 9, never_opened), "source must be"),
    ],
)
def test_bad_input_is_refused_before_any_byte_is_produced(item: ExportItem, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        chunks_of([item])


def test_writer_refuses_duplicates_bad_retractions_and_oversize_manifests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = item_of(b"abc")
    with pytest.raises(BundleError, match="listed twice"):
        plan_of([item, item])
    with pytest.raises(BundleError, match="unexpected field"):
        plan_of([item], [{"id": new_id(), "note": "x"}])
    with pytest.raises(BundleError, match="item_ids must be a list"):
        plan_of([item], [{"id": new_id(), "designation": "x", "day": DAY, "item_ids": "x"}])
    monkeypatch.setattr(bundles._validate, "MAX_MANIFEST_BYTES", 300)  # where the writer reads it
    with pytest.raises(BundleError, match="put fewer items in one bundle"):
        plan_of([item, item_of(b"")])


def test_the_formats_share_the_servers_item_kinds_and_errors_are_domain_errors() -> None:
    assert bundles.ITEM_KINDS == models.ITEM_KINDS
    assert issubclass(BundleError, ValueError) and issubclass(BundleError, SesimError)


def test_the_spec_names_every_field_and_limit() -> None:
    spec = (Path(bundles.__file__).parent.parent / "BUNDLES.md").read_text(encoding="utf-8")
    assert "BUNDLES.md" in (bundles.__doc__ or "")
    for name in (*bundles._EXPORT_KEYS, *bundles._ITEM_KEYS, *bundles._RETRACTION_KEYS,
                 *bundles._SOURCE_KEYS, *bundles._CONSENT_KEYS, *bundles.CONSENT_DECISIONS,
                 *bundles._REPLY_KEYS, bundles.EXPORT_FORMAT, bundles.REPLIES_FORMAT):  # fmt: skip
        assert f'"{name}"' in spec
    for version in bundles.EXPORT_VERSIONS:
        assert f"## Export bundle, version {version}" in spec
    assert "`sesim-export` version 2" in spec and "sesim-x25519-pk:" in spec
    assert "16 MiB" in spec and "## Version policy" in spec
    # What the workstation must check (export) and write (replies): the item binding.
    assert "expected=EnvelopeContext.for_item(kind, id, source_key)" in spec
    assert "EnvelopeContext.reply(id, source_key)" in spec


# -- reply bundles ---------------------------------------------------------------------


REPLY_ID = "ab" * 16


def bound(reply_id: str = REPLY_ID, source: PublicKey = SOURCE.public_key) -> bytes:
    """A reply sealed on the workstation, bound to its id and source."""
    context = EnvelopeContext.reply(reply_id, source)
    return encrypt_bytes(b"reply", [source, REVIEWER.public_key], context=context)


def reply_bundle(*replies: tuple[str, bytes]) -> bytes:
    sink = io.BytesIO()
    write_replies(sink, [ReplyEntry(i, "qırmızı nar", "leyla", c) for i, c in replies])
    return sink.getvalue()


SEALED = bound()


def replace_reply(members: list[Member], data: bytes) -> bytes:
    return with_manifest(
        [*members[:1], (members[1][0], data)],
        lambda m: m["replies"][0].update(size=len(data), sha256=sha(data)),
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda g: replace_reply(g, b"%PDF-1.7" + SEALED[8:]), "not a Səsim envelope: .*bad magic"),
        (lambda g: replace_reply(g, SEALED[:8] + b"\x00\x03" + SEALED[10:]), "envelope version 3"),
        (lambda g: replace_reply(g, SEALED[:11]), "not a Səsim envelope"),
        (lambda g: replace_reply(g, SEALED[:270]), "too short to be an envelope"),
        (lambda g: tar_of([g[0], (g[1][0], SEALED[:-1] + b"\x00")]), "does not match its SHA-256"),
        (lambda g: with_manifest(g, set_("version", 3)), "unsupported reply bundle version 3"),
        (lambda g: with_manifest(g, set_("replies.0.author", "")), "author must be 1 to 100"),
        (lambda g: with_manifest(g, lambda m: m["replies"].append(m["replies"][0])), "twice"),
        (lambda g: tar_of([g[0], ("items/" + g[1][0][8:], g[1][1])]), "unexpected member"),
        (lambda g: tar_of([g[0], (link(tarfile.SYMTYPE, g[1][0]), b"")]), "symbolic link"),
        (lambda g: tar_of([g[0], ("replies/../../etc/cron.d/x", b"")]), "unsafe member path"),
        (lambda g: tar_of(g[:1]), "ends before replies/"),
        (lambda g: (DATA / "export_v1.tar").read_bytes(), "not a Səsim reply bundle"),
    ],
)
def test_reply_bundles_are_checked(make: Callable[[list[Member]], bytes], message: str) -> None:
    with pytest.raises(BundleError, match=message):
        read_replies(io.BytesIO(make(members_of(reply_bundle((REPLY_ID, SEALED))))), max_bytes=MiB)


@pytest.mark.parametrize(
    ("ciphertext", "message"),
    [
        (legacy_v1_encrypt_bytes(b"reply", [SOURCE.public_key]), "envelope version 1"),
        (bound(reply_id="cd" * 16), "sealed for another item"),
        (
            encrypt_bytes(b"r", [SOURCE.public_key], context=EnvelopeContext.message(REPLY_ID)),
            "sealed for another item",
        ),
    ],
    ids=["version-1", "another-reply-id", "not-a-reply"],
)
def test_a_reply_not_bound_to_its_id_is_refused_by_reader_and_writer(
    ciphertext: bytes, message: str
) -> None:
    good = members_of(reply_bundle((REPLY_ID, SEALED)))
    with pytest.raises(ReplyBindingError, match=message) as caught:
        read_replies(io.BytesIO(replace_reply(good, ciphertext)), max_bytes=MiB)
    assert (caught.value.item_id, caught.value.source) == (REPLY_ID, "qırmızı nar")
    with pytest.raises(ReplyBindingError, match=message):
        reply_bundle((REPLY_ID, ciphertext))


def test_reply_bundles_are_capped_as_they_are_read() -> None:
    bundle = reply_bundle(*((i, bound(i)) for i in (new_id(), new_id(), new_id())))
    assert len(read_replies(io.BytesIO(bundle), max_bytes=len(bundle))) == 3
    with pytest.raises(BundleError, match=f"larger than {len(bundle) - 1} bytes"):
        read_replies(io.BytesIO(bundle), max_bytes=len(bundle) - 1)
    claims_a_gigabyte = with_manifest(members_of(bundle), set_("replies.1.size", 10**9))
    with pytest.raises(BundleError, match="add up to more than"):
        read_replies(io.BytesIO(claims_a_gigabyte), max_bytes=MiB)


def test_the_workstation_cannot_write_a_reply_that_is_not_an_envelope() -> None:
    with pytest.raises(BundleError, match="not a Səsim envelope"):
        reply_bundle((REPLY_ID, b"Dear source, in plaintext"))


# -- bounded memory --------------------------------------------------------------------


class GeneratedCiphertext:
    """``size`` bytes made on demand and never held: a stand-in for a huge stored file."""

    BLOCK = bytes(range(256)) * 256

    def __init__(self, size: int) -> None:
        self.remaining = size

    def read(self, size: int = -1) -> bytes:
        n = min(self.remaining, len(self.BLOCK) if size < 0 else size, len(self.BLOCK))
        self.remaining -= n
        return memoryview(self.BLOCK)[:n].tobytes()  # a new object each time, like a file

    def close(self) -> None:
        pass


class HashingSink:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return len(data)


class ChunkPipe:
    """A readable over a chunk iterator: the bundle flows from writer to reader, unstored."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = b""

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size and (chunk := next(self.chunks, b"")):
            self.buffer += chunk
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


HUGE = 256 * MiB


HUGE_SOURCE = [ExportSource("x", SOURCE.public_key, "web")]


def huge_item() -> ExportItem:
    return ExportItem(new_id(), "x", "file", None, DAY, HUGE, lambda: GeneratedCiphertext(HUGE))


def traced_peak(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_writing_a_256_mib_export_keeps_memory_bounded() -> None:
    sink = HashingSink()
    peak = traced_peak(lambda: write_export(sink, [huge_item()], [], DAY, sources=HUGE_SOURCE))
    assert sink.size > HUGE
    print(f"peak {peak / MiB:.2f} MiB")
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"


@pytest.mark.slow
def test_reading_a_256_mib_export_keeps_memory_bounded() -> None:
    expected, source = hashlib.sha256(), GeneratedCiphertext(HUGE)
    while block := source.read(BLOCK_SIZE):
        expected.update(block)
    got = hashlib.sha256()

    def pipe_through() -> None:
        reader = read_export(ChunkPipe(chunks_of([huge_item()])))
        for _, stream in reader:
            while block := stream.read(BLOCK_SIZE):
                got.update(block)
            assert stream.verified

    peak = traced_peak(pipe_through)
    assert got.hexdigest() == expected.hexdigest()
    print(f"peak {peak / MiB:.2f} MiB")
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"
