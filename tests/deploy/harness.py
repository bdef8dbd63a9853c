"""The deploy tests' machinery: a cached Debian root, ansible applied to a copy, a booted copy.

- :func:`base_root` builds (once, cached in ``.cache/deploy/base-<hash>``) what a fresh
  Debian 12 cloud server has, with ``debootstrap --variant=minbase``.
- :func:`copy_root` gives each test its own copy; :func:`remove_root` unmounts anything
  left under it and deletes it.
- :func:`apply` runs ``ansible/site.yml`` (or another playbook) on a root through ansible's
  ``community.general.chroot`` connection, with proc/sys/dev bound in and services kept
  from starting (``policy-rc.d``), and returns the PLAY RECAP.
- :func:`booted` boots a root with ``systemd-nspawn --private-network`` (always: a booted
  root's nftables must never see the host's network) and runs commands in it.
- :class:`RootFS` answers testinfra-style questions about the files in a root.

Every subprocess has a timeout and everything mounted or started is undone on the way out.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
SITE = ANSIBLE_DIR / "site.yml"
CACHE = Path(os.environ.get("SESIM_DEPLOY_CACHE", str(REPO / ".cache" / "deploy")))
SUITE = "bookworm"
MIRROR = os.environ.get("SESIM_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What a fresh Debian cloud server has that matters here: python3 for ansible, systemd as
# init, sudo for `become`, sshd (the base role must keep it off the network), dbus.
BASE_PACKAGES = (
    "ca-certificates",
    "dbus",
    "openssh-server",
    "python3",
    "sudo",
    "systemd",
    "systemd-sysv",
)
# Bump when the recipe below changes in a way the package list does not show.
BASE_RECIPE = "1"
PATH_IN_ROOT = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_OK = ".sesim-base-ok"
# The layout on the servers (ansible/group_vars/all.yml).
HOME = "/var/lib/sesim"
VENV = "/opt/sesim/venv"
BACKUPS = "/var/backups/sesim"


def log(message: str) -> None:
    """Progress on stderr (pytest shows it with -s, or on failure)."""
    print(f"[deploy {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(
    cmd: Sequence[str],
    *,
    timeout: float,
    check: bool = True,
    input: str | None = None,  # noqa: A002 - subprocess's own name
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin_file: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """A host command, always bounded in time; the error names the command and its output.
    Its standard input is ``input``, or the bytes of ``stdin_file``, or nothing."""
    try:
        with contextlib.ExitStack() as stack:
            stdin: Any = subprocess.DEVNULL
            if input is not None:
                stdin = None
            elif stdin_file is not None:
                stdin = stack.enter_context(stdin_file.open("rb"))
            proc = subprocess.run(
                list(cmd),
                capture_output=True,
                text=True,
                timeout=timeout,
                input=input,
                env=env,
                cwd=cwd,
                check=False,
                stdin=stdin,
            )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"timed out after {timeout}s: {' '.join(cmd)}") from exc
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


# --- the cached base root -------------------------------------------------------------------


def _base_key() -> str:
    recipe = f"{SUITE} {BASE_RECIPE} {','.join(sorted(BASE_PACKAGES))}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive flock on ``path``, waited for at most ``timeout`` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{path} stayed locked for {timeout}s") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def base_root(timeout: float = 900) -> Path:
    """The cached Debian root (built when missing); never changed once built."""
    final = CACHE / f"base-{_base_key()}"
    if (final / BASE_OK).exists():
        return final
    with _locked(CACHE / f"base-{_base_key()}.lock", timeout):
        if (final / BASE_OK).exists():  # another process built it while we waited
            return final
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(dir=CACHE, prefix=f".building-base-{_base_key()}-"))
        try:
            run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    SUITE,
                    str(tmp),
                    MIRROR,
                ],
                timeout=timeout,
            )
            _like_a_cloud_server(tmp)
            (tmp / BASE_OK).write_text(f"{SUITE} {' '.join(BASE_PACKAGES)}\n")
            os.chmod(tmp, 0o755)  # noqa: S103 - mkdtemp made it 0700; a root's / is 0755
            os.rename(tmp, final)
        except BaseException:
            remove_root(tmp)
            raise
        log(f"built {final.name} in {time.monotonic() - started:.0f}s")
    return final


def _like_a_cloud_server(root: Path) -> None:
    """What debootstrap leaves out and a provider's Debian 12 image has."""
    (root / "etc/apt/sources.list").write_text(
        f"deb {MIRROR} {SUITE} main\n"
        f"deb {MIRROR} {SUITE}-updates main\n"
        f"deb http://security.debian.org/debian-security {SUITE}-security main\n"
    )
    (root / "etc/hostname").write_text("sesim-test\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 sesim-test\n::1 localhost\n")
    # Downloaded .debs would only make every copy bigger.
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


