"""The channels' keys (thread keys with rotation, the channel key pair), their commands,
and public_channels(config)."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto import PrivateKey
from securedrop_like import channels, db, models
from securedrop_like.channels import (
    PublicChannels,
    ThreadKeys,
    channel_private_key,
    channel_public_key,
    public_channels,
    rotate_thread_key,
    thread_keys_path,
)
from securedrop_like.cli import COMMANDS, channel_keys, thread_key
from securedrop_like.config import ConfigError, load_config
from securedrop_like.intake_store import IntakeStore
from tests.conftest import Instance
from tests.intake.core_support import (
    PHONE,
    canary_hits,
    channel_key,
    decrypt_items,
    flush_all,
    inbound,
    intake,
    table_rows,
    thread_rows,
)

__all__ = ["channel_key", "intake"]  # fixtures


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_the_keys_private(instance: Instance) -> None:
    config = instance.config
    assert mode(thread_keys_path(config)) == 0o600
    assert mode(channels.channel_private_path(config)) == 0o600
    assert mode(channels.channel_public_path(config)) == 0o644
    keys = ThreadKeys.load(config)
    assert keys.versions == [1] and len(keys.keys[1]) == 32
    assert channel_private_key(config).public_key == channel_public_key(config)
    assert keys.keys[1].hex() not in repr(keys) and repr(keys) == "ThreadKeys(versions=[1])"


def test_the_thread_hash_is_keyed(instance: Instance) -> None:
    keys = ThreadKeys.load(instance.config)
    one = keys.thread_hash("sms", PHONE)
    assert len(one) == 64 and one == keys.thread_hash("sms", PHONE)
    assert one != keys.thread_hash("x", PHONE) != keys.thread_hash("sms", PHONE + "1")
    other = ThreadKeys({1: b"\x01" * 32})
    assert other.thread_hash("sms", PHONE) != one


def test_a_broken_key_file_is_a_config_error_without_the_key(instance: Instance) -> None:
    path = thread_keys_path(instance.config)
    secret = "ab" * 32
    path.write_text(f"v1 {secret}\nv1 {secret}\n", encoding="ascii")
    with pytest.raises(ConfigError) as caught:
        ThreadKeys.load(instance.config)
    assert secret not in str(caught.value) and "line 2" in str(caught.value)
    path.unlink()
    with pytest.raises(ConfigError, match="channel-keys init"):
        ThreadKeys.load(instance.config)
    with pytest.raises(ConfigError, match="channel-keys init"):
        IntakeStore.open(instance.config)


def test_rotation_keeps_her_thread_and_her_address(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    config = instance.config
    intake.add_part(inbound("before"))
    (source_id,) = flush_all(intake, channel_key)
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    assert intake.opt_in(inbound("yes"), "ok")
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    # Another woman, who will not write again before the old key is retired.
    intake.add_part(inbound("other", address="+994771234567"))
    (other,) = flush_all(intake, channel_key)
    intake.delivered([o.id for o in intake.outbox(channel_key)])
    (old_hash,) = [r[0] for r in thread_rows(config) if r[2] == source_id]

    assert rotate_thread_key(config) == 2
    assert mode(thread_keys_path(config)) == 0o600
    assert ThreadKeys.load(config).versions == [2, 1]
    # The running store sees the new key without a restart; her thread is found
    # under the old key and moved to the new one.
    intake.add_part(inbound("after"))
    (thread_hash,) = intake.pending_threads()
    assert thread_hash == ThreadKeys.load(config).thread_hash("sms", PHONE, 2) != old_hash
    assert intake.flush(thread_hash, channel_key, lambda *_: []) == source_id
    mine = [r for r in thread_rows(config) if r[2] == source_id]
    assert [(r[0], r[1], r[5]) for r in mine] == [(thread_hash, 2, 1)]
    # Her sealed address was sealed again for the new hash: replies still reach her.
    intake.service.place_reply(source_id, "reply", "az", author="lawyer")
    (reply,) = intake.outbox(channel_key)
    assert reply.address == PHONE
    kinds = [k for k, _ in decrypt_items(intake.service, source_id, instance.reviewer_key)]
    assert kinds == ["report", "message", "reply"]
    # Retire: the thread left under key 1 can no longer be found and goes; hers stays.
    result = CliRunner().invoke(thread_key, ["retire", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    assert "v1" in result.output and "1 thread(s)" in result.output
    assert ThreadKeys.load(config).versions == [2]
    assert [r[2] for r in thread_rows(config)] == [source_id]
    assert models.source_by_id(intake.service.db.reader(), other) is not None
    again = CliRunner().invoke(thread_key, ["retire", "--home", str(config.home)])
    assert again.exit_code == 0 and "nothing to retire" in again.output


def test_parts_pending_at_a_rotation_are_flushed_under_their_key(
    instance: Instance, intake: IntakeStore, channel_key: PrivateKey
) -> None:
    intake.add_part(inbound("pending"))
    result = CliRunner().invoke(thread_key, ["rotate", "--home", str(instance.home)])
    assert result.exit_code == 0 and "v2" in result.output
    (source_id,) = flush_all(intake, channel_key)
    ((_, version, *_),) = thread_rows(instance.config)
    assert version == 1
    # Her next message finds it and moves it.
    intake.add_part(inbound("next"))
    assert flush_all(intake, channel_key) == [source_id]
    ((_, version, *_),) = thread_rows(instance.config)
    assert version == 2
    # And a replay mark made under key 1 still counts after the rotation.
    msg = inbound("mark", message_id="m1")
    rotate_thread_key(instance.config)
    assert intake.add_part(msg)
    rotate_thread_key(instance.config)
    assert intake.add_part(msg) is False


def test_channel_keys_init_for_an_older_instance(instance: Instance) -> None:
    config = instance.config
    for path in (
        thread_keys_path(config),
        channels.channel_public_path(config),
        channels.channel_private_path(config),
    ):
        path.unlink()
    runner = CliRunner()
    result = runner.invoke(channel_keys, ["init", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    assert "thread key" in result.output and "channel key pair" in result.output
    assert channel_private_key(config).public_key == channel_public_key(config)
    before = channels.channel_public_path(config).read_bytes()
    again = runner.invoke(channel_keys, ["init", "--home", str(config.home)])
    assert again.exit_code == 0 and "already there" in again.output
    assert channels.channel_public_path(config).read_bytes() == before  # never overwritten
    channels.channel_private_path(config).unlink()
    half = runner.invoke(channel_keys, ["init", "--home", str(config.home)])
    assert half.exit_code == 1 and "only one of" in half.output
    assert "thread-key" in {c.name for c in COMMANDS}
    assert "channel-keys" in {c.name for c in COMMANDS}


def test_the_canary_search_finds_a_planted_canary(instance: Instance) -> None:
    database = db.Database.for_config(instance.config).open()
    try:
        database.execute("INSERT INTO intake_seen (mark, day) VALUES ('+994509998877', 'x')")
    finally:
        database.close()
    assert canary_hits(instance.config, ["+994509998877"]) == ["table intake_seen"]
    (instance.home / "spool" / "left").write_bytes("KANARYA".encode("utf-16-le"))
    assert "spool/left" in canary_hits(instance.config, ["KANARYA"])
    assert len(table_rows(instance.config)["intake_seen"]) == 1


# -- public_channels -----------------------------------------------------------------------


def with_public(instance: Instance, public: object) -> PublicChannels:
    config = dataclasses.replace(instance.config, extra={"intake": {"public": public}})
    return public_channels(config)


def test_public_channels_from_config_toml(instance: Instance) -> None:
    assert public_channels(instance.config) == PublicChannels("", "", "", "")
    assert not public_channels(instance.config).any
    toml = instance.home / "config.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + "\n[intake.public]\n"
        'sms_number = "+994 50 123 45 67"\nemail = "report@example.org"\n'
        'messenger_url = "https://m.me/sesim.az"\nx_handle = "@sesim_az"\n',
        encoding="utf-8",
    )
    found = public_channels(load_config(instance.home))
    assert found == PublicChannels(
        "+994501234567", "report@example.org", "https://m.me/sesim.az", "sesim_az"
    )
    assert found.any


@pytest.mark.parametrize(
    ("public", "message"),
    [
        ({"sms_number": "0501234567"}, "sms_number must be an international number"),
        ({"sms_number": 994501234567}, "sms_number must be a string"),
        ({"email": "not an address"}, "email must be an e-mail address"),
        ({"messenger_url": "http://m.me/x"}, "messenger_url must be an https://m.me/"),
        ({"messenger_url": "https://evil.example/x"}, "messenger_url must be"),
        ({"x_handle": "way_too_long_for_x_handle"}, "x_handle must be an X user name"),
        ({"sms": "+994501234567"}, "unknown key"),
        ("+994501234567", r"\[intake.public\] in config.toml must be a table"),
    ],
)
def test_public_channels_are_checked(instance: Instance, public: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        with_public(instance, public)


def test_public_channels_need_an_intake_table(instance: Instance) -> None:
    config = dataclasses.replace(instance.config, extra={"intake": "yes"})
    with pytest.raises(ConfigError, match=r"\[intake\] in config.toml must be a table"):
        public_channels(config)


def test_the_private_key_files_are_never_world_readable(instance: Instance) -> None:
    rotate_thread_key(instance.config)
    for path in instance.config.secrets_dir.iterdir():
        assert mode(path) & 0o077 == 0, path.name
    assert not any(p.name.endswith(".tmp") for p in instance.config.secrets_dir.iterdir())
    assert os.access(channels.channel_public_path(instance.config), os.R_OK)
