"""The child process of :mod:`journalist_interface.workstation.sanitize`.

It is started as a script (``python -I _sandbox_child.py MODE …``) with an
empty environment, in a private temporary directory holding ``input`` (the
file a source sent, attacker-controlled). Before it reads that file it locks
itself in:

1. resource limits (address space, CPU seconds, file size, open files, no core
   dumps) — inherited by ``pdftoppm``/``pdfinfo`` when it runs them;
2. no network: new user and network namespaces (``unshare``), so the only
   interface is a loopback that is down;
3. a mount namespace in which people's homes, temporary folders and /run are
   covered by empty tmpfs mounts (its own folder and the Python installation
   bound back): their files and Unix sockets (X11, D-Bus, agents, Tor) are
   out of sight;
4. the work is done by PID 2 of a new PID namespace, whose init dies with
   this process (see :func:`supervise`), so nothing started inside outlives
   the sandbox when the parent kills its process group;
5. no namespaces may be created inside (the user namespace's limits are set
   to 0) and every capability is dropped, bounding set included;
6. ``no_new_privs`` and, where the kernel has Landlock, a ruleset: read and
   execute anywhere still visible, write only in this directory, no TCP
   bind/connect, no abstract Unix sockets, no signals to processes outside.

If neither the network namespace nor Landlock's network rule can be set up it
refuses to work (fail closed). It then writes one JSON line to stdout
(``{"ok": true, "pages": [[width, height, length], …], "total": n, …}`` or
``{"ok": false, "reason": CODE}``) followed by the PNG bytes of each page.
The PNGs are rebuilt from raw pixels only: no EXIF, XMP, ICC profile, text
chunks or anything else from the input survives.

It imports only the standard library and Pillow, never the project, so that
nothing but these few hundred lines and the decoders runs on the input.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import warnings
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
NAMESPACE_LIMITS = ("user", "net", "mnt", "pid", "ipc", "uts", "cgroup", "time")
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38

# Landlock (linux/landlock.h). The three system calls have the same numbers on
# every architecture (they came after the syscall tables were unified).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE = 1 << 0
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_ALL_ABI1 = (1 << 13) - 1
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
EXIT_SANDBOX = 3


class Refused(Exception):
    """The input is refused; ``args[0]`` is a reason code of sanitize.REASONS."""


class RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def set_limits(memory: int, cpu: int, fsize: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def unshare_namespaces(use_netns: bool) -> tuple[str | None, bool, bool, bool]:
    """New user, mount, PID and (unless told not to) network namespaces.

    Returns (why there is no network namespace or None, whether there is a new
    user namespace, a mount namespace, and whether children go into a new PID
    namespace)."""
    uid, gid = os.getuid(), os.getgid()
    net = CLONE_NEWNET if use_netns else 0
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | net) == 0:
        map_ids(uid, gid)
        return (None if use_netns else "not used"), True, True, True
    first = os.strerror(ctypes.get_errno())
    # Root on a kernel without user namespaces can still take the others.
    if _libc.unshare(CLONE_NEWNS | CLONE_NEWPID | net) == 0:
        return (None if use_netns else "not used"), False, True, True
    if use_netns and _libc.unshare(CLONE_NEWNET) == 0:
        return None, False, False, False
    return (first if use_netns else "not used"), False, False, False


def limit_nested_namespaces() -> str | None:
    """Let nothing inside create namespaces of its own: a new user namespace would
    give code that took over a decoder capabilities again, and with them much
    more of the kernel to attack (netfilter, mounts). The limits of a user
    namespace bind everything beneath it."""
    for kind in NAMESPACE_LIMITS:
        try:
            with open(f"/proc/sys/user/max_{kind}_namespaces", "w") as f:
                f.write("0")
        except OSError as exc:
            return f"max_{kind}_namespaces: {exc.strerror}"
    return None


def drop_capabilities() -> str | None:
    """Drop every capability (the bounding set too, so that exec of pdftoppm as
    uid 0 of the user namespace gains none back)."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the last capability
                break
            return "bounding set: " + os.strerror(ctypes.get_errno())
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    if _libc.capset(header, data) != 0:
        return "capset: " + os.strerror(ctypes.get_errno())
    return None


def exit_like(status: int) -> None:
    """Exit as a child with wait status ``status`` did (a signal as a signal)."""
    code = os.waitstatus_to_exitcode(status)
    signum = -code if code < 0 else code - 128 if code > 128 else 0  # init: 128 + signal
    if signum:
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(code if code >= 0 else 128 + signum)