# --- copies of it -----------------------------------------------------------------------------


def _mount_points() -> list[Path]:
    points = []
    for line in Path("/proc/mounts").read_text().splitlines():
        raw = line.split()[1]
        # /proc/mounts escapes space, tab, newline and backslash as octal.
        points.append(Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw)))
    return points


def mounts_under(path: Path, *, inside: bool = False) -> list[Path]:
    """Mount points at or under ``path`` (only those under it with ``inside``: a root that
    is itself an overlay mount has nothing *inside* it until something is bound there)."""
    path = path.resolve()
    return [p for p in _mount_points() if (p == path and not inside) or path in p.parents]


def unmount_under(path: Path, *, inside: bool = False) -> None:
    """Unmount everything at (unless ``inside``) or under ``path``, deepest first (lazily if
    it is busy)."""
    for _ in range(5):
        points = mounts_under(path, inside=inside)
        points = sorted(set(points), key=lambda p: len(p.parts), reverse=True)
        if not points:
            return
        for point in points:
            if run(["umount", str(point)], timeout=30, check=False).returncode != 0:
                run(["umount", "-l", str(point)], timeout=30, check=False)
    left = mounts_under(path, inside=inside)
    if left:
        raise AssertionError(f"could not unmount {left}")


def _layers(root: Path) -> tuple[Path, Path]:
    """An overlay root's upper and work folders, beside it."""
    return root.parent / f".{root.name}.upper", root.parent / f".{root.name}.work"


def remove_root(root: Path) -> None:
    """Delete a root (and its overlay layers): never while anything is mounted under it
    (that would be the host's)."""
    unmount_under(root)
    for path in (root, *_layers(root)):
        if path.exists():
            run(["rm", "-rf", "--one-file-system", str(path)], timeout=300)


