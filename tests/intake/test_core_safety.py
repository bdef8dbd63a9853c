"""The channels' safety promises, looked for where an attacker would look: the decrypted
database (every row, through SQLCipher), every file of the instance (the WAL too) and the
log output; the crash windows of a part and of a flush (a killed process)."""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crypto import PrivateKey
from securedrop_like import models
from securedrop_like.intake_store import IntakeStore
from tests.conftest import Instance
from tests.intake.core_support import (
    answers,
    canary_hits,
    channel_key,
    flush_all,
    inbound,
    intake,
    table_rows,
)

__all__ = ["channel_key", "intake"]  # fixtures
ROOT = Path(__file__).resolve().parents[2]
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def canaries() -> tuple[str, str, str, str]:
    phone = "+99450" + "".join(secrets.choice("0123456789") for _ in range(7))
    email = f"kanarya{secrets.token_hex(4)}@example.org"
    text = f"KANARYA-{secrets.token_hex(6)} məmur"
    user = f"9{secrets.randbelow(10**15):015d}"
    return phone, email, text, user


def test_no_address_and_no_text_in_plaintext_anywhere(
    instance: Instance,
    intake: IntakeStore,
    channel_key: PrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    phone, email, text, user = canaries()
    reply = f"CAVAB-{secrets.token_hex(6)}"
    watched = [phone, phone.lstrip("+"), email, text, text.split()[0], user, reply]
    assert intake.add_part(inbound(text, address=phone, message_id="sms-1"))
    assert intake.add_part(inbound(text + " 2", address=phone, message_id="sms-2"))
    raw = f"From: {email}\r\n\r\n{text}\r\n".encode()
    assert intake.add_part(
        inbound(
            text,
            address=email,
            provider="imap",
            attachments=(("message.eml", "message/rfc822", raw),),
            join=False,
        )
    )
    assert intake.add_part(inbound(text, address=user, provider="messenger"))
    # Pending parts: sealed.
    assert canary_hits(instance.config, watched) == []
    sources = flush_all(intake, channel_key)
    assert len(sources) == 3
    assert intake.opt_in(inbound("bəli", address=phone), f"ok {text}")
    intake.service.place_reply(sources[0], reply, "az", author="lawyer")
    intake.add_part(inbound(text, address=user, provider="messenger"))  # one pending again
    assert canary_hits(instance.config, watched) == []
    # Whoever holds the channel key (the intake server) can open what it must send.
    assert {o.address for o in intake.outbox(channel_key)} >= {phone, email, user}
    # Withdrawal by STOP, from each.
    for address, provider in ((phone, "twilio"), (email, "imap"), (user, "messenger")):
        assert intake.withdraw(inbound("STOP", address=address, provider=provider), "silindi")
    assert canary_hits(instance.config, watched) == []
    rows = table_rows(instance.config)
    assert rows["sources"] == [] and rows["channel_threads"] == [] and rows["intake_parts"] == []
    log_text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for canary in watched:
        assert canary not in log_text


def test_no_time_finer_than_the_day_in_the_new_tables(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    intake.add_part(inbound("x"))
    flush_all(intake, channel_key)
    rows = table_rows(instance.config)
    for _, day in rows["intake_seen"]:
        assert DAY.match(day)
    for table in ("channel_threads", "intake_parts", "outbox", "intake_seen"):
        for row in rows[table]:
            for value in row:
                if isinstance(value, str):
                    assert not re.search(r"\d{1,2}:\d{2}", value), table
    # Outbox and part ids are random: no order of arrival.
    ids = [row[0] for row in rows["outbox"]]
    assert all(len(i) == 32 for i in ids)


def _child(instance: Instance, body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a new process that opens the instance's IntakeStore as ``store``
    (and the channel key as ``key``); it may kill itself."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from securedrop_like.channels import channel_private_key
        from securedrop_like.config import load_config
        from securedrop_like.intake_store import Inbound, IntakeStore
        config = load_config(sys.argv[1])
        store = IntakeStore.open(config)
        key = channel_private_key(config)
        def msg(text, mid):
            return Inbound("twilio", "+994501112233", text, mid, "az")
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
        """
    ) + textwrap.dedent(body)
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script, str(instance.home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


@pytest.mark.timeout(240)
def test_a_crash_between_parts_and_the_flush_loses_nothing(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    done = _child(
        instance,
        """
        assert store.add_part(msg("birinci", "a"))
        assert store.add_part(msg("ikinci", "b"))
        die()
        """,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    # The courier's start-up: everything pending is flushed, nothing twice.
    (thread_hash,) = intake.pending_threads()
    (source_id,) = flush_all(intake, channel_key)
    (item,) = intake.service.items(source_id)
    assert item.kind == "report"
    from tests.intake.core_support import decrypt_items

    ((_, document),) = decrypt_items(intake.service, source_id, instance.reviewer_key)
    assert document["text"] == "birinci\nikinci" and document["parts"] == 2
    assert len(intake.outbox(channel_key)) == 2
    assert intake.flush(thread_hash, channel_key, answers) is None


@pytest.mark.timeout(240)
def test_a_crash_inside_the_flush_stores_all_or_nothing(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    # Killed after the receipt was made but before the commit: nothing stored.
    done = _child(
        instance,
        """
        assert store.add_part(msg("mətn", "a"))
        (thread,) = store.pending_threads()
        def answer(lang, receipt):
            die()
        store.flush(thread, key, answer)
        """,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    rows = table_rows(instance.config)
    assert rows["sources"] == [] and rows["outbox"] == [] and len(rows["intake_parts"]) == 1
    # Killed just after the commit: everything stored once; nothing pending any more.
    done = _child(
        instance,
        """
        (thread,) = store.pending_threads()
        real = store.service._command
        def command(name, args):
            result = real(name, args)
            if name == "intake_flush":
                die()
            return result
        store.service._command = command
        store.flush(thread, key, lambda lang, receipt: ["receipt " + receipt])
        """,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert intake.pending_threads() == []
    assert models.count_sources(intake.service.db.reader()) == 1
    (queued,) = intake.outbox(channel_key)
    assert queued.text.startswith("receipt ") and queued.address == "+994501112233"


def test_withdrawal_checkpoints_the_wal(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    intake.add_part(inbound("x"))
    flush_all(intake, channel_key)
    intake.withdraw(inbound("STOP"), "ok")
    wal = Path(str(instance.config.db_path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
