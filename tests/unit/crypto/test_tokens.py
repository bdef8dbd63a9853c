"""crypto.tokens: random ids and lookup hashes."""

from __future__ import annotations

import hashlib

import pytest

from crypto import CryptoError, FormatError, hash_for_lookup, random_id


def test_random_id_is_hex_of_the_requested_length() -> None:
    assert len(random_id()) == 32
    assert len(random_id(24)) == 48
    int(random_id(), 16)


def test_random_ids_do_not_repeat() -> None:
    assert len({random_id() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("nbytes", [0, 8, 15])
def test_random_id_refuses_fewer_than_128_bits(nbytes: int) -> None:
    with pytest.raises(CryptoError):
        random_id(nbytes)


def test_hash_for_lookup_is_personalised_blake2b_256() -> None:
    expected = hashlib.blake2b(b"data", digest_size=32, person=b"purpose").hexdigest()
    assert hash_for_lookup(b"data", b"purpose") == expected
    assert hash_for_lookup(b"data", b"other") != expected


def test_hash_for_lookup_with_a_key_differs_from_without() -> None:
    keyed = hash_for_lookup(b"+994501234567", b"sms", key=b"k" * 32)
    assert keyed != hash_for_lookup(b"+994501234567", b"sms")
    assert keyed == hash_for_lookup(b"+994501234567", b"sms", key=b"k" * 32)


@pytest.mark.parametrize("person", [b"", b"x" * 17])
def test_hash_for_lookup_needs_a_person_of_1_to_16_bytes(person: bytes) -> None:
    with pytest.raises(FormatError):
        hash_for_lookup(b"data", person)


def test_hash_for_lookup_refuses_text() -> None:
    with pytest.raises(CryptoError):
        hash_for_lookup("data", b"p")  # type: ignore[arg-type]
    with pytest.raises(FormatError):
        hash_for_lookup(b"data", b"p", key=b"k" * 65)
