"""``sesim demo``: a throw-away instance with synthetic reports, every part served
locally (the synthetic data itself is made by ``securedrop_like.demo``): the source
interface on the base port, staff + 1, workstation + 2, map + 3, intake + 4
(``demo_intake.py``), and, when dovecot is installed, a demo mailbox (IMAP) on + 5
and a demo SMTP server on + 6 for the e-mail channel (``demo_mail.py``). At every
start one encrypted backup of the instance is made (``demo_backup.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from journalist_interface.accounts import StaffAccounts
from securedrop_like import db
from securedrop_like.channels import make_channel_keys, make_thread_keys, public_channels
from securedrop_like.config import CONFIG_NAME, Config
from securedrop_like.demo import DEMO_KEY_NAME, install_demo_reviewer, populate
from securedrop_like.instance import init_instance, open_instance
from securedrop_like.serve import serve
from source_interface import create_app
from source_interface.master import server_tasks, sweep_before_start

from .demo_backup import back_up_demo, restore_commands
from .demo_intake import DEMO_PROVIDERS, demo_secrets, start_sink, write_intake_config
from .demo_mail import DEMO_ADDRESS, DemoMail, imap_table, mail_unavailable, start_demo_mail
from .demo_map import MAP_REPORTS, add_map_reports, open_demo_map, set_map_contacts
from .demo_workstation import (
    WORKSTATION_FOLDER,
    create_workstation,
    fill_workstation,
    read_passphrase,
)

DEMO_LAWYER = "demo"  # the demo's staff account, who also signs its synthetic replies


def add_demo_lawyer(config: Config) -> tuple[str, str, str]:
    """A demo staff account: (username, passphrase, TOTP secret)."""
    account = StaffAccounts(db.Database.for_config(config)).add(DEMO_LAWYER, is_admin=True)
    return account.username, account.password, account.totp_secret


def _server(*args: str) -> subprocess.Popen[bytes]:
    """One more part in a process of its own (one gunicorn, or the workstation, each)."""
    return subprocess.Popen([sys.executable, "-m", "sesim", "serve", *args])  # noqa: S603


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


def _demo_mail(root: Path, base_port: int, secrets: dict[str, str]) -> tuple[DemoMail | None, str]:
    """The demo's mailbox (base-port + 5) and SMTP server (+ 6), or None and why not."""
    why = mail_unavailable()
    if not why:
        try:
            mail = start_demo_mail(
                root,
                base_port + 5,
                base_port + 6,
                secrets["imap_password"],
                secrets["smtp_password"],
            )
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            why = f"its mail servers could not start ({first})"
        else:
            return mail, ""
    return None, why


