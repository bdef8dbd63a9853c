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

import json
import re
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import harness
from tests.deploy.conftest import RESTORED_PASSPHRASE, AppliedRoot, Farm, reporting_vars, timed

HOME = "/var/lib/sesim"
VENV = "/opt/sesim/venv"
BACKUPS = "/var/backups/sesim"
SEALED_KEY = "/etc/credstore.encrypted/sesim-db.key"
SERVICES = ["sesim-source.service", "sesim-staff.service", "sesim-tor.service"]
REPORT_TEXT = "He said he would post the photos unless I paid. Deploy test report."


@pytest.fixture(scope="module")
def reporting(farm: Farm) -> AppliedRoot:
    result: AppliedRoot = farm.get("reporting")
    return result


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
        assert info.mode & 0o077 == 0, f"group or others may use {info}"
    for info in fs.walk(f"{HOME}/secrets"):
        if info.kind == "file":
            assert info.mode == 0o600, info


def test_the_database_key_is_sealed_and_not_left_beside_the_database(fs: harness.RootFS) -> None:
    assert not fs.exists(f"{HOME}/secrets/db.key")
    sealed = fs.stat(SEALED_KEY)
    assert (sealed.kind, sealed.owner, sealed.mode) == ("file", "root", 0o600), sealed
    assert fs.stat("/etc/credstore.encrypted").mode & 0o077 == 0
    # A systemd credential (host key), not the key itself: its header, then ciphertext.
    assert fs.path(SEALED_KEY).read_bytes()[:4] != fs.path(SEALED_KEY).read_bytes()[4:8]
    for unit in ("sesim-source.service", "sesim-staff.service"):
        text = fs.read(f"/etc/systemd/system/{unit}")
        assert f"LoadCredentialEncrypted=db.key:{SEALED_KEY}" in text, unit


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


def source_address(root: Path) -> tuple[str, str]:
    """(base URL on the container's loopback, Host header) of the source interface."""
    unit = (root / "etc/systemd/system/sesim-source.service").read_text()
    port = re.search(r"(?:--port[= ]|127\.0\.0\.1:)(\d+)", unit)
    assert port, f"no port in sesim-source.service:\n{unit}"
    config = tomllib.loads((root / HOME.lstrip("/") / "config.toml").read_text())
    return f"http://127.0.0.1:{port.group(1)}", config.get("onion_address") or "localhost"


def web(box: harness.Container, action: str, arg: str, root: Path | None = None) -> Any:
    base, host = source_address(root or box.root)
    out = box.net([sys.executable, "-m", "tests.deploy.webclient", action, base, host, arg])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout)


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
    assert box.run(["test", "-d", "/run/log/journal"]).returncode == 0
    assert box.run(["test", "-e", "/var/log/journal"]).returncode != 0


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


@pytest.fixture(scope="module")
def restore_target(farm: Farm) -> AppliedRoot:
    result: AppliedRoot = farm.get("restore_target")
    return result


def test_a_backup_restored_on_a_fresh_server_opens_her_case(
    box: harness.Container, restore_target: AppliedRoot, farm: Farm, workdir: Path
) -> None:
    # She reports on the running server; her codename opens her case.
    filed = web(box, "report", REPORT_TEXT)
    codename = filed["codename"]
    before = web(box, "login", codename)
    assert before["status"] == 303 and "/case" in before["location"], before

    # The daily backup, run now; the administrator copies the file to her laptop.
    started = time.monotonic()
    backup = box.systemctl("start", "sesim-backup.service", timeout=300)
    assert backup.returncode == 0, box.diagnose("sesim-backup.service")
    files = sorted((box.root / BACKUPS.lstrip("/")).glob("sesim-backup-*.tar.gpg"))
    assert files, box.diagnose("sesim-backup.service")
    info = harness.RootFS(box.root).stat(f"{BACKUPS}/{files[-1].name}")
    assert (info.owner, info.mode) == ("sesim", 0o600), info
    laptop = workdir / "laptop"
    laptop.mkdir()
    tar = laptop / "backup.tar"
    harness.gpg_decrypt(farm.keys.gnupghome, files[-1], tar)
    assert b"db.key" not in files[-1].read_bytes()[:4096]  # encrypted: no names in the clear
    timed("backup and decrypt", time.monotonic() - started)

    # A fresh server (applied without an instance), the backup piped into `sesim restore`,
    # then the playbook again: it seals the restored database key and starts nothing new.
    started = time.monotonic()
    restore_target.first.check()
    target = restore_target.root
    with harness.mounted(target):
        # As root, the way the role's README tells an administrator to (sesim-admin runs
        # `sesim restore` as user sesim).
        restored = harness.chroot(
            target,
            ["/usr/local/sbin/sesim-admin", "restore", "--from", "-"],
            timeout=300,
            check=False,
            stdin_file=tar,
        )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    again = farm.apply(
        target,
        group="reporting",
        label="restored",
        extra_vars=reporting_vars(farm.keys, "passphrase"),
    )
    again.check()
    # This server's key is wrapped with a passphrase (passphrase mode), not left beside the
    # database.
    restored_fs = harness.RootFS(target)
    assert not restored_fs.exists(f"{HOME}/secrets/db.key")
    wrapped = restored_fs.stat("/etc/sesim/db.key.wrapped")
    assert (wrapped.owner, wrapped.mode) == ("root", 0o600), wrapped
    assert RESTORED_PASSPHRASE.encode() not in restored_fs.path(wrapped.path).read_bytes()
    assert restored_fs.enabled("sesim-unlock.service")
    timed("restore and apply", time.monotonic() - started)

    # At boot it asks for the passphrase (answered as an administrator at the console);
    # her codename then opens her case on the restored server; a made-up one does not.
    with harness.booted(
        target, workdir / "restored-boot.log", passphrase=RESTORED_PASSPHRASE
    ) as restored_box:
        assert restored_box.asked, "no passphrase was asked for at boot"
        state = restored_box.wait_active("sesim-source.service")
        assert state == "active", restored_box.diagnose("sesim-source.service")
        after = web(restored_box, "login", codename)
        assert after["status"] == 303 and "/case" in after["location"], after
        assert after["case_status"] == 200
        assert "Your case" in after["case"]
        stranger = web(restored_box, "login", "not a codename at all")
        assert stranger["status"] != 303, stranger
