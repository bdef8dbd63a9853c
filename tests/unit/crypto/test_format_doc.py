"""FORMAT.md and the envelope module docstring say the same thing."""

from __future__ import annotations

from pathlib import Path

import crypto
import crypto.envelope
import crypto.keywrap


def _sections() -> list[str]:
    """FORMAT.md's sections: each starts with an HTML comment line, then a blank line."""
    path = Path(crypto.__file__).parent / "FORMAT.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("<!--") and lines[1] == ""
    starts = [i for i, line in enumerate(lines) if line.startswith("<!--")]
    ends = [*starts[1:], len(lines)]
    return ["\n".join(lines[a + 2 : b]).strip() for a, b in zip(starts, ends, strict=True)]


def test_format_md_is_the_envelope_module_docstring() -> None:
    assert crypto.envelope.__doc__ is not None
    assert _sections()[0] == crypto.envelope.__doc__.strip()


def test_format_md_then_holds_the_keywrap_module_docstring() -> None:
    assert crypto.keywrap.__doc__ is not None
    assert _sections()[1:] == [crypto.keywrap.__doc__.strip()]


def test_keywrap_doc_states_the_numbers_the_code_uses() -> None:
    doc = crypto.keywrap.__doc__ or ""
    assert '"SESIMKEY"' in doc and "version, u16 = 1" in doc
    assert f"{crypto.WRAPPED_KEY_BYTES} bytes in all" in doc
    assert crypto.WRAP_OPSLIMIT == 4 and "4 passes over 512 MiB" in doc
    assert crypto.WRAP_MEMLIMIT == 512 * 1024 * 1024
    assert f"at least {crypto.MIN_PASSPHRASE_CHARS} characters" in doc


def test_format_doc_states_the_numbers_the_code_uses() -> None:
    doc = crypto.envelope.__doc__ or ""
    assert f"CHUNK_SIZE = {crypto.CHUNK_SIZE}" in doc
    assert '"SESIMENV"' in doc
    assert "35 + 88 * n" in doc
    assert crypto.envelope_size(0, 1) == 35 + 88 + 17


def test_format_doc_states_the_version_2_layout() -> None:
    doc = crypto.envelope.__doc__ or ""
    assert "84 + 88 * n" in doc and "version, u16 = 2" in doc
    assert 'person=b"sesim-ctx-source"' in doc
    assert "1 report, 2 message, 3 file, 4 reply" in doc
    assert crypto.envelope_size(0, 1, version=2) == 84 + 88 + 17
    context = crypto.EnvelopeContext.report("00" * 16)
    assert len(context.to_bytes()) == 60 - 11  # bytes 11 to 59 of the header


def test_format_doc_says_what_python_cannot_wipe() -> None:
    doc = crypto.envelope.__doc__ or ""
    assert "Wiping" in doc and "What Python cannot promise" in doc
    assert "immutable" in doc and "garbage collector" in doc


def test_format_doc_says_the_application_writes_only_version_2() -> None:
    doc = crypto.envelope.__doc__ or ""
    assert "The application writes only version 2 now" in doc
    assert "legacy_v1_encrypt_bytes" in doc and hasattr(crypto.envelope, "legacy_v1_encrypt_bytes")
    assert "legacy_v1_encrypt_bytes" not in crypto.__all__  # not for the application


def test_no_application_code_writes_version_1() -> None:
    root = Path(crypto.__file__).parent.parent
    packages = ("securedrop_like", "source_interface", "journalist_interface", "public_map")
    for package in (*packages, "tor_config", "bench"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "legacy_v1" not in text and "_legacy_v1" not in text, path
