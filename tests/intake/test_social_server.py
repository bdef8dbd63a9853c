"""Messenger and X through a real ``sesim serve intake`` process on 127.0.0.1: signed
webhooks over HTTP, the courier's own threads joining and answering through the
recording server, and a log that holds no id, text or secret."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import Instance
from tests.intake.core_support import canary_hits, count
from tests.intake.recorder import recorder
from tests.intake.social_support import (
    MESSENGER_SECRETS,
    PAGE_ID,
    PSID,
    X_SECRETS,
    X_SENDER,
    X_USER_ID,
    hub_signature,
    messenger_body,
    receipt_in,
    x_body,
    x_headers,
)
from tests.intake.test_social_protocol import verify_oauth
from tests.integration.server import running

M_TEXT = "Canary-social-server: idarədə müdir təhdid edir"
X_TEXT = "Canary-social-server: начальник требует встречи"


def _configure(instance: Instance, api_base: str) -> None:
    with (instance.home / "config.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            "\n[intake]\njoin_window_seconds = 1\n"
            f'\n[intake.messenger]\npage_id = "{PAGE_ID}"\napi_base = "{api_base}"\n'
            f'\n[intake.x]\nuser_id = "{X_USER_ID}"\napi_base = "{api_base}"\n'
        )
    secrets = instance.home / "secrets" / "intake.toml"
    secrets.write_text(
        "".join(f'{k} = "{v}"\n' for k, v in {**MESSENGER_SECRETS, **X_SECRETS}.items()), "utf-8"
    )
    secrets.chmod(0o600)


@pytest.mark.timeout(120)
def test_serve_intake_takes_dms_and_answers_them(instance: Instance, tmp_path: Path) -> None:
    log = tmp_path / "intake.log"
    with recorder() as rec:
        _configure(instance, rec.url)
        cmd = [sys.executable, "-m", "sesim", "serve", "intake", "--home", str(instance.home)]
        with running(cmd, log) as (base, pid):
            handshake = requests.get(
                base + "/messenger/webhook",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": MESSENGER_SECRETS["messenger_verify_token"],
                    "hub.challenge": "4242",
                },
                timeout=10,
            )
            assert (handshake.status_code, handshake.text) == (200, "4242")
            crc = requests.get(base + "/x/webhook", params={"crc_token": "abc-123"}, timeout=10)
            assert crc.status_code == 200 and crc.json()["response_token"].startswith("sha256=")

            m_body = messenger_body(("m-server-1", M_TEXT))
            answer = requests.post(
                base + "/messenger/webhook", data=m_body, headers=hub_signature(m_body), timeout=10
            )
            assert (answer.status_code, answer.text) == (200, "EVENT_RECEIVED")
            forged = requests.post(
                base + "/messenger/webhook",
                data=m_body,
                headers=hub_signature(m_body, "forged"),
                timeout=10,
            )
            assert forged.status_code == 403
            x_payload = x_body(("9001", X_TEXT))
            answer = requests.post(
                base + "/x/webhook", data=x_payload, headers=x_headers(x_payload), timeout=10
            )
            assert (answer.status_code, answer.text) == (200, "EVENT_RECEIVED")

            # The courier joins after the 1-second window and answers each of them
            # (a first answer of two messages per channel).
            sent = rec.wait_for(4, timeout=30)
            to_messenger = [r for r in sent if r.path == "/v21.0/me/messages"]
            to_x = [r for r in sent if r.path == f"/2/dm_conversations/with/{X_SENDER}/messages"]
            assert len(to_messenger) == 2 and len(to_x) == 2
            for r in to_messenger:
                doc = json.loads(r.body)
                assert doc["recipient"] == {"id": PSID} and doc["messaging_type"] == "RESPONSE"
                assert (
                    r.headers["authorization"]
                    == "Bearer " + MESSENGER_SECRETS["messenger_page_token"]
                )
                assert "appsecret_proof" in r.query
            for r in to_x:
                verify_oauth(r, rec.url)
            receipt_in([json.loads(r.body)["message"]["text"] for r in to_messenger])
            receipt_in([json.loads(r.body)["text"] for r in to_x])
    with pytest.raises(ProcessLookupError):  # stopped (SIGTERM) and reaped by running()
        os.kill(pid, 0)
    assert count(instance.config, "sources") == 2
    output = log.read_text("utf-8")
    for secret in (
        PSID,
        X_SENDER,
        M_TEXT,
        X_TEXT,
        *MESSENGER_SECRETS.values(),
        *X_SECRETS.values(),
    ):
        assert secret not in output
    assert canary_hits(instance.config, [PSID, X_SENDER, M_TEXT, X_TEXT]) == []
