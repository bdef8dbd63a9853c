"""The fast multipart path must read every body exactly as Werkzeug's parser does."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.formparser import FormDataParser

from securedrop_like.multipart import FAST_LIMIT, FastFormDataParser, _Unclean

BOUNDARY = "----sesimTestBoundary7MA4YWxkTrZu0gW"


def _factory(**_: Any) -> io.BytesIO:
    return io.BytesIO()


def _parse(parser_class: type[FormDataParser], body: bytes) -> tuple[list[Any], list[Any]]:
    parser = parser_class(stream_factory=_factory, max_form_memory_size=10**6, max_form_parts=1000)
    _, form, files = parser.parse(
        io.BytesIO(body), "multipart/form-data", len(body), {"boundary": BOUNDARY}
    )
    fields = list(form.items(multi=True))
    uploads = [
        (k, f.filename, f.content_type, f.stream.getvalue()) for k, f in files.items(multi=True)
    ]
    return fields, uploads


def _body(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


names = st.text(
    st.characters(codec="utf-8", exclude_characters='"\\\r\n\x00', exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=20,
)
payload = st.binary(max_size=3000).filter(lambda b: BOUNDARY.encode() not in b)
parts = st.lists(st.tuples(names, st.one_of(st.none(), names), payload), max_size=8)


@settings(max_examples=300, deadline=None)
@given(parts=parts)
def test_fast_path_agrees_with_werkzeug(parts: list[tuple[str, str | None, bytes]]) -> None:
    body = _body(parts)
    assert _parse(FastFormDataParser, body) == _parse(FormDataParser, body)


@settings(max_examples=200, deadline=None)
@given(parts=parts, cut=st.integers(min_value=0, max_value=10_000))
def test_truncated_or_odd_bodies_agree_with_werkzeug(
    parts: list[tuple[str, str | None, bytes]], cut: int
) -> None:
    body = _body(parts)[:cut]
    assert _parse(FastFormDataParser, body) == _parse(FormDataParser, body)


def test_fast_path_is_really_taken_for_a_clean_body() -> None:
    parser = FastFormDataParser(stream_factory=_factory)
    body = _body([("what_happened", None, "Salam, ə ğ ı".encode()), ("f", "ş.txt", b"x")])
    form, files = parser._split(body, BOUNDARY.encode())  # noqa: SLF001
    assert form["what_happened"] == "Salam, ə ğ ı"
    assert files["f"].filename == "ş.txt"


def test_truncated_body_is_left_to_werkzeug() -> None:
    parser = FastFormDataParser(stream_factory=_factory)
    body = _body([("a", None, b"1")])[:-5]
    try:
        parser._split(body, BOUNDARY.encode())  # noqa: SLF001
    except _Unclean:
        pass
    else:
        raise AssertionError("a truncated body must not be parsed by the fast path")


def test_large_bodies_stream_through_werkzeug() -> None:
    big = _body([("files", "big.bin", b"z" * (FAST_LIMIT + 10))])
    assert _parse(FastFormDataParser, big) == _parse(FormDataParser, big)
