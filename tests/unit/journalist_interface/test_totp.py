"""journalist_interface.totp: RFC 6238 codes, drift window and replay refusal."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journalist_interface import totp

# RFC 6238, appendix B: the SHA-1 rows. The key is the ASCII string
# "12345678901234567890"; the RFC gives 8-digit codes, and a 6-digit code is
# the same truncated value mod 10^6, i.e. the last six of its eight digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
NOW = 1_700_000_015.0  # 15 s into a step


def test_the_rfc_secret_is_the_one_the_rfc_uses() -> None:
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(("when", "eight_digits"), RFC_6238_SHA1)
def test_codes_match_rfc_6238(when: int, eight_digits: str) -> None:
    six = f"{int(eight_digits) % 10**6:06d}"
    assert six == eight_digits[-6:]
    step = totp.step_at(when)
    assert totp.code_at(RFC_SECRET, step) == six
    assert totp.verify(RFC_SECRET, six, float(when), last_step=0) == step


@settings(max_examples=50)
@given(st.binary(min_size=14, max_size=40), st.integers(min_value=0, max_value=2**40))
def test_codes_agree_with_pyotp(key: bytes, step: int) -> None:
    # A TOTP code is the HOTP code (RFC 4226) of the step number.
    secret = base64.b32encode(key).decode().rstrip("=")
    assert totp.code_at(secret, step) == pyotp.HOTP(secret).at(step)


def test_new_secrets_are_160_random_bits_in_base32() -> None:
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert len(secret) == 32 and "=" not in secret
        assert len(base64.b32decode(secret)) == 20


def test_the_current_code_is_accepted_and_its_step_returned() -> None:
    secret = totp.new_secret()
    step = totp.step_at(NOW)
    assert totp.verify(secret, totp.code_at(secret, step), NOW, 0) == step


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_drift_either_way_is_accepted(offset: int) -> None:
    secret = totp.new_secret()
    step = totp.step_at(NOW) + offset
    assert totp.verify(secret, totp.code_at(secret, step), NOW, 0) == step


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_codes_further_away_are_refused(offset: int) -> None:
    secret = totp.new_secret()
    code = totp.code_at(secret, totp.step_at(NOW) + offset)
    window = {totp.code_at(secret, totp.step_at(NOW) + d) for d in (-1, 0, 1)}
    if code not in window:  # a 1-in-10^5 collision would make this test meaningless
        assert totp.verify(secret, code, NOW, 0) is None


def test_a_used_code_is_refused_within_its_window() -> None:
    secret = totp.new_secret()
    code = totp.code_at(secret, totp.step_at(NOW))
    used = totp.verify(secret, code, NOW, 0)
    assert used is not None
    for later in (NOW, NOW + 10, NOW + 30):  # still inside the window on both
        assert totp.verify(secret, code, later, used) is None


def test_an_older_code_is_refused_after_a_newer_one_was_used() -> None:
    secret = totp.new_secret()
    step = totp.step_at(NOW)
    newer = totp.verify(secret, totp.code_at(secret, step + 1), NOW, 0)
    assert newer == step + 1
    assert totp.verify(secret, totp.code_at(secret, step), NOW, newer) is None
    assert totp.verify(secret, totp.code_at(secret, step + 2), NOW + 30, newer) == step + 2


def test_the_codes_own_step_boundaries() -> None:
    secret = totp.new_secret()
    start = totp.step_at(NOW) * 30.0
    code = totp.code_at(secret, totp.step_at(NOW))
    assert totp.verify(secret, code, start + 59.999, 0) is not None  # next step, drift 1
    assert totp.verify(secret, code, start + 60.0, 0) is None  # two steps later
    assert totp.verify(secret, code, start - 30.0, 0) is not None  # previous step, drift 1
    assert totp.verify(secret, code, start - 30.001, 0) is None


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "1234567", "12345a", "abcdef", "١٢٣٤٥٦", "12 34 5", "+12345", "-12345", "123.45"],
)
def test_anything_but_six_digits_is_refused(typed: str) -> None:
    secret = totp.new_secret()
    assert totp.verify(secret, typed, NOW, 0) is None


def test_spaces_in_a_code_are_ignored() -> None:
    secret = totp.new_secret()
    code = totp.code_at(secret, totp.step_at(NOW))
    assert totp.verify(secret, f" {code[:3]} {code[3:]} ", NOW, 0) == totp.step_at(NOW)


def test_a_code_that_is_not_a_str_is_refused() -> None:
    assert totp.verify(totp.new_secret(), 123456, NOW, 0) is None  # type: ignore[arg-type]


def test_a_corrupt_secret_raises_invalid_secret() -> None:
    with pytest.raises(totp.InvalidSecret):
        totp.code_at("not base32 at all!", 1)
    with pytest.raises(totp.InvalidSecret):
        totp.code_at("", 1)


def test_secrets_are_read_case_and_space_insensitively() -> None:
    spaced = " ".join(RFC_SECRET[i : i + 4] for i in range(0, 32, 4)).lower()
    assert totp.code_at(spaced, 1) == totp.code_at(RFC_SECRET, 1)


def test_otpauth_uri_carries_issuer_account_and_parameters() -> None:
    uri = totp.otpauth_uri(RFC_SECRET, "aysel.m")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/Səsim:aysel.m"
    assert parts.path == "/S%C9%99sim:aysel.m"
    query = parse_qs(parts.query)
    assert query == {
        "secret": [RFC_SECRET],
        "issuer": ["Səsim"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == RFC_SECRET and parsed.name == "aysel.m"
    assert parsed.issuer == "Səsim"


def test_otpauth_uri_encodes_odd_characters() -> None:
    uri = totp.otpauth_uri(RFC_SECRET, "a b:c", issuer="X&Y")
    assert uri.startswith("otpauth://totp/X%26Y:a%20b%3Ac?")
    assert parse_qs(urlsplit(uri).query)["issuer"] == ["X&Y"]
