"""The child process of :mod:`journalist_interface.workstation.sanitize`.

It is started as a script (``python -I _sandbox_child.py MODE …``) with an
empty environment, its working directory ``/``, and as its standard input a
sealed, read-only memfd holding the file a source sent (attacker-controlled):
the decrypted bytes live in memory only, never in a file of any folder.
Before it reads them it locks itself in:

1. resource limits (address space, CPU seconds, file size, open files, no core
   dumps) — inherited by ``pdftoppm``/``pdfinfo`` when it runs them;
2. no network: new user and network namespaces (``unshare``), so the only
   interface is a loopback that is down;
3. a mount namespace in which people's homes, temporary folders and /run are
   covered by empty tmpfs mounts (the Python installation bound back): their
   files and Unix sockets (X11, D-Bus, agents, Tor) are out of sight;
4. the work is done by PID 2 of a new PID namespace, whose init dies with
   this process (see :func:`supervise`), so nothing started inside outlives
   the sandbox when the parent kills its process group;
5. no namespaces may be created inside (the user namespace's limits are set
   to 0) and every capability is dropped, bounding set included;
6. ``no_new_privs`` and, where the kernel has Landlock, a ruleset: read and
   execute anywhere still visible, write nowhere, no TCP bind/connect, no
   abstract Unix sockets, no signals to processes outside;
7. a seccomp filter (x86_64 and aarch64): ``socket``, ``socketpair`` and
   io_uring fail with EPERM whatever the family (Unix sockets too), system
   calls of another ABI (i386, x32, arm32) kill the process. ``pdftoppm`` and
   ``pdfinfo`` inherit it.

A rendering (modes ``image`` and ``pdf``) refuses to work (exit
``EXIT_SANDBOX``) unless the folders are hidden, the seccomp filter is on
and the network is cut (network namespace or Landlock's TCP rule). It then
writes fixed binary records to stdout (:data:`RECORD`, big-endian, 16 bytes):
``PAGE`` (channels 1/3/4, width, height) followed by exactly
width × height × channels bytes of raw 8-bit pixels (L, RGB or RGBA, rows top
to bottom), one per page; then ``DONE`` (total pages of the document) or
``FAIL`` (index of the reason in :data:`REASON_CODES`). Nothing else: no
image format, no metadata. The parent checks every field and builds the PNG
itself. The probe mode (no input) writes one JSON line instead.

It imports only the standard library and Pillow, never the project, so that
nothing but these few hundred lines and the decoders runs on the input.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings
from typing import IO, Any

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

# seccomp (linux/seccomp.h, linux/filter.h, linux/audit.h)
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K
SECCOMP_DATA_NR = 0  # offsetof(struct seccomp_data, nr)
SECCOMP_DATA_ARCH = 4  # offsetof(struct seccomp_data, arch)
X32_SYSCALL_BIT = 0x40000000
IO_URING_SYSCALLS = (425, 426, 427)  # setup, enter, register: same on every architecture
#: machine -> (audit architecture, socket, socketpair, whether x32 calls must be refused)
SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, 41, 53, True),
    "aarch64": (0xC00000B7, 198, 199, False),
}

#: The records the parent reads (see the module's docstring).
RECORD = struct.Struct(">4sBBHII")
TAG_PAGE = b"PAGE"
TAG_DONE = b"DONE"
TAG_FAIL = b"FAIL"
#: The reason codes of sanitize.REASONS, by their index in FAIL records.
REASON_CODES = ("unsupported", "too_large", "malformed", "timeout", "resources", "sandbox")
INPUT_FD = 0  # the memfd holding the file
INPUT_PATH = "/proc/self/fd/0"  # how pdfinfo/pdftoppm (which inherit it as stdin) open it


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



def landlock() -> tuple[int, str | None]:
    """Apply a Landlock ruleset (read and execute beneath /, nothing else);
    returns (ABI version, error or None)."""
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
        fd = os.open("/", os.O_PATH | os.O_CLOEXEC)
        try:
            rule = PathBeneathAttr(allowed_access=FS_EXECUTE | FS_READ_FILE | FS_READ_DIR,
                                   parent_fd=fd)
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


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The BPF program (code, jt, jf, k) for this machine, or None if there is none.

    Another ABI than the native one (i386 on x86_64 by int 0x80, x32, arm32 on
    aarch64) kills the process: its system call numbers differ and would slip
    past the checks. ``socket``, ``socketpair`` and io_uring (which can make
    sockets without ``socket``) fail with EPERM; everything else is allowed."""
    if machine not in SECCOMP_ARCHES:
        return None
    arch, sys_socket, sys_socketpair, x32 = SECCOMP_ARCHES[machine]
    denied = (sys_socket, sys_socketpair, *IO_URING_SYSCALLS)
    # Layout: [arch check] [load nr] [x32 check] [one JEQ per denied call] ALLOW EPERM KILL
    prog: list[tuple[int, int, int, int]] = [(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_ARCH)]
    checks = len(denied) + (1 if x32 else 0)
    # from the arch check: the KILL is after load nr, the checks, ALLOW and EPERM
    prog.append((BPF_JEQ_K, 0, 1 + checks + 2, arch))
    prog.append((BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_NR))
    if x32:
        prog.append((BPF_JGE_K, len(denied) + 2, 0, X32_SYSCALL_BIT))  # to KILL
    for i, nr in enumerate(denied):
        prog.append((BPF_JEQ_K, len(denied) - i, 0, nr))  # to EPERM
    prog.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM))
    prog.append((BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS))
    return prog


