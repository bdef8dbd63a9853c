"""Səsim's cryptography: the only package that imports ``nacl`` or ``gnupg``.

The rest of the project calls only what is exported here:

- :mod:`crypto.envelope`: encrypt and decrypt reports, files, messages and
  replies (format in ``crypto/FORMAT.md``);
- :mod:`crypto.keys`: X25519 key pairs, their text armour and key files;
- :mod:`crypto.codename`: a source's lookup id and key pair from her codename;
- :mod:`crypto.passwords`: staff password hashes (Argon2id);
- :mod:`crypto.tokens`: random ids and lookup hashes;
- :mod:`crypto.secretbox`: small secrets sealed under a key someone else holds;
- :mod:`crypto.keywrap`: a key sealed under a passphrase (Argon2id), for
  ``sesim db-key wrap`` (format in ``crypto/FORMAT.md``);
- :mod:`crypto.pgp`: OpenPGP through GnuPG;
- :mod:`crypto.onion`: Tor onion service identities and addresses;
- :mod:`crypto.signing`: Ed25519 signatures (the publication bundle).

Every error raised is a :class:`CryptoError`. Anything that exposes secret
material is named ``unsafe_…``.
"""

from crypto.codename import (
    ARGON2_MEMLIMIT,
    ARGON2_OPSLIMIT,
    SourceKeys,
    derive_source_keys,
    new_instance_salt,
)
from crypto.envelope import (
    CHUNK_SIZE,
    MAX_RECIPIENTS,
    ByteSink,
    ByteSource,
    EnvelopeContext,
    EnvelopeReader,
    EnvelopeWriter,
    ItemKind,
    PlaintextSink,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
    envelope_size,
    read_envelope_context,
    read_recipient_ids,
    source_key_hash,
)
from crypto.errors import (
    ContextMismatch,
    CryptoError,
    DecryptionError,
    FormatError,
    OutputTooLarge,
)
from crypto.files import new_private_file
from crypto.keys import (
    PrivateKey,
    PublicKey,
    read_private_key_file,
    read_public_key_file,
    write_private_key_file,
    write_public_key_file,
)
from crypto.keywrap import (
    MIN_PASSPHRASE_CHARS,
    WRAP_MEMLIMIT,
    WRAP_OPSLIMIT,
    WRAPPED_KEY_BYTES,
    unwrap_key,
    wrap_key,
)
from crypto.onion import OnionServiceKey, is_onion_address, onion_address
from crypto.passwords import (
    MAX_PASSWORD_BYTES,
    PASSWORD_MEMLIMIT,
    PASSWORD_OPSLIMIT,
    hash_password,
    needs_rehash,
    verify_password,
)
from crypto.pgp import OpenPGP, decrypting_reader
from crypto.secretbox import SECRET_KEY_BYTES, new_secret_key, open_secret, seal_secret
from crypto.signing import (
    BadSignature,
    sign_detached,
    signing_key_from_seed,
    verify_detached,
    verify_key_bytes,
)
from crypto.tokens import hash_for_lookup, random_id

__all__ = [
    "ARGON2_MEMLIMIT",
    "ARGON2_OPSLIMIT",
    "CHUNK_SIZE",
    "MAX_PASSWORD_BYTES",
    "MAX_RECIPIENTS",
    "MIN_PASSPHRASE_CHARS",
    "PASSWORD_MEMLIMIT",
    "PASSWORD_OPSLIMIT",
    "SECRET_KEY_BYTES",
    "WRAPPED_KEY_BYTES",
    "WRAP_MEMLIMIT",
    "WRAP_OPSLIMIT",
    "BadSignature",
    "ByteSink",
    "ByteSource",
    "ContextMismatch",
    "CryptoError",
    "DecryptionError",
    "EnvelopeContext",
    "EnvelopeReader",
    "EnvelopeWriter",
    "FormatError",
    "ItemKind",
    "OnionServiceKey",
    "OpenPGP",
    "OutputTooLarge",
    "PlaintextSink",
    "PrivateKey",
    "PublicKey",
    "SourceKeys",
    "decrypt_bytes",
    "decrypt_stream",
    "decrypting_reader",
    "derive_source_keys",
    "encrypt_bytes",
    "encrypt_stream",
    "envelope_size",
    "hash_for_lookup",
    "hash_password",
    "is_onion_address",
    "needs_rehash",
    "new_private_file",
    "new_secret_key",
    "new_instance_salt",
    "onion_address",
    "open_secret",
    "random_id",
    "read_envelope_context",
    "read_private_key_file",
    "read_public_key_file",
    "read_recipient_ids",
    "seal_secret",
    "sign_detached",
    "signing_key_from_seed",
    "source_key_hash",
    "unwrap_key",
    "verify_detached",
    "verify_key_bytes",
    "verify_password",
    "wrap_key",
    "write_private_key_file",
    "write_public_key_file",
]
