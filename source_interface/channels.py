"""The pages about the other ways to report (issue 12): SMS, e-mail, Messenger and X.

``/channels/`` lists them; ``/channels/<sms|email|messenger|x>`` says honestly what
each reveals and to whom, what we keep, and how to write to us that way (the number,
address or account from ``[intake.public]`` of config.toml, read through
``securedrop_like.channels.public_channels``). A channel that is not configured is
shown as "not offered", with nothing to follow (and so is every channel, with a warning
in the log naming only the error's type, if ``[intake.public]`` is broken).
``/pgp-key.asc`` serves the instance's OpenPGP key (``securedrop_like.pgp_key``) for
encrypted e-mail.

No address is a link: the onion site never points off itself (a woman copies the
number or the account into her own app), and nothing here is fetched from elsewhere.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from flask import Blueprint, Response, abort, current_app, render_template

from securedrop_like import channel_notes, pgp_key
from securedrop_like.channels import PublicChannels, public_channels
from securedrop_like.config import ConfigError

log = logging.getLogger(__name__)
bp = Blueprint("channels", __name__)
PGP_KEY_PATH = "/pgp-key.asc"


@dataclass(frozen=True)
class Offered(PublicChannels):
    """What the pages show of each channel ("" when it is not offered): the
    ``[intake.public]`` channels and the instance's OpenPGP key."""

    pgp_fingerprint: str = ""  # 40 hex, upper-case, "" without a key

    def address(self, channel: str) -> str:
        return {
            "sms": self.sms_number,
            "email": self.email,
            "messenger": self.messenger_url,
            "x": ("@" + self.x_handle.lstrip("@")) if self.x_handle else "",
        }.get(channel, "")


def offered() -> Offered:
    config = current_app.config["SESIM"]
    try:
        public = public_channels(config)
    except ConfigError as exc:  # a broken [intake.public]: "not offered", never a 500
        log.warning("[intake.public] is not valid: %s", type(exc).__name__)
        public = PublicChannels("", "", "", "")
    key = pgp_key.public_key(config)
    return Offered(**dataclasses.asdict(public), pgp_fingerprint=key.fingerprint if key else "")


def grouped(fingerprint: str) -> str:
    """A fingerprint in groups of four, as OpenPGP programs show it."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


@bp.get("/channels/")
def index() -> str:
    return render_template(
        "channels.html",
        offered=offered(),
        channels=channel_notes.CHANNELS,
        notes=channel_notes,
    )


@bp.get("/channels/<name>")
def channel(name: str) -> str:
    if name not in channel_notes.CHANNELS:
        abort(404)
    found = offered()
    return render_template(
        "channel.html",
        name=name,
        offered=found,
        address=found.address(name),
        fingerprint=grouped(found.pgp_fingerprint),
        notes=channel_notes,
        page_title=channel_notes.label(name),
    )


@bp.get(PGP_KEY_PATH)
def pgp_key_file() -> Response:
    key = pgp_key.public_key(current_app.config["SESIM"])
    if key is None:
        abort(404)
    return Response(
        key.armoured,
        mimetype="application/pgp-keys",
        headers={"Content-Disposition": 'attachment; filename="pgp-key.asc"'},
    )
