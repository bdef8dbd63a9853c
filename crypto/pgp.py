"""OpenPGP through GnuPG (python-gnupg).

Used for reviewers who keep OpenPGP keys, for PGP-encrypted e-mail reports,
and as the baseline every benchmark is compared with. Everything runs in
a keyring of its own (``homedir``), never the user's ``~/.gnupg``.

Public keys are trusted as imported (``always_trust``): the keyring holds
only keys an administrator put there on purpose, so the web of trust would
add prompts, not safety.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import gnupg

from crypto.errors import CryptoError, DecryptionError, FormatError, OutputTooLarge
from crypto.files import new_private_file

__all__ = ["OpenPGP", "decrypting_reader"]

_FINGERPRINT = re.compile(r"[0-9A-F]{40}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _fingerprint(value: str) -> str:
    fingerprint = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise FormatError("an OpenPGP fingerprint is 40 hex characters")
    return fingerprint


class OpenPGP:
    """One GnuPG keyring in ``homedir`` (created mode 0700 if missing).

    Call :meth:`close` (or use ``with``) when done, to stop the gpg-agent
    that GnuPG starts for this keyring.
    """

    def __init__(self, homedir: Path, *, gpgbinary: str = "gpg") -> None:
        self._homedir = Path(homedir)
        try:
            self._homedir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # gpg warns about (and may refuse) a group- or world-readable home.
            self._homedir.chmod(0o700)
            self._gpg: Any = gnupg.GPG(gnupghome=str(self._homedir), gpgbinary=gpgbinary)
        except (OSError, ValueError, RuntimeError) as exc:
            raise CryptoError(f"cannot use GnuPG in {self._homedir}: {exc}") from exc
        # User ids may hold non-ASCII names (Aysel Məmmədova).
        self._gpg.encoding = "utf-8"

    @property
    def homedir(self) -> Path:
        """The keyring directory."""
        return self._homedir

    def generate_key(self, name: str, email: str, passphrase: str) -> str:
        """Make a key pair whose secret part GnuPG keeps under ``passphrase``; return its
        fingerprint. The same algorithms as :meth:`generate_test_key`."""
        if not isinstance(passphrase, str) or len(passphrase) < 16 or _CONTROL.search(passphrase):
            raise FormatError("the passphrase must be one line of at least 16 characters")
        return self._generate(name, email, passphrase)

    def generate_test_key(self, name: str, email: str) -> str:
        """Make an unprotected key pair for tests and demos; return its fingerprint.

        Ed25519 for signing with a Curve25519 (cv25519) encryption subkey:
        as strong as RSA-4096 for our purpose and generated in well under a
        second, where RSA-4096 can take many seconds and drain entropy.

        .. warning::
           The secret key has no passphrase (``%no-protection``). Real
           reviewers make their own keys on the offline workstation.
        """
        return self._generate(name, email, None)

    def _generate(self, name: str, email: str, passphrase: str | None) -> str:
        for value in (name, email):
            if not isinstance(value, str) or not value or _CONTROL.search(value):
                raise FormatError("name and e-mail must be one non-empty line each")
        protection: dict[str, Any] = (
            {"passphrase": passphrase} if passphrase is not None else {"no_protection": True}
        )
        params = self._gpg.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            subkey_usage="encrypt",
            name_real=name,
            name_email=email,
            expire_date="0",
            **protection,
        )
        result = self._gpg.gen_key(params)
        if not result.fingerprint:
            raise CryptoError(f"GnuPG could not generate a key: {result.status}")
        return str(result.fingerprint)

    def import_public_key(self, armored: str) -> str:
        """Import one ASCII-armoured public key; return its fingerprint.

        Secret keys are refused: this keyring is for encrypting to people,
        and a secret key pasted by mistake must not end up on the server.
        """
        if not isinstance(armored, str) or "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in armored:
            raise FormatError("expected an ASCII-armoured OpenPGP public key")
        if "PRIVATE KEY BLOCK" in armored:
            raise FormatError("refusing to import an OpenPGP secret key")
        result = self._gpg.import_keys(armored)
        fingerprints = sorted(set(result.fingerprints))
        if result.sec_read or result.sec_imported:  # pragma: no cover - refused above
            raise FormatError("refusing to import an OpenPGP secret key")
        if len(fingerprints) != 1:
            raise CryptoError(f"expected exactly one public key, imported {len(fingerprints)}")
        return _fingerprint(fingerprints[0])

    def export_public_key(self, fingerprint: str) -> str:
        """The ASCII-armoured public key with this fingerprint."""
        armored = self._gpg.export_keys(_fingerprint(fingerprint))
        if not isinstance(armored, str) or "BEGIN PGP PUBLIC KEY BLOCK" not in armored:
            raise CryptoError("no such public key in this keyring")
        return armored

    def encrypt(self, data: bytes, fingerprint: str) -> bytes:
        """Encrypt ``data`` to one key (binary OpenPGP, not armoured)."""
        if not isinstance(data, bytes):
            raise CryptoError("data must be bytes")
        result = self._gpg.encrypt(
            data, [_fingerprint(fingerprint)], armor=False, always_trust=True
        )
        if not result.ok or getattr(result, "returncode", 0) not in (0, None):
            raise CryptoError(f"GnuPG could not encrypt: {result.status}")
        return bytes(result.data)

    def encrypt_file(
        self, src: Any, fingerprint: str, output: Path, *, compress: bool = True
    ) -> None:
        """Encrypt a binary stream (read to its end by GnuPG, a block at a time) to one
        key, writing binary OpenPGP to ``output``, which must not exist yet. Memory stays
        bounded whatever the size; nothing is written in the clear. ``compress=False``
        for data that is ciphertext already (a SQLCipher database)."""
        output = Path(output)
        try:
            with new_private_file(output, sync=False):
                pass  # ours, 0600, before GnuPG writes it
        except FileExistsError as exc:
            raise CryptoError(f"refusing to overwrite {output}") from exc
        except OSError as exc:
            raise CryptoError(f"cannot create {output}: {exc.strerror}") from exc
        try:
            result = self._gpg.encrypt_file(
                src,
                [_fingerprint(fingerprint)],
                armor=False,
                always_trust=True,
                output=str(output),
                extra_args=None if compress else ["--compress-algo", "none"],
            )
        except (OSError, ValueError) as exc:  # GnuPG stopped reading (a broken pipe)
            output.unlink(missing_ok=True)
            raise CryptoError(f"GnuPG could not encrypt: {exc}") from exc
        except BaseException:
            output.unlink(missing_ok=True)
            raise
        if not result.ok or getattr(result, "returncode", 0) not in (0, None):
            output.unlink(missing_ok=True)
            raise CryptoError(f"GnuPG could not encrypt: {result.status}")

    def decrypt(
        self, data: bytes, passphrase: str | None = None, max_output: int | None = None
    ) -> bytes:
        """Decrypt with a secret key in this keyring (tests and the workstation).

        ``passphrase`` unlocks a protected secret key (given to GnuPG on a pipe, never on
        its command line). ``max_output`` caps the plaintext in bytes (gpg's
        ``--max-output``): a small message compressed from gigabytes stops there, with
        :class:`OutputTooLarge`. Raises :class:`DecryptionError` for anything GnuPG will
        not decrypt and authenticate: wrong key, garbage, or a modified message.
        """
        if not isinstance(data, bytes):
            raise CryptoError("data must be bytes")
        extra: list[str] = []
        if max_output is not None:
            if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 1:
                raise CryptoError("max_output must be a positive number of bytes")
            extra = ["--max-output", str(max_output)]
        result = self._gpg.decrypt(data, passphrase=passphrase, extra_args=extra or None)
        failed = not result.ok or getattr(result, "returncode", 0) not in (0, None)
        if max_output is not None and (
            len(result.data) >= max_output
            or (failed and "max-output" in str(getattr(result, "stderr", "")))
        ):
            result.data = b""
            raise OutputTooLarge(f"the plaintext is larger than {max_output} bytes")
        if failed:
            raise DecryptionError(f"GnuPG could not decrypt: {result.status}")
        return bytes(result.data)

    def close(self) -> None:
        """Stop this keyring's gpg-agent, if one was started."""
        gpgconf = shutil.which("gpgconf")
        if gpgconf is None:  # pragma: no cover - gpgconf ships with gpg 2.1+
            return
        # Fixed argv, no shell; the only variable part is our own homedir.
        subprocess.run(  # noqa: S603
            [gpgconf, "--homedir", str(self._homedir), "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
            timeout=30,
        )

    def __enter__(self) -> OpenPGP:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextlib.contextmanager
def decrypting_reader(
    path: Path, homedir: Path | None = None, *, gpgbinary: str = "gpg"
) -> Iterator[IO[bytes]]:
    """Yield the plaintext of the OpenPGP file ``path`` as a stream, decrypted by gpg
    with a secret key of the keyring ``homedir`` (default: gpg's own, ``$GNUPGHOME`` or
    ``~/.gnupg``; gpg-agent asks for its passphrase as usual). Nothing is written to disk.

    gpg authenticates the message only at its end: what was read counts only once the
    ``with`` block has ended without :class:`DecryptionError`, raised when gpg fails
    (wrong key, changed or cut file). The stream is read to its end on leaving.
    This runs in the caller's keyring, which it never changes or stops.
    """
    binary = shutil.which(gpgbinary)
    if binary is None:
        raise CryptoError("gpg is not installed")
    argv = [binary, "--quiet"]
    if homedir is not None:
        argv += ["--homedir", str(homedir)]
    argv += ["--decrypt", "--", os.fspath(path)]
    with tempfile.TemporaryFile() as errors:
        # Fixed argv, no shell: the file name comes after "--".
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
        try:
            yield proc.stdout
            while proc.stdout.read(1 << 16):
                pass
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        code = proc.wait()
        if code != 0:
            errors.seek(0)
            said = errors.read()[-2000:].decode("utf-8", "replace").strip()
            said = " ".join(_CONTROL.sub(" ", said).split())
            raise DecryptionError(f"gpg could not decrypt {path}: {said or f'exit {code}'}")
