"""Fixtures for the deploy tests: the cached base root, `make dist`, and applied roots.

The roots the collected tests ask for (reporting, map, the fresh one a backup is restored
onto) are copied and applied in parallel threads as soon as the first one is wanted; each
test module then takes its own from :class:`Farm` (applied once, reused by every test in
the module). Everything lives under ``.cache/deploy/run-<pid>-*`` and is removed (after
unmounting) at the end of the session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import harness

# Each part's wall-clock time, printed at the end of the session (pytest -s or -rA shows it).
TIMINGS: dict[str, float] = {}


def timed(name: str, seconds: float) -> None:
    TIMINGS[name] = TIMINGS.get(name, 0.0) + seconds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)
            # Applying a root can take minutes on a loaded machine; a test's fixtures count
            # towards its timeout. Every subprocess has its own, shorter timeout as well.
            item.add_marker(pytest.mark.timeout(900))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("deploy timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<40} {seconds:7.1f}s")


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """This session's folder for roots and logs, beside the cache (same filesystem)."""
    path = harness.runs_dir()
    yield path
    # The ansible and boot logs outlive the roots (CI keeps test-artifacts/).
    artifacts = harness.REPO / "test-artifacts" / "deploy"
    artifacts.mkdir(parents=True, exist_ok=True)
    for log in path.glob("*.log"):
        shutil.copyfile(log, artifacts / log.name)
    started = time.monotonic()
    harness.remove_root(path)
    timed("remove roots", time.monotonic() - started)


def make_dist() -> None:
    """`make dist`: the wheel and wheelhouse the sesim_app and sesim_map roles install."""
    started = time.monotonic()
    # The project's venv is the one running these tests (`make test-deploy` made it):
    # scripts/dist.sh with that Python, rather than `make dist`, whose `install`
    # prerequisite would build a second venv in a git worktree. --no-check: these tests
    # install the wheel on a real root and check far more than dist.sh's own check.
    env = {**os.environ, "PYTHON_DIST": sys.executable}
    log_path = harness.CACHE / f"dist-{os.getpid()}.log"
    log_path.unlink(missing_ok=True)
    returncode = harness.run_long(
        ["bash", "scripts/dist.sh", "--no-check"],
        log_path=log_path,
        timeout=600,
        env=env,
        cwd=harness.REPO,
    )
    output = log_path.read_text(errors="replace")
    log_path.unlink()
    assert returncode == 0, f"dist.sh failed:\n{output[-6000:]}"
    timed("make dist", time.monotonic() - started)


def build_base() -> Path:
    started = time.monotonic()
    root = harness.base_root()
    timed("base root (debootstrap, or the cache)", time.monotonic() - started)
    return root