def run_demo(home: Path | None, host: str, base_port: int, reports: int, tor: bool = False) -> None:
    temporary = home is None
    master = os.getpid()
    root = Path(tempfile.mkdtemp(prefix="sesim-demo-")) if home is None else home.resolve()
    mail: DemoMail | None = None
    try:
        lawyer: tuple[str, str, str] | None = None
        if (root / CONFIG_NAME).exists():
            config = open_instance(root)
            click.echo(f"Re-using the demo instance in {root}")
            made: list[tuple[str, str]] = []
        else:
            config = init_instance(root)
            install_demo_reviewer(config)
            desk = create_workstation(config)
            click.echo(f"Creating {reports} synthetic reports (az, ru, en)…")
            lawyer = add_demo_lawyer(config)
            made = populate(config, reports, author=lawyer[0])
            click.echo(f"and {MAP_REPORTS} more that consent to the public map…")
            add_map_reports(config, MAP_REPORTS)
            click.echo("Exporting them to the demo workstation and publishing some…")
            fill_workstation(config, desk)
        map_home = open_demo_map(root, root / WORKSTATION_FOLDER)
        onions = _demo_onions(root, base_port) if tor else None
        # The intake server: its answers go to a local sink (a process of its own).
        make_thread_keys(config)  # a demo folder from before the channels has none
        make_channel_keys(config)
        intake_secrets = demo_secrets(config)
        sink, sink_url = start_sink(root)
        intake_port = base_port + 4
        # E-mail: a demo mailbox and SMTP server of our own (stopped with the demo).
        mail, mail_off = _demo_mail(root, base_port, intake_secrets)
        write_intake_config(
            config,
            intake_port,
            sink_url,
            imap_table(mail) if mail else "",
            DEMO_ADDRESS if mail else "",
        )
        # With [intake] (the channel pages read it) and the onions' addresses, if any.
        config = open_instance(root)
        # One `sesim backup` of the instance as it stands (encrypted to a DEMO-ONLY
        # administrator's key), so the banner can show how a backup is restored.
        saved = back_up_demo(config)
        public = public_channels(config)
        set_map_contacts(
            map_home,
            onion=onions.source if onions else "",
            sms=public.sms_number,
            email=public.email,
            messenger_url=public.messenger_url,
            x_handle=public.x_handle,
        )
        intake = _server("intake", "--home", str(root), "--host", host, "--port", str(intake_port))
        staff = _server("staff", "--home", str(root), "--host", host, "--port", str(base_port + 1))
        # Loopback only, whatever --host says: the workstation never faces a network.
        desk_home = root / WORKSTATION_FOLDER
        ws_port = str(base_port + 2)
        workstation = _server("workstation", "--home", str(desk_home), "--port", ws_port)
        map_port = str(base_port + 3)
        public_map = _server("map", "--home", str(map_home), "--host", host, "--port", map_port)
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
        click.echo(f"  Workstation:       http://127.0.0.1:{ws_port}/  (this computer only)")
        click.echo(f"  Its passphrase:    {read_passphrase(desk_home)}  (DEMO ONLY)")
        click.echo(f"  Publication:       {desk_home / 'publications'}  (for the public map,")
        click.echo(f"                     with the verify key {desk_home / 'publication.verify'})")
        click.echo(f"  Public map:        http://{host}:{map_port}/  (its folder {map_home})")
        click.echo(f"  Demo reviewer key: {root / DEMO_KEY_NAME}  (DEMO ONLY)")
        pad = " " * 21
        click.echo(f"  Backup:            {saved.path}")
        click.echo(f"{pad}(`sesim backup` at start) encrypted to {saved.public_key.name},")
        click.echo(f"{pad}whose secret key is in {saved.gnupghome}  (DEMO ONLY)")
        piped, direct = restore_commands(saved)
        click.echo("  Restore it into a new folder NEWDIR, either way:")
        click.echo(f"    {piped}")
        click.echo(f"    {direct}")
        click.echo(
            "  On a server:       backups, restore and the database key: see docs/admin-guide.md"
        )
        click.echo(f"  Intake (SMS, Messenger, X): http://{host}:{intake_port}/")
        click.echo(f"{pad}/sms/smssync /sms/twilio /sms/webhook /messenger/webhook /x/webhook")
        providers = (*DEMO_PROVIDERS, "imap") if mail else DEMO_PROVIDERS
        click.echo(f"  Providers enabled: {', '.join(providers)}; what it sends by SMS,")
        click.echo(f"{pad}Messenger or X goes to a local sink ({sink_url})")
        click.echo(f"{pad}that logs provider and size only")
        if mail:
            click.echo(f"  E-mail:            {DEMO_ADDRESS}, a demo mailbox: dovecot, IMAP over")
            click.echo(f"{pad}TLS on 127.0.0.1:{mail.imap_port} (user report, its CA {mail.ca})")
            click.echo(f"{pad}polled every few seconds; answers go to a demo SMTP server")
            click.echo(f"{pad}on 127.0.0.1:{mail.smtp_port} (TLS) that prints their size only")
            click.echo("  Send it an e-mail (put in the mailbox as if delivered):")
            click.echo(
                f"    {sys.executable} -m sesim.demo_mail send --home {root}"
                ' --text "Salam. Müdirim mənə gecələr mesaj yazır."'
            )
        else:
            click.echo(f"  E-mail:            off in this demo: {mail_off}")
        click.echo("  Intake demo secrets (DEMO ONLY, also in secrets/intake.toml):")
        for key, value in intake_secrets.items():
            click.echo(f"    {key} = {value}")
        for codename, lang in made[:3]:
            click.echo(f"  A demo codename ({lang}): {codename}")
        if onions:
            click.echo(f"  Source onion:      http://{onions.source}/")
            click.echo(f"  Staff onion:       http://{onions.staff}/  (client-authorised)")
            client = onions.staff_client
            click.echo(f"  Staff onion key for Tor Browser: {client.tor_browser_key}")
            click.echo(
                f"  Or, for a tor client's ClientOnionAuthDir, as {client.name}.auth_private:"
            )
            click.echo(f"    {client.private_line}")
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
                for part in (staff, workstation, public_map, intake, sink):
                    part.terminate()
                for part in (staff, workstation, public_map, intake, sink):
                    part.wait(timeout=20)
                if onions:
                    onions.close()
    finally:
        # A gunicorn worker (a fork) unwinds through here when it exits: only
        # the process that made the demo folder (and its mail servers) stops them.
        if mail is not None and os.getpid() == master:
            mail.stop()  # by PID: the SMTP server's process, dovecot's master
        if temporary and os.getpid() == master:
            shutil.rmtree(root, ignore_errors=True)
