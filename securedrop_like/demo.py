"""``sesim demo``: a throw-away instance with synthetic reports, served locally.

The demo reviewer's *private* key is written into the instance folder so that
tests and curious people can decrypt what the demo holds. That is for the
demo only: a real submission private key never lives on a server.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import click

from crypto import PrivateKey, write_private_key_file, write_public_key_file

from . import codenames, db, models
from .config import CONFIG_NAME, Config
from .derivation import Deriver
from .instance import init_instance, open_instance
from .service import ReportService, Submission

DEMO_KEY_NAME = "DEMO-ONLY-reviewer-private.key"


def load_demo_data() -> dict[str, Any]:
    text = (resources.files("securedrop_like") / "data" / "demo_reports.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def install_demo_reviewer(config: Config) -> PrivateKey:
    key = PrivateKey.generate()
    write_private_key_file(
        config.home / DEMO_KEY_NAME,
        key,
        comment="DEMO ONLY. A real private submission key never lives on a server.",
    )
    write_public_key_file(config.home / "demo-reviewer.pub", key.public_key, comment="demo")
    conn = db.Database.for_config(config).open()
    try:
        conn.execute("BEGIN IMMEDIATE")
        models.insert_reviewer_key(
            conn,
            key_id=key.public_key.key_id,
            name="Demo reviewer (demo only)",
            public_key=key.public_key.raw,
            day=db.today(),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return key


def populate(config: Config, count: int, seed: int | None = None) -> list[tuple[str, str]]:
    """Create ``count`` synthetic sources; returns (codename, language) of each."""
    data = load_demo_data()
    rng = random.Random(seed)  # noqa: S311 - picks demo content, not secrets
    service = ReportService.open(config)
    deriver = Deriver(config)
    made: list[tuple[str, str]] = []
    try:
        reports = data["reports"]
        for n in range(count):
            report = dict(reports[n % len(reports)])
            lang = report["lang"]
            codename = codenames.generate_codename()
            keys = deriver.derive(deriver.normalise(codename))
            report["channel"] = "web"
            source_id = service.create_source(keys, Submission("report", report))
            if rng.random() < 0.4:
                text = rng.choice(data["messages"][lang])
                service.add_submission(
                    source_id, Submission("message", {"text": text, "lang": lang})
                )
            if rng.random() < 0.5:
                reply = rng.choice(data["replies"][lang])
                service.place_reply(source_id, reply, lang, author="demo-lawyer")
            made.append((codename, lang))
        # One more who then withdrew, so the staff see a withdrawal notice.
        gone = deriver.derive(deriver.normalise(codenames.generate_codename()))
        report = dict(reports[0], channel="web")
        service.withdraw(service.create_source(gone, Submission("report", report)))
    finally:
        service.close()
    return made


def add_demo_lawyer(config: Config) -> tuple[str, str, str]:
    """A demo staff account: (username, passphrase, TOTP secret)."""
    from journalist_interface.accounts import StaffAccounts

    account = StaffAccounts(db.Database.for_config(config)).add("demo", is_admin=True)
    return account.username, account.password, account.totp_secret


def _staff_server(root: Path, host: str, port: int) -> subprocess.Popen[bytes]:
    """The staff interface in a process of its own (one gunicorn per process)."""
    return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [
            sys.executable,
            "-m",
            "securedrop_like",
            "serve",
            "staff",
            "--home",
            str(root),
            "--host",
            host,
            "--port",
            str(port),
        ],
    )


def _demo_onions(root: Path, base_port: int) -> Any:
    """Ephemeral onions for both interfaces, or None (with a word why) if tor cannot run."""
    from tor_config.demo import start_demo_onions, tor_available
    from tor_config.errors import TorConfigError

    if not tor_available():
        click.echo("tor is not installed: serving the demo without onions.")
        return None
    try:
        onions = start_demo_onions(root, base_port, base_port + 1)
    except TorConfigError as exc:
        click.echo(f"tor could not start ({exc}): serving the demo without onions.")
        return None
    # Both servers (the staff one is a child) read these over config.toml.
    os.environ["SESIM_ONION_ADDRESS"] = onions.source
    os.environ["SESIM_STAFF_ONION_ADDRESS"] = onions.staff
    os.environ["SESIM_EXTRA_HOSTS"] = "127.0.0.1,localhost"
    return onions


def run_demo(home: Path | None, host: str, base_port: int, reports: int, tor: bool = False) -> None:
    from source_interface import create_app
    from source_interface.master import server_tasks, sweep_before_start

    from .serve import serve

    temporary = home is None
    master = os.getpid()
    root = Path(tempfile.mkdtemp(prefix="sesim-demo-")) if home is None else home.resolve()
    try:
        lawyer: tuple[str, str, str] | None = None
        if (root / CONFIG_NAME).exists():
            config = open_instance(root)
            click.echo(f"Re-using the demo instance in {root}")
            made: list[tuple[str, str]] = []
        else:
            config = init_instance(root)
            install_demo_reviewer(config)
            click.echo(f"Creating {reports} synthetic reports (az, ru, en)…")
            made = populate(config, reports)
            lawyer = add_demo_lawyer(config)
        onions = _demo_onions(root, base_port) if tor else None
        if onions:
            config = open_instance(root)  # with the onions' addresses from the environment
        staff = _staff_server(root, host, base_port + 1)
        click.echo("")
        click.echo("Səsim demo — every report here is invented.")
        click.echo(
            f"  Instance folder:   {root}" + ("  (deleted when you stop)" if temporary else "")
        )
        click.echo(f"  Source interface:  http://{host}:{base_port}/")
        click.echo(f"  Staff interface:   http://{host}:{base_port + 1}/")
        if lawyer:
            click.echo(f"  Demo lawyer:       {lawyer[0]} / {lawyer[1]}")
            click.echo(f"  Her TOTP secret:   {lawyer[2]}  (add it to an authenticator app)")
        click.echo(f"  Demo reviewer key: {root / DEMO_KEY_NAME}  (DEMO ONLY)")
        for codename, lang in made[:3]:
            click.echo(f"  A demo codename ({lang}): {codename}")
        if onions:
            click.echo(f"  Source onion:      http://{onions.source}/")
            click.echo(f"  Staff onion:       http://{onions.staff}/  (client-authorised)")
            click.echo(f"  Staff onion key for Tor Browser: {onions.staff_client.private_line}")
        click.echo("Press Ctrl-C to stop.")
        try:
            sweep_before_start(config)  # no worker runs yet: nobody can claim an upload
            serve(
                lambda shared: create_app(config, shared=shared),
                config,
                host,
                base_port,
                tasks=server_tasks(config),
                part="source",
            )
        finally:
            if os.getpid() == master:
                staff.terminate()
                staff.wait(timeout=20)
                if onions:
                    onions.close()
    finally:
        # A gunicorn worker (a fork) unwinds through here when it exits: only
        # the process that made the demo folder removes it.
        if temporary and os.getpid() == master:
            shutil.rmtree(root, ignore_errors=True)