class Farm:
    """Roots prepared in parallel threads; :meth:`get` waits for one.

    The base root (debootstrap) and `make dist` start at once, side by side, when some job
    is wanted; the jobs wait for what they need of them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="deploy")
        self.futures: dict[str, Future[Any]] = {}
        self.keys = Keys(workdir)
        self.backup: Future[Backup] = Future()  # set by the reporting job
        self._base: Future[Path] | None = None
        self._dist: Future[None] | None = None

    def begin(self, dist: bool) -> None:
        self._base = self.pool.submit(build_base)
        if dist:
            self._dist = self.pool.submit(make_dist)

    def base(self) -> Path:
        assert self._base is not None
        return self._base.result(timeout=900)

    def dist(self) -> None:
        assert self._dist is not None
        self._dist.result(timeout=900)

    def new_root(self, name: str) -> Path:
        base = self.base()
        started = time.monotonic()
        root = harness.copy_root(base, self.workdir / name)
        timed(f"copy root {name}", time.monotonic() - started)
        return root

    def apply(self, root: Path, *, group: str, label: str, **kwargs: Any) -> harness.Applied:
        applied = harness.apply(
            root,
            group=group,
            host=f"test-{root.name}",
            log_path=self.workdir / f"{label}.log",
            **kwargs,
        )
        timed(f"apply {label}", applied.seconds)
        return applied

    def start(self, name: str, job: Callable[[Farm], Any]) -> None:
        if name not in self.futures:
            self.futures[name] = self.pool.submit(job, self)

    def get(self, name: str, timeout: float = 900) -> Any:
        if name not in self.futures:
            raise AssertionError(f"no job {name!r} started: is no test using a fixture {name!r}?")
        return self.futures[name].result(timeout=timeout)

    def discard(self, root: Path) -> None:
        """Remove a root no test needs any more, in the background (rm is slow)."""
        self.pool.submit(self._remove, root)

    def _remove(self, root: Path) -> None:
        started = time.monotonic()
        harness.remove_root(root)
        timed("remove roots (background)", time.monotonic() - started)

    def close(self) -> None:
        if not self.backup.done():
            self.backup.set_exception(RuntimeError("the session ended"))
        for future in self.futures.values():
            future.cancel()
        harness.kill_live()  # only runs still going: a session cut short
        self.pool.shutdown(wait=True)
        self.keys.close()


# Jobs: fixture name -> (job, whether it needs `make dist`). A session's farm starts every
# job whose fixture some collected test uses, all at once.
JOBS: dict[str, tuple[Callable[[Farm], Any], bool]] = {}


def job(
    fixture_name: str, *, dist: bool = True
) -> Callable[[Callable[[Farm], Any]], Callable[[Farm], Any]]:
    def register(fn: Callable[[Farm], Any]) -> Callable[[Farm], Any]:
        JOBS[fixture_name] = (fn, dist)
        return fn

    return register


@pytest.fixture(scope="session", autouse=True)
def farm(request: pytest.FixtureRequest, workdir: Path) -> Iterator[Farm]:
    """Started before the first deploy test, so the roots are applied while the others
    (ansible-lint, the syntax check) run."""
    wanted = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    the_farm = Farm(workdir)
    jobs = {name: job for name, job in JOBS.items() if name in wanted}
    if jobs:
        the_farm.begin(dist=any(dist for _fn, dist in jobs.values()))
    for name, (fn, _dist) in jobs.items():
        the_farm.start(name, fn)
    yield the_farm
    the_farm.close()


# --- the roots ---------------------------------------------------------------------------------


@dataclass
class AppliedRoot:
    """A root with the playbook applied (``first``) and applied again (``second``: None
    when the first run failed)."""

    root: Path
    first: harness.Applied
    second: harness.Applied | None

    def check(self) -> None:
        self.first.check()


class Keys:
    """What the administrator brings: the backup key (OpenPGP, on her laptop), the reviewer
    workstation's public keys and, for the map host, a TLS certificate. Made once."""

    def __init__(self, workdir: Path) -> None:
        self.folder = workdir / "keys"
        self._lock = threading.Lock()
        self._admin: Path | None = None
        self._tls: tuple[Path, Path] | None = None
        self._workstation: Path | None = None

    @property
    def gnupghome(self) -> Path:
        return self.folder / "admin-gnupg"

    def admin_public_key(self) -> Path:
        with self._lock:
            if self._admin is None:
                self._admin = harness.make_gpg_key(self.gnupghome, "Backup Admin <backup@test>")
            return self._admin

    def tls(self, name: str) -> tuple[Path, Path]:
        with self._lock:
            if self._tls is None:
                self._tls = harness.make_tls_cert(self.folder / "tls", name)
            return self._tls

    def workstation(self) -> Path:
        """A reviewer workstation's folder (`sesim workstation init`): reviewer.pub for the
        reporting server, publication.verify for the map host."""
        with self._lock:
            if self._workstation is None:
                folder = self.folder / "workstation"
                passphrase = self.folder / "workstation.pass"
                self.folder.mkdir(parents=True, exist_ok=True)
                passphrase.write_text("a test workstation's passphrase\n")
                harness.run(
                    [
                        sys.executable,
                        "-m",
                        "sesim",
                        "workstation",
                        "init",
                        "--home",
                        str(folder),
                        "--name",
                        "Test reviewer",
                        "--passphrase-file",
                        str(passphrase),
                    ],
                    timeout=120,
                )
                self._workstation = folder
            return self._workstation

    def close(self) -> None:
        harness.stop_gpg_agent(self.gnupghome)


# The restored server's database key passphrase (typed at boot through systemd-ask-password).
RESTORED_PASSPHRASE = "a long passphrase the admin types at every boot"
REPORT_TEXT = "He said he would post the photos unless I paid. Deploy test report."


def reporting_vars(keys: Keys, mode: str = "host", **more: object) -> dict[str, object]:
    """The reporting server's settings in the tests: the test admin's backup key, and the
    database key sealed with the host key (no TPM in a container) or, on the restored
    server, wrapped with a passphrase the test types at boot."""
    extra: dict[str, object] = {
        "sesim_app_db_key_mode": mode,
        "sesim_app_backup_recipient_key": str(keys.admin_public_key()),
    }
    if mode == "passphrase":
        extra["sesim_app_db_key_passphrase"] = RESTORED_PASSPHRASE
    return {**extra, **more}


def web(box: harness.Container, action: str, arg: str) -> Any:
    """The source interface, as she uses it, inside the container (webclient.py)."""
    base, host = harness.source_address(box.root)
    box.wait_listening(int(base.rsplit(":", 1)[1]))
    out = box.net([sys.executable, "-m", "tests.deploy.webclient", action, base, host, arg])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout)


def add_reviewer(box: harness.Container, keys: Keys) -> None:
    """What the administrator does once: install the workstation's submission key."""
    pub = box.root / "var/tmp/reviewer.pub"
    shutil.copyfile(keys.workstation() / "reviewer.pub", pub)
    pub.chmod(0o644)
    try:
        added = box.run(
            ["/usr/local/sbin/sesim-admin", "keys", "add-reviewer", "/var/tmp/reviewer.pub"],
            timeout=120,
        )
        assert added.returncode == 0, added.stdout + added.stderr
    finally:
        pub.unlink()


@dataclass
class Backup:
    """A report filed on the running reporting server, then its backup, decrypted on the
    administrator's laptop."""

    codename: str
    login: dict[str, Any]
    encrypted: harness.FileInfo
    encrypted_head: bytes
    tar: Path


