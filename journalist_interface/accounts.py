"""Legal Centre staff accounts: passphrases, two-factor codes, throttled logins.

The server makes every password (a 7-word passphrase from the codename word
list, about 90 bits, shown once) and every TOTP secret, so nobody chooses a
weak one. A login needs the username, the passphrase and a fresh 6-digit
code, and answers every wrong combination with the same
:class:`~journalist_interface.errors.BadCredentials` after the same Argon2id
work, so neither the answer nor its timing says which usernames exist.

Each account has a *generation*. Resetting the password or the 2FA secret,
or disabling the account, bumps it; a session records the generation it was
made in and :meth:`StaffAccounts.is_active` refuses it once that changes,
which ends every session of the account in every server process at once.

The staff tables see little traffic, so writes run in their own short
``BEGIN IMMEDIATE`` transaction on a connection opened for the purpose,
never through the sources' group-commit writer. Time is a parameter
(``now``, seconds since the epoch) or an injected clock, never read behind
the caller's back.

.. warning::
   Never log a password, a TOTP code or a session id, nor put one in an
   exception message or the audit log.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from crypto import (
    PASSWORD_MEMLIMIT,
    PASSWORD_OPSLIMIT,
    hash_password,
    needs_rehash,
    random_id,
    verify_password,
)
from securedrop_like.codenames import generate_codename
from securedrop_like.config import LOCALES
from securedrop_like.db import Connection, Database, immediate

from . import throttle, totp
from .audit import AuditEntry, read_audit, write_audit
from .errors import (
    AccountDisabled,
    AccountError,
    BadCredentials,
    InvalidLanguage,
    InvalidUsername,
    TooManyAttempts,
    UnknownStaff,
    UsernameTaken,
)

USERNAME_RE = re.compile(r"[a-z0-9._-]{3,32}", re.ASCII)
USERNAME_MAX = 32


class LastAdmin(AccountError):
    """Disabling this account would leave no enabled administrator."""

    def __init__(self, username: str) -> None:
        super().__init__(f"{username!r} is the last enabled administrator")
        self.username = username


@dataclass(frozen=True)
class StaffInfo:
    """What the rest of the interface may know of an account (no hash, no secret)."""

    id: str
    username: str
    is_admin: bool
    disabled: bool
    language: str
    created_day: str
    generation: int


@dataclass(frozen=True)
class NewAccount:
    """A new account's credentials: show them once to their owner, then forget them."""

    username: str
    password: str = field(repr=False)
    totp_secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)


@dataclass(frozen=True)
class _Account:
    info: StaffInfo
    password_hash: str = field(repr=False)
    totp_secret: str = field(repr=False)
    last_totp_step: int


_COLS = (
    "id, username, is_admin, disabled, language, created_day, generation,"
    " password_hash, totp_secret, last_totp_step"
)


def _account(row: Any) -> _Account:
    info = StaffInfo(
        str(row[0]), str(row[1]), bool(row[2]), bool(row[3]), str(row[4]), str(row[5]), int(row[6])
    )
    return _Account(info, str(row[7]), str(row[8]), int(row[9]))


def typed_username(text: object) -> str:
    """A typed username as we look it up and record it: trimmed, lower case, at
    most 32 printable characters (no real username is longer)."""
    value = text.strip().lower() if isinstance(text, str) else ""
    return "".join(ch if ch.isprintable() else "?" for ch in value[:USERNAME_MAX])


def _passphrase(text: object) -> str:
    # Passphrases are generated as lower-case words and single spaces; phones
    # capitalise the first word and people double-space, so compare in that form.
    return " ".join(text.split()).lower() if isinstance(text, str) else ""


