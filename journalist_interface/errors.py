"""The staff interface's domain errors. Each carries data; ``str()`` of one is a
plain message for the command line, and the web app maps each to a status and
a translated page in one error handler."""

from __future__ import annotations

from securedrop_like.config import LOCALES
from securedrop_like.errors import SesimError


class AccountError(SesimError):
    """Base of the account errors."""


class InvalidUsername(AccountError):
    def __init__(self) -> None:
        super().__init__("a username is 3 to 32 characters: a-z, 0-9, '.', '_' or '-'")


class InvalidLanguage(AccountError):
    def __init__(self, language: str) -> None:
        super().__init__(f"unknown language {language!r}: use one of {', '.join(LOCALES)}")
        self.language = language


class UsernameTaken(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(f"there is already a staff account named {username!r}")
        self.username = username


class UnknownStaff(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(f"there is no staff account named {username!r}")
        self.username = username


class BadCredentials(AccountError):
    """Unknown username, wrong password, wrong or reused code: deliberately one error,
    so a login page cannot tell which usernames exist."""

    def __init__(self) -> None:
        super().__init__("wrong username, password or code")


class AccountDisabled(AccountError):
    """The right password and code for a disabled account."""

    def __init__(self, username: str) -> None:
        super().__init__(f"the staff account {username!r} is disabled")
        self.username = username


class TooManyAttempts(AccountError):
    """Logins are throttled; ``resets_in`` is the number of seconds until one may try again."""

    def __init__(self, resets_in: int) -> None:
        super().__init__(f"too many failed logins; try again in {resets_in} seconds")
        self.resets_in = resets_in