def seccomp() -> str | None:
    """Install the filter of :func:`seccomp_program` (needs ``no_new_privs``);
    returns the error, or None."""
    program = seccomp_program(os.uname().machine)
    if program is None:
        return f"no filter for {os.uname().machine}"
    filters = (SockFilter * len(program))(*(SockFilter(*insn) for insn in program))
    fprog = SockFprog(len(program), filters)
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return os.strerror(ctypes.get_errno())
    return None


#: The barriers a probe may leave out, to show that the others alone hold.
OPTIONAL_BARRIERS = ("netns", "landlock", "seccomp")


def lock_in(
    memory: int, cpu: int, fsize: int, hide: list[str], *, without: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], bool]:
    """Set every barrier (but those in ``without``, probes only); return the
    report and whether a rendering may go ahead (every barrier a rendering
    needs is up). Exits with EXIT_SANDBOX when there would be a network."""
    # Load the decoders now, while the Python installation is where it was.
    from PIL import Image, ImageFile, ImageOps  # noqa: F401

    Image.init()
    "".encode("latin-1")
    set_limits(memory, cpu, fsize)
    netns_error, user_ns, mount_ns, pid_ns = unshare_namespaces("netns" not in without)
    hide_error: str | None = "no mount namespace"
    if mount_ns:
        keep = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                os.path.dirname(os.path.dirname(Image.__file__))]
        hide_error = hide_folders(hide, keep + [os.path.realpath(k) for k in keep])
        os.chdir("/")
    # Only in our own user namespace: outside one these are the whole machine's limits.
    nested_error = limit_nested_namespaces() if user_ns else "no user namespace"
    if pid_ns:
        supervise()  # from here on: the worker, in the new PID namespace
    caps_error = drop_capabilities()
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit(EXIT_SANDBOX)
    abi, landlock_error = (0, "not used") if "landlock" in without else landlock()
    seccomp_error = "not used" if "seccomp" in without else seccomp()
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
        "seccomp": seccomp_error is None,
        "seccomp_error": seccomp_error,
    }
    network_cut = netns_error is None or (landlock_error is None and abi >= 4)
    if not network_cut and seccomp_error is not None:
        write_json({"ok": False, "reason": "sandbox", "barriers": barriers})
        sys.exit(EXIT_SANDBOX)
    may_render = network_cut and hide_error is None and seccomp_error is None
    return barriers, may_render


def write_json(header: dict[str, Any]) -> None:
    """The probe's report (the probe reads no input)."""
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n")
    sys.stdout.buffer.flush()


def write_page(out: IO[bytes], channels: int, width: int, height: int, pixels: bytes) -> None:
    if len(pixels) != width * height * channels:
        raise Refused("malformed")
    out.write(RECORD.pack(TAG_PAGE, channels, 0, 0, width, height))
    out.write(pixels)
    out.flush()


