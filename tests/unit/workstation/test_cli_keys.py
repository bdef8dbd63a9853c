"""`sesim workstation init / show-keys / add-reviewer` from the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from crypto import read_public_key_file
from journalist_interface.workstation import keys
from sesim.cli import main as sesim
from tests.unit.workstation.conftest import PASSPHRASE

WEAK = ["--kdf-opslimit", "1", "--kdf-memlimit", str(8 * 1024 * 1024)]


def test_init_asks_the_passphrase_twice_and_prints_fingerprints(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    runner = CliRunner()
    result = runner.invoke(
        sesim,
        ["workstation", "init", "--home", str(home), "--name", "Aysel", *WEAK],
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )
    assert result.exit_code == 0, result.output
    info = keys.key_info(home)
    assert info.submission_fingerprint in result.output
    assert info.verify_fingerprint in result.output
    assert f"sesim keys add-reviewer {home / 'reviewer.pub'}" in result.output
    assert PASSPHRASE not in result.output.replace("Passphrase", "")
    keys.unlock(home, PASSPHRASE).wipe()
    # Never over an existing home.
    again = runner.invoke(
        sesim,
        ["workstation", "init", "--home", str(home), "--name", "Aysel", *WEAK],
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )
    assert again.exit_code == 1 and "never overwritten" in again.output
    # Two different answers are asked again, not accepted.
    other = runner.invoke(
        sesim,
        ["workstation", "init", "--home", str(tmp_path / "b"), "--name", "A", *WEAK],
        input=f"{PASSPHRASE}\nsomething else entirely\n",
    )
    assert other.exit_code != 0 and not (tmp_path / "b").exists()


def test_passphrase_file_show_keys_and_colleagues(tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    runner = CliRunner()
    for name in ("ws", "colleague"):
        result = runner.invoke(
            sesim,
            [
                "workstation",
                "init",
                "--home",
                str(tmp_path / name),
                "--name",
                name,
                "--passphrase-file",
                str(secret),
                *WEAK,
            ],
        )
        assert result.exit_code == 0, result.output
    keys.unlock(tmp_path / "ws", PASSPHRASE).wipe()  # the newline is not part of it
    added = runner.invoke(
        sesim,
        [
            "workstation",
            "add-reviewer",
            "--home",
            str(tmp_path / "ws"),
            str(tmp_path / "colleague" / "reviewer.pub"),
        ],
    )
    assert added.exit_code == 0, added.output
    colleague = read_public_key_file(tmp_path / "colleague" / "reviewer.pub")
    assert keys.fingerprint_words(colleague.raw) in added.output
    shown = runner.invoke(sesim, ["workstation", "show-keys", "--home", str(tmp_path / "ws")])
    assert shown.exit_code == 0
    assert colleague.key_id in shown.output and "Colleagues (1)" in shown.output
    dup = runner.invoke(
        sesim,
        [
            "workstation",
            "add-reviewer",
            "--home",
            str(tmp_path / "ws"),
            str(tmp_path / "colleague" / "reviewer.pub"),
        ],
    )
    assert dup.exit_code == 1 and "already added" in dup.output
    missing = runner.invoke(sesim, ["workstation", "show-keys", "--home", str(tmp_path / "no")])
    assert missing.exit_code == 1 and "not a workstation home" in missing.output