@job("reporting")
def reporting_job(farm: Farm) -> AppliedRoot:
    """Applied; then booted as a live server (the reviewer key added, a report filed, the
    daily backup run: the restored server waits for that backup); then applied again,
    which must change nothing on a server that has run."""
    try:
        farm.dist()
        root = farm.new_root("reporting")
        extra = reporting_vars(farm.keys)
        first = farm.apply(root, group="reporting", label="reporting", extra_vars=extra)
    except BaseException as exc:
        farm.backup.set_exception(exc)
        raise
    if first.returncode != 0:
        farm.backup.set_exception(AssertionError("the reporting root's first apply failed"))
        return AppliedRoot(root, first, None)
    started = time.monotonic()
    try:
        with harness.booted(root, farm.workdir / "reporting-boot-1.log") as box:
            farm.backup.set_result(take_backup(box, farm))
    except BaseException as exc:
        farm.backup.set_exception(exc)
    timed("reporting: boot, report, backup", time.monotonic() - started)
    second = farm.apply(root, group="reporting", label="reporting-rerun", extra_vars=extra)
    return AppliedRoot(root, first, second)


def take_backup(box: harness.Container, farm: Farm) -> Backup:
    state = box.wait_active("sesim-source.service")
    assert state == "active", box.diagnose("sesim-source.service")
    add_reviewer(box, farm.keys)
    codename = web(box, "report", REPORT_TEXT)["codename"]
    login = web(box, "login", codename)
    backup = box.systemctl("start", "sesim-backup.service", timeout=300)
    assert backup.returncode == 0, box.diagnose("sesim-backup.service")
    fs = harness.RootFS(box.root)
    files = sorted(fs.path(harness.BACKUPS).glob("sesim-backup-*.tar.gpg"))
    assert files, box.diagnose("sesim-backup.service")
    encrypted = fs.stat(f"{harness.BACKUPS}/{files[-1].name}")
    laptop = farm.workdir / "laptop"
    laptop.mkdir()
    tar = laptop / "backup.tar"
    harness.gpg_decrypt(farm.keys.gnupghome, files[-1], tar)
    return Backup(codename, login, encrypted, files[-1].read_bytes()[:65536], tar)


@dataclass
class RestoredRoot(AppliedRoot):
    """A fresh server applied without an instance (``first``), the backup restored onto it
    with sesim-admin (``restore``), applied again (``second``)."""

    backup: Backup | None = None
    restore: subprocess.CompletedProcess[str] | None = None
    # Between the restore and the second apply: where the restored database key was.
    key_out_written: bool = False
    key_files_in_home: list[str] = field(default_factory=list)


@job("restored")
def restore_target_job(farm: Farm) -> RestoredRoot:
    """A fresh reporting server (passphrase mode) without an instance; when the reporting
    server's backup is ready, it is restored here and the playbook applied again."""
    farm.dist()
    root = farm.new_root("restored")
    extra = reporting_vars(farm.keys, "passphrase")
    first = farm.apply(
        root,
        group="reporting",
        label="restored-empty",
        extra_vars={**extra, "sesim_app_init": False},
    )
    result = RestoredRoot(root, first, None)
    if first.returncode != 0:
        return result
    result.backup = farm.backup.result(timeout=1200)
    started = time.monotonic()
    with harness.mounted(root):
        # As root, the way the admin guide tells an administrator to (sesim-admin runs
        # `sesim restore` as user sesim); the key goes to /run, never into the instance.
        result.restore = harness.chroot(
            root,
            [
                "/usr/local/sbin/sesim-admin",
                "restore",
                "--from",
                "-",
                "--db-key-out",
                RESTORED_KEY_OUT,
            ],
            timeout=300,
            check=False,
            stdin_file=result.backup.tar,
        )
    result.key_out_written = (root / RESTORED_KEY_OUT.lstrip("/")).is_file()
    home = root / "var/lib/sesim"
    result.key_files_in_home = [str(p) for p in home.rglob("db.key")] if home.is_dir() else []
    timed("restore", time.monotonic() - started)
    if result.restore.returncode == 0:
        result.second = farm.apply(root, group="reporting", label="restored", extra_vars=extra)
    return result


MAP_NAME = "map.sesim.test"
RESTORED_KEY_OUT = "/run/sesim-restore/db.key"


@job("map_root")
def map_job(farm: Farm) -> AppliedRoot:
    """The public map host: the test's own certificate and a workstation's publication key."""
    farm.dist()
    cert, key = farm.keys.tls(MAP_NAME)
    extra = {
        "sesim_map_verify_key_src": str(farm.keys.workstation() / "publication.verify"),
        "sesim_map_tls_certificate_src": str(cert),
        "sesim_map_tls_key_src": str(key),
        "sesim_map_server_name": MAP_NAME,
    }
    root = farm.new_root("map")
    first = farm.apply(root, group="map", label="map", extra_vars=extra)
    second = None
    if first.returncode == 0:
        second = farm.apply(root, group="map", label="map-rerun", extra_vars=extra)
    return AppliedRoot(root, first, second)
