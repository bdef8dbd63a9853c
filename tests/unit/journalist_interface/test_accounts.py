"""journalist_interface.accounts: staff accounts, logins, throttling and the audit log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from crypto import verify_password
from journalist_interface import accounts as accounts_module
from journalist_interface import throttle, totp
from journalist_interface.accounts import NewAccount, StaffAccounts
from journalist_interface.audit import audit_minute
from journalist_interface.errors import (
    AccountDisabled,
    BadCredentials,
    InvalidLanguage,
    InvalidUsername,
    TooManyAttempts,
    UnknownStaff,
    UsernameTaken,
)
from securedrop_like import codenames, db, models
from tests.conftest import Instance

FAST: dict[str, Any] = {"opslimit": 1, "memlimit": 8192}
NOW = 1_709_633_245.0  # 2024-03-05 10:07:25 UTC
WINDOW = throttle.THROTTLE_WINDOW


@pytest.fixture
def database(instance: Instance) -> Iterator[db.Database]:
    database = db.Database.for_config(instance.config)
    yield database
    database.close()


@pytest.fixture
def accounts(database: db.Database) -> StaffAccounts:
    return StaffAccounts(database, clock=lambda: NOW, **FAST)


@pytest.fixture
def aysel(accounts: StaffAccounts) -> NewAccount:
    return accounts.add("aysel")


def code(account: NewAccount, now: float = NOW, offset: int = 0) -> str:
    return totp.code_at(account.totp_secret, totp.step_at(now) + offset)


def login(accounts: StaffAccounts, account: NewAccount, now: float = NOW, **wrong: str) -> Any:
    return accounts.authenticate(
        wrong.get("username", account.username),
        wrong.get("password", account.password),
        wrong.get("code", code(account, now)),
        now,
    )


def table(database: db.Database, name: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in database.reader().execute(f"SELECT * FROM {name}").fetchall()]  # noqa: S608


def audit_rows(database: db.Database) -> list[tuple[Any, ...]]:
    return [row[1:] for row in table(database, "audit_log ORDER BY id")]


def wrong_code(account: NewAccount, now: float = NOW) -> str:
    window = {code(account, now, d) for d in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(10**6)) if c not in window)


# -- adding and listing ------------------------------------------------------------------


def test_add_makes_a_seven_word_passphrase_a_totp_secret_and_a_uri(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    words = aysel.password.split(" ")
    assert len(words) == 7
    assert set(words) <= set(codenames.load_wordlist())
    assert len(aysel.totp_secret) == 32
    assert aysel.otpauth_uri == totp.otpauth_uri(aysel.totp_secret, "aysel")
    assert aysel.password not in repr(aysel) and aysel.totp_secret not in repr(aysel)
    [info] = accounts.list()
    assert (info.username, info.is_admin, info.disabled) == ("aysel", False, False)
    assert (info.language, info.created_day, info.generation) == ("az", "2024-03-05", 1)
    assert accounts.by_id(info.id) == info == accounts.info("aysel")


def test_the_database_holds_an_argon2id_hash_not_the_passphrase(
    database: db.Database, aysel: NewAccount
) -> None:
    [row] = database.reader().execute("SELECT password_hash, totp_secret FROM staff").fetchall()
    assert row[0].startswith("$argon2id$") and verify_password(row[0], aysel.password)
    assert aysel.password not in repr(table(database, "staff"))
    assert row[1] == aysel.totp_secret


def test_every_account_gets_its_own_passphrase_and_secret(accounts: StaffAccounts) -> None:
    made = [
        accounts.add(name, is_admin=name == "admin", language="ru") for name in ("a.b", "admin")
    ]
    assert made[0].password != made[1].password
    assert made[0].totp_secret != made[1].totp_secret
    assert [(i.username, i.is_admin, i.language) for i in accounts.list()] == [
        ("a.b", False, "ru"),
        ("admin", True, "ru"),
    ]


@pytest.mark.parametrize(
    "name", ["ab", "a" * 33, "Aysel", "ay sel", "ays@l", "", "şəbnəm", "aysel\n", "../x"]
)
def test_usernames_outside_3_to_32_of_a_z_0_9_dot_underscore_dash_are_refused(
    accounts: StaffAccounts, name: str
) -> None:
    with pytest.raises(InvalidUsername):
        accounts.add(name)
    assert accounts.list() == []


@pytest.mark.parametrize("name", ["abc", "a" * 32, "nigar.h", "lawyer_2", "x-y"])
def test_usernames_within_the_rules_are_accepted(accounts: StaffAccounts, name: str) -> None:
    assert accounts.add(name).username == name


def test_a_taken_username_or_unknown_language_is_refused(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    with pytest.raises(UsernameTaken) as taken:
        accounts.add("aysel")
    assert taken.value.username == "aysel"
    with pytest.raises(InvalidLanguage):
        accounts.add("nigar", language="fr")
    assert [i.username for i in accounts.list()] == ["aysel"]


@pytest.mark.parametrize("action", ["disable", "enable", "reset_password", "reset_2fa"])
def test_changes_to_an_unknown_account_raise_unknown_staff(
    accounts: StaffAccounts, action: str
) -> None:
    with pytest.raises(UnknownStaff):
        getattr(accounts, action)("nobody")
    with pytest.raises(UnknownStaff):
        accounts.generation("nobody")


# -- logging in ---------------------------------------------------------------------------


def test_the_right_password_and_code_log_in(accounts: StaffAccounts, aysel: NewAccount) -> None:
    info = login(accounts, aysel)
    assert info == accounts.info("aysel")
    assert accounts.is_active(info.id, info.generation)


def test_typed_username_and_passphrase_forgive_case_and_spacing(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    sloppy = "  " + aysel.password.capitalize().replace(" ", "   ") + "\n"
    assert login(accounts, aysel, username=" Aysel ", password=sloppy).username == "aysel"


@pytest.mark.parametrize("mistake", ["password", "code", "username", "all"])
def test_every_mistake_is_the_same_bad_credentials(
    accounts: StaffAccounts, aysel: NewAccount, mistake: str
) -> None:
    wrong: dict[str, Any] = {
        "password": {"password": aysel.password + " extra"},
        "code": {"code": wrong_code(aysel)},
        "username": {"username": "nosuchuser"},
        "all": {"username": "x", "password": "y", "code": "z"},
    }[mistake]
    with pytest.raises(BadCredentials) as caught:
        login(accounts, aysel, **wrong)
    assert type(caught.value) is BadCredentials
    assert str(caught.value) == "wrong username, password or code"


def test_an_unknown_username_costs_the_same_password_hashing(
    accounts: StaffAccounts, aysel: NewAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting(encoded: str, password: str) -> bool:
        calls.append(encoded.rsplit("$", 2)[0])  # algorithm and costs
        return verify_password(encoded, password)

    monkeypatch.setattr(accounts_module, "verify_password", counting)
    for username in ("nosuchuser", "aysel"):
        with pytest.raises(BadCredentials):
            login(accounts, aysel, username=username, password="wrong words")
    assert len(calls) == 2
    assert calls[0] == calls[1]  # the dummy hash has the same costs as a real one


def test_a_used_code_is_refused_within_its_window(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    used = code(aysel)
    login(accounts, aysel)
    with pytest.raises(BadCredentials):
        login(accounts, aysel, code=used)
    with pytest.raises(BadCredentials):
        login(accounts, aysel, now=NOW + 25, code=used)
    assert login(accounts, aysel, now=NOW + 30).username == "aysel"  # the next step's code


def test_codes_one_step_off_are_accepted_two_are_not(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    with pytest.raises(BadCredentials):
        login(accounts, aysel, code=code(aysel, offset=-2))
    assert login(accounts, aysel, code=code(aysel, offset=-1))
    assert login(accounts, aysel, code=code(aysel, offset=1))
    with pytest.raises(BadCredentials):  # steps up to +1 are now used
        login(accounts, aysel, code=code(aysel))


def test_a_disabled_account_is_refused_even_with_the_right_credentials(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    info = login(accounts, aysel)
    accounts.disable("aysel")
    assert not accounts.is_active(info.id, info.generation)
    with pytest.raises(AccountDisabled):
        login(accounts, aysel, now=NOW + 60)
    with pytest.raises(BadCredentials):
        login(accounts, aysel, now=NOW + 60, password="wrong")
    accounts.enable("aysel")
    again = login(accounts, aysel, now=NOW + 90)
    assert not again.disabled and accounts.is_active(again.id, again.generation)
    assert not accounts.is_active(info.id, info.generation)  # the old session stays ended


def test_generation_is_bumped_by_resets_and_disable_but_not_enable(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    assert accounts.generation("aysel") == 1
    accounts.reset_password("aysel")
    assert accounts.generation("aysel") == 2
    accounts.reset_2fa("aysel")
    assert accounts.generation("aysel") == 3
    accounts.disable("aysel")
    assert accounts.generation("aysel") == 4
    accounts.enable("aysel")
    assert accounts.generation("aysel") == 4
    assert not accounts.is_active("no-such-id", 4)


def test_reset_password_replaces_the_passphrase(accounts: StaffAccounts, aysel: NewAccount) -> None:
    new = accounts.reset_password("aysel")
    assert new != aysel.password and len(new.split()) == 7
    with pytest.raises(BadCredentials):
        login(accounts, aysel)
    assert login(accounts, aysel, password=new).generation == 2


def test_reset_2fa_replaces_the_secret(accounts: StaffAccounts, aysel: NewAccount) -> None:
    login(accounts, aysel)
    secret, uri = accounts.reset_2fa("aysel")
    assert secret != aysel.totp_secret and uri == totp.otpauth_uri(secret, "aysel")
    with pytest.raises(BadCredentials):
        login(accounts, aysel, now=NOW + 30)
    fresh = totp.code_at(secret, totp.step_at(NOW))  # the same step as the last login
    assert login(accounts, aysel, code=fresh).generation == 2


def test_a_cheaper_hash_is_replaced_at_login(
    database: db.Database, accounts: StaffAccounts, aysel: NewAccount
) -> None:
    stronger = StaffAccounts(database, clock=lambda: NOW, opslimit=2, memlimit=16384)
    stronger.authenticate("aysel", aysel.password, code(aysel), NOW)
    [(stored,)] = database.reader().execute("SELECT password_hash FROM staff").fetchall()
    assert stored.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert login(accounts, aysel, now=NOW + 30)


# -- throttling ---------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_fifteen_minutes(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    for i in range(5):
        with pytest.raises(BadCredentials):
            login(accounts, aysel, now=NOW + 10 * i, password="wrong")
    with pytest.raises(TooManyAttempts) as caught:
        login(accounts, aysel, now=NOW + 100)  # right credentials, still refused
    assert caught.value.resets_in == WINDOW - 100
    with pytest.raises(TooManyAttempts) as caught:
        login(accounts, aysel, now=NOW + WINDOW - 0.5)
    assert caught.value.resets_in == 1
    assert login(accounts, aysel, now=NOW + WINDOW).username == "aysel"


def test_one_account_locked_leaves_the_others_alone(accounts: StaffAccounts) -> None:
    aysel, nigar = accounts.add("aysel"), accounts.add("nigar")
    for _ in range(5):
        with pytest.raises(BadCredentials):
            login(accounts, aysel, password="wrong")
    with pytest.raises(TooManyAttempts):
        login(accounts, aysel)
    assert login(accounts, nigar).username == "nigar"


def test_refused_attempts_do_not_extend_the_lock(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    for _ in range(5):
        with pytest.raises(BadCredentials):
            login(accounts, aysel, password="wrong")
    for t in range(1, WINDOW, 60):
        with pytest.raises(TooManyAttempts):
            login(accounts, aysel, now=NOW + t, password="wrong")
    assert login(accounts, aysel, now=NOW + WINDOW)


def test_a_success_clears_the_accounts_failures(
    accounts: StaffAccounts, aysel: NewAccount, database: db.Database
) -> None:
    for _ in range(4):
        with pytest.raises(BadCredentials):
            login(accounts, aysel, password="wrong")
    login(accounts, aysel)
    assert table(database, "login_failures") == []
    for _ in range(4):
        with pytest.raises(BadCredentials):
            login(accounts, aysel, now=NOW + 30, password="wrong")
    assert login(accounts, aysel, now=NOW + 30)


def test_fifty_failures_over_all_names_lock_every_login(
    accounts: StaffAccounts, aysel: NewAccount
) -> None:
    for i in range(50):
        with pytest.raises(BadCredentials):
            login(accounts, aysel, now=NOW + i, username=f"guess{i}")
    with pytest.raises(TooManyAttempts) as caught:
        login(accounts, aysel, now=NOW + 300)
    assert caught.value.resets_in == WINDOW - 300
    # The oldest failure expires at NOW + WINDOW: one more attempt is allowed then.
    assert login(accounts, aysel, now=NOW + WINDOW).username == "aysel"


def test_expired_failures_are_pruned(
    accounts: StaffAccounts, aysel: NewAccount, database: db.Database
) -> None:
    with pytest.raises(BadCredentials):
        login(accounts, aysel, username="someone")
    with pytest.raises(BadCredentials):
        login(accounts, aysel, now=NOW + WINDOW + 1, password="wrong")
    assert table(database, "login_failures") == [("user:aysel", NOW + WINDOW + 1)]


def test_parallel_attempts_cannot_pass_the_limit_together(
    database: db.Database, aysel: NewAccount
) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def attempt() -> None:
        mine = StaffAccounts(database, **FAST)
        barrier.wait()
        try:
            mine.authenticate("aysel", "wrong words", "000000", NOW)
        except (BadCredentials, TooManyAttempts) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["BadCredentials"] * 5 + ["TooManyAttempts"] * 7


# -- the audit log ------------------------------------------------------------------------


def test_the_audit_log_names_actions_and_accounts_only(
    accounts: StaffAccounts, database: db.Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    conn = database.open()
    conn.execute("BEGIN IMMEDIATE")
    models.insert_source(conn, lookup_id="ab" * 32, public_key=bytes(32), day="2024-03-05")
    conn.execute("COMMIT")
    conn.close()
    aysel = accounts.add("aysel", is_admin=True)
    nigar = accounts.add("nigar", actor="aysel")
    used = [code(aysel)]
    login(accounts, aysel)
    with pytest.raises(BadCredentials):
        login(accounts, nigar, now=NOW + 60, password=aysel.password)
    used.append(code(nigar, NOW + 60))
    with pytest.raises(BadCredentials):
        login(accounts, nigar, now=NOW + 60, username="x" * 40 + "\x00")
    new_password = accounts.reset_password("nigar", actor="aysel")
    secret, _ = accounts.reset_2fa("nigar")
    accounts.disable("nigar", actor="aysel")
    accounts.enable("nigar")
    accounts.audit("aysel", "download", "brave-otter", NOW + 120)
    assert audit_rows(database) == [
        ("2024-03-05T10:07Z", None, "staff_add", "aysel"),
        ("2024-03-05T10:07Z", "aysel", "staff_add", "nigar"),
        ("2024-03-05T10:07Z", "aysel", "login", "aysel"),
        ("2024-03-05T10:08Z", None, "login_failed", "nigar"),
        ("2024-03-05T10:08Z", None, "login_failed", None),  # unknown name: not recorded
        ("2024-03-05T10:07Z", "aysel", "staff_reset_password", "nigar"),
        ("2024-03-05T10:07Z", None, "staff_reset_2fa", "nigar"),
        ("2024-03-05T10:07Z", "aysel", "staff_disable", "nigar"),
        ("2024-03-05T10:07Z", None, "staff_enable", "nigar"),
        ("2024-03-05T10:09Z", "aysel", "download", "brave-otter"),
    ]
    dump = repr(table(database, "audit_log")) + caplog.text
    secrets = [aysel.password, nigar.password, new_password, *used, "ab" * 32]
    secrets += [aysel.totp_secret, nigar.totp_secret, secret]
    for value in secrets:
        assert value not in dump
    assert [e.action for e in accounts.audit_entries(limit=2)] == ["download", "staff_enable"]


def test_a_refused_login_to_a_disabled_account_is_audited(
    accounts: StaffAccounts, aysel: NewAccount, database: db.Database
) -> None:
    accounts.disable("aysel")
    with pytest.raises(AccountDisabled):
        login(accounts, aysel)
    assert audit_rows(database)[-1] == (
        "2024-03-05T10:07Z",
        None,
        "login_refused_disabled",
        "aysel",
    )


def test_audit_minutes_are_utc() -> None:
    assert audit_minute(0.0) == "1970-01-01T00:00Z"
    assert audit_minute(NOW + 34.9) == "2024-03-05T10:07Z"
    assert audit_minute(NOW + 35.0) == "2024-03-05T10:08Z"
