"""The pure parts of the server's gunicorn worker: when a head is whole, and which
status answers which framing error (the integration tests run the worker itself)."""

from __future__ import annotations

import pytest
from gunicorn.http import errors

from securedrop_like.gunicorn_worker import _client_status, _head_complete


@pytest.mark.parametrize(
    ("head", "whole"),
    [
        (b"", False),
        (b"GET / HTTP/1.1\r\nHost: a\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r", False),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody bytes", True),
        (b"\r\nGET / HTTP/1.1\r\n\r\n", True),
        (b"GET / HTTP/1.1\nHost: a", True),  # a bare LF: the parser refuses it at once
    ],
)
def test_a_head_is_handed_on_when_the_parser_needs_nothing_more(head: bytes, whole: bool) -> None:
    assert _head_complete(head) is whole


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.InvalidRequestLine("x"), 400),
        (errors.InvalidHeaderName("x"), 400),
        (errors.InvalidChunkSize(b"zz"), 400),
        (errors.ChunkMissingTerminator(b"XX"), 400),
        (errors.NoMoreData(b""), 400),
        (errors.LimitRequestHeaders("x"), 431),
        (errors.LimitRequestLine(5000, 4094), 414),
        (errors.UnsupportedTransferCoding("gzip"), 501),
        (errors.InvalidResponseHeaderName("x"), None),  # the application's fault
        (ValueError("x"), None),
    ],
)
def test_what_a_client_sent_wrong_is_a_4xx(exc: Exception, status: int | None) -> None:
    answer = _client_status(exc)
    assert (answer[0] if answer else None) == status