def write_end(out: IO[bytes], total: int | None = None, reason: str | None = None) -> None:
    if reason is None:
        out.write(RECORD.pack(TAG_DONE, 0, 0, 0, total or 0, 0))
    else:
        out.write(RECORD.pack(TAG_FAIL, REASON_CODES.index(reason), 0, 0, 0, 0))
    out.flush()


# --- images -----------------------------------------------------------------


def raw_pixels(im: Any, max_side: int) -> tuple[int, int, int, bytes]:
    """``im`` as (channels, width, height, raw 8-bit L, RGB or RGBA pixels)."""
    from PIL import Image

    if im.mode in ("1", "L"):
        im = im.convert("L")
    elif im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("LA", "PA"):
        im = im.convert("RGBA")
    elif im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[im.mode]
    return channels, im.width, im.height, im.tobytes()


def render_image(max_pixels: int, max_side: int) -> tuple[int, int, int, bytes]:
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    os.lseek(INPUT_FD, 0, os.SEEK_SET)
    try:
        with os.fdopen(INPUT_FD, "rb", closefd=False) as f, \
                Image.open(f, formats=IMAGE_FORMATS) as im:
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
            return raw_pixels(upright, max_side)
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
    # stdin (the input) and stderr (/dev/null) are inherited.
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, stdout=subprocess.PIPE, env={}, close_fds=True, timeout=timeout, check=False,
    )


def page_count(timeout: float) -> int:
    done = poppler(["/usr/bin/pdfinfo", INPUT_PATH], timeout)
    if done.returncode != 0:
        raise Refused("malformed")
    for line in done.stdout.decode("latin-1").splitlines():
        if line.startswith("Pages:"):
            try:
                return int(line.split(":", 1)[1].strip())
            except ValueError:
                break
    raise Refused("malformed")


def ppm_number(stream: IO[bytes]) -> int:
    """The next decimal number of a binary PPM header (whitespace before it; the
    one whitespace byte after it is consumed)."""
    digits = b""
    while True:
        byte = stream.read(1)
        if byte.isdigit() and len(digits) < 6:
            digits += byte
        elif byte in (b" ", b"\n", b"\t", b"\r") and not digits:
            continue
        elif byte in (b" ", b"\n", b"\t", b"\r") and digits:
            return int(digits)
        else:
            raise Refused("malformed")


def read_ppm(stream: IO[bytes], max_side: int) -> tuple[int, int, bytes] | None:
    """One page of pdftoppm's output (binary PPM, 8-bit RGB): (width, height,
    pixels), or None at the end."""
    magic = stream.read(2)
    if not magic:
        return None
    if magic != b"P6":
        raise Refused("malformed")
    width, height, maxval = ppm_number(stream), ppm_number(stream), ppm_number(stream)
    if not (0 < width <= max_side and 0 < height <= max_side) or maxval != 255:
        raise Refused("malformed")
    pixels = stream.read(width * height * 3)
    if len(pixels) != width * height * 3:
        raise Refused("malformed")
    return width, height, pixels


def render_pdf(out: IO[bytes], max_pages: int, max_side: int, deadline: float) -> int:
    """Render the first pages to ``out`` as PAGE records; return the number of
    pages of the document. pdftoppm writes raw PPM to a pipe: no file anywhere."""
    if b"%PDF-" not in os.pread(INPUT_FD, 1024, 0):
        raise Refused("unsupported")
    total = page_count(max(1.0, deadline - time.monotonic()))
    if total < 1:
        raise Refused("malformed")
    last = min(total, max_pages)
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        ["/usr/bin/pdftoppm", "-scale-to", str(max_side), "-f", "1", "-l", str(last),
         INPUT_PATH],
        stdout=subprocess.PIPE, env={}, close_fds=True,
    )
    assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
    sent = 0
    try:
        while sent < last:
            page = read_ppm(proc.stdout, max_side)
            if page is None:
                break
            width, height, pixels = page
            write_page(out, 3, width, height, pixels)
            sent += 1
        if proc.stdout.read(1):
            raise Refused("malformed")
        returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        proc.kill()
        proc.wait()
    if not sent:
        raise Refused("resources" if returncode < 0 else "malformed")
    return total


