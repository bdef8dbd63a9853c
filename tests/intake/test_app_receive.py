"""The intake app alone: the common receive path, refusals, caps, settings
(with the app package's fake channel and a recording store; the real store's
side is tested in test_app_store.py)."""

from __future__ import annotations

import io
import json
import os
import types
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake import settings as intake_settings
from intake.app import create_app
from intake.base import MAX_BODY_BYTES, Intake, check_api_base
from securedrop_like.config import Config, ConfigError
from securedrop_like.intake_store import Inbound
from tests.conftest import Instance
from tests.intake.app_support import CONSTANT, FAKE_SECRET, FakeStore, fake_channel, with_intake

SECRETS = {"webhook_secret": FAKE_SECRET, "smssync_secret": "other-" + FAKE_SECRET}


def _config(instance: Instance, providers: tuple[str, ...] = ("webhook",)) -> Config:
    return with_intake(instance.config, {p: {} for p in providers}, SECRETS)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def parts() -> list[Inbound]:
    return []


@pytest.fixture
def app(instance: Instance, store: FakeStore, parts: list[Inbound]) -> Flask:
    config = _config(instance)
    ctx = Intake(config, store, on_part=parts.append)  # type: ignore[arg-type]
    return create_app(config, ctx, modules=[fake_channel()])


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _post(client: FlaskClient, doc: Any, key: str = FAKE_SECRET, path: str = "/sms/webhook") -> Any:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return client.post(
        path, data=body, headers={"X-Test-Key": key, "Content-Type": "application/json"}
    )


def _msg(text: str, sender: str = "+994501234567", mid: str = "m1") -> dict[str, str]:
    return {"from": sender, "text": text, "id": mid}


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data() == b"ok"
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers


def test_a_message_is_a_part_of_her_report(
    client: FlaskClient, store: FakeStore, parts: list[Inbound]
) -> None:
    response = _post(client, _msg("Müdir mənə dedi ki, sənədlərim üçün gəlməliyəm."))
    assert response.status_code == 200 and response.get_data() == CONSTANT
    assert [name for name, _ in store.calls] == ["add_part"]
    msg = store.calls[0][1]
    assert (msg.provider, msg.address, msg.message_id, msg.lang) == (
        "webhook", "+994501234567", "m1", "az"
    )  # fmt: skip
    assert parts == [msg]  # the courier is told, after the commit


@pytest.mark.parametrize(
    ("text", "lang"),
    # "stop" belongs to every language: the channel's guess for one word is the default.
    [("DAYAN", "az"), ("Стоп!", "ru"), ("stop", "az"), (" Stop. ", "az"), ("dur", "az")],
)
def test_stop_withdraws_with_a_confirmation_in_her_language(
    client: FlaskClient, store: FakeStore, parts: list[Inbound], text: str, lang: str
) -> None:
    # A thread that has a part waiting: STOP deletes it.
    _post(client, _msg("The official said he would sign if I came alone.", mid="first"))
    response = _post(client, _msg(text, mid="stop"))
    assert response.get_data() == CONSTANT
    assert [name for name, _ in store.calls] == ["add_part", "withdraw"]
    assert store.pending_threads() == []
    confirmation = store.queued[-1]
    assert confirmation.lang == lang
    expected = {
        "az": "Göndərdiyiniz hər şey silindi",
        "ru": "Всё, что вы прислали, удалено",
        "en": "Everything you sent us has been deleted",
    }[lang]
    assert confirmation.text.startswith(expected)
    assert len(parts) == 1  # STOP is no part


@pytest.mark.parametrize(("text", "lang"), [("Bəli", "az"), ("ДА", "ru"), ("yes!", "en")])
def test_yes_opts_in(client: FlaskClient, store: FakeStore, text: str, lang: str) -> None:
    store.known["x"] = "s1"
    response = _post(client, _msg(text, mid="yes"))
    assert response.get_data() == CONSTANT
    assert [(name, m.lang) for name, m in store.calls] == [("opt_in", lang)]


