"""Onion service identities and v3 addresses (rend-spec-v3 §6)."""

from __future__ import annotations

import copy
import hashlib
import pickle

import pytest

from crypto import FormatError, OnionServiceKey, is_onion_address, onion_address

# tor's own test vector (src/test/test_hs_common.c): RFC 8032's first public key.
VECTOR_KEY = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
VECTOR_ADDRESS = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid.onion"


def test_the_address_of_tors_test_vector() -> None:
    assert onion_address(VECTOR_KEY) == VECTOR_ADDRESS
    assert is_onion_address(VECTOR_ADDRESS)


@pytest.mark.parametrize(
    "address",
    [
        VECTOR_ADDRESS.upper(),
        VECTOR_ADDRESS[:-6],  # no .onion
        "a" + VECTOR_ADDRESS[1:],  # the checksum no longer matches
        VECTOR_ADDRESS.replace("sid.onion", "sad.onion"),  # the version byte changes
        VECTOR_ADDRESS[1:],
        "x" + VECTOR_ADDRESS,
        "",
        "facebookcorewwwi.onion",  # a v2 address
    ],
)
def test_malformed_addresses_are_refused(address: str) -> None:
    assert not is_onion_address(address)


def test_a_non_string_is_not_an_address() -> None:
    assert not is_onion_address(None)  # type: ignore[arg-type]


def test_a_public_key_must_be_32_bytes() -> None:
    with pytest.raises(FormatError):
        onion_address(b"\x00" * 31)


def test_a_fresh_key_is_clamped_and_matches_its_address() -> None:
    key = OnionServiceKey.generate()
    secret = key.unsafe_expanded_secret()
    assert len(secret) == 64 and len(key.public_key) == 32
    assert secret[0] & 7 == 0 and secret[31] & 0x80 == 0 and secret[31] & 0x40
    assert key.address == onion_address(key.public_key) and is_onion_address(key.address)
    assert OnionServiceKey(secret).public_key == key.public_key
    assert OnionServiceKey.generate().address != key.address


def test_the_expanded_form_is_sha512_of_the_seed_clamped() -> None:
    # Ed25519 key expansion (RFC 8032 §5.1.5): the public key of RFC 8032's
    # first test seed is the vector above.
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    digest = bytearray(hashlib.sha512(seed).digest())
    digest[0] &= 248
    digest[31] &= 127
    digest[31] |= 64
    assert OnionServiceKey(bytes(digest)).address == VECTOR_ADDRESS


@pytest.mark.parametrize("secret", [b"\x00" * 63, b"\x01" + b"\x40" * 63, b"\x00" * 64])
def test_a_malformed_secret_is_refused(secret: bytes) -> None:
    with pytest.raises(FormatError):
        OnionServiceKey(secret)


def test_the_secret_never_shows_and_never_pickles() -> None:
    key = OnionServiceKey.generate()
    assert key.unsafe_expanded_secret().hex() not in repr(key)
    assert key.address in repr(key)
    with pytest.raises(FormatError):
        pickle.dumps(key)
    with pytest.raises(FormatError):
        copy.deepcopy(key)
