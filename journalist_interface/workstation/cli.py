"""``sesim workstation …`` and ``sesim redact …``: the offline workstation's commands."""

from __future__ import annotations

import click

workstation = click.Group(
    "workstation",
    help="The offline reviewer workstation: keys, import, cases, replies, publication.",
)

redact = click.Group("redact", help="The redaction check that every published text must pass.")
