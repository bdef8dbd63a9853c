"""Safe renderings of the images and PDFs that sources send.

Every file a source sends is attacker-controlled: a crafted image or PDF aimed
at the reviewers is the classic attack on a drop box. So the workstation never
decodes one in its own process. :func:`render_image` and :func:`render_pdf`
hand the bytes to a fresh child process (``_sandbox_child.py``, run as
``python -I`` with an empty environment and no inherited descriptors) as its
standard input: a sealed memfd, so the decrypted file is never written to a
file in /tmp, the home or anywhere else. Before reading it the child limits
its memory, CPU time, file sizes and descriptors, leaves the network (new user
and network namespaces), covers homes, temporary folders and /run with empty
mounts (new mount namespace), works in a new PID namespace, may create no
namespace of its own, drops every capability, where the kernel has Landlock
may write nowhere and use no TCP, and installs a seccomp filter under which
no socket can be made at all (Unix sockets included). Unless the folders are
hidden, the filter is on and the network is cut it refuses to work (reason
``sandbox``). A wall-clock timeout kills its whole process group. Images are
decoded by Pillow (JPEG, PNG, GIF first frame, WebP, BMP only) and turned
upright from their EXIF orientation; PDFs are rendered page by page by
poppler's ``pdftoppm`` (package poppler-utils) inside the same sandbox, to a
pipe. The child returns raw pixels only (fixed binary records, see
``_sandbox_child``); the parent checks each record's mode, size and byte
count and builds the PNG itself with zlib and struct, so no EXIF, GPS, XMP,
ICC profile or text chunk can survive and nothing the child made is decoded
here.

Errors are :class:`UnsafeFile` with a ``reason`` code (see :data:`REASONS`);
``str()`` is English for logs and the command line, ``user_message`` the
translated sentence for the page.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from securedrop_like.i18n import lazy_gettext as _l

from . import _sandbox_child as child
from .errors import WorkstationError

CHILD = Path(__file__).with_name("_sandbox_child.py")
EXIT_SANDBOX = child.EXIT_SANDBOX  # the child could not lock itself in: it refused to work
MIB = 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_LEVEL = 6  # zlib level of the PNGs built here

#: reason code -> (English for logs and the command line, translated text for the page)
REASONS: dict[str, tuple[str, Any]] = {
    "unsupported": (
        "this kind of file cannot be shown safely",
        _l("This kind of file cannot be shown here. You can still download it."),
    ),
    "too_large": (
        "the file is too large to show safely",
        _l("This file is too large to show safely."),
    ),
    "malformed": (
        "the file is damaged or is not what it claims to be",
        _l("This file is damaged or is not what it claims to be, so it is not shown."),
    ),
    "timeout": (
        "showing the file took too long and was stopped",
        _l("Showing this file took too long, so it was stopped."),
    ),
    "resources": (
        "showing the file needed too much memory or time and was stopped",
        _l("Showing this file needed too much memory or time, so it was stopped."),
    ),
    "sandbox": (
        "the safe viewer cannot lock itself in on this computer "
        "(network, hidden folders or seccomp filter)",
        _l("The safe viewer cannot start on this computer, so the file is not shown."),
    ),
}


class UnsafeFile(WorkstationError):
    """A file that is not shown. ``reason`` is a key of :data:`REASONS`."""

    def __init__(self, reason: str) -> None:
        if reason not in REASONS:
            reason = "malformed"
        super().__init__(REASONS[reason][0])
        self.reason = reason

    @property
    def user_message(self) -> str:
        """The translated sentence (needs a Flask request or app context with Babel)."""
        return str(REASONS[self.reason][1])


@dataclass(frozen=True)
class Rendering:
    """A safe rendering: a PNG built here from raw pixels made in the sandbox."""

    png: bytes
    width: int
    height: int


class PdfPages(list[Rendering]):
    """The rendered pages of a PDF (at most ``max_pages``); ``total_pages`` is how
    many the document has, so a page can say "the first 20 of 312 pages"."""

    def __init__(self, pages: list[Rendering], total_pages: int) -> None:
        super().__init__(pages)
        self.total_pages = total_pages


@dataclass(frozen=True)
class Limits:
    memory: int = 512 * MIB  # RLIMIT_AS of the child (and of pdftoppm)
    cpu_seconds: int = 15  # RLIMIT_CPU, per process
    wall_seconds: float = 20.0  # then the whole process group is killed
    file_size: int = 64 * MIB  # RLIMIT_FSIZE: largest file the child may write


IMAGE_LIMITS = Limits()
PDF_LIMITS = Limits(cpu_seconds=40, wall_seconds=60.0)

# Two cores on a reviewer's laptop: at most two sandboxes at once, so a page
# full of images cannot take all memory.
_SLOTS = threading.BoundedSemaphore(2)


def sniff(data: bytes) -> str | None:
    """``"image"`` or ``"pdf"`` when the bytes look like something this module
    renders (by their magic numbers, never by name or declared type), else None:
    the app then offers the file for download with a warning."""
    head = data[:16]
    if (head.startswith((b"\xff\xd8\xff", PNG_SIGNATURE, b"GIF87a", b"GIF89a", b"BM"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
        return "image"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    return None


def render_image(
    data: bytes,
    *,
    max_pixels: int = 40_000_000,
    max_side: int = 2560,
    max_bytes: int = 50 * MIB,
    limits: Limits = IMAGE_LIMITS,
) -> Rendering:
    """Decode an image in the sandbox and return it as a clean PNG.

    ``max_pixels`` bounds the decoded size (width × height, as the file
    declares it: decompression bombs are refused before decoding);
    ``max_side`` bounds the longest side of the rendering (larger images are
    scaled down)."""
    if len(data) > max_bytes:
        raise UnsafeFile("too_large")
    if not data:
        raise UnsafeFile("malformed")
    pages, total = _render("image", data, [str(max_pixels), str(max_side)], limits,
                           max_pages=1, max_side=max_side)
    if len(pages) != 1 or total != 1:
        raise UnsafeFile("malformed")
    return pages[0]


def render_pdf(
    data: bytes,
    *,
    max_pages: int = 20,
    max_side: int = 1600,
    max_bytes: int = 100 * MIB,
    limits: Limits = PDF_LIMITS,
) -> PdfPages:
    """Render the first ``max_pages`` pages of a PDF in the sandbox, each scaled
    to fit ``max_side`` pixels whatever its declared page size."""
    if len(data) > max_bytes:
        raise UnsafeFile("too_large")
    if not data:
        raise UnsafeFile("malformed")
    if max_pages < 1:
        raise ValueError("max_pages must be at least 1")
    pages, total = _render("pdf", data, [str(max_pages), str(max_side)], limits,
                           max_pages=max_pages, max_side=max_side)
    return PdfPages(pages, total)


def probe(
    args: list[str], limits: Limits = IMAGE_LIMITS, *, netns: bool = True, landlock: bool = True,
    seccomp: bool = True,
) -> dict[str, Any]:
    """Run the child's probe (what code in the sandbox can reach; it is given no
    input) and return its report: ``{"probe": {...}, "barriers": {...}}``. Used
    by the tests and by ``sesim workstation sandbox-check``; ``netns=False``,
    ``landlock=False`` or ``seccomp=False`` leaves that barrier out (two at
    most), to show that the others alone hold."""
    without = [name for name, used in (("netns", netns), ("landlock", landlock),
                                       ("seccomp", seccomp)) if not used]
    if len(without) > 2:
        raise ValueError("keep at least one of the network barriers")
    argv = _argv("probe", limits, [",".join(without) or "-", *args])
    with _SLOTS:
        output, returncode = _spawn(argv, None, limits.wall_seconds, _read_all)
    line, sep, rest = output.partition(b"\n")
    header: Any = None
    if sep and not rest:
        try:
            header = json.loads(line)
        except ValueError:
            header = None
    if not isinstance(header, dict) or header.get("ok") is not True:
        raise _failure(returncode)
    return {"probe": header.get("probe", {}), "barriers": header.get("barriers", {})}


# --- the parent side ---------------------------------------------------------

#: Covered by an empty tmpfs in the child's mount namespace (the Python
#: installation is bound back): people's files, temporary folders, and the
#: Unix sockets of the desktop, agents and Tor.
HIDDEN_FOLDERS = (  # hidden from the child, never written: not temporary-file use
    "/home", "/root", "/tmp", "/var/tmp", "/run", "/dev/shm", "/mnt", "/media", "/srv",  # noqa: S108
)


def _hidden_folders() -> list[str]:
    extra = [str(Path.home()), tempfile.gettempdir()]
    folders = list(HIDDEN_FOLDERS)
    for folder in extra:
        real = os.path.realpath(folder)
        if real != "/" and not any(real == f or real.startswith(f + "/") for f in folders):
            folders.append(real)
    return folders


def _argv(mode: str, limits: Limits, args: list[str]) -> list[str]:
    return [
        sys.executable, "-I", str(CHILD), mode,
        str(limits.memory), str(limits.cpu_seconds), str(limits.file_size),
        str(int(limits.wall_seconds)), json.dumps(_hidden_folders()), *args,
    ]


def _sealed_memfd(data: bytes) -> int:
    """A memfd holding ``data``, sealed against any change, at offset 0: the
    child's standard input. It lives in memory only and is gone with the last
    process holding it (nothing left behind if the workstation is killed)."""
    fd = os.memfd_create("sesim-attachment", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW
                    | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _render(
    mode: str, data: bytes, args: list[str], limits: Limits, *, max_pages: int, max_side: int
) -> tuple[list[Rendering], int]:
    def read_records(read: _Read) -> tuple[list[Rendering], int]:
        return _read_renderings(read, max_pages=max_pages, max_side=max_side)

    with _SLOTS:
        fd = _sealed_memfd(data)
        try:
            return _spawn(_argv(mode, limits, args), fd, limits.wall_seconds, read_records)[0]
        finally:
            os.close(fd)


class _Truncated(Exception):
    """The child's output ended early: its exit status says why."""


