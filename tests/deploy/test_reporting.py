"""The reporting server (site.yml's `reporting` play: sesim_base, sesim_app, sesim_tor) on a
Debian root, the way an administrator's first run leaves it.

First the root as files (applied, applied again without change, owners and modes, the
sealed database key, the units checked offline, tor's configuration, the installed
command), then booted with systemd-nspawn --private-network (the units running, the source
interface answering on the container's loopback and nothing listening elsewhere, the
firewall, logs in memory, no core dumps, no swap), and last the backup taken there
restored onto a fresh server, where her codename still opens her case.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import harness
from tests.deploy.conftest import (
    RESTORED_PASSPHRASE,
    AppliedRoot,
    Farm,
    RestoredRoot,
    timed,
    web,
)

HOME, VENV, BACKUPS = harness.HOME, harness.VENV, harness.BACKUPS
SEALED_KEY = "/etc/credstore.encrypted/sesim-db.key"
SERVICES = ["sesim-source.service", "sesim-staff.service", "sesim-tor.service"]


@pytest.fixture(scope="module")
def reporting(farm: Farm) -> Iterator[AppliedRoot]:
    result: AppliedRoot = farm.get("reporting")
    yield result
    farm.discard(result.root)


@pytest.fixture(scope="module")
def fs(reporting: AppliedRoot) -> harness.RootFS:
    reporting.check()
    return harness.RootFS(reporting.root)


# --- the root as files -------------------------------------------------------------------------


def test_the_reporting_play_applies_and_a_second_run_changes_nothing(
    reporting: AppliedRoot,
) -> None:
    reporting.first.check()
    assert reporting.second is not None
    reporting.second.check(changed=0)


def test_sesim_is_a_system_user_without_a_login(fs: harness.RootFS) -> None:
    entry = fs.passwd("sesim")
    assert entry is not None
    assert int(entry[2]) < 1000, entry  # a system user
    assert entry[6] in ("/usr/sbin/nologin", "/bin/false"), entry
    assert fs.group_members("sesim") == [], "nobody else is in the sesim group"


def test_the_instance_is_sesims_alone(fs: harness.RootFS) -> None:
    home = fs.stat(HOME)
    assert (home.kind, home.owner, home.group, home.mode) == ("directory", "sesim", "sesim", 0o700)
    for info in fs.walk(HOME):
        assert info.owner == "sesim", info
        assert info.mode & 0o022 == 0, f"group or others may change {info}"
    # The secrets and the onion keys: nobody else may even read them (public keys such as
    # channel.pub may be 0644: the instance folder itself is 0700).
    for folder in ("secrets", "tor"):
        for info in fs.walk(f"{HOME}/{folder}"):
            assert info.mode & 0o077 == 0, f"group or others may read {info}"
            if info.kind == "file" and folder == "secrets":
                assert info.mode == 0o600, info


def test_the_database_key_is_sealed_and_not_left_beside_the_database(fs: harness.RootFS) -> None:
    assert not fs.exists(f"{HOME}/secrets/db.key")
    sealed = fs.stat(SEALED_KEY)
    assert (sealed.kind, sealed.owner) == ("file", "root"), sealed
    assert sealed.mode & 0o022 == 0, sealed
    folder = fs.stat("/etc/credstore.encrypted")
    assert (folder.owner, folder.mode) == ("root", 0o700), folder
    # A systemd credential (host key), not the key itself: its header, then ciphertext.
    assert fs.path(SEALED_KEY).read_bytes()[:4] != fs.path(SEALED_KEY).read_bytes()[4:8]
    for unit in ("sesim-source.service", "sesim-staff.service"):
        text = fs.read(f"/etc/systemd/system/{unit}")
        assert f"LoadCredentialEncrypted=db.key:{SEALED_KEY}" in text, unit
        # The web servers cannot read what only the intake server needs.
        hidden = {
            path
            for line in text.splitlines()
            if line.startswith("InaccessiblePaths=")
            for path in line.removeprefix("InaccessiblePaths=").split()
        }
        for secret in ("channel.key", "thread.keys", "intake.toml"):
            assert f"-{HOME}/secrets/{secret}" in hidden, (unit, secret)


def test_the_backups_folder_is_sesims_alone(fs: harness.RootFS) -> None:
    info = fs.stat(BACKUPS)
    assert (info.kind, info.owner, info.mode) == ("directory", "sesim", 0o700), info


def test_the_virtualenv_is_roots_and_sesim_cannot_change_it(fs: harness.RootFS) -> None:
    entries = list(fs.walk(VENV))
    assert len(entries) > 500, "the project is installed"
    for info in entries:
        if info.kind == "symlink":
            continue
        assert (info.owner, info.group) == ("root", "root"), info
        assert info.mode & 0o022 == 0, f"writable by others: {info}"
    # Nothing of the project's own code is writable by sesim anywhere else either.
    for top in ("/etc", "/opt", "/usr"):
        owned = [str(i) for i in fs.walk(top) if i.owner == "sesim"]
        assert owned == [], owned


def test_the_units_are_roots_and_enabled(fs: harness.RootFS) -> None:
    units = fs.units("sesim*")
    for unit in [*SERVICES, "sesim-backup.service", "sesim-backup.timer"]:
        assert unit in units, units
    for unit in units:
        info = fs.stat(f"/etc/systemd/system/{unit}")
        assert (info.owner, info.group, info.mode) == ("root", "root", 0o644), info
    for unit in [*SERVICES, "sesim-backup.timer"]:
        assert fs.enabled(unit), f"{unit} is not enabled"
    # Debian's own tor instance stays off: sesim-tor is the only tor.
    assert not fs.enabled("tor.service")
    assert "sesim-intake.service" not in units  # intake is off by default
    assert "sesim-unlock.service" not in units  # host mode: no passphrase to ask for


def test_the_units_pass_systemd_analyze_verify(fs: harness.RootFS) -> None:
    units = fs.units("sesim*")
    verify = fs.verify(units)
    assert verify.returncode == 0, verify.stderr
    assert not verify.stderr.strip(), verify.stderr


def test_every_service_scores_two_or_lower(fs: harness.RootFS) -> None:
    started = time.monotonic()
    scores = {unit: fs.exposure(unit) for unit in fs.units("sesim*.service")}
    timed("exposure scores", time.monotonic() - started)
    print("exposure:", scores)
    assert set(SERVICES) <= set(scores), scores
    assert all(score <= 2.0 for score in scores.values()), scores


def test_tor_accepts_the_torrc_as_user_sesim(fs: harness.RootFS) -> None:
    torrc = f"{HOME}/tor/torrc"
    assert fs.exists(torrc)
    with harness.mounted(fs.root):
        check = harness.chroot(
            fs.root, ["tor", "--verify-config", "-f", torrc], user="sesim", check=False
        )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Configuration was valid" in check.stdout


def test_sesim_runs_from_the_installed_virtualenv(fs: harness.RootFS) -> None:
    with harness.mounted(fs.root):
        out = harness.chroot(fs.root, [f"{VENV}/bin/sesim", "--help"], user="sesim")
        where = harness.chroot(
            fs.root,
            [f"{VENV}/bin/python", "-c", "import securedrop_like; print(securedrop_like.__file__)"],
            user="sesim",
        )
    assert "serve" in out.stdout
    assert where.stdout.startswith(f"{VENV}/lib/"), where.stdout


# --- booted ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def box(reporting: AppliedRoot, workdir: Path) -> Iterator[harness.Container]:
    reporting.check()
    with harness.booted(reporting.root, workdir / "reporting-boot.log") as container:
        timed("boot reporting", container.boot_seconds)
        yield container


def test_the_services_run(box: harness.Container) -> None:
    for unit in SERVICES:
        assert box.wait_active(unit) == "active", box.diagnose(unit)
    assert box.is_active("sesim-backup.timer")


def test_the_source_interface_answers_on_the_containers_loopback(box: harness.Container) -> None:
    box.wait_active("sesim-source.service")
    page = web(box, "get", "/")
    assert page["status"] == 200, page
    assert "<html" in page["body"].lower()


def test_nothing_listens_beyond_loopback(box: harness.Container) -> None:
    listening = harness.listening_tcp(box)
    assert listening, "the servers listen somewhere"
    public = [(a, p) for a, p in listening if not harness.is_loopback(a)]
    assert public == [], listening


def test_the_firewall_drops_what_is_not_allowed(box: harness.Container) -> None:
    assert box.is_active("nftables.service"), box.diagnose("nftables.service")
    ruleset = box.run(["nft", "list", "ruleset"], check=True).stdout
    hooks = re.findall(r"type filter hook (\w+) priority [^;]+; policy (\w+);", ruleset)
    assert ("input", "drop") in hooks, ruleset


def test_the_journal_is_kept_in_memory_only(box: harness.Container) -> None:
    config = box.run(["systemd-analyze", "cat-config", "systemd/journald.conf"]).stdout
    storage = re.findall(r"^Storage=(\w+)", config, re.M)
    assert storage and storage[-1] == "volatile", config
    header = box.run(["journalctl", "--header"]).stdout
    paths = re.findall(r"^File path: (.*)$", header, re.M)
    assert paths and all(p.startswith("/run/log/journal/") for p in paths), header[:2000]
    # Nothing on disk (tmpfiles may make an empty /var/log/journal at boot).
    on_disk = box.run(["find", "/var/log/journal", "-type", "f"]).stdout.strip()
    assert on_disk == "", on_disk


def test_no_core_dumps(box: harness.Container) -> None:
    sysctl = box.run(["/lib/systemd/systemd-sysctl", "--cat-config"]).stdout
    pattern = re.findall(r"^kernel\.core_pattern\s*=\s*(.*)$", sysctl, re.M)
    assert pattern and pattern[-1].strip() == "|/bin/false", sysctl
    dumpable = re.findall(r"^fs\.suid_dumpable\s*=\s*(\d)", sysctl, re.M)
    assert dumpable and dumpable[-1] == "0", sysctl
    assert box.systemctl("show", "-p", "DefaultLimitCORE").stdout.strip() == "DefaultLimitCORE=0"
    box.wait_active("sesim-source.service")
    pid = box.systemctl("show", "-p", "MainPID", "--value", "sesim-source.service").stdout.strip()
    limits = box.run(["cat", f"/proc/{pid}/limits"], check=True).stdout
    assert re.search(r"^Max core file size\s+0\s+0\s", limits, re.M), limits


def test_no_swap(box: harness.Container) -> None:
    assert box.systemctl("is-enabled", "swap.target").stdout.strip() == "masked"
    fstab = box.run(["cat", "/etc/fstab"], check=True).stdout
    assert not [line for line in fstab.splitlines() if re.match(r"^[^#\s]\S*\s+\S+\s+swap\s", line)]
    swaps = box.systemctl("list-units", "--type=swap", "--state=active", "--plain", "--no-legend")
    assert swaps.stdout.strip() == "", swaps.stdout


def test_the_units_score_the_same_inside(box: harness.Container) -> None:
    for unit in SERVICES:
        out = box.run(["systemd-analyze", "security", "--no-pager", unit]).stdout
        score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
        assert score and float(score.group(1)) <= 2.0, out[-2000:]


# --- backup here, restore on a fresh server ------------------------------------------------------
# The reporting job filed a report on the running server and took its backup before the
# second apply; the restore target job restored it onto a fresh server (passphrase mode)
# and applied the playbook again (conftest.py).


@pytest.fixture(scope="module")
def restored(farm: Farm) -> Iterator[RestoredRoot]:
    result: RestoredRoot = farm.get("restored", timeout=1500)
    yield result
    farm.discard(result.root)


def test_the_backup_is_encrypted_and_sesims_alone(farm: Farm) -> None:
    backup = farm.backup.result(timeout=1200)
    assert backup.login["status"] == 303 and "/case" in backup.login["location"], backup.login
    assert (backup.encrypted.owner, backup.encrypted.mode) == ("sesim", 0o600), backup.encrypted
    # OpenPGP (a public-key encrypted session key packet first), nothing readable inside.
    assert backup.encrypted_head[:1] in (b"\x84", b"\x85", b"\xc1"), backup.encrypted_head[:4]
    assert b"config.toml" not in backup.encrypted_head and b"db.key" not in backup.encrypted_head
    assert b"config.toml" in backup.tar.read_bytes()  # the administrator's key opens it


def test_a_backup_restored_on_a_fresh_server_opens_her_case(
    restored: RestoredRoot, workdir: Path
) -> None:
    restored.first.check()
    assert restored.backup is not None and restored.restore is not None
    assert restored.restore.returncode == 0, restored.restore.stdout + restored.restore.stderr
    # The restored database key went to /run (a tmpfs on a real server), never into the
    # instance folder; the second apply sealed it from there and removed it.
    assert restored.key_out_written
    assert restored.key_files_in_home == []
    assert restored.second is not None
    restored.second.check()
    assert not (restored.root / "run/sesim-restore/db.key").exists()
    # This server's key is wrapped with a passphrase (passphrase mode), not left beside the
    # database.
    fs = harness.RootFS(restored.root)
    assert not fs.exists(f"{HOME}/secrets/db.key")
    wrapped = fs.stat("/etc/sesim/db.key.wrapped")
    assert (wrapped.owner, wrapped.mode) == ("root", 0o600), wrapped
    assert RESTORED_PASSPHRASE.encode() not in fs.path(wrapped.path).read_bytes()
    assert fs.enabled("sesim-unlock.service")

    # At boot it asks for the passphrase (answered as an administrator at the console);
    # her codename then opens her case on the restored server; a made-up one does not.
    with harness.booted(
        restored.root, workdir / "restored-boot.log", passphrase=RESTORED_PASSPHRASE
    ) as box:
        timed("boot restored", box.boot_seconds)
        assert box.asked, "no passphrase was asked for at boot"
        state = box.wait_active("sesim-source.service")
        assert state == "active", box.diagnose("sesim-source.service")
        after = web(box, "login", restored.backup.codename)
        assert after["status"] == 303 and "/case" in after["location"], after
        assert after["case_status"] == 200
        assert "Your case" in after["case"]
        stranger = web(box, "login", "not a codename at all")
        assert stranger["status"] != 303, stranger
