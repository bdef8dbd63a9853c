"""What a real server writes and answers when clients send broken or identifying requests.

Malformed requests over raw sockets (bad request line, oversized header
line, too many headers, invalid header name, broken multipart, garbled
chunked bodies, Content-Length mismatches, Content-Length beside
Transfer-Encoding) each get a 4xx, never a 500 or a hang; then normal
traffic with canaries in the path, the user agent and the text. After the
server has stopped, everything it wrote to stdout and stderr (master,
workers, writer process) holds no address, canary, user agent, path, id,
codename, lookup id or clock time, and no response carried a Server header.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from pathlib import Path

import pytest
import requests

from securedrop_like.derivation import Deriver
from securedrop_like.logs import MALFORMED_REQUEST
from tests.conftest import CODENAME_RE, Instance, csrf_of
from tests.integration.server import running_server

DEADLINE = 10.0  # seconds a malformed request may take to be answered


def exchange(port: int, data: bytes, half_close: bool = True) -> bytes:
    """Send ``data``, close our side, read until the server closes (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def status_of(response: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", response)
    assert match, f"no response: {response[:200]!r}"
    return int(match.group(1))


def malformed(host: bytes, canary: bytes) -> dict[str, bytes]:
    form = b"Content-Type: application/x-www-form-urlencoded\r\n"
    chunked = b"POST /report HTTP/1.1\r\nHost: " + host + b"\r\nTransfer-Encoding: chunked\r\n"
    body = b"what_happened=" + canary
    boundary = b"sesim" + canary
    parts = (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="what_happened"\r\n\r\n'
        + canary
        + b"\r\n--"
        + boundary
        + b"\r\nContent-Disposition: form-da"
    )
    return {
        "bad request line": b"GARBAGE " + canary + b" NOT-HTTP\r\n\r\n",
        "request line too long": b"GET /"
        + canary * 200
        + b" HTTP/1.1\r\nHost: "
        + host
        + b"\r\n\r\n",
        "oversized header line": b"GET / HTTP/1.1\r\nHost: "
        + host
        + b"\r\nX-A: "
        + canary * 700
        + b"\r\n\r\n",
        "too many headers": b"GET / HTTP/1.1\r\nHost: "
        + host
        + b"\r\n"
        + b"".join(b"X-%d: %s\r\n" % (i, canary) for i in range(150))
        + b"\r\n",
        "invalid header name": b"GET / HTTP/1.1\r\nHost: "
        + host
        + b"\r\nBad Name"
        + canary
        + b": y\r\n\r\n",
        "bare LF": b"GET / HTTP/1.1\nHost: " + host + b"\nX-C: " + canary + b"\n\n",
        "broken multipart": b"POST /report HTTP/1.1\r\nHost: "
        + host
        + b"\r\nContent-Type: multipart/form-data; boundary="
        + boundary
        + b"\r\nContent-Length: %d\r\n\r\n" % len(parts)
        + parts,
        "chunk size not hex": chunked + form + b"\r\nzz\r\n" + body + b"\r\n0\r\n\r\n",
        "chunk size negative": chunked + form + b"\r\n-5\r\n" + body + b"\r\n0\r\n\r\n",
        "chunk size huge": chunked
        + form
        + b"\r\nfffffffffffffffffffffff\r\n"
        + body
        + b"\r\n0\r\n\r\n",
        "chunk missing terminator": chunked
        + form
        + b"\r\n%x\r\n" % len(body)
        + body
        + b"XX0\r\n\r\n",
        "chunked body cut short": chunked + form + b"\r\n100\r\n" + body,
        "no last chunk": chunked + form + b"\r\n%x\r\n" % len(body) + body + b"\r\n",
        "body shorter than Content-Length": b"POST /report HTTP/1.1\r\nHost: "
        + host
        + b"\r\n"
        + form
        + b"Content-Length: 500\r\n\r\n"
        + body,
        "Content-Length and Transfer-Encoding": b"POST /report HTTP/1.1\r\nHost: "
        + host
        + b"\r\n"
        + form
        + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "two Content-Lengths": b"POST /report HTTP/1.1\r\nHost: "
        + host
        + b"\r\n"
        + form
        + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "Transfer-Encoding chunked, then another": b"POST /report HTTP/1.1\r\nHost: "
        + host
        + b"\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        "Transfer-Encoding on HTTP/1.0": b"POST /report HTTP/1.0\r\nHost: "
        + host
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "Content-Length not a number": b"POST /report HTTP/1.1\r\nHost: "
        + host
        + b"\r\n"
        + form
        + b"Content-Length: 3x\r\n\r\nabc",
    }


def test_malformed_requests_get_a_4xx_and_nothing_identifying_is_logged(
    instance: Instance, tmp_path: Path
) -> None:
    canary = "CANARY" + secrets.token_hex(10)
    agent = "AgentCanary/" + secrets.token_hex(6)
    case_id = secrets.token_hex(16)  # a 32-hex id in a path
    log = tmp_path / "server.log"
    responses: list[bytes] = []
    with running_server(instance.home, log=log) as base:
        port = int(base.rsplit(":", 1)[1])
        host = f"127.0.0.1:{port}".encode()
        statuses = {}
        for name, data in malformed(host, canary.encode()).items():
            started = time.monotonic()
            answer = exchange(port, data)
            assert time.monotonic() - started < DEADLINE, f"{name}: no answer in time"
            responses.append(answer)
            statuses[name] = status_of(answer)
        # A head beyond the worker's 64 KiB is refused, or at least closed, at once.
        started = time.monotonic()
        huge = exchange(
            port,
            b"GET / HTTP/1.1\r\nHost: "
            + host
            + b"\r\n"
            + b"".join(b"X-%d: %s\r\n" % (i, b"h" * 1000) for i in range(80)),
            half_close=False,
        )
        huge_took = time.monotonic() - started
        # A coding the server does not know is no malformed framing: 501, as
        # RFC 9112 section 6.1 asks (and still no 500).
        unknown = exchange(
            port,
            b"POST /report HTTP/1.1\r\nHost: "
            + host
            + b"\r\nTransfer-Encoding: x-"
            + canary.encode()
            + b"\r\n\r\n0\r\n\r\n",
        )
        responses.append(unknown)

        # Normal traffic, with canaries everywhere a client can put them.
        s = requests.Session()
        s.headers["User-Agent"] = agent
        token = csrf_of(s.get(base + "/report", timeout=10).text)
        ok = s.post(
            base + "/report",
            data={"csrf_token": token, "what_happened": f"It happened. {canary}"},
            timeout=30,
        )
        assert ok.status_code == 200 and CODENAME_RE.search(ok.text)  # the codename page
        codename = CODENAME_RE.search(ok.text).group(1)  # type: ignore[union-attr]
        case = s.get(base + "/case", timeout=10)
        s.post(base + "/logout", data={"csrf_token": csrf_of(case.text)}, timeout=10)
        wrong = s.post(
            base + "/login",
            data={
                "csrf_token": csrf_of(s.get(base + "/login", timeout=10).text),
                "codename": canary,
            },
            timeout=30,
        )
        assert wrong.status_code in (200, 400)
        login = s.post(
            base + "/login",
            data={
                "csrf_token": csrf_of(s.get(base + "/login", timeout=10).text),
                "codename": codename,
            },
            timeout=30,
        )
        assert "/case" in login.url
        missing = s.get(f"{base}/case/{case_id}?q={canary}", timeout=10)
        assert missing.status_code == 404
        pages = [ok, case, wrong, login, missing, *ok.history, *login.history]
    deriver = Deriver(instance.config)
    lookup_id = deriver.derive(deriver.normalise(codename)).lookup_id

    written = log.read_text(errors="replace")
    for needle in (
        "127.0.0.1",
        canary,
        agent,
        "AgentCanary",
        case_id,
        codename,
        lookup_id,
        "/case",
        "/report",
        "HTTP/1",
        "GARBAGE",
        "Bad Name",
        "ip=",
    ):
        assert needle not in written, f"{needle!r} in the server's output:\n{written}"
    assert not re.search(r"\d{1,2}:\d{2}:\d{2}", written), written
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d", written), written
    assert MALFORMED_REQUEST in written  # the refusals were logged, through our logger
    # The answers, after the logs (the old server failed all of these).
    for r in pages:
        assert "Server" not in r.headers, r.headers
    for answer in responses:
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        assert b"\r\nserver:" not in head, head
    bad = {name: status for name, status in statuses.items() if not 400 <= status < 500}
    assert bad == {}, statuses
    assert huge_took < DEADLINE
    assert status_of(unknown) == 501
    assert huge == b"" or status_of(huge) == 431


@pytest.mark.parametrize("keep_alive", [False, True])
def test_garbled_chunked_body_is_a_400_not_a_500(
    instance: Instance, tmp_path: Path, keep_alive: bool
) -> None:
    """A garbled chunk surfaces inside the app's form parsing: still a 400, and
    the connection is closed (where the next request starts is unknown)."""
    with running_server(instance.home, log=tmp_path / "server.log") as base:
        port = int(base.rsplit(":", 1)[1])
        host = f"127.0.0.1:{port}".encode()
        data = (
            b"POST /report HTTP/1.1\r\nHost: " + host + b"\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n3\r\nabc\r\nq\r\n"
        )
        started = time.monotonic()
        answer = exchange(port, data, half_close=not keep_alive)
        assert status_of(answer) == 400
        assert answer.count(b"HTTP/1.1 ") == 1  # one answer, not a second one after it
        assert time.monotonic() - started < DEADLINE / 2  # closed by the server, not our wait
