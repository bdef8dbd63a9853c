"""The demo's backup (issue 13): a DEMO-ONLY backup key pair for the administrator in
a throw-away GnuPG home inside the demo folder, and one ``sesim backup`` of the demo
instance at every start, so the banner can show how a backup is restored.

A real administrator's backup key is made and kept on their own laptop, never on the
server (docs/admin-guide.md); the server holds only its public part.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from crypto import OpenPGP
from securedrop_like.backup import backup
from securedrop_like.config import Config

# Beside the demo's other DEMO-ONLY files. The folder name is short: gpg-agent's
# socket lives in it, and a socket's path may not exceed 107 bytes.
GNUPG_FOLDER = "DEMO-ONLY-gnupg"
PUBLIC_KEY_NAME = "DEMO-ONLY-backup-key.asc"
BACKUP_FOLDER = "backups"
KEEP = 3  # a re-used demo folder keeps its three newest backups


@dataclass(frozen=True)
class DemoBackup:
    path: Path  # the new backup file
    gnupghome: Path  # the keyring holding the backup key's secret part (DEMO ONLY)
    public_key: Path  # what `sesim backup --recipient` was given


def demo_backup_key(root: Path) -> tuple[Path, Path]:
    """The demo administrator's backup key pair: (its GnuPG home, the public key file),
    made once (an unprotected Ed25519/cv25519 key: DEMO ONLY) and re-used after."""
    gnupghome = root / GNUPG_FOLDER
    public = root / PUBLIC_KEY_NAME
    if not public.is_file():
        with OpenPGP(gnupghome) as pgp:
            fingerprint = pgp.generate_test_key(
                "Səsim demo backups (DEMO ONLY)", "backup@demo.invalid"
            )
            public.write_text(pgp.export_public_key(fingerprint), encoding="ascii")
    return gnupghome, public


def back_up_demo(config: Config) -> DemoBackup:
    """One backup of the demo instance into ``<demo>/backups``, as `sesim backup` makes it."""
    gnupghome, public = demo_backup_key(config.home)
    path = backup(config, config.home / BACKUP_FOLDER, public, keep=KEEP)
    return DemoBackup(path, gnupghome, public)


def sesim_command() -> str:
    """How to call `sesim` from a shell: the script beside this interpreter (the
    venv's, as `make run` uses), else the interpreter with ``-m sesim``."""
    script = Path(sys.executable).parent / "sesim"
    if script.is_file():
        return str(script)
    return f"{sys.executable} -m sesim"


def restore_commands(made: DemoBackup) -> tuple[str, str]:
    """The two ways to restore the demo's backup into a new folder NEWDIR."""
    sesim = sesim_command()
    piped = (
        f"gpg --homedir {made.gnupghome} -d {made.path} | {sesim} restore --home NEWDIR --from -"
    )
    direct = f"{sesim} restore --home NEWDIR --from {made.path} --gnupghome {made.gnupghome}"
    return piped, direct
