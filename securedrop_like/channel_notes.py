"""What each reporting channel reveals, and to whom: the same honest words on the
source interface's channel pages, the public map's "how to report" page and the staff
interface's labels (issue 12).

The sentences are short and plain on purpose: the reader may be frightened. They say
who sees what (the telecom sees an SMS; Meta and X see direct messages and the account
that sent them; the mailbox provider sees e-mail unless it is OpenPGP-encrypted), that
the automatic answer carries her receipt (so she should delete the conversation), and
what the server keeps (a keyed hash of her address until her case closes, which whoever
seizes the running server can match to her number; the address itself only sealed and
only if she says YES, until her case closes; the answers queued to her, sealed, until
sent; STOP deletes everything — by e-mail, only with her receipt in it, since anyone
can forge a From address).

Translated when called (inside a request, in the page's language).
"""

from __future__ import annotations

from .i18n import gettext as _

#: The channels a woman can report through besides the web, in the order shown.
CHANNELS = ("sms", "email", "messenger", "x")


def label(channel: str) -> str:
    """A channel's short name ("web", "sms", … as stored in ``sources.channel``)."""
    names = {
        "web": _("Website"),
        "sms": _("SMS"),
        "email": _("E-mail"),
        "messenger": _("Messenger"),
        "x": _("X (Twitter)"),
    }
    return names.get(channel, channel)


def heading(channel: str) -> str:
    """The heading of a channel's section: "By SMS", …"""
    names = {
        "sms": _("By SMS"),
        "email": _("By e-mail"),
        "messenger": _("By Facebook Messenger"),
        "x": _("By a direct message on X (Twitter)"),
    }
    return names.get(channel, channel)


def reveals(channel: str) -> list[str]:
    """Who sees what when she writes through ``channel``: one sentence a point."""
    receipt = _(
        "Our answer carries your receipt number. Write it down somewhere safe, "
        "then delete the conversation."
    )
    if channel == "sms":
        return [
            _(
                "An SMS is not anonymous. Your phone company sees your number, the time "
                "and the text, and can keep them. So can the service that passes SMS to us."
            ),
            receipt,
            _(
                "If others use your phone, they may read the messages. Delete them, "
                "and our number, from the phone."
            ),
        ]
    if channel == "email":
        return [
            _(
                "An e-mail is not anonymous. Your mailbox provider and ours see your "
                "address and the time, and can read the message."
            ),
            _(
                "If you encrypt it with OpenPGP to our key, they can no longer read it: "
                "they still see your address and the time."
            ),
            _(
                "The lawyers receive your e-mail as it came, with your address. Our "
                "server keeps it locked, so that only they can read it."
            ),
            _("Use an address that does not carry your name."),
            receipt,
            _(
                "By e-mail, write STOP or YES together with your receipt number: anyone "
                "can put your address on an e-mail, so your address alone is not enough."
            ),
        ]
    if channel in ("messenger", "x"):
        company = _("Meta (Facebook)") if channel == "messenger" else _("X (Twitter)")
        return [
            _(
                "A direct message is not anonymous. %(company)s sees your messages, "
                "your account and that you wrote to us, and can keep them.",
                company=company,
            ),
            _("Use an account that does not carry your name or your photo."),
            receipt,
        ]
    return []


def kept_here() -> list[str]:
    """What we keep of a message that came by SMS, e-mail, Messenger or X."""
    return [
        _(
            "Our server keeps your number or address only as a coded fingerprint, so that "
            "your messages stay together, and deletes it when your case is closed. Someone "
            "who seized our server could still work out your number from it."
        ),
        _(
            "If you answer YES (BƏLİ, ДА), we keep your number or address locked, only "
            "to send you the lawyers’ answers, and only until your case is closed."
        ),
        _(
            "Our answers to you, with your receipt number, wait locked on our server until "
            "they are sent. Someone who seized our server could read them."
        ),
        _(
            "If you send STOP (DAYAN, DUR, СТОП), we delete everything: your report, "
            "your messages and your number or address."
        ),
    ]


def safest() -> str:
    return _(
        "The safest way is still our onion site in Tor Browser: no company sees "
        "that you wrote to us."
    )