def test_yes_confirmation_is_translated(
    client: FlaskClient, store: FakeStore, parts: list[Inbound]
) -> None:
    _post(client, _msg("Ona dedim ki, yox.", mid="a"))
    thread = store.pending_threads()[0]
    store.parts.clear()
    store.known[thread] = "s1"
    _post(client, _msg("bəli", mid="b"))
    assert store.queued[-1].text.startswith("Təşəkkür edirik.")


def test_a_replay_stores_nothing_and_answers_the_same(
    client: FlaskClient, store: FakeStore, parts: list[Inbound]
) -> None:
    first = _post(client, _msg("first words", mid="same"))
    again = _post(client, _msg("first words", mid="same"))
    assert first.get_data() == again.get_data() == CONSTANT
    assert first.status_code == again.status_code == 200
    assert len(store.parts[store.pending_threads()[0]]) == 1
    assert len(parts) == 1


def test_known_and_unknown_senders_get_byte_identical_answers(
    client: FlaskClient, store: FakeStore
) -> None:
    def answer(sender: str, text: str, mid: str) -> tuple[int, bytes, list[tuple[str, str]]]:
        r = _post(client, _msg(text, sender, mid))
        return r.status_code, r.get_data(), sorted(r.headers.items())

    unknown = answer("+994509999999", "new", "u1")
    store.known[store.pending_threads()[0]] = "s1"
    known = answer("+994509999999", "more", "k1")
    stop_unknown = answer("+994508888888", "STOP", "u2")
    yes_known = answer("+994509999999", "YES", "k2")
    assert unknown == known == stop_unknown == yes_known


def test_a_wrong_or_missing_key_is_403_with_the_same_body(
    client: FlaskClient, store: FakeStore
) -> None:
    wrong = _post(client, _msg("x"), key="not-the-key")
    missing = client.post("/sms/webhook", data=json.dumps(_msg("x")))
    other_provider_key = _post(client, _msg("x"), key=SECRETS["smssync_secret"])
    assert wrong.status_code == missing.status_code == other_provider_key.status_code == 403
    assert wrong.get_data() == missing.get_data() == other_provider_key.get_data()
    assert store.calls == []


def test_a_disabled_provider_is_404(client: FlaskClient, store: FakeStore) -> None:
    # The fake module serves smssync too; this app enables only "webhook".
    response = _post(client, _msg("x"), key=SECRETS["smssync_secret"], path="/sms/smssync")
    assert response.status_code == 404
    for path in ("/sms/twilio", "/messenger/webhook", "/x/webhook", "/nothing"):
        assert client.post(path, data=b"{}").status_code == 404
    assert store.calls == []


def test_both_providers_of_a_module_when_enabled(instance: Instance) -> None:
    config = _config(instance, ("webhook", "smssync"))
    store = FakeStore()
    client = create_app(config, Intake(config, store), modules=[fake_channel()]).test_client()  # type: ignore[arg-type]
    response = _post(client, _msg("x"), key=SECRETS["smssync_secret"], path="/sms/smssync")
    assert response.status_code == 200
    assert store.calls[0][1].provider == "smssync"


