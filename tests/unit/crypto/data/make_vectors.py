"""Make the known-answer vectors in this folder. Run once; keep the output.

    .venv/bin/python tests/unit/crypto/data/make_vectors.py [--force]

This script deliberately does NOT import the ``crypto`` package: it builds
everything straight from libsodium (``nacl.bindings``) and :mod:`hashlib`,
following ``crypto/FORMAT.md`` and the docstring of ``crypto/codename.py``.
The tests then check that ``crypto`` agrees with this independent reading
of the specification.

Envelopes contain random values (file key, ephemeral keys, stream header),
so running this again gives different ciphertexts that decrypt to the same
plaintexts. Do not regenerate the files without a reason: they pin format
versions 1 and 2, and a change that stops old envelopes from decrypting
must fail the tests. A new format version gets a new vector file beside the
old ones (existing files are kept unless --force is given).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from nacl import bindings

HERE = Path(__file__).resolve().parent
ARGON2_FILE = HERE / "argon2id_source_keys.txt"
ENVELOPE_FILE = HERE / "envelope_v1.txt"
ENVELOPE_V2_FILE = HERE / "envelope_v2.txt"

CHUNK_SIZE = 65536
TAG_MESSAGE = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL

ARGON2_CASES = [
    # codename, salt hex, opslimit, memlimit (small limits keep the tests fast)
    ("alma armud heyva nar gilas alca qoz", "000102030405060708090a0b0c0d0e0f", 1, 8192),
    ("alma armud heyva nar gilas alca qoz", "0f0e0d0c0b0a09080706050403020100", 1, 8192),
    ("alma armud heyva nar gilas alca qos", "000102030405060708090a0b0c0d0e0f", 1, 8192),
    ("48205917736102948571", "a3c1e5f70b92d4861f3e5a7c9b0d2f41", 2, 65536),
    ("şəhər çay göl ağac üzüm ısıq öküz", "5e5a11d5a17c0de5a11d5a17c0de5a11", 1, 8192),
    # The production defaults: opslimit 3, memlimit 64 MiB.
    ("bakı dəniz külək səs gecə yol işıq", "7365736a6d2d696e7374616e63652d31", 3, 64 * 1024 * 1024),
]

RECIPIENT_SEEDS = [bytes([i]) * 32 for i in (0x11, 0x22, 0x33)]

ENVELOPE_CASES = [
    # name, seeds (slot order), index of the seed that decrypts, plaintext
    ("empty", [0], 0, b""),
    (
        "short-text",
        [0],
        0,
        "Metroda, 28 May stansiyası, axşam 19:00 radələrində.".encode(),
    ),
    ("two-recipients-second-decrypts", [0, 1], 1, b"reply to source and reviewer"),
    (
        "one-full-chunk-then-empty-final",
        [2],
        0,
        bytes((i * 7 + 3) % 256 for i in range(CHUNK_SIZE)),
    ),
]


# Version 2: the context block after the preamble (crypto/FORMAT.md).
KIND_CODES = {"report": 1, "message": 2, "file": 3, "reply": 4}
SOURCE_SEED = bytes([0x5A]) * 32  # the source a reply is sealed to

ENVELOPE_V2_CASES = [
    # name, kind, item id, seeds (slot order; None is the source), index that
    # decrypts, plaintext
    ("report-empty", "report", "00112233445566778899aabbccddeeff", [0], 0, b""),
    (
        "report-short-text",
        "report",
        "5e1f0c9a7b3d24e6a8c0b2d4f6e8a0c1",
        [0, 1],
        1,
        '{"text":"Metroda, 28 May stansiyası, axşam 19:00 radələrində."}'.encode(),
    ),
    (
        "message-short",
        "message",
        "c0ffee00c0ffee00c0ffee00c0ffee00",
        [1],
        0,
        b"Bu gun yene gordum.",
    ),
    (
        "file-two-chunks-and-a-tail",
        "file",
        "f11ef11ef11ef11ef11ef11ef11ef11e",
        [2],
        0,
        bytes((i * 13 + 5) % 256 for i in range(2 * CHUNK_SIZE + 1000)),
    ),
    (
        "reply-opened-by-the-source",
        "reply",
        "7e91a0b2c3d4e5f60718293a4b5c6d7e",
        [None, 0, 1],
        0,
        '{"text":"Sizə kömək edə bilərik.","lang":"az"}'.encode(),
    ),
    (
        "reply-opened-by-a-reviewer",
        "reply",
        "8f02b1c3d4e5f60718293a4b5c6d7e8f",
        [None, 0, 1],
        2,
        b"We can help.",
    ),
]


def derive(codename: str, salt: bytes, opslimit: int, memlimit: int) -> tuple[str, str]:
    derived = bindings.crypto_pwhash_alg(
        64,
        codename.encode("utf-8"),
        salt,
        opslimit,
        memlimit,
        bindings.crypto_pwhash_ALG_ARGON2ID13,
    )
    lookup_id = hashlib.blake2b(derived[:32], digest_size=32, person=b"sesim-lookup").hexdigest()
    public_key, _ = bindings.crypto_box_seed_keypair(derived[32:])
    return lookup_id, public_key.hex()


def source_hash(public_key: bytes) -> bytes:
    return hashlib.blake2b(public_key, digest_size=32, person=b"sesim-ctx-source").digest()


def context_block(kind: str, item_id: str, source_public_key: bytes | None) -> bytes:
    source = source_hash(source_public_key) if source_public_key is not None else bytes(32)
    return bytes([KIND_CODES[kind]]) + bytes.fromhex(item_id) + source


def envelope(plaintext: bytes, public_keys: list[bytes], context: bytes | None = None) -> bytes:
    file_key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
    version = 1 if context is None else 2
    header = b"SESIMENV" + version.to_bytes(2, "big") + bytes([len(public_keys)])
    header += context or b""
    for public_key in public_keys:
        key_id = hashlib.blake2b(public_key, digest_size=32, person=b"sesim-keyid").digest()[:8]
        header += key_id + bindings.crypto_box_seal(file_key, public_key)
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    header += bindings.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)
    n_full = len(plaintext) // CHUNK_SIZE  # the final chunk is always shorter
    out = [header]
    ad: bytes | None = header
    for index in range(n_full + 1):
        chunk = plaintext[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
        tag = TAG_FINAL if index == n_full else TAG_MESSAGE
        out.append(bindings.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tag))
        ad = None
    return b"".join(out)


def argon2_text() -> str:
    lines = [
        "# Argon2id source-key vectors for crypto.codename.derive_source_keys.",
        "# Made by tests/unit/crypto/data/make_vectors.py straight from libsodium",
        "# (crypto_pwhash_alg ARGON2ID13, 64 bytes out; lookup id = BLAKE2b-256 of",
        "# bytes 0..31 with person b'sesim-lookup'; public key = crypto_box_seed_keypair",
        "# of bytes 32..63), without importing the crypto package.",
        "# Codenames are UTF-8. Fields are separated by one TAB:",
        "# codename  salt_hex  opslimit  memlimit  lookup_id  public_key_hex",
    ]
    for codename, salt_hex, opslimit, memlimit in ARGON2_CASES:
        lookup_id, public_hex = derive(codename, bytes.fromhex(salt_hex), opslimit, memlimit)
        fields = [codename, salt_hex, str(opslimit), str(memlimit), lookup_id, public_hex]
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def envelope_text() -> str:
    lines = [
        "# Envelope format version 1 decryption vectors for crypto.envelope.",
        "# Made once by tests/unit/crypto/data/make_vectors.py, which builds envelopes",
        "# from libsodium (crypto_box_seal, secretstream XChaCha20-Poly1305) and",
        "# hashlib following crypto/FORMAT.md, without importing the crypto package.",
        "# Recipient keys are crypto_box_seed_keypair(seed). 'decrypt_with' is the",
        "# seed whose key must open the envelope. Long plaintexts are given as",
        "# size and SHA-256. Never regenerate: old envelopes must keep decrypting.",
    ]
    for name, seed_indexes, decrypt_index, plaintext in ENVELOPE_CASES:
        seeds = [RECIPIENT_SEEDS[i] for i in seed_indexes]
        public_keys = [bindings.crypto_box_seed_keypair(seed)[0] for seed in seeds]
        lines += ["", f"name = {name}"]
        lines.append(f"decrypt_with = {seeds[decrypt_index].hex()}")
        lines.append(f"decrypt_with_public_key = {public_keys[decrypt_index].hex()}")
        lines.append(f"recipient_key_ids = {','.join(key_id_hex(pk) for pk in public_keys)}")
        if len(plaintext) <= 256:
            lines.append(f"plaintext = {plaintext.hex()}")
        else:
            lines.append(f"plaintext_size = {len(plaintext)}")
            lines.append(f"plaintext_sha256 = {hashlib.sha256(plaintext).hexdigest()}")
        lines.append(f"ciphertext = {envelope(plaintext, public_keys).hex()}")
    return "\n".join(lines) + "\n"


def envelope_v2_text() -> str:
    lines = [
        "# Envelope format version 2 decryption vectors for crypto.envelope.",
        "# Made once by tests/unit/crypto/data/make_vectors.py, which builds envelopes",
        "# from libsodium (crypto_box_seal, secretstream XChaCha20-Poly1305) and",
        "# hashlib following crypto/FORMAT.md, without importing the crypto package.",
        "# The header carries the context block: kind code, item id, and for a reply",
        "# BLAKE2b-256(source public key, person b'sesim-ctx-source') (else zeros).",
        "# Recipient keys are crypto_box_seed_keypair(seed). 'decrypt_with' is the",
        "# seed whose key must open the envelope. Long plaintexts are given as",
        "# size and SHA-256. Never regenerate: old envelopes must keep decrypting.",
    ]
    source_public = bindings.crypto_box_seed_keypair(SOURCE_SEED)[0]
    for name, kind, item_id, seed_indexes, decrypt_index, plaintext in ENVELOPE_V2_CASES:
        seeds = [SOURCE_SEED if i is None else RECIPIENT_SEEDS[i] for i in seed_indexes]
        public_keys = [bindings.crypto_box_seed_keypair(seed)[0] for seed in seeds]
        source = source_public if kind == "reply" else None
        lines += ["", f"name = {name}"]
        lines.append(f"context_kind = {kind}")
        lines.append(f"context_item_id = {item_id}")
        if source is not None:
            lines.append(f"context_source_public_key = {source.hex()}")
            lines.append(f"context_source_hash = {source_hash(source).hex()}")
        lines.append(f"decrypt_with = {seeds[decrypt_index].hex()}")
        lines.append(f"decrypt_with_public_key = {public_keys[decrypt_index].hex()}")
        lines.append(f"recipient_key_ids = {','.join(key_id_hex(pk) for pk in public_keys)}")
        if len(plaintext) <= 256:
            lines.append(f"plaintext = {plaintext.hex()}")
        else:
            lines.append(f"plaintext_size = {len(plaintext)}")
            lines.append(f"plaintext_sha256 = {hashlib.sha256(plaintext).hexdigest()}")
        block = context_block(kind, item_id, source)
        lines.append(f"ciphertext = {envelope(plaintext, public_keys, block).hex()}")
    return "\n".join(lines) + "\n"


def key_id_hex(public_key: bytes) -> str:
    return hashlib.blake2b(public_key, digest_size=32, person=b"sesim-keyid").digest()[:8].hex()


def main(argv: list[str]) -> int:
    force = "--force" in argv
    files = (
        (ARGON2_FILE, argon2_text),
        (ENVELOPE_FILE, envelope_text),
        (ENVELOPE_V2_FILE, envelope_v2_text),
    )
    for path, make in files:
        if path.exists() and not force:
            print(f"{path.name} exists; keeping it (use --force to replace)")
            continue
        path.write_text(make(), encoding="utf-8")
        print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
