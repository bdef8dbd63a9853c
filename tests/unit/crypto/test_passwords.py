"""crypto.passwords: Argon2id hashes of staff passwords."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    MAX_PASSWORD_BYTES,
    PASSWORD_MEMLIMIT,
    PASSWORD_OPSLIMIT,
    CryptoError,
    FormatError,
    hash_password,
    needs_rehash,
    verify_password,
)

# Small Argon2id limits keep these tests fast; two tests use the defaults.
FAST = {"opslimit": 1, "memlimit": 8192}
PASSPHRASE = "abacus ladder orbit"

# Made once with libsodium 1.0.18 through PyNaCl:
#   nacl.pwhash.argon2id.str(b"abacus ladder orbit", opslimit=2, memlimit=64 * 1024 * 1024)
#   nacl.pwhash.argon2id.str("Səsim şifrə ёлка".encode(), opslimit=1, memlimit=8192)
# They pin the format: a hash stored today must verify after any upgrade.
STORED = "$argon2id$v=19$m=65536,t=2,p=1$XKgq5z+swtXk+Rnxmto+rw$P1t/ocZEPTkJqazjyZiilXXcmsWYaF6qLa/5COfn7kY"  # noqa: E501
STORED_UNICODE = (
    "$argon2id$v=19$m=8,t=1,p=1$iE/qNhOuRHeCThhSmYh1gQ$UWxngWlxDlek7niJPue/M4VL2/rxJaPxqA7Ay0UoVGE"
)


def test_a_hash_verifies_with_its_password() -> None:
    encoded = hash_password(PASSPHRASE, **FAST)
    assert encoded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password(encoded, PASSPHRASE)


def test_a_wrong_password_is_false_not_an_error() -> None:
    encoded = hash_password(PASSPHRASE, **FAST)
    for wrong in ["abacus ladder orbiT", "abacus ladder", PASSPHRASE + " ", "", "x" * 2000]:
        assert verify_password(encoded, wrong) is False


def test_the_same_password_gets_a_new_salt_each_time() -> None:
    first, second = (hash_password(PASSPHRASE, **FAST) for _ in range(2))
    assert first != second
    assert verify_password(first, PASSPHRASE) and verify_password(second, PASSPHRASE)


def test_defaults_are_libsodiums_interactive_limits() -> None:
    assert (PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) == (2, 64 * 1024 * 1024)
    encoded = hash_password(PASSPHRASE)
    assert encoded.startswith("$argon2id$v=19$m=65536,t=2,p=1$")
    assert not needs_rehash(encoded)


def test_stored_hashes_still_verify() -> None:
    assert verify_password(STORED, PASSPHRASE)
    assert not verify_password(STORED, "abacus ladder orbits")
    assert verify_password(STORED_UNICODE, "Səsim şifrə ёлка")
    assert not verify_password(STORED_UNICODE, "Sesim sifre ёлка")


@pytest.mark.parametrize(
    "password", ["Səsim şifrə", "пароль на русском", "日本語のパスワード", "emoji 🔐 key", "İıĞğ"]
)
def test_unicode_passwords_round_trip(password: str) -> None:
    encoded = hash_password(password, **FAST)
    assert verify_password(encoded, password)
    assert not verify_password(encoded, password.upper() + "x")


def test_composed_and_decomposed_forms_are_the_same_password() -> None:
    composed = "şifrə ö"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert verify_password(hash_password(composed, **FAST), decomposed)
    # NFKC also folds compatibility forms (fullwidth letters) to plain ones.
    assert verify_password(hash_password("ＡＢＣ123", **FAST), "ABC123")


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "not a hash",
        "$argon2i$v=19$m=8,t=1,p=1$iE/qNhOuRHeCThhSmYh1gQ$UWxngWlxDlek7niJPue/M4VL2/rxJaPxqA7Ay0UoVGE",
        "$argon2id$v=19$m=8,t=1,p=1$iE/qNhOuRHeCThhSmYh1gQ",
        "$argon2id$v=19$m=8,t=1$iE/qNhOuRHeCThhSmYh1gQ$UWxngWlxDlek7niJPue/M4VL2/rxJaPxqA7Ay0UoVGE",
        "$argon2id$v=19$m=8,t=1,p=1$iE/q!!!!RHeCThhSmYh1gQ$UWxngWlxDlek7niJPue/M4VL2/rxJaPxqA7Ay0UoVGE",
        STORED + "A" * 100,
        "$argon2id$v=19$m=99999999,t=1,p=1$iE/qNhOuRHeCThhSmYh1gQ$UWxngWlxDlek7niJPue/M4VL2/rxJaPxq",
        STORED + "\n",
    ],
)
def test_a_malformed_hash_is_a_format_error_not_a_wrong_password(encoded: str) -> None:
    with pytest.raises(FormatError):
        verify_password(encoded, PASSPHRASE)
    with pytest.raises(FormatError):
        needs_rehash(encoded)


def test_a_hash_that_is_not_a_str_is_a_crypto_error() -> None:
    with pytest.raises(CryptoError):
        verify_password(STORED.encode(), PASSPHRASE)  # type: ignore[arg-type]


def test_a_hash_with_its_digest_changed_does_not_verify() -> None:
    encoded = hash_password(PASSPHRASE, **FAST)
    flipped = encoded[:-2] + ("A" if encoded[-2] != "A" else "B") + encoded[-1]
    assert verify_password(flipped, PASSPHRASE) is False


def test_needs_rehash_compares_the_costs() -> None:
    cheap = hash_password(PASSPHRASE, **FAST)
    assert needs_rehash(cheap)
    assert not needs_rehash(cheap, **FAST)
    assert needs_rehash(cheap, opslimit=2, memlimit=8192)
    assert needs_rehash(cheap, opslimit=1, memlimit=16384)
    assert not needs_rehash(STORED)


@pytest.mark.parametrize("password", ["", "x" * (MAX_PASSWORD_BYTES + 1), "ş" * 513])
def test_empty_or_overlong_passwords_are_refused_when_hashing(password: str) -> None:
    with pytest.raises(CryptoError):
        hash_password(password, **FAST)


def test_a_password_at_the_length_limit_is_accepted() -> None:
    password = "x" * MAX_PASSWORD_BYTES
    assert verify_password(hash_password(password, **FAST), password)


def test_limits_out_of_range_are_a_crypto_error() -> None:
    with pytest.raises(CryptoError):
        hash_password(PASSPHRASE, opslimit=0, memlimit=8192)
    with pytest.raises(CryptoError):
        hash_password(PASSPHRASE, opslimit=1, memlimit=1)


def test_a_non_str_password_is_a_crypto_error() -> None:
    with pytest.raises(CryptoError):
        hash_password(b"bytes")  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=64).filter(lambda s: unicodedata.normalize("NFKC", s) != ""))
def test_any_text_round_trips(password: str) -> None:
    encoded = hash_password(password, **FAST)
    assert verify_password(encoded, password)
    assert not verify_password(encoded, password + "!")
