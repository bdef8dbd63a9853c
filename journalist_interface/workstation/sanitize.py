"""Safe renderings of the images and PDFs that sources send.

Every file a source sends is attacker-controlled: a crafted image or PDF aimed
at the reviewers is the classic attack on a drop box. So the workstation never
decodes one in its own process. :func:`render_image` and :func:`render_pdf`
hand the bytes to a fresh child process (``_sandbox_child.py``, run as
``python -I`` with an empty environment, no inherited descriptors, in a private
temporary directory deleted afterwards) that, before reading them, limits its
memory, CPU time, file sizes and descriptors, leaves the network (new user and
network namespaces), covers homes, temporary folders and /run with empty
mounts (new mount namespace), works in a new PID namespace, may create no
namespace of its own, drops every capability and, where the kernel has
Landlock, loses write access outside its directory and any TCP. A wall-clock
timeout kills its whole process group. Images are decoded by Pillow (JPEG, PNG, GIF first frame,
WebP, BMP only), turned upright from their EXIF orientation, and rebuilt from
raw pixels into a PNG: no EXIF, GPS, XMP, ICC profile or text chunk survives.
PDFs are rendered page by page by poppler's ``pdftoppm`` (package
poppler-utils) inside the same sandbox and the pages rebuilt the same way. The
parent never decodes what comes back; it checks the PNG header's size only.

Errors are :class:`UnsafeFile` with a ``reason`` code (see :data:`REASONS`);
``str()`` is English for logs and the command line, ``user_message`` the
translated sentence for the page.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto import new_private_file
from securedrop_like.i18n import lazy_gettext as _l

from .errors import WorkstationError

CHILD = Path(__file__).with_name("_sandbox_child.py")
EXIT_SANDBOX = 3  # the child could not take the network away: it refused to work
MIB = 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

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
        "the safe viewer cannot cut itself off from the network on this computer",
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
    """A safe rendering: a PNG rebuilt from raw pixels in the sandbox."""

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
    _header, pages = _run("image", data, [str(max_pixels), str(max_side)], limits,
                          max_output=max_side * max_side * 5 + MIB, max_side=max_side)
    if len(pages) != 1:
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
    header, pages = _run("pdf", data, [str(max_pages), str(max_side)], limits,
                         max_output=max_pages * (max_side * max_side * 5 + MIB), max_side=max_side)
    total = header.get("total")
    if not pages or len(pages) > max_pages or not isinstance(total, int) or total < len(pages):
        raise UnsafeFile("malformed")
    return PdfPages(pages, total)


def probe(
    args: list[str], limits: Limits = IMAGE_LIMITS, *, netns: bool = True, landlock: bool = True
) -> dict[str, Any]:
    """Run the child's probe (what code in the sandbox can reach) and return its
    report: ``{"probe": {...}, "barriers": {...}}``. Used by the tests and by
    ``sesim workstation sandbox-check``; ``netns=False`` or ``landlock=False``
    leaves that barrier out, to show that the other one alone holds."""
    if not netns and not landlock:
        raise ValueError("leave out at most one barrier")
    mode = "probe" if netns and landlock else "probe-no-netns" if landlock else "probe-no-landlock"
    header, _pages = _run(mode, b"", args, limits, max_output=MIB, max_side=1)
    return {"probe": header.get("probe", {}), "barriers": header.get("barriers", {})}


# --- the parent side ---------------------------------------------------------

#: Covered by an empty tmpfs in the child's mount namespace (its own folder and
#: the Python installation are bound back): people's files, temporary folders,
#: and the Unix sockets of the desktop, agents and Tor, which neither the
#: network namespace nor Landlock closes.
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


def _run(
    mode: str, data: bytes, args: list[str], limits: Limits, *, max_output: int, max_side: int
) -> tuple[dict[str, Any], list[Rendering]]:
    with _SLOTS:
        workdir = tempfile.mkdtemp(prefix="sesim-sandbox-")
        try:
            with new_private_file(os.path.join(workdir, "input"), sync=False) as f:
                f.write(data)
            argv = [
                sys.executable, "-I", str(CHILD), mode,
                str(limits.memory), str(limits.cpu_seconds), str(limits.file_size),
                str(int(limits.wall_seconds)), json.dumps(_hidden_folders()), *args,
            ]
            output, returncode = _spawn(argv, workdir, limits.wall_seconds, max_output)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return _parse(output, returncode, max_side)


def _spawn(
    argv: list[str], workdir: str, wall_seconds: float, max_output: int
) -> tuple[bytes, int]:
    """Run the child; return (its stdout, its exit status). Kill its process group
    on timeout or on too much output (and always once it is done, so nothing it
    started outlives it)."""
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={},
        cwd=workdir,
        close_fds=True,
        process_group=0,
    )
    assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
    deadline = time.monotonic() + wall_seconds
    chunks: list[bytes] = []
    size = 0
    failure: str | None = None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    failure = "timeout"
                    break
                if not selector.select(timeout=left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_output:
                    failure = "too_large"
                    break
                chunks.append(chunk)
            if failure is None:
                # stdout closed: give the child the rest of the deadline to exit
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    failure = "timeout"
    finally:
        # The child is not reaped yet, so its PID (= its process group) is not reused.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.stdout.close()
        proc.wait()
    if failure is not None:
        raise UnsafeFile(failure)
    return b"".join(chunks), proc.returncode


def _parse(output: bytes, returncode: int, max_side: int) -> tuple[dict[str, Any], list[Rendering]]:
    line, sep, body = output.partition(b"\n")
    header: Any = None
    if sep:
        try:
            header = json.loads(line)
        except ValueError:
            header = None
    if not isinstance(header, dict):
        if returncode == EXIT_SANDBOX:
            raise UnsafeFile("sandbox")
        if returncode < 0:  # killed: SIGXCPU (CPU limit), SIGKILL, SIGSEGV/SIGABRT (memory)
            raise UnsafeFile("resources")
        raise UnsafeFile("malformed")
    if header.get("ok") is not True:
        raise UnsafeFile(str(header.get("reason", "malformed")))
    pages: list[Rendering] = []
    offset = 0
    for entry in header.get("pages", []):
        try:
            width, height, length = (int(v) for v in entry)
        except (TypeError, ValueError) as exc:
            raise UnsafeFile("malformed") from exc
        png = body[offset:offset + length]
        offset += length
        if len(png) != length or _png_size(png) != (width, height):
            raise UnsafeFile("malformed")
        if not (0 < width <= max_side and 0 < height <= max_side):
            raise UnsafeFile("malformed")
        pages.append(Rendering(png=png, width=width, height=height))
    if offset != len(body):
        raise UnsafeFile("malformed")
    return header, pages


def _png_size(png: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (without decoding anything)."""
    if len(png) < 24 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", png[16:24])
    return width, height