_Read = Callable[[int], bytes]
_T = TypeVar("_T")


def _spawn(
    argv: list[str], stdin: int | None, wall_seconds: float, consume: Callable[[_Read], _T]
) -> tuple[_T, int]:
    """Run the child and let ``consume`` read its stdout (``read(n)`` returns n
    bytes, fewer only at the end) within the wall-clock deadline; return what
    ``consume`` returned and the child's exit status. Its process group is
    killed on timeout, on any error, and always once it is done, so nothing it
    started outlives it."""
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
        argv,
        stdin=subprocess.DEVNULL if stdin is None else stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={},
        cwd="/",
        close_fds=True,
        process_group=0,
    )
    assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
    deadline = time.monotonic() + wall_seconds
    out = proc.stdout.fileno()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)

            def read(n: int) -> bytes:
                buf = bytearray()
                while len(buf) < n:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise UnsafeFile("timeout")
                    if not selector.select(timeout=left):
                        continue
                    chunk = os.read(out, min(n - len(buf), 1 << 20))
                    if not chunk:
                        break
                    buf += chunk
                return bytes(buf)

            try:
                result = consume(read)
            except _Truncated:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                raise _failure(proc.returncode) from None
            # all read: give the child the rest of the deadline to exit
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise UnsafeFile("timeout") from None
    finally:
        # The child is not reaped yet, so its PID (= its process group) is not reused.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.stdout.close()
        proc.wait()
    if proc.returncode != 0:
        raise _failure(proc.returncode)
    return result, proc.returncode