# --- probe: what an exploited decoder could do ------------------------------


SOCKET_FAMILIES = {"unix": socket.AF_UNIX, "inet": socket.AF_INET, "inet6": socket.AF_INET6,
                   "netlink": socket.AF_NETLINK}
EXEC_SOCKET = """import errno, socket
try:
    socket.socket(socket.AF_UNIX).close()
    print("created")
except OSError as exc:
    print(errno.errorcode.get(exc.errno or 0, "?"))
"""


def probe(argv: list[str]) -> dict[str, Any]:
    """Report what code running here can reach (for tests and `sesim workstation sandbox-check`).

    Arguments: ``connect HOST PORT``, ``connect-unix PATH``, ``read PATH``,
    ``write PATH``, ``allocate MIB``, ``sleep SECONDS``, ``spin`` (burn CPU until
    the limit), ``fork-sleep SECONDS``, ``setsid-sleep SECONDS``, ``caps``, ``exec-caps``,
    ``unshare``, ``socket FAMILY`` (unix, inet, inet6, netlink), ``socketpair``,
    ``exec-socket`` (a program it runs makes a Unix socket), ``seccomp``,
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
        elif what == "socket":
            family = SOCKET_FAMILIES[args.pop(0)]
            try:
                socket.socket(family, socket.SOCK_DGRAM if family == socket.AF_NETLINK
                              else socket.SOCK_STREAM).close()
                report[f"socket-{family.name}"] = "created"
            except OSError as exc:
                report[f"socket-{family.name}"] = errno.errorcode.get(exc.errno or 0, str(exc))
        elif what == "socketpair":
            try:
                for end in socket.socketpair():
                    end.close()
                report["socketpair"] = "created"
            except OSError as exc:
                report["socketpair"] = errno.errorcode.get(exc.errno or 0, str(exc))
        elif what == "exec-socket":  # inherited by what it runs (pdftoppm)?
            done = poppler([sys.executable, "-I", "-c", EXEC_SOCKET], 10)
            report["exec-socket"] = done.stdout.decode().strip()
        elif what == "seccomp":
            with open("/proc/self/status") as f:
                report["seccomp"] = next((line.split(":", 1)[1].strip() for line in f
                                          if line.startswith("Seccomp:")), "?")
        elif what == "fds":
            report["fds"] = sorted(int(n) for n in os.listdir("/proc/self/fd"))
        elif what == "env":
            report["env"] = sorted(os.environ)
        elif what == "tag":  # ignored: lets a test find this process in /proc
            args.pop(0)
    return report


def main(argv: list[str]) -> int:
    # An orphan has nobody to read it: die with the parent (and so free the input).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    mode = argv[0]
    memory, cpu, fsize, wall = (int(v) for v in argv[1:5])
    hide = [str(p) for p in json.loads(argv[5])]
    rest = argv[6:]
    deadline = time.monotonic() + wall
    if mode == "probe":
        without = frozenset(b for b in rest[0].split(",") if b in OPTIONAL_BARRIERS)
        barriers, _ = lock_in(memory, cpu, fsize, hide, without=without)
        write_json({"ok": True, "probe": probe(rest[1:]), "barriers": barriers})
        return 0
    if mode not in ("image", "pdf"):
        return 2
    out = sys.stdout.buffer
    _, may_render = lock_in(memory, cpu, fsize, hide)
    if not may_render:
        write_end(out, reason="sandbox")
        return EXIT_SANDBOX
    try:
        if mode == "image":
            channels, width, height, pixels = render_image(int(rest[0]), int(rest[1]))
            write_page(out, channels, width, height, pixels)
            write_end(out, total=1)
        else:
            write_end(out, total=render_pdf(out, int(rest[0]), int(rest[1]), deadline))
    except Refused as exc:
        write_end(out, reason=str(exc.args[0]) if exc.args[0] in REASON_CODES else "malformed")
    except subprocess.TimeoutExpired:
        write_end(out, reason="timeout")
    except MemoryError:
        write_end(out, reason="resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