class StaffAccounts:
    """Staff accounts over an instance database.

    ``clock`` dates account changes (audit log, ``created_day``);
    ``opslimit``/``memlimit`` set the Argon2id cost of new password hashes
    (lower them only in tests). ``actor`` is the acting admin's username, or
    None for the server's command line.
    """

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        opslimit: int = PASSWORD_OPSLIMIT,
        memlimit: int = PASSWORD_MEMLIMIT,
        issuer: str = "Səsim",
    ) -> None:
        self._db = database
        self._clock = clock
        self._limits = {"opslimit": opslimit, "memlimit": memlimit}
        self._issuer = issuer
        self._dummy: str | None = None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        conn = self._db.open()
        try:
            with immediate(conn):
                yield conn
        finally:
            conn.close()

    def audit(self, staff: str | None, action: str, target: str | None, now: float) -> None:
        """Record one staff action in its own transaction (see :mod:`.audit`)."""
        self.audit_many(staff, action, [target], now)

    def audit_many(
        self, staff: str | None, action: str, targets: Iterable[str | None], now: float
    ) -> None:
        """Record one action on many targets (a bulk action) in one transaction."""
        with self._writing() as conn:
            for target in targets:
                write_audit(conn, staff, action, target, now)

    def _change(
        self,
        username: str,
        action: str,
        assignments: str,
        params: tuple[object, ...],
        actor: str | None,
        guard: Callable[[Connection], None] | None = None,
    ) -> None:
        now = self._clock()
        with self._writing() as conn:
            if guard is not None:
                guard(conn)  # inside the write lock: nothing changes between check and update
            cursor = conn.execute(
                f"UPDATE staff SET {assignments} WHERE username = ?",  # noqa: S608 - constants
                (*params, username),
            )
            if cursor.rowcount != 1:
                raise UnknownStaff(username)
            write_audit(conn, actor, action, username, now)

    # -- managing accounts -----------------------------------------------------------

    def add(
        self,
        username: str,
        is_admin: bool = False,
        language: str = "az",
        *,
        actor: str | None = None,
    ) -> NewAccount:
        """Create an account with a generated passphrase and TOTP secret."""
        if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
            raise InvalidUsername()
        if language not in LOCALES:
            raise InvalidLanguage(language)
        password = generate_codename()
        secret = totp.new_secret()
        hashed = hash_password(password, **self._limits)
        now = self._clock()
        day = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")
        with self._writing() as conn:
            if conn.execute("SELECT 1 FROM staff WHERE username = ?", (username,)).fetchall():
                raise UsernameTaken(username)
            conn.execute(
                "INSERT INTO staff (id, username, password_hash, totp_secret, is_admin,"
                " language, created_day) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (random_id(), username, hashed, secret, int(is_admin), language, day),
            )
            write_audit(conn, actor, "staff_add", username, now)
        return NewAccount(username, password, secret, self._uri(secret, username))

    def disable(
        self, username: str, *, actor: str | None = None, keep_an_admin: bool = False
    ) -> None:
        """Refuse the account's logins and end its sessions.

        With ``keep_an_admin`` (the web interface), refuse with :class:`LastAdmin`
        rather than disable the last enabled administrator.
        """

        def last_admin_guard(conn: Connection) -> None:
            others = conn.execute(
                "SELECT count(*) FROM staff WHERE is_admin = 1 AND disabled = 0 AND username != ?",
                (username,),
            ).fetchone()[0]
            target = conn.execute(
                "SELECT is_admin, disabled FROM staff WHERE username = ?", (username,)
            ).fetchone()
            if target is not None and target[0] and not target[1] and not others:
                raise LastAdmin(username)

        sql = "disabled = 1, generation = generation + 1"
        guard = last_admin_guard if keep_an_admin else None
        self._change(username, "staff_disable", sql, (), actor, guard)

    def enable(self, username: str, *, actor: str | None = None) -> None:
        self._change(username, "staff_enable", "disabled = 0", (), actor)

    def reset_password(self, username: str, *, actor: str | None = None) -> str:
        """A new generated passphrase (show it once); ends the account's sessions."""
        self.info(username)  # fail before paying for a hash
        password = generate_codename()
        hashed = hash_password(password, **self._limits)
        sql = "password_hash = ?, generation = generation + 1"
        self._change(username, "staff_reset_password", sql, (hashed,), actor)
        return password

    def reset_2fa(self, username: str, *, actor: str | None = None) -> tuple[str, str]:
        """A new TOTP secret and its otpauth URI; ends the account's sessions."""
        secret = totp.new_secret()
        sql = "totp_secret = ?, last_totp_step = 0, generation = generation + 1"
        self._change(username, "staff_reset_2fa", sql, (secret,), actor)
        return secret, self._uri(secret, username)

    def _uri(self, secret: str, username: str) -> str:
        return totp.otpauth_uri(secret, username, self._issuer)

    # -- reading ---------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> builtins.list[Any]:
        return builtins.list(self._db.reader().execute(sql, params).fetchall())

    def _account(self, column: str, value: str) -> _Account | None:
        rows = self._read(f"SELECT {_COLS} FROM staff WHERE {column} = ?", (value,))  # noqa: S608
        return _account(rows[0]) if rows else None

    def info(self, username: str) -> StaffInfo:
        account = self._account("username", username)
        if account is None:
            raise UnknownStaff(username)
        return account.info

    def by_id(self, staff_id: str) -> StaffInfo | None:
        account = self._account("id", staff_id)
        return account.info if account else None

    def generation(self, username: str) -> int:
        return self.info(username).generation

    def is_active(self, staff_id: str, generation: int) -> bool:
        """True while the account exists, is enabled and is still in this generation."""
        info = self.by_id(staff_id)
        return info is not None and not info.disabled and info.generation == generation

    def list(self) -> builtins.list[StaffInfo]:
        rows = self._read(f"SELECT {_COLS} FROM staff ORDER BY username")  # noqa: S608
        return [_account(row).info for row in rows]

    def audit_entries(
        self, limit: int = 200, *, before: int | None = None, staff: str | None = None
    ) -> builtins.list[AuditEntry]:
        """The newest audit rows, newest first; ``before`` an id to page by key,
        ``staff`` an acting username to keep only hers (see :func:`.audit.read_audit`)."""
        return read_audit(self._db.reader(), limit, before=before, staff=staff)

    # -- logging in ------------------------------------------------------------------

    def authenticate(self, username: str, password: str, code: str, now: float) -> StaffInfo:
        """Check a login and return the account, or raise a domain exception.

        :class:`TooManyAttempts` comes first, before any work (see
        :mod:`.throttle`). Then the password is hashed whether or not the
        account exists, and the code checked against its step window and the
        last step used. A wrong username, password or code, or a reused code,
        is one :class:`BadCredentials`; the right ones for a disabled account
        are :class:`AccountDisabled`. On success the code's step is stored
        (so it cannot be used again), the name's failures are forgotten, and
        a hash made with other costs is replaced.
        """
        name = typed_username(username)
        key = f"user:{name}"
        with self._writing() as conn:
            wait = throttle.begin_attempt(conn, key, now)
        if wait:
            raise TooManyAttempts(wait)
        account = self._account("username", name) if USERNAME_RE.fullmatch(name) else None
        typed = _passphrase(password)
        if account is None:
            verify_password(self._dummy_hash(), typed)  # the same work as for a real account
            # Not what was typed: it may be a passphrase typed in the wrong field.
            self._refuse(None, now)
        password_ok = verify_password(account.password_hash, typed)
        step = totp.verify(account.totp_secret, code, now, account.last_totp_step)
        if not password_ok or step is None:
            self._refuse(name, now)
        info = account.info
        if info.disabled:
            self.audit(None, "login_refused_disabled", name, now)
            raise AccountDisabled(name)
        rehashed = None
        if needs_rehash(account.password_hash, **self._limits):
            rehashed = hash_password(typed, **self._limits)
        with self._writing() as conn:
            # Guarded by generation and step: a reset or a disable meanwhile, or
            # the same code used in another process, makes this update nothing.
            done = conn.execute(
                "UPDATE staff SET last_totp_step = ? WHERE id = ? AND generation = ?"
                " AND last_totp_step < ?",
                (step, info.id, info.generation, step),
            ).rowcount
            if done:
                throttle.clear(conn, key)
                if rehashed:
                    conn.execute(
                        "UPDATE staff SET password_hash = ? WHERE id = ? AND password_hash = ?",
                        (rehashed, info.id, account.password_hash),
                    )
                write_audit(conn, name, "login", name, now)
            else:
                write_audit(conn, None, "login_failed", name, now)
        if not done:
            raise BadCredentials()
        return info

    def _refuse(self, name: str | None, now: float) -> NoReturn:
        self.audit(None, "login_failed", name, now)
        raise BadCredentials()

    def _dummy_hash(self) -> str:
        # Made once per service, with the same costs as real hashes.
        if self._dummy is None:
            self._dummy = hash_password(secrets.token_hex(16), **self._limits)
        return self._dummy
