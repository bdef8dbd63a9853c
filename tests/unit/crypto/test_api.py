"""The public surface of the crypto package."""

from __future__ import annotations

import subprocess
import sys

import crypto
from crypto import ContextMismatch, CryptoError, DecryptionError, FormatError


def test_every_exported_name_exists() -> None:
    for name in crypto.__all__:
        assert hasattr(crypto, name), name
    assert len(set(crypto.__all__)) == len(crypto.__all__)


def test_every_error_is_a_crypto_error() -> None:
    assert issubclass(FormatError, CryptoError)
    assert issubclass(DecryptionError, CryptoError)
    # A moved envelope is a decryption failure to anyone catching DecryptionError.
    assert issubclass(ContextMismatch, DecryptionError)
    assert issubclass(CryptoError, Exception)


def test_dangerous_key_access_is_named_unsafe() -> None:
    public_methods = {name for name in dir(crypto.PrivateKey) if not name.startswith("_")}
    assert "unsafe_raw" in public_methods
    assert "raw" not in public_methods


def test_no_nacl_type_leaks_through_the_key_classes(alice: crypto.PrivateKey) -> None:
    values = [alice.public_key, alice.public_key.raw, alice.unsafe_raw(), alice.to_text()]
    assert not any(type(value).__module__.startswith("nacl") for value in values)


def test_importing_crypto_does_not_need_the_app_packages() -> None:
    code = (
        "import sys, crypto; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'securedrop_like', 'source_interface', 'journalist_interface')]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
