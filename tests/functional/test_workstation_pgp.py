"""A decrypted case re-encrypted to a real OpenPGP key (gpg in a temporary keyring)."""

from __future__ import annotations

import io
import json
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from crypto import OpenPGP
from journalist_interface.workstation.cli import workstation
from journalist_interface.workstation.importer import import_bundle
from journalist_interface.workstation.keys import WorkstationError
from journalist_interface.workstation.pgp import export_case, safe_name
from tests.conftest import SourceBrowser
from tests.functional.test_staff_actions import staff  # noqa: F401 - the fixture
from tests.functional.test_workstation_import import _export, opened, ws  # noqa: F401
from tests.unit.workstation.conftest import PASSPHRASE

TEXT = "PGP canary 3e8a: it happened at the district office."
BIG = bytes(range(256)) * 1000  # 256 KB: several chunks in the case store


@pytest.fixture
def gpg(tmp_path: Path) -> Any:
    with OpenPGP(tmp_path / "gnupg") as pgp:
        yield pgp, pgp.generate_test_key("Aysel Reviewer", "aysel@example.org")


def test_a_case_exported_to_openpgp_opens_only_with_that_key(
    app: Flask,
    staff: Any,  # noqa: F811
    ws: Path,  # noqa: F811
    opened: Any,  # noqa: F811
    gpg: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unlocked, store = opened
    pgp, fingerprint = gpg
    her = SourceBrowser(app.test_client())
    her.report_and_get_codename(TEXT, files=[(BIG, "../../etc/evil\x01name.bin")])
    her.send_message("Second message canary 4411.")
    _, client, _ = staff
    bundle = tmp_path / "export.tar"
    bundle.write_bytes(_export(client))
    import_bundle(store, unlocked, bundle)
    (case,) = store.list_cases()
    out = tmp_path / "case.pgp"
    summary = export_case(store, case.id, recipient=fingerprint, gnupghome=pgp.homedir, out=out)
    assert summary.members == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = out.read_bytes()
    assert TEXT.encode() not in data and BIG[:1000] not in data
    plain = pgp.decrypt(data)
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        names = tar.getnames()
        document = json.loads(tar.extractfile("case.json").read())  # type: ignore[union-attr]
        text = tar.extractfile("case.txt").read().decode()  # type: ignore[union-attr]
        (file_name,) = [n for n in names if n.startswith("files/")]
        body = tar.extractfile(file_name).read()  # type: ignore[union-attr]
    assert document["report"]["text"] == TEXT
    assert document["messages"][0]["document"]["text"] == "Second message canary 4411."
    assert TEXT in text and "canary 4411" in text
    assert body == BIG
    assert file_name.count("/") == 1 and ".." not in file_name.split("/")[1][:2]
    assert "\x01" not in file_name
    # Never overwrites; an unknown key is a clear error and leaves no file.
    with pytest.raises(WorkstationError, match="overwrite"):
        export_case(store, case.id, recipient=fingerprint, gnupghome=pgp.homedir, out=out)
    with pytest.raises(WorkstationError, match="OpenPGP export failed"):
        export_case(
            store, case.id, recipient="A" * 40, gnupghome=pgp.homedir, out=tmp_path / "x.pgp"
        )
    assert not (tmp_path / "x.pgp").exists()
    # The same through the command line; the passphrase given in the environment is not
    # in the environment of any gpg it starts (nor of the gpg-agent gpg starts), review L6.
    import os

    import gnupg

    seen: list[dict[str, str]] = []
    real_popen = gnupg.Popen

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(dict(kwargs.get("env") or os.environ))
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(gnupg, "Popen", spy)
    cli_out = tmp_path / "cli.pgp"
    result = CliRunner().invoke(
        workstation,
        [
            "export-pgp",
            "--home",
            str(ws),
            case.designation,
            "--recipient",
            fingerprint,
            "--gnupghome",
            str(pgp.homedir),
            "--out",
            str(cli_out),
            "--no-files",
        ],
        env={"SESIM_WORKSTATION_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 0, result.output
    assert seen and all("SESIM_WORKSTATION_PASSPHRASE" not in env for env in seen)
    assert all(PASSPHRASE not in env.values() for env in seen)
    monkeypatch.undo()
    with tarfile.open(fileobj=io.BytesIO(pgp.decrypt(cli_out.read_bytes()))) as tar:
        assert tar.getnames() == ["case.json", "case.txt"]


def test_safe_names() -> None:
    assert safe_name("../../x", "id") == "_.._x"
    assert safe_name("", "id") == "id"
    assert safe_name("a\nb/c\\d", "id") == "a_b_c_d"
    assert safe_name(".hidden", "id") == "hidden"