def runs_dir() -> Path:
    """A fresh folder for this process's roots, beside the cache (same filesystem: cp
    --reflink can share blocks). Folders left by processes that died are removed first."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob("run-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            remove_root(old)
    return Path(tempfile.mkdtemp(dir=CACHE, prefix=f"run-{os.getpid()}-"))


def copy_root(base: Path, dest: Path) -> Path:
    """A root of one's own, from the base: an overlay mount on it (instant, and only what
    changes is written), or, where overlayfs is missing or SESIM_DEPLOY_COPY=cp, a copy
    (``cp -a --reflink=auto``: blocks shared on btrfs/XFS, a full copy on ext4)."""
    started = time.monotonic()
    how = "copy"
    if os.environ.get("SESIM_DEPLOY_COPY") != "cp":
        upper, work = _layers(dest)
        for folder in (dest, upper, work):
            folder.mkdir()
        options = f"lowerdir={base},upperdir={upper},workdir={work}"
        mount = run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(dest)], timeout=30, check=False
        )
        if mount.returncode == 0:
            how = "overlay"
        else:
            log(f"no overlay ({mount.stderr.strip()}): copying")
            for folder in (dest, upper, work):
                folder.rmdir()
    if how == "copy":
        run(["cp", "-a", "--reflink=auto", str(base), str(dest)], timeout=300)
    (dest / BASE_OK).unlink()
    log(f"{how} of {base.name} at {dest.name} in {time.monotonic() - started:.1f}s")
    return dest


# --- chroot: mounts, and applying ansible -----------------------------------------------------


@contextlib.contextmanager
def mounted(root: Path) -> Iterator[None]:
    """proc, sys, dev, dev/pts bound into ``root`` (and a private /dev/shm), then unmounted."""
    if mounts_under(root, inside=True):
        raise AssertionError(f"{root} already has mounts: {mounts_under(root, inside=True)}")
    try:
        for src in ("/proc", "/sys", "/dev", "/dev/pts"):
            target = root / src.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            run(["mount", "--bind", src, str(target)], timeout=30)
        run(
            ["mount", "-t", "tmpfs", "-o", "mode=1777,size=64m", "tmpfs", str(root / "dev/shm")],
            timeout=30,
        )
        yield
    finally:
        unmount_under(root, inside=True)


POLICY_RC_D = "usr/sbin/policy-rc.d"


@contextlib.contextmanager
def prepared_for_apply(root: Path) -> Iterator[None]:
    """Mounts, the host's resolv.conf (apt needs names), and a policy-rc.d that keeps package
    scripts from starting daemons in the chroot (they would run on the host's network).
    All three are undone afterwards so the root boots as the playbook left it."""
    policy = root / POLICY_RC_D
    resolv = root / "etc/resolv.conf"
    saved_policy = policy.read_bytes() if policy.exists() else None
    aside = root / "etc/.resolv.conf.sesim-test"
    had_resolv = resolv.exists() or resolv.is_symlink()
    with mounted(root):
        try:
            if had_resolv:
                os.replace(resolv, aside)
            shutil.copyfile("/etc/resolv.conf", resolv)
            policy.write_text("#!/bin/sh\n# sesim deploy tests: no daemon starts here\nexit 101\n")
            policy.chmod(0o755)
            yield
        finally:
            if saved_policy is None:
                policy.unlink(missing_ok=True)
            else:
                policy.write_bytes(saved_policy)
            resolv.unlink(missing_ok=True)
            if had_resolv:
                os.replace(aside, resolv)


@dataclass
class Recap:
    ok: int
    changed: int
    unreachable: int
    failed: int
    skipped: int
    rescued: int
    ignored: int


@dataclass
class Applied:
    """What one ansible-playbook run did."""

    returncode: int
    recap: dict[str, Recap]
    changed_tasks: list[str]
    failed_tasks: list[str]
    log: Path
    seconds: float

    def check(self, *, changed: int | None = None) -> None:
        """Assert the run succeeded (and changed exactly ``changed`` things when given)."""
        problems = []
        if self.returncode != 0 or not self.recap:
            problems.append(f"ansible-playbook exited {self.returncode}")
        for host, recap in self.recap.items():
            if recap.failed or recap.unreachable:
                problems.append(f"{host}: failed={recap.failed} unreachable={recap.unreachable}")
            if changed is not None and recap.changed != changed:
                problems.append(f"{host}: changed={recap.changed}, expected {changed}")
        if problems:
            detail = "\n".join(problems)
            if self.failed_tasks:
                detail += "\nfailed tasks:\n" + "\n".join(self.failed_tasks)
            if changed is not None and self.changed_tasks:
                detail += "\nchanged tasks:\n" + "\n".join(self.changed_tasks)
            tail = self.log.read_text(errors="replace")[-6000:]
            raise AssertionError(f"{detail}\n--- end of {self.log} ---\n{tail}")


RECAP_RE = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
    r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)"
)
TASK_RE = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\]")


def parse_output(text: str) -> tuple[dict[str, Recap], list[str], list[str]]:
    """The PLAY RECAP, and the tasks that changed or failed, from the default callback."""
    recap: dict[str, Recap] = {}
    changed: list[str] = []
    failed: list[str] = []
    task = ""
    in_recap = False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap:
            match = RECAP_RE.match(line)
            if match:
                recap[match.group(1)] = Recap(*(int(n) for n in match.groups()[1:]))
            continue
        match = TASK_RE.match(line)
        if match:
            task = match.group(1)
        elif line.startswith("changed: ["):
            changed.append(f"{task}: {line}")
        elif line.startswith(("fatal: [", "failed: [")):
            failed.append(f"{task}: " + "\n".join(lines[i : i + 30])[:4000])
    return recap, changed, failed


def ansible_bin(name: str) -> Path:
    """A command from the controller's venv: ``<repo>/.venv-ansible`` (``make ansible-venv``),
    or, in a git worktree without one, the main checkout's."""
    for venv in _ansible_venvs():
        if (venv / "bin" / name).exists():
            return venv / "bin" / name
    raise AssertionError(f"no {name}: run `make ansible-venv`")


def _ansible_venvs() -> list[Path]:
    venvs = [REPO / ".venv-ansible"]
    if os.environ.get("SESIM_ANSIBLE_VENV"):
        venvs.insert(0, Path(os.environ["SESIM_ANSIBLE_VENV"]))
    common = run(["git", "rev-parse", "--git-common-dir"], timeout=30, check=False, cwd=REPO)
    if common.returncode == 0:
        venvs.append((REPO / common.stdout.strip()).resolve().parent / ".venv-ansible")
    return venvs


def ansible_env(scratch: Path) -> dict[str, str]:
    """A private ansible environment: its own HOME and temp folders, no colours."""
    home = scratch / "home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        "HOME": str(home),
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PYTHONUNBUFFERED": "1",
    }