def supervise() -> None:
    """Fork twice; return only in the worker, which is PID 2 of a new PID namespace.

    This process stays outside, in the process group that the parent kills on
    timeout. Its child is the namespace's init (PID 1); it dies with this one
    (``PR_SET_PDEATHSIG``), and when it dies the kernel kills everything in the
    namespace — so nothing the worker or pdftoppm starts can outlive the
    sandbox, even after leaving the process group. Neither of the two ever
    touches the input."""
    pid = os.fork()
    if pid:
        exit_like(os.waitpid(pid, 0)[1])
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    worker = os.fork()
    if worker == 0:
        return
    while True:  # init: reap orphans until the worker is done
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        if done == worker:
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.waitstatus_to_exitcode(status))


def map_ids(uid: int, gid: int) -> None:
    """Be root inside the new user namespace (our own uid and gid mapped to 0), so
    that the mount namespace's tmpfs can hold the folders bound back into it."""
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                           ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError:
        pass  # hide_folders will then fail and say so


def hide_folders(hide: list[str], keep: list[str]) -> str | None:
    """Cover each folder of ``hide`` with an empty tmpfs, binding back the few
    folders of ``keep`` beneath it (this sandbox's own folder, the Python
    installation). Hides other users' and the reviewer's files, and the Unix
    sockets of the desktop (X11, D-Bus, Wayland), agents (gpg, ssh) and Tor.
    Returns the error, or None."""
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return "private /: " + os.strerror(ctypes.get_errno())
    kept = sorted({k for k in keep if os.path.isdir(k)})
    kept = [k for k in kept if not any(k.startswith(o + "/") for o in kept if o != k)]
    for folder in hide:
        if os.path.islink(folder) or not os.path.isdir(folder) or folder in kept:
            continue
        under = [k for k in kept if k.startswith(folder + "/")]
        fds = [(k, os.open(k, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)) for k in under]
        try:
            if _libc.mount(b"tmpfs", folder.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           b"size=256k,mode=0755") != 0:
                return f"tmpfs on {folder}: " + os.strerror(ctypes.get_errno())
            for k, fd in fds:
                os.makedirs(k, exist_ok=True)
                if _libc.mount(f"/proc/self/fd/{fd}".encode(), k.encode(), None,
                               MS_BIND | MS_REC, None) != 0:
                    error = os.strerror(ctypes.get_errno())
                    _libc.umount2(folder.encode(), MNT_DETACH)
                    return f"bind {k}: {error}"
        except OSError as exc:
            _libc.umount2(folder.encode(), MNT_DETACH)
            return f"{folder}: {exc}"
        finally:
            for _k, fd in fds:
                os.close(fd)
    return None


def landlock(workdir: str) -> tuple[int, str | None]:
    """Apply a Landlock ruleset; returns (ABI version, error or None)."""
    abi = int(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION))
    if abi < 1:
        return 0, os.strerror(ctypes.get_errno())
    fs = FS_ALL_ABI1
    if abi >= 2:
        fs |= FS_REFER
    if abi >= 3:
        fs |= FS_TRUNCATE
    if abi >= 5:
        fs |= FS_IOCTL_DEV
    attr = RulesetAttr(handled_access_fs=fs)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP  # no rule: none allowed
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = int(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0))
    if ruleset < 0:
        return abi, os.strerror(ctypes.get_errno())
    try:
        for path, allowed in (("/", FS_EXECUTE | FS_READ_FILE | FS_READ_DIR), (workdir, fs)):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = PathBeneathAttr(allowed_access=allowed, parent_fd=fd)
                if _libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                                 ctypes.byref(rule), 0) != 0:
                    return abi, os.strerror(ctypes.get_errno())
            finally:
                os.close(fd)
        if _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return abi, os.strerror(ctypes.get_errno())
    finally:
        os.close(ruleset)
    return abi, None


