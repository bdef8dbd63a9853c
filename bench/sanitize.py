"""Safe renderings: a 12-megapixel phone photo and a 20-page PDF through the
sandbox (child process, namespaces, Landlock, pdftoppm).

The baseline is the same Pillow work (decode at reduced size, turn upright,
rebuild from raw pixels, encode PNG) in this process, in the same run: the
ratio is what the sandbox costs. An empty sandbox (the probe with nothing to
do) shows the fixed cost of starting one.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable

from PIL import Image, ImageOps

from bench.common import Results, Workspace
from journalist_interface.workstation import sanitize

PHOTO_SIZE = (4000, 3000)  # 12 MP
RUNS = 5


def _photo_jpeg() -> bytes:
    noise = Image.effect_noise(PHOTO_SIZE, 40)
    gradient = Image.linear_gradient("L").resize(PHOTO_SIZE)
    im = Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def _in_process(data: bytes, max_side: int = 2560) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        upright = ImageOps.exif_transpose(im) or im
        clean = Image.frombytes(upright.mode, upright.size, upright.tobytes())
        buf = io.BytesIO()
        clean.save(buf, "PNG", compress_level=6)
        return buf.getvalue()


def _median(run: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _pdf(pages: int) -> bytes:
    content = b"1 0 0 rg 10 10 50 50 re f BT /F1 24 Tf 20 80 Td (Page) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents "
                       f"{5 + 2 * i} 0 R /Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content
                       + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


def sanitize_bench(ws: Workspace, results: Results) -> None:
    del ws  # nothing on disk but the sandboxes' own temporary folders
    data = _photo_jpeg()
    sanitize.render_image(data)  # warm the page cache
    empty = _median(lambda: sanitize.probe([]))
    sandboxed = _median(lambda: sanitize.render_image(data))
    baseline = _median(lambda: _in_process(data))
    results.add("sanitize: empty sandbox start", f"{empty * 1000:.0f} ms")
    results.add(f"sanitize: 12 MP JPEG ({len(data) // 1024} KiB) -> PNG, in-process baseline",
                f"{baseline:.2f} s")
    results.add("sanitize: 12 MP JPEG -> PNG in the sandbox", f"{sandboxed:.2f} s",
                "<= 3 s", sandboxed <= 3.0)
    results.add("sanitize: sandbox / in-process", f"{sandboxed / baseline:.2f}x")
    document = _pdf(20)
    pdf_time = _median(lambda: sanitize.render_pdf(document))
    results.add("sanitize: 20-page A4 PDF -> 20 PNGs (1600 px) in the sandbox",
                f"{pdf_time:.2f} s", "<= 10 s", pdf_time <= 10.0)