def inventory(hosts: dict[str, tuple[str, Path]]) -> dict[str, object]:
    """An inventory reaching each host (name -> (group, root)) through the chroot connection."""
    groups: dict[str, dict[str, object]] = {}
    for name, (group, root) in hosts.items():
        groups.setdefault(group, {"hosts": {}})["hosts"][name] = {  # type: ignore[index]
            "ansible_connection": "community.general.chroot",
            "ansible_host": str(root),
            "ansible_python_interpreter": "/usr/bin/python3",
        }
    return {"all": {"children": groups}}


def apply(
    root: Path,
    *,
    group: str,
    host: str | None = None,
    playbook: Path = SITE,
    extra_vars: dict[str, object] | None = None,
    log_path: Path,
    timeout: float = 600,
) -> Applied:
    """``ansible-playbook PLAYBOOK --limit HOST`` on ``root`` as a member of ``group``."""
    host = host or f"{group}-{root.name}"
    scratch = Path(tempfile.mkdtemp(prefix="ansible-", dir=log_path.parent))
    inv = scratch / "inventory.json"
    inv.write_text(json.dumps(inventory({host: (group, root)})))
    cmd = [
        str(ansible_bin("ansible-playbook")),
        "-i",
        str(inv),
        str(playbook),
        "--limit",
        host,
        "-e",
        json.dumps(extra_vars or {}),
    ]
    started = time.monotonic()
    log_path.unlink(missing_ok=True)
    with prepared_for_apply(root):
        returncode = run_long(
            cmd, log_path=log_path, timeout=timeout, env=ansible_env(scratch), cwd=playbook.parent
        )
    seconds = time.monotonic() - started
    shutil.rmtree(scratch, ignore_errors=True)
    recap, changed, failed = parse_output(log_path.read_text(errors="replace"))
    total = sum(r.changed for r in recap.values())
    log(f"applied {playbook.name} to {root.name} ({group}) in {seconds:.0f}s, changed={total}")
    return Applied(returncode, recap, changed, failed, log_path, seconds)


# Process groups of the long runs under way (ansible-playbook, dist.sh; each started in a
# session of its own), and whether the test session is ending.
_live: set[int] = set()
STOPPING = threading.Event()


def kill_live() -> None:
    """Stop every long run this process started that is still running, and start no new
    one (a session ending early): the threads waiting on them then unmount their roots."""
    STOPPING.set()
    for pgid in list(_live):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def run_long(
    cmd: Sequence[str], *, log_path: Path, timeout: float, env: dict[str, str], cwd: Path
) -> int:
    """A long command, its output in ``log_path``: killed (its whole process group) after
    ``timeout`` or when the session ends (:func:`kill_live`). Its exit status."""
    if STOPPING.is_set():
        raise RuntimeError("the test session is ending")
    with log_path.open("a") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        _live.add(proc.pid)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            out.write(f"\n*** sesim deploy tests: killed after {timeout}s ***\n")
        finally:
            _live.discard(proc.pid)
    return proc.returncode