def lock_in(
    memory: int, cpu: int, fsize: int, hide: list[str], *,
    use_netns: bool = True, use_landlock: bool = True,
) -> dict[str, Any]:
    """Set every barrier; exit with EXIT_SANDBOX when there would be a network.

    Only the probe modes ``probe-no-netns`` and ``probe-no-landlock`` leave one
    barrier out, so that a test can show that each one alone holds."""
    workdir = os.getcwd()
    # Load the decoders now, while the Python installation is where it was.
    from PIL import Image, ImageFile, ImageOps  # noqa: F401

    Image.init()
    "".encode("latin-1")
    set_limits(memory, cpu, fsize)
    netns_error, user_ns, mount_ns, pid_ns = unshare_namespaces(use_netns)
    hide_error: str | None = "no mount namespace"
    if mount_ns:
        keep = [workdir, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                os.path.dirname(os.path.dirname(Image.__file__))]
        hide_error = hide_folders(hide, keep + [os.path.realpath(k) for k in keep])
        os.chdir(workdir)
    # Only in our own user namespace: outside one these are the whole machine's limits.
    nested_error = limit_nested_namespaces() if user_ns else "no user namespace"
    if pid_ns:
        supervise()  # from here on: the worker, in the new PID namespace
    caps_error = drop_capabilities()
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit(EXIT_SANDBOX)
    abi, landlock_error = landlock(".") if use_landlock else (0, "not used")
    barriers = {
        "netns": netns_error is None,
        "netns_error": netns_error,
        "pidns": pid_ns and os.getpid() == 2,
        "hidden": hide_error is None,
        "hidden_error": hide_error,
        "no_nested_namespaces": nested_error is None,
        "nested_error": nested_error,
        "no_capabilities": caps_error is None,
        "capabilities_error": caps_error,
        "landlock_abi": abi,
        "landlock": landlock_error is None and abi > 0,
        "landlock_error": landlock_error,
    }
    landlock_net = landlock_error is None and abi >= 4
    if netns_error is not None and not landlock_net:
        write_result({"ok": False, "reason": "sandbox", "barriers": barriers})
        sys.exit(EXIT_SANDBOX)
    return barriers


def write_result(header: dict[str, Any], pages: list[bytes] = ()) -> None:  # type: ignore[assignment]
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode() + b"\n")
    for png in pages:
        out.write(png)
    out.flush()


# --- images -----------------------------------------------------------------


def clean_png(im: Any, max_side: int) -> tuple[bytes, int, int]:
    """Rebuild ``im`` from its raw pixels (nothing else kept) and encode as PNG."""
    from PIL import Image

    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    clean = Image.frombytes(im.mode, im.size, im.tobytes())
    buf = io.BytesIO()
    clean.save(buf, format="PNG", compress_level=6)
    return buf.getvalue(), clean.width, clean.height


def render_image(path: str, max_pixels: int, max_side: int) -> tuple[bytes, int, int]:
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as im:
            width, height = im.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise Refused("too_large")
            im.seek(0)  # the first frame of an animation
            # Scale down first (a JPEG is then decoded at 1/2, 1/4 or 1/8 size),
            # so memory stays near the size of the rendering, then turn upright.
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            upright = ImageOps.exif_transpose(im)
            if upright is None:
                upright = im
            return clean_png(upright, max_side)
    except Refused:
        raise
    except UnidentifiedImageError as exc:
        raise Refused("unsupported") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused("too_large") from exc
    except MemoryError as exc:
        raise Refused("resources") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a bad file
        raise Refused("malformed") from exc


# --- PDFs --------------------------------------------------------------------


def poppler(argv: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    # stdin and stderr are inherited: both are /dev/null already (opening it
    # again for writing is outside what Landlock allows).
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, stdout=subprocess.PIPE, env={}, close_fds=True, timeout=timeout, check=False,
    )


def page_count(timeout: float) -> int:
    done = poppler(["/usr/bin/pdfinfo", "input"], timeout)
    if done.returncode != 0:
        raise Refused("malformed")
    for line in done.stdout.decode("latin-1").splitlines():
        if line.startswith("Pages:"):
            try:
                return int(line.split(":", 1)[1].strip())
            except ValueError:
                break
    raise Refused("malformed")


def render_pdf(
    max_pages: int, max_side: int, deadline: float
) -> tuple[list[bytes], list[list[int]], int]:
    from PIL import Image

    with open("input", "rb") as f:
        if b"%PDF-" not in f.read(1024):
            raise Refused("unsupported")
    total = page_count(max(1.0, deadline - time.monotonic()))
    if total < 1:
        raise Refused("malformed")
    last = min(total, max_pages)
    done = poppler(
        ["/usr/bin/pdftoppm", "-png", "-scale-to", str(max_side), "-f", "1", "-l", str(last),
         "input", "page"],
        max(1.0, deadline - time.monotonic()),
    )
    names = sorted((n for n in os.listdir(".") if n.startswith("page-") and n.endswith(".png")),
                   key=lambda n: int(n[5:-4]))
    if not names:
        raise Refused("resources" if done.returncode < 0 else "malformed")
    Image.MAX_IMAGE_PIXELS = max_side * max_side
    pngs: list[bytes] = []
    sizes: list[list[int]] = []
    for name in names:
        try:
            with Image.open(name, formats=("PNG",)) as im:
                png, width, height = clean_png(im, max_side)
        except Exception as exc:  # noqa: BLE001
            raise Refused("malformed") from exc
        os.unlink(name)
        pngs.append(png)
        sizes.append([width, height, len(png)])
    return pngs, sizes, total


# --- probe: what an exploited decoder could do ------------------------------


