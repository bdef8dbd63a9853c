"""A key wrapped under a passphrase (crypto.keywrap, ``sesim db-key wrap``)."""

from __future__ import annotations

import struct

import pytest

import crypto
from crypto import DecryptionError, FormatError, unwrap_key, wrap_key

CHEAP = {"opslimit": 1, "memlimit": 8 * 1024 * 1024}
PASSPHRASE = "correct horse battery staple"
KEY = bytes(range(32))


def test_a_wrapped_key_opens_with_its_passphrase_only() -> None:
    wrapped = wrap_key(KEY, PASSPHRASE, **CHEAP)
    assert len(wrapped) == crypto.WRAPPED_KEY_BYTES == 106
    assert wrapped.startswith(b"SESIMKEY\x00\x01")
    assert KEY not in wrapped and PASSPHRASE.encode() not in wrapped
    assert unwrap_key(wrapped, PASSPHRASE) == KEY
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        unwrap_key(wrapped, PASSPHRASE + "!")


def test_two_wraps_differ_salt_and_nonce_are_fresh() -> None:
    assert wrap_key(KEY, PASSPHRASE, **CHEAP) != wrap_key(KEY, PASSPHRASE, **CHEAP)


def test_the_passphrase_is_nfkc_normalised() -> None:
    wrapped = wrap_key(KEY, "Ｓəsim passphrase long enough", **CHEAP)  # full-width S
    assert unwrap_key(wrapped, "Səsim passphrase long enough") == KEY


def test_the_costs_are_read_from_the_file() -> None:
    wrapped = wrap_key(KEY, PASSPHRASE, opslimit=2, memlimit=16 * 1024 * 1024)
    assert struct.unpack_from(">II", wrapped, 10) == (2, 16 * 1024)
    assert unwrap_key(wrapped, PASSPHRASE) == KEY


@pytest.mark.parametrize("offset", [9, 13, 17, 20, 40, 60, 105])
def test_any_changed_byte_fails(offset: int) -> None:
    wrapped = bytearray(wrap_key(KEY, PASSPHRASE, **CHEAP))
    wrapped[offset] ^= 0x01
    with pytest.raises((DecryptionError, FormatError)):
        unwrap_key(bytes(wrapped), PASSPHRASE)


@pytest.mark.parametrize("ops_mem", [(1, 8 * 1024 * 1024), (33, 8192), (2**31, 8192), (0, 8192)])
def test_forged_costs_are_refused_before_argon2_runs(ops_mem: tuple[int, int]) -> None:
    wrapped = bytearray(wrap_key(KEY, PASSPHRASE, **CHEAP))
    struct.pack_into(">II", wrapped, 10, *ops_mem)  # e.g. 8 GiB, or 2**31 passes
    with pytest.raises(FormatError, match="costs"):
        unwrap_key(bytes(wrapped), PASSPHRASE)


@pytest.mark.parametrize("data", [b"", b"SESIMKEY", b"x" * 106, b"SESIMKEY" + b"\x00" * 98])
def test_what_is_not_a_wrapped_key_is_a_format_error(data: bytes) -> None:
    with pytest.raises(FormatError):
        unwrap_key(data, PASSPHRASE)


def test_short_passphrases_and_wrong_key_sizes_are_refused() -> None:
    with pytest.raises(FormatError, match="at least 16"):
        wrap_key(KEY, "too short", **CHEAP)
    with pytest.raises(FormatError, match="at least 16"):
        wrap_key(KEY, " " * 40, **CHEAP)
    with pytest.raises(FormatError, match="32 bytes"):
        wrap_key(KEY[:16], PASSPHRASE, **CHEAP)


def test_the_error_never_holds_the_passphrase() -> None:
    wrapped = wrap_key(KEY, PASSPHRASE, **CHEAP)
    with pytest.raises(DecryptionError) as caught:
        unwrap_key(wrapped, "a wrong passphrase, quite long")
    assert "quite long" not in str(caught.value) and PASSPHRASE not in str(caught.value)


def test_the_default_costs_are_the_documented_strong_ones() -> None:
    wrapped = wrap_key(KEY, PASSPHRASE)
    assert struct.unpack_from(">II", wrapped, 10) == (4, 512 * 1024)
    assert unwrap_key(wrapped, PASSPHRASE) == KEY