def test_a_body_over_the_cap_is_413_and_stores_nothing(
    client: FlaskClient, store: FakeStore
) -> None:
    big = json.dumps(_msg("a" * MAX_BODY_BYTES)).encode()
    response = _post(client, big)
    assert response.status_code == 413
    assert response.get_data(as_text=True) == "Sorğu çox böyükdür.\n"  # the default language
    # Without a Content-Length (chunked): cut off while reading.
    streamed = client.post(
        "/sms/webhook",
        input_stream=io.BytesIO(big),
        headers={"X-Test-Key": FAKE_SECRET, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as the server gives a chunked body
    )
    assert streamed.status_code == 413
    assert store.calls == []
    # Exactly at the cap is fine (it is then malformed JSON here: 400, not 413).
    at_cap = _post(client, b"x" * MAX_BODY_BYTES)
    assert at_cap.status_code == 400


@pytest.mark.parametrize(
    "body", [b"not json", b'{"from": 1}', '{"text": "\xff"}'.encode("latin-1"), b"[]"]
)
def test_malformed_bodies_are_400_and_store_nothing(
    client: FlaskClient, store: FakeStore, body: bytes
) -> None:
    response = _post(client, body)
    assert response.status_code == 400
    assert response.get_data(as_text=True).strip()
    assert store.calls == []


def test_an_unexpected_failure_is_500_without_details(
    instance: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(FakeStore):
        def add_part(self, msg: Inbound) -> bool:
            raise RuntimeError(f"database says no to {msg.address}: {msg.text}")

    config = _config(instance)
    app = create_app(config, Intake(config, Broken()), modules=[fake_channel()])  # type: ignore[arg-type]
    response = _post(app.test_client(), _msg("secret words", "+994507777777"))
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret words" not in body and "+994507777777" not in body
    err = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in err
    assert "secret words" not in err and "994507777777" not in err


# -- settings ----------------------------------------------------------------------------


def test_settings_hand_each_module_its_section_and_the_secrets(instance: Instance) -> None:
    seen: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    module = fake_channel()
    original = module.load_settings

    def spy(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> Any:
        seen.append((provider, section, secrets))
        return original(provider, section, secrets)

    module.load_settings = spy  # type: ignore[attr-defined]
    config = with_intake(
        instance.config,
        {
            "join_window_seconds": 30,
            "public_url": "https://intake.example.org/",
            "webhook": {"send_url": "http://127.0.0.1:9/send"},
            "public": {"sms_number": "+994500000000"},
        },
        SECRETS,
    )
    checked = intake_settings.load_settings(config, [module])
    assert checked.join_window_seconds == 30
    assert checked.public_url == "https://intake.example.org"
    assert list(checked.providers) == ["webhook"]
    assert seen == [("webhook", {"send_url": "http://127.0.0.1:9/send"}, SECRETS)]


def test_no_intake_table_enables_nothing(instance: Instance) -> None:
    checked = intake_settings.load_settings(instance.config, [fake_channel()])
    assert checked.providers == {} and checked.join_window_seconds == 90


def test_a_missing_secret_names_the_key_not_a_value(instance: Instance) -> None:
    config = with_intake(instance.config, {"webhook": {}}, {"smssync_secret": "VALUE-XYZ"})
    with pytest.raises(ConfigError) as caught:
        intake_settings.load_settings(config, [fake_channel()])
    assert "webhook_secret" in str(caught.value)
    assert "VALUE-XYZ" not in str(caught.value)


def test_a_secrets_file_others_can_read_is_refused(instance: Instance) -> None:
    config = _config(instance)
    os.chmod(config.secrets_dir / "intake.toml", 0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        intake_settings.load_settings(config, [fake_channel()])


def test_a_broken_secrets_file_does_not_quote_it(instance: Instance) -> None:
    config = _config(instance)
    path = config.secrets_dir / "intake.toml"
    path.write_text('webhook_secret = "SECRET-VALUE\n')
    with pytest.raises(ConfigError) as caught:
        intake_settings.load_settings(config, [fake_channel()])
    assert "SECRET-VALUE" not in str(caught.value) and "SECRET" not in repr(caught.value)
    path.write_text("webhook_secret = 5\n")
    with pytest.raises(ConfigError, match="webhook_secret"):
        intake_settings.load_settings(config, [fake_channel()])


def _credential(folder: Path, secrets: dict[str, str], mode: int = 0o400) -> Path:
    """``folder/intake.toml`` as systemd writes a credential (read-only, 0400)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "intake.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in secrets.items()), "utf-8")
    path.chmod(mode)
    return path


def test_the_systemd_credential_comes_before_the_instance_file(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = {"webhook_secret": "credential-" + FAKE_SECRET}
    config = _config(instance)  # the instance's file holds SECRETS
    _credential(tmp_path / "creds", credential)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert intake_settings.secrets_path(config) == tmp_path / "creds" / "intake.toml"
    assert intake_settings.read_secrets(config) == credential
    checked = intake_settings.load_settings(config, [fake_channel()])
    assert list(checked.providers) == ["webhook"]
    # 0440: systemd granting a user through an ACL (the mask shows as group bits).
    (tmp_path / "creds" / "intake.toml").chmod(0o440)
    assert intake_settings.read_secrets(config) == credential
    # Without the credential (the variable set, no such file) the instance's file is read.
    (tmp_path / "creds" / "intake.toml").unlink()
    assert intake_settings.secrets_path(config) == config.secrets_dir / "intake.toml"
    assert intake_settings.read_secrets(config) == SECRETS
    # ... and it must still be its owner's alone.
    os.chmod(config.secrets_dir / "intake.toml", 0o640)
    with pytest.raises(ConfigError, match=r"secrets/intake.toml .*chmod 600"):
        intake_settings.read_secrets(config)


def test_a_credential_alone_is_enough(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = with_intake(instance.config, {"webhook": {}}, None)  # no file in the instance
    assert not (config.secrets_dir / "intake.toml").exists()
    with pytest.raises(ConfigError, match="webhook_secret"):
        intake_settings.load_settings(config, [fake_channel()])
    _credential(tmp_path / "creds", SECRETS)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert list(intake_settings.load_settings(config, [fake_channel()]).providers) == ["webhook"]


def test_a_credential_others_can_read_or_broken_is_refused_without_quoting_it(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(instance)
    path = _credential(tmp_path / "creds", SECRETS, mode=0o404)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    with pytest.raises(ConfigError, match=r"\$CREDENTIALS_DIRECTORY/intake.toml .*others"):
        intake_settings.read_secrets(config)
    path.chmod(0o600)
    path.write_text('webhook_secret = "SECRET-VALUE\n')
    with pytest.raises(ConfigError) as caught:
        intake_settings.read_secrets(config)
    assert "$CREDENTIALS_DIRECTORY/intake.toml is not valid TOML" in str(caught.value)
    assert "SECRET-VALUE" not in str(caught.value)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"webhook": {"send_url": "http://aggregator.example.org/send"}}, "https://"),
        ({"webhook": {"api_base": "ftp://127.0.0.1/"}}, "https://"),
        ({"webhook": {"send_url": "https://user:pw@example.org/"}}, "password"),
        ({"telegram": {}}, "not a provider"),
        ({"x": {}}, "no channel module"),
        ({"join_window_seconds": -1}, "join_window_seconds"),
        ({"join_window_seconds": "soon"}, "join_window_seconds"),
        ({"public_url": "http://intake.example.org"}, "public_url"),
        ({"typo_setting": 1}, "typo_setting"),
        ({"webhook": {"bad": True}}, "bad must not be set"),
    ],
)
def test_bad_intake_settings_are_clear_errors(
    instance: Instance, section: dict[str, Any], message: str
) -> None:
    config = with_intake(instance.config, section, SECRETS)
    with pytest.raises(ConfigError, match=message):
        intake_settings.load_settings(config, [fake_channel()])


@pytest.mark.parametrize(
    "url",
    ["https://api.twilio.com", "http://127.0.0.1:8000", "http://localhost:1/", "http://[::1]:5"],
)
def test_api_bases_accepted(url: str) -> None:
    assert check_api_base(url, "x") == url.rstrip("/")


def test_load_modules_skips_a_module_not_written_yet() -> None:
    found = intake_settings.load_modules(["intake.texts", "intake.no_such_channel"])
    assert [m.__name__ for m in found] == ["intake.texts"]
    with pytest.raises(ModuleNotFoundError):
        intake_settings.load_modules(["tests.intake.app_broken_import_that_does_not_exist.x"])


def test_the_module_registry_names_the_four_channels() -> None:
    assert intake_settings.MODULES == (
        "intake.sms", "intake.email", "intake.messenger", "intake.x"
    )  # fmt: skip
    assert isinstance(fake_channel(), types.ModuleType)