def probe(argv: list[str]) -> dict[str, Any]:
    """Report what code running here can reach (for tests and `sesim workstation sandbox-check`).

    Arguments: ``connect HOST PORT``, ``connect-unix PATH``, ``read PATH``,
    ``write PATH``, ``allocate MIB``, ``sleep SECONDS``, ``spin`` (burn CPU until
    the limit), ``fork-sleep SECONDS``, ``setsid-sleep SECONDS``, ``caps``, ``exec-caps``,
    ``unshare``,
    ``fds``, ``env``, ``tag ANYTHING``."""
    report: dict[str, Any] = {}
    args = list(argv)
    while args:
        what = args.pop(0)
        if what == "connect":
            host, port = args.pop(0), int(args.pop(0))
            try:
                with socket.create_connection((host, port), timeout=3):
                    report["connect"] = "connected"
            except OSError as exc:
                report["connect"] = errno.errorcode.get(exc.errno or 0, str(exc))
        elif what == "write":
            path = args.pop(0)
            try:
                with open(path, "xb") as f:
                    f.write(b"x")
                report["write"] = "written"
            except OSError as exc:
                report["write"] = errno.errorcode.get(exc.errno or 0, str(exc))
        elif what == "read":
            try:
                with open(args.pop(0), "rb") as f:
                    f.read(1)
                report["read"] = "read"
            except OSError as exc:
                report["read"] = errno.errorcode.get(exc.errno or 0, str(exc))
        elif what == "connect-unix":
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.settimeout(3)
                    sock.connect(args.pop(0))
                    report["connect-unix"] = "connected"
            except OSError as exc:
                report["connect-unix"] = errno.errorcode.get(exc.errno or 0, str(exc))
        elif what == "allocate":
            try:
                block = bytearray(int(args.pop(0)) * 1024 * 1024)
                report["allocate"] = f"allocated {len(block)}"
            except MemoryError:
                report["allocate"] = "MemoryError"
        elif what == "sleep":
            time.sleep(float(args.pop(0)))
            report["sleep"] = "woke"
        elif what == "spin":
            while True:
                pass
        elif what in ("fork-sleep", "setsid-sleep"):  # a grandchild that lingers
            seconds = float(args.pop(0))
            if os.fork() == 0:
                if what == "setsid-sleep":
                    os.setsid()  # leaves the process group the parent kills
                time.sleep(seconds)
                os._exit(0)
        elif what == "caps":
            with open("/proc/self/status") as f:
                report["caps"] = {k: v.strip() for k, _, v in
                                  (line.partition(":") for line in f) if k.startswith("Cap")}
        elif what == "exec-caps":  # what a program it runs (like pdftoppm) holds
            done = poppler(["/bin/grep", "^CapEff", "/proc/self/status"], 5)
            report["exec-caps"] = done.stdout.decode().split(":", 1)[-1].strip()
        elif what == "unshare":  # a new user namespace (capabilities again)?
            if _libc.unshare(CLONE_NEWUSER) == 0:
                report["unshare"] = "unshared"
            else:
                report["unshare"] = errno.errorcode.get(ctypes.get_errno(), "?")
        elif what == "fds":
            report["fds"] = sorted(int(n) for n in os.listdir("/proc/self/fd"))
        elif what == "env":
            report["env"] = sorted(os.environ)
        elif what == "tag":  # ignored: lets a test find this process in /proc
            args.pop(0)
    return report


def main(argv: list[str]) -> int:
    mode = argv[0]
    memory, cpu, fsize, wall = (int(v) for v in argv[1:5])
    hide = [str(p) for p in json.loads(argv[5])]
    rest = argv[6:]
    deadline = time.monotonic() + wall
    barriers = lock_in(memory, cpu, fsize, hide, use_netns=mode != "probe-no-netns",
                       use_landlock=mode != "probe-no-landlock")
    try:
        if mode == "image":
            png, width, height = render_image("input", int(rest[0]), int(rest[1]))
            write_result({"ok": True, "pages": [[width, height, len(png)]], "total": 1}, [png])
        elif mode == "pdf":
            pngs, sizes, total = render_pdf(int(rest[0]), int(rest[1]), deadline)
            write_result({"ok": True, "pages": sizes, "total": total}, pngs)
        elif mode in ("probe", "probe-no-netns", "probe-no-landlock"):
            write_result({"ok": True, "pages": [], "probe": probe(rest), "barriers": barriers})
        else:
            return 2
    except Refused as exc:
        write_result({"ok": False, "reason": str(exc.args[0])})
    except subprocess.TimeoutExpired:
        write_result({"ok": False, "reason": "timeout"})
    except MemoryError:
        write_result({"ok": False, "reason": "resources"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
