"""crypto.codename: a source's lookup id and key pair from her codename."""

from __future__ import annotations

import hashlib

import nacl.pwhash.argon2id  # to read the raw KDF output; see the test that uses it
import pytest

from crypto import (
    ARGON2_MEMLIMIT,
    ARGON2_OPSLIMIT,
    CryptoError,
    EnvelopeContext,
    FormatError,
    SourceKeys,
    decrypt_bytes,
    derive_source_keys,
    encrypt_bytes,
    new_instance_salt,
)
from tests.unit.crypto.vectors import Argon2Vector, argon2_vectors

# Small Argon2id limits keep these tests fast; the vectors cover the defaults.
FAST = {"opslimit": 1, "memlimit": 8192}
SALT = bytes(range(16))
CODENAME = "alma armud heyva nar gilas alca qoz"
VECTORS = argon2_vectors()


# What these tests write: a version 2 envelope bound to one report (the format is the
# same for every context; test_envelope_context.py covers the binding itself).
CTX = EnvelopeContext.report("0123456789abcdef0123456789abcdef")


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[f"{v.codename[:12]}-{v.opslimit}-{v.memlimit}" for v in VECTORS]
)
def test_derivation_matches_the_known_answer(vector: Argon2Vector) -> None:
    keys = derive_source_keys(
        vector.codename, vector.salt, opslimit=vector.opslimit, memlimit=vector.memlimit
    )
    assert keys.lookup_id == vector.lookup_id
    assert keys.public_key.raw == vector.public_key


def test_vectors_include_the_production_defaults() -> None:
    assert (ARGON2_OPSLIMIT, ARGON2_MEMLIMIT) == (3, 64 * 1024 * 1024)
    assert any((v.opslimit, v.memlimit) == (ARGON2_OPSLIMIT, ARGON2_MEMLIMIT) for v in VECTORS)


def test_derivation_is_deterministic() -> None:
    one = derive_source_keys(CODENAME, SALT, **FAST)
    two = derive_source_keys(CODENAME, SALT, **FAST)
    assert one.lookup_id == two.lookup_id
    assert one.public_key == two.public_key
    assert one.private_key.unsafe_raw() == two.private_key.unsafe_raw()


def test_different_salts_give_unrelated_keys() -> None:
    one = derive_source_keys(CODENAME, SALT, **FAST)
    two = derive_source_keys(CODENAME, bytes(reversed(SALT)), **FAST)
    assert one.lookup_id != two.lookup_id
    assert one.public_key != two.public_key


def test_different_codenames_give_unrelated_keys() -> None:
    one = derive_source_keys(CODENAME, SALT, **FAST)
    two = derive_source_keys(CODENAME + "x", SALT, **FAST)
    assert one.lookup_id != two.lookup_id
    assert one.public_key != two.public_key


def test_lookup_id_is_64_hex_characters() -> None:
    lookup_id = derive_source_keys(CODENAME, SALT, **FAST).lookup_id
    assert len(lookup_id) == 64 and int(lookup_id, 16) >= 0


def test_lookup_id_is_not_raw_kdf_output() -> None:
    # The lookup id is stored; it must not be either half of the KDF output,
    # and the private key must not be the raw second half either.
    raw = nacl.pwhash.argon2id.kdf(
        64, CODENAME.encode(), SALT, opslimit=FAST["opslimit"], memlimit=FAST["memlimit"]
    )
    keys = derive_source_keys(CODENAME, SALT, **FAST)
    assert keys.lookup_id not in (raw[:32].hex(), raw[32:].hex(), raw.hex()[:64])
    assert (
        keys.lookup_id
        == hashlib.blake2b(raw[:32], digest_size=32, person=b"sesim-lookup").hexdigest()
    )
    assert keys.private_key.unsafe_raw() not in (raw[:32], raw[32:])
    assert keys.public_key.raw.hex() != keys.lookup_id


def test_public_key_matches_the_private_key() -> None:
    keys = derive_source_keys(CODENAME, SALT, **FAST)
    assert keys.private_key.public_key == keys.public_key
    reply = encrypt_bytes(b"we received your report", [keys.public_key], context=CTX)
    assert decrypt_bytes(reply, keys.private_key, expected=CTX) == b"we received your report"


def test_source_keys_repr_hides_everything_that_identifies_her() -> None:
    keys = derive_source_keys(CODENAME, SALT, **FAST)
    shown = repr(keys) + str(keys)
    assert keys.lookup_id not in shown
    assert keys.private_key.unsafe_raw().hex() not in shown
    assert keys.private_key.to_text() not in shown
    assert keys.public_key.key_id not in shown


def test_source_keys_are_frozen() -> None:
    keys = derive_source_keys(CODENAME, SALT, **FAST)
    with pytest.raises(AttributeError):
        keys.lookup_id = "0" * 64  # type: ignore[misc]
    assert isinstance(keys, SourceKeys)


def test_empty_codename_is_refused() -> None:
    with pytest.raises(CryptoError):
        derive_source_keys("", SALT, **FAST)


def test_codename_must_be_text() -> None:
    with pytest.raises(CryptoError):
        derive_source_keys(CODENAME.encode(), SALT, **FAST)  # type: ignore[arg-type]


@pytest.mark.parametrize("salt", [b"", bytes(15), bytes(17), bytes(32)])
def test_salt_must_be_16_bytes(salt: bytes) -> None:
    with pytest.raises(FormatError):
        derive_source_keys(CODENAME, salt, **FAST)


@pytest.mark.parametrize("limits", [{"opslimit": 0}, {"memlimit": 1024}])
def test_out_of_range_argon2_limits_are_a_crypto_error(limits: dict[str, int]) -> None:
    with pytest.raises(CryptoError):
        derive_source_keys(CODENAME, SALT, **{**FAST, **limits})


def test_instance_salts_are_16_random_bytes() -> None:
    salts = {new_instance_salt() for _ in range(20)}
    assert len(salts) == 20 and all(len(salt) == 16 for salt in salts)