def _failure(returncode: int) -> UnsafeFile:
    if returncode == EXIT_SANDBOX:
        return UnsafeFile("sandbox")
    if returncode < 0:  # killed: SIGXCPU (CPU limit), SIGKILL, SIGSEGV/SIGABRT (memory)
        return UnsafeFile("resources")
    return UnsafeFile("malformed")


def _read_all(read: _Read) -> bytes:
    """The probe's report: one JSON line, at most 1 MiB."""
    output = read(MIB + 1)
    if len(output) > MIB:
        raise UnsafeFile("too_large")
    return output


#: PNG colour type by the number of channels of a PAGE record (L, RGB, RGBA).
_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}


def _read_renderings(read: _Read, *, max_pages: int, max_side: int) -> tuple[list[Rendering], int]:
    """Read the child's records (see ``_sandbox_child``): PAGE records then DONE,
    or FAIL. Every field is checked; anything else (an unknown tag, a field out
    of bounds, a page too many, a byte missing, a byte more after the end) is
    ``malformed``. Returns the renderings and the document's page count."""
    record = child.RECORD
    pages: list[Rendering] = []
    while True:
        head = read(record.size)
        if len(head) != record.size:
            raise _Truncated
        tag, a, b, c, d, e = record.unpack(head)
        if tag == child.TAG_PAGE:
            channels, width, height = a, d, e
            if (b or c or channels not in _COLOUR_TYPES or len(pages) >= max_pages
                    or not (0 < width <= max_side and 0 < height <= max_side)):
                raise UnsafeFile("malformed")
            size = width * height * channels
            pixels = read(size)
            if len(pixels) != size:
                raise _Truncated
            pages.append(Rendering(png=build_png(pixels, width, height, channels),
                                   width=width, height=height))
        elif tag in (child.TAG_DONE, child.TAG_FAIL):
            if read(1):
                raise UnsafeFile("malformed")  # nothing may follow the end
            if tag == child.TAG_FAIL:
                if b or c or d or e or a >= len(child.REASON_CODES):
                    raise UnsafeFile("malformed")
                raise UnsafeFile(child.REASON_CODES[a])
            total = d
            if a or b or c or e or not pages or total < len(pages):
                raise UnsafeFile("malformed")
            return pages, total
        else:
            raise UnsafeFile("malformed")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def _up_filtered(pixels: bytes, stride: int, height: int) -> bytearray:
    """The rows of ``pixels`` with PNG filter 2 ("Up": each byte minus the byte
    above it, modulo 256), each after its filter byte. Photos then compress
    about as well as with Pillow's encoder. Done a block of rows at a time on
    big integers, one 16-bit lane per byte: (0x100 + a) - b never borrows from
    the next lane, and its low byte is (a - b) mod 256."""
    out = bytearray((stride + 1) * height)
    block = max(1, (1 << 20) // stride)  # rows per block: about 1 MiB of pixels
    lanes: dict[int, int] = {}
    view = memoryview(pixels)
    for first in range(0, height, block):
        last = min(height, first + block)
        n = (last - first) * stride
        cur = bytearray(2 * n)
        cur[1::2] = view[first * stride:last * stride]
        above = bytearray(2 * n)
        if first:
            above[1::2] = view[(first - 1) * stride:(last - 1) * stride]
        else:  # the first row has zeros above it
            above[2 * stride + 1::2] = view[:(last - 1) * stride]
        if n not in lanes:
            lanes[n] = int.from_bytes(b"\x01\x00" * n, "big")
        diff = ((int.from_bytes(cur, "big") | lanes[n]) - int.from_bytes(above, "big"))
        low = diff.to_bytes(2 * n, "big")[1::2]
        for y in range(first, last):
            start = y * (stride + 1)
            out[start] = 2
            out[start + 1:start + 1 + stride] = low[(y - first) * stride:(y - first + 1) * stride]
    return out


def build_png(pixels: bytes, width: int, height: int, channels: int) -> bytes:
    """A PNG of 8-bit raw pixels (L, RGB or RGBA by ``channels``), written here:
    signature, IHDR, one IDAT (rows with filter "Up", zlib), IEND. Nothing else."""
    stride = width * channels
    if len(pixels) != stride * height or channels not in _COLOUR_TYPES:
        raise ValueError("pixels do not match the size")
    rows = _up_filtered(pixels, stride, height)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    return (PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(rows, PNG_LEVEL)) + _png_chunk(b"IEND", b""))
