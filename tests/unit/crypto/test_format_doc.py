"""FORMAT.md and the envelope module docstring say the same thing."""

from __future__ import annotations

from pathlib import Path

import crypto
import crypto.envelope


def test_format_md_is_the_envelope_module_docstring() -> None:
    path = Path(crypto.__file__).parent / "FORMAT.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("<!--") and lines[1] == ""
    body = "\n".join(lines[2:]).strip()
    assert crypto.envelope.__doc__ is not None
    assert body == crypto.envelope.__doc__.strip()


def test_format_doc_states_the_numbers_the_code_uses() -> None:
    doc = crypto.envelope.__doc__ or ""
    assert f"CHUNK_SIZE = {crypto.CHUNK_SIZE}" in doc
    assert '"SESIMENV"' in doc
    assert "35 + 88 * n" in doc
    assert crypto.envelope_size(0, 1) == 35 + 88 + 17
