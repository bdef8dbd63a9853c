"""Peak memory of the server while a source uploads a 200 MB file."""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from bench.common import Results, Workspace, children, reset_peak, rss_kib
from bench.http import bench_server, new_source

UPLOAD_BYTES = 200 * 1024 * 1024
BLOCK = 256 * 1024


def _stream(token: str, boundary: str) -> tuple[list[bytes], int]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\nbig file\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="video.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return [head, tail], len(head) + UPLOAD_BYTES + len(tail)


def _body(parts: list[bytes]) -> Iterator[bytes]:
    yield parts[0]
    block = os.urandom(BLOCK)
    for _ in range(UPLOAD_BYTES // BLOCK):
        yield block
    yield parts[1]


def upload(ws: Workspace, results: Results) -> None:
    config, _ = ws.instance("upload", max_file_bytes=300 * 2**20)
    with bench_server(config.home) as (base, master):
        who = new_source(base)
        time.sleep(0.5)
        # Every process of the server (workers and writer): any of them may take it.
        procs = children(master)
        idle = {pid: rss_kib(pid)[0] for pid in procs}
        for pid in procs:
            reset_peak(pid)
        boundary = "sesimupload"
        parts, length = _stream(who.token, boundary)
        url = urlsplit(base)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=300)
        start = time.perf_counter()
        conn.request(
            "POST",
            "/case/message",
            body=_body(parts),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
                "Cookie": who.cookie,
            },
        )
        status = conn.getresponse().status
        elapsed = time.perf_counter() - start
        conn.close()
        extra = max(rss_kib(pid)[1] - idle[pid] for pid in procs) / 1024
    results.add(
        "200 MB upload: status, time",
        f"{status}, {elapsed:.1f} s ({UPLOAD_BYTES / 2**20 / elapsed:.0f} MB/s)",
        "303",
        status == 303,
    )
    results.add("200 MB upload: peak RSS above idle", f"{extra:.1f} MiB", "< 64 MiB", extra < 64)
