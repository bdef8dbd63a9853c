"""Small secrets sealed under a key held elsewhere: they open only with that key and name."""

from __future__ import annotations

import pytest

from crypto import DecryptionError, FormatError, new_secret_key, open_secret, seal_secret


def test_a_sealed_secret_opens_with_its_key_and_context_only() -> None:
    key = new_secret_key()
    sealed = seal_secret(key, b"private key bytes", b"private_key")
    assert b"private key bytes" not in sealed
    assert open_secret(key, sealed, b"private_key") == b"private key bytes"
    with pytest.raises(DecryptionError):
        open_secret(new_secret_key(), sealed, b"private_key")
    with pytest.raises(DecryptionError):
        open_secret(key, sealed, b"fresh_codename")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionError):
        open_secret(key, tampered, b"private_key")


def test_each_seal_is_fresh_and_bad_sizes_are_refused() -> None:
    key = new_secret_key()
    assert seal_secret(key, b"x", b"n") != seal_secret(key, b"x", b"n")
    with pytest.raises(FormatError):
        seal_secret(b"short", b"x", b"n")
    with pytest.raises(FormatError):
        open_secret(key, b"tiny", b"n")
