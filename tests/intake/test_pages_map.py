"""The public map's "how to report" page with SMS, e-mail, Messenger and X, and the
e-mail's OpenPGP key (map.toml: messenger_url, x_handle, pgp_fingerprint; pgp-key.asc)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from public_map.app import create_app
from public_map.build import build_site
from public_map.instance import MapError, init_map, load_settings, open_map, openpgp_fingerprint
from tests.intake.pages_support import gpg_key as make_gpg_key
from tests.unit.public_map.chain import write_verify_file
from tests.unit.public_map.vnu import validate

pytestmark = pytest.mark.timeout(300)
CONFIG = """
[site]
sms = "+994 50 123 45 67"
email = "report@legal-centre.example.az"
messenger_url = "https://m.me/sesim.example"
x_handle = "@sesim_example"
pgp_fingerprint = "{fingerprint}"
"""


@pytest.fixture(scope="module")
def gpg_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_gpg_key(tmp_path_factory.mktemp("gpg") / "home", "ed25519")


def _map(tmp_path: Path, config: str, key: str | None = None) -> Path:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    (home / "map.toml").write_text(config, "utf-8")
    if key is not None:
        (home / "pgp-key.asc").write_text(key, "ascii")
    return home


@pytest.fixture
def full(tmp_path: Path, gpg_key: tuple[str, str]) -> Flask:
    armoured, fingerprint = gpg_key
    spaced = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4)).lower()
    return create_app(_map(tmp_path, CONFIG.format(fingerprint=spaced), armoured))


def _get(app: Flask, path: str) -> str:
    response = app.test_client().get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_the_fingerprint_is_the_one_gnupg_computes(tmp_path: Path) -> None:
    for algo in ("ed25519", "rsa2048"):  # one-byte and two-byte packet lengths
        armoured, fingerprint = make_gpg_key(tmp_path / algo, algo)
        assert openpgp_fingerprint(armoured) == fingerprint


def test_report_page_shows_every_channel_with_who_sees_what(
    full: Flask, gpg_key: tuple[str, str]
) -> None:
    page = _get(full, "/en/report/")
    for channel in ("sms", "email", "messenger", "x"):
        assert f'id="channel-{channel}"' in page
    assert 'href="https://m.me/sesim.example" rel="noreferrer"' in page
    assert 'href="https://x.com/sesim_example" rel="noreferrer">@sesim_example<' in page
    assert "Your phone company sees your number, the time and the text" in page
    assert "Meta (Facebook) sees your messages, your account" in page
    assert "X (Twitter) sees your messages, your account" in page
    assert "If you encrypt it with OpenPGP to our key" in page
    assert page.count("delete the conversation") == 4  # the receipt is in every answer
    assert "STOP (DAYAN, DUR, СТОП)" in page and "only until your case is closed" in page
    fingerprint = gpg_key[1]
    grouped = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4))
    assert f"<code>{grouped}</code>" in page and 'href="/pgp-key.asc"' in page


def test_the_key_is_served_as_data(full: Flask, gpg_key: tuple[str, str]) -> None:
    response = full.test_client().get("/pgp-key.asc")
    assert response.status_code == 200 and response.mimetype == "application/pgp-keys"
    assert response.get_data(as_text=True) == gpg_key[0]
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert "attachment" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("lang", ["", "/ru"])
def test_the_notes_are_translated(full: Flask, lang: str) -> None:
    page = _get(full, f"{lang}/report/")
    for english in ("not anonymous", "delete the conversation", "What we keep", "By SMS"):
        assert english not in page


def test_without_the_new_settings_nothing_new_shows(tmp_path: Path) -> None:
    app = create_app(_map(tmp_path, '[site]\nemail = "a@b.az"\n'))
    page = _get(app, "/en/report/")
    assert 'id="channel-email"' in page and 'id="channel-kept"' in page
    for absent in ('id="channel-messenger"', 'id="channel-x"', "pgp-fingerprint", "pgp-key.asc",
                   'href=""'):  # fmt: skip
        assert absent not in page
    assert app.test_client().get("/pgp-key.asc").status_code == 404


def test_a_fingerprint_without_a_key_file_shows_no_download(tmp_path: Path) -> None:
    config = '[site]\nemail = "a@b.az"\npgp_fingerprint = "' + "AB" * 20 + '"\n'
    page = _get(create_app(_map(tmp_path, config)), "/en/report/")
    assert 'id="pgp-fingerprint"' in page and "ABAB ABAB" in page
    assert "pgp-key.asc" not in page


BAD = [
    ('messenger_url = "http://m.me/x"', "site.messenger_url must be a URL starting https://"),
    ('messenger_url = "m.me/x"', "site.messenger_url must be a URL"),
    ('x_handle = "two words"', "site.x_handle must be an X account name"),
    ('x_handle = "a_much_too_long_handle"', "site.x_handle must be an X account name"),
    ('pgp_fingerprint = "XYZ"', "site.pgp_fingerprint must be an OpenPGP fingerprint"),
    ('pgp_fingerprint = "' + "A" * 39 + '"', "site.pgp_fingerprint must be an OpenPGP"),
    ('pgp_fingerprint = "' + "A" * 64 + '"', "site.pgp_fingerprint must be an OpenPGP"),
]


@pytest.mark.parametrize(("line", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_settings_are_refused_with_a_clear_error(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "map.toml"
    path.write_text(f"[site]\n{line}\n", "utf-8")
    with pytest.raises(MapError) as raised:
        load_settings(path)
    assert message in str(raised.value)


def test_a_key_file_must_match_the_published_fingerprint(
    tmp_path: Path, gpg_key: tuple[str, str]
) -> None:
    armoured, fingerprint = gpg_key
    home = _map(tmp_path, '[site]\npgp_fingerprint = "' + "AB" * 20 + '"\n', armoured)
    with pytest.raises(MapError, match="has the fingerprint " + fingerprint):
        open_map(home)
    (home / "map.toml").write_text("[site]\n", "utf-8")
    with pytest.raises(MapError, match="no site.pgp_fingerprint"):
        open_map(home)
    (home / "map.toml").write_text(f'[site]\npgp_fingerprint = "{fingerprint}"\n', "utf-8")
    (home / "pgp-key.asc").write_text("not a key\n", "ascii")
    with pytest.raises(MapError, match="not a usable OpenPGP public key"):
        open_map(home)
    (home / "pgp-key.asc").write_text(armoured.replace("m", "!", 1), "ascii")
    with pytest.raises(MapError):
        open_map(home)
    (home / "pgp-key.asc").write_text(armoured, "ascii")
    assert open_map(home).pgp_key == armoured


def test_the_static_site_has_the_key_and_the_notes(
    tmp_path: Path, gpg_key: tuple[str, str]
) -> None:
    armoured, fingerprint = gpg_key
    home = _map(tmp_path, CONFIG.format(fingerprint=fingerprint), armoured)
    build_site(home, tmp_path / "out", jobs=1)
    assert (tmp_path / "out" / "pgp-key.asc").read_text("ascii") == armoured
    page = (tmp_path / "out" / "en" / "report" / "index.html").read_text("utf-8")
    assert "Meta (Facebook) sees your messages" in page and 'href="/pgp-key.asc"' in page


def test_the_report_page_is_valid_html(full: Flask, tmp_path: Path) -> None:
    files = []
    for lang in ("", "/ru", "/en"):
        path = tmp_path / f"report{lang.replace('/', '-')}.html"
        path.write_text(_get(full, f"{lang}/report/"), "utf-8")
        files.append(path)
    errors = validate(files)
    assert errors == [], "\n".join(errors)