def chroot(
    root: Path,
    cmd: Sequence[str],
    *,
    user: str | None = None,
    input: str | None = None,  # noqa: A002
    timeout: float = 60,
    check: bool = True,
    stdin_file: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """A command in ``root`` (inside :func:`mounted`), as root or as ``user`` (runuser)."""
    wrapped = ["chroot", str(root), "/usr/bin/env", "-i", f"PATH={PATH_IN_ROOT}", "LANG=C.UTF-8"]
    if user:
        wrapped += ["runuser", "-u", user, "--"]
    return run([*wrapped, *cmd], timeout=timeout, check=check, input=input, stdin_file=stdin_file)


# --- booting -----------------------------------------------------------------------------------


@dataclass
class Container:
    """A root booted with systemd-nspawn; :meth:`run` is a command inside it."""

    root: Path
    nspawn: subprocess.Popen[bytes]
    pid1: int
    log_path: Path
    boot_seconds: float = 0.0
    state: str = ""
    asked: list[str] = field(default_factory=list)

    def run(
        self,
        cmd: Sequence[str],
        *,
        user: str | None = None,
        input: str | None = None,  # noqa: A002
        timeout: float = 60,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        wrapped = [
            "nsenter",
            "-t",
            str(self.pid1),
            "-a",
            "/usr/bin/env",
            "-i",
            f"PATH={PATH_IN_ROOT}",
            "LANG=C.UTF-8",
            "SYSTEMD_PAGER=",
            "SYSTEMD_COLORS=0",
        ]
        if user:
            wrapped += ["runuser", "-u", user, "--"]
        return run([*wrapped, *cmd], timeout=timeout, check=check, input=input)

    def net(self, cmd: Sequence[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A host command (the host's files, e.g. the test venv's python) in the container's
        network namespace only: it reaches the container's 127.0.0.1 and nothing else."""
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return run(
            ["nsenter", "-t", str(self.pid1), "-n", *cmd],
            timeout=timeout,
            check=False,
            env=env,
            cwd=REPO,
        )

    def systemctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", "--no-pager", *args], timeout=timeout)

    def is_active(self, unit: str) -> bool:
        return self.systemctl("is-active", unit).stdout.strip() == "active"

    def wait_active(self, unit: str, timeout: float = 30) -> str:
        """Wait until ``unit`` is active (or failed); its final state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.systemctl("is-active", unit).stdout.strip()
            if state == "active" or state == "failed" or time.monotonic() > deadline:
                return state
            time.sleep(0.5)

    def wait_listening(self, port: int, timeout: float = 60) -> None:
        """Wait until something listens on 127.0.0.1:``port`` (a Type=simple unit is active
        before its server has bound its socket)."""
        deadline = time.monotonic() + timeout
        while ("127.0.0.1", port) not in listening_tcp(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
            time.sleep(0.3)

    def journal(self, unit: str | None = None, lines: int = 80) -> str:
        args = ["journalctl", "--no-pager", "-n", str(lines)]
        if unit:
            args += ["-u", unit]
        return self.run(args).stdout

    def diagnose(self, unit: str) -> str:
        status = self.systemctl("status", unit).stdout
        return f"{status}\n{self.journal(unit)}"


def _container_pid1(nspawn_pid: int) -> int | None:
    """The nspawn process's descendant that is PID 1 in its own PID namespace."""
    todo = [nspawn_pid]
    while todo:
        pid = todo.pop()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                status = Path(f"/proc/{child}/status").read_text()
            except OSError:
                continue
            nspid = re.search(r"^NSpid:\s+(.*)$", status, re.M)
            if nspid and len(nspid.group(1).split()) > 1 and nspid.group(1).split()[-1] == "1":
                return child
            todo.append(child)
    return None


# Answers a question systemd-ask-password put in /run/systemd/ask-password (the password
# agent protocol: an ask.* file names a datagram socket; "+" and the password is the answer).
# Prints the question's message; exits 3 when nothing is asked.
ANSWER_PASSWORD = r"""
import configparser, glob, socket, sys
password = sys.stdin.buffer.read()
for ask in sorted(glob.glob("/run/systemd/ask-password/ask.*")):
    question = configparser.ConfigParser(interpolation=None)
    question.read(ask)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"+" + password, question["Ask"]["Socket"])
    print(question["Ask"].get("Message", ""))
    sys.exit(0)
sys.exit(3)
"""


@contextlib.contextmanager
def booted(
    root: Path, log_path: Path, timeout: float = 120, passphrase: str | None = None
) -> Iterator[Container]:
    """Boot ``root`` (never with the host's network) until systemd says running/degraded;
    power it off afterwards (killed if it does not stop in time).

    With ``passphrase``, a question asked through systemd-ask-password during the boot is
    answered with it, as an administrator at the console would (the answered prompts are in
    :attr:`Container.asked`)."""
    if mounts_under(root, inside=True):
        left = mounts_under(root, inside=True)
        raise AssertionError(f"will not boot {root} with mounts in it: {left}")
    started = time.monotonic()
    with log_path.open("wb") as out:
        nspawn = subprocess.Popen(
            [
                "systemd-nspawn",
                "-q",
                "--register=no",
                "--keep-unit",
                "--private-network",
                "--console=read-only",
                "-b",
                "-D",
                str(root),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    pid1 = 0
    container: Container | None = None
    try:
        deadline = started + timeout
        while not pid1:
            if nspawn.poll() is not None:
                raise AssertionError(f"nspawn exited: {log_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise AssertionError("no container PID 1")
            pid1 = _container_pid1(nspawn.pid) or 0
            time.sleep(0.1)
        container = Container(root, nspawn, pid1, log_path)
        state = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{root.name} did not finish booting in {timeout}s (state {state!r})\n"
                    + container.systemctl("list-jobs").stdout
                    + container.journal(lines=60)
                )
            if nspawn.poll() is not None:
                raise AssertionError(f"nspawn exited: {log_path.read_text(errors='replace')}")
            state = container.run(
                ["systemctl", "is-system-running"], timeout=min(10, max(1, remaining))
            ).stdout.strip()
            if state in ("running", "degraded"):
                break
            if passphrase is not None:
                answer = container.run(
                    ["python3", "-c", ANSWER_PASSWORD], input=passphrase, timeout=30
                )
                if answer.returncode == 0:
                    container.asked.append(answer.stdout.strip())
            time.sleep(0.3)
        container.state = state
        container.boot_seconds = time.monotonic() - started
        failed = container.systemctl("--failed", "--plain", "--no-legend").stdout.strip()
        log(
            f"booted {root.name} in {container.boot_seconds:.1f}s: {state}"
            + (f" (failed: {failed})" if failed else "")
        )
        yield container
    finally:
        _power_off(nspawn, pid1)


def _power_off(nspawn: subprocess.Popen[bytes], pid1: int, timeout: float = 30) -> None:
    if nspawn.poll() is None and pid1:
        with contextlib.suppress(AssertionError):
            run(
                ["nsenter", "-t", str(pid1), "-a", "systemctl", "poweroff", "--no-block"],
                timeout=10,
                check=False,
            )
    try:
        nspawn.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log("container did not power off in time: killing it")
        if pid1:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid1, signal.SIGKILL)
        nspawn.kill()
        nspawn.wait(timeout=30)


# --- questions about the files in a root -------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    path: str
    mode: int
    owner: str
    group: str
    kind: str  # file, directory, symlink, other

    def __str__(self) -> str:
        return f"{self.path} {self.kind} {self.mode:04o} {self.owner}:{self.group}"


@dataclass
class RootFS:
    """Files, users and units in a root, looked at from the host (no chroot needed)."""

    root: Path
    _users: dict[int, str] = field(default_factory=dict)
    _groups: dict[int, str] = field(default_factory=dict)

    def path(self, inside: str) -> Path:
        """The host path of ``inside``, following symlinks as the root would (an absolute
        link points into the root, never at the host)."""
        current = self.root
        parts = [p for p in inside.split("/") if p]
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                current = current.parent if current != self.root else current
                continue
            candidate = current / part
            if candidate.is_symlink() and parts:  # the last component itself is not followed
                hops += 1
                if hops > 40:
                    raise AssertionError(f"symlink loop at {inside}")
                target = os.readlink(candidate)
                parts = [p for p in target.split("/") if p] + parts
                if target.startswith("/"):
                    current = self.root
                continue
            current = candidate
        return current

    def exists(self, inside: str) -> bool:
        return self.path(inside).exists() or self.path(inside).is_symlink()

    def read(self, inside: str) -> str:
        return self.path(inside).read_text()

    def _table(self, name: str) -> dict[int, str]:
        table = {}
        for line in (self.root / "etc" / name).read_text().splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                table[int(fields[2])] = fields[0]
        return table

    def passwd(self, user: str) -> list[str] | None:
        for line in (self.root / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == user:
                return fields
        return None

    def group_members(self, group: str) -> list[str] | None:
        for line in (self.root / "etc/group").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == group:
                return [m for m in fields[3].split(",") if m]
        return None

    def stat(self, inside: str) -> FileInfo:
        users = self._users or self._table("passwd")
        groups = self._groups or self._table("group")
        self._users, self._groups = users, groups
        st = self.path(inside).lstat()
        kind = (
            "directory"
            if stat.S_ISDIR(st.st_mode)
            else "file"
            if stat.S_ISREG(st.st_mode)
            else "symlink"
            if stat.S_ISLNK(st.st_mode)
            else "other"
        )
        return FileInfo(
            inside,
            stat.S_IMODE(st.st_mode),
            users.get(st.st_uid, str(st.st_uid)),
            groups.get(st.st_gid, str(st.st_gid)),
            kind,
        )

    def walk(self, inside: str) -> Iterator[FileInfo]:
        """Every file and folder under ``inside`` (itself included), not following links."""
        yield self.stat(inside)
        top = self.path(inside)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in sorted(dirnames + filenames):
                host = Path(dirpath) / name
                yield self.stat("/" + str(host.relative_to(self.root)))

    def units(self, pattern: str = "sesim*") -> list[str]:
        folder = self.root / "etc/systemd/system"
        return sorted(p.name for p in folder.glob(pattern) if p.is_file() and not p.is_symlink())

    def enabled(self, unit: str) -> bool:
        """Is ``unit`` linked into some .wants/ folder under /etc/systemd/system?"""
        folder = self.root / "etc/systemd/system"
        # Not Path.glob: it follows the link, which points into the root, not the host.
        return any(os.path.lexists(wants / unit) for wants in folder.glob("*.wants"))

    def verify(self, units: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """``systemd-analyze verify`` of units in the root, offline."""
        paths = [str(self.root / "etc/systemd/system" / u) for u in units]
        return run(
            ["systemd-analyze", "verify", f"--root={self.root}", "--man=no", *paths],
            timeout=120,
            check=False,
        )

    def exposure(self, unit: str) -> float:
        """``systemd-analyze security`` of ``unit``'s file in the root, offline."""
        out = run(
            [
                "systemd-analyze",
                "security",
                "--offline=true",
                f"--root={self.root}",
                "--no-pager",
                unit,
            ],
            timeout=120,
            check=False,
        )
        match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out.stdout)
        if not match:
            raise AssertionError(f"no exposure score for {unit}:\n{out.stdout}\n{out.stderr}")
        return float(match.group(1))


# --- inside a booted container -----------------------------------------------------------------


def source_address(root: Path) -> tuple[str, str]:
    """(base URL on the container's loopback, Host header) of the source interface: its
    port from its unit, its onion address from the instance's config.toml."""
    unit = (root / "etc/systemd/system/sesim-source.service").read_text()
    port = re.search(r"--port[= ](\d+)", unit)
    assert port, f"no port in sesim-source.service:\n{unit}"
    config = tomllib.loads((root / HOME.lstrip("/") / "config.toml").read_text())
    return f"http://127.0.0.1:{port.group(1)}", config.get("onion_address") or "localhost"


def listening_tcp(container: Container) -> list[tuple[str, int]]:
    """Every TCP socket listening in the container: (address, port), from /proc/net/tcp{,6}."""
    found = []
    for name, v6 in (("tcp", False), ("tcp6", True)):
        text = container.run(["cat", f"/proc/net/{name}"], check=True).stdout
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A = LISTEN
                continue
            address, port = fields[1].split(":")
            found.append((_address(address, v6), int(port, 16)))
    return found


def _address(hex_address: str, v6: bool) -> str:
    import ipaddress

    raw = bytes.fromhex(hex_address)
    # The kernel prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.IPv6Address(words) if v6 else ipaddress.IPv4Address(words))


def is_loopback(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


# --- keys and certificates the tests make --------------------------------------------------------


def make_gpg_key(home: Path, uid: str) -> Path:
    """An OpenPGP key without a passphrase (ed25519 + cv25519) in a new GNUPGHOME; returns
    its armored public key's file. Stop its agent with :func:`stop_gpg_agent`."""
    home.mkdir(mode=0o700, parents=True)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet"]
    run(
        [*gpg, "--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "never"],
        timeout=120,
    )
    public = home.parent / f"{home.name}.pub.asc"
    public.write_text(run([*gpg, "--armor", "--export", uid], timeout=60).stdout)
    return public


def gpg_decrypt(home: Path, encrypted: Path, out: Path) -> None:
    run(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--quiet",
            "--yes",
            "--output",
            str(out),
            "--decrypt",
            str(encrypted),
        ],
        timeout=300,
    )


def stop_gpg_agent(home: Path) -> None:
    if home.exists():
        run(["gpgconf", "--homedir", str(home), "--kill", "all"], timeout=30, check=False)


def make_tls_cert(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (P-256, two days): (certificate, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
        ],
        timeout=60,
    )
    return cert, key
