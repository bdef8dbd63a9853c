"""The e-mail channel's answers and commands, against the real store (and a real
aiosmtpd where mail leaves):

- auto-replies, bounces, mailing lists and our own answers come back are stored,
  sealed, but never answered and never read as STOP or YES (no answer loop);
  what we send says ``Auto-Submitted: auto-replied``;
- a STOP (or YES) from her address alone deletes nothing: anyone can put her address
  in From. It counts only with her receipt in it (which only she has); no mail
  server's DMARC verdict counts (DMARC proves a domain, not a person), and a message
  with two From headers or two addresses in From is never a command;
- a STOP or YES whose 20 digits do not prove out keeps nothing but the bare word;
- on a known thread no "received" is sent (robots without automatic headers);
- YES (with her receipt) then a lawyer's reply goes out over SMTP; without YES the
  reply waits on the web.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

import intake.email as mail
from intake import texts
from intake.base import Intake
from securedrop_like import codenames
from securedrop_like.channels import channel_private_key
from securedrop_like.intake_store import delivery_channel
from tests.conftest import Instance
from tests.intake.core_support import count, decrypt_items
from tests.intake.email_support import (
    Certs,
    SmtpServer,
    dovecot,
    make_certs,
    plain_mail,
    smtp_server,
)
from tests.intake.test_email_imap import flush, intake_app, poller

HER = "gunel.f3c9@example.org"
OURS = "report@sesim.test"
AR_OK = (
    "Authentication-Results: mx.sesim.test; spf=pass smtp.mailfrom=example.org;\r\n"
    " dkim=pass header.d=example.org; dmarc=pass (p=reject dis=none) header.from=example.org"
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def smtp(certs: Certs) -> Iterator[SmtpServer]:
    with smtp_server(certs, "tls") as server:
        yield server


def app_of(instance: Instance, certs: Certs, smtp: SmtpServer | None = None,
           **extra: Any) -> tuple[Flask, Intake]:  # fmt: skip
    """The intake app with [intake.imap]; no IMAP server (mail is handed in directly)."""
    box: Any = SimpleNamespace(port=1, user="report", password="unused-imap", certs=certs)
    return intake_app(instance, box, smtp, **extra)


def arrive(ctx: Intake, raw: bytes) -> None:
    """What the poller does with one fetched message (``ImapPoller._one``)."""
    s = ctx.settings["imap"]
    inbound = mail.inbound_from_raw(raw, own_address=s.address)
    mail._receiver(ctx)(inbound)
    flush(ctx)


def queued(ctx: Intake, clear: bool = True) -> list[str]:
    """The texts waiting in the outbox (then taken out, as if sent)."""
    waiting = ctx.store.outbox(channel_private_key(ctx.config), "imap")
    if clear:
        ctx.store.delivered([o.id for o in waiting])
    return [o.text for o in waiting]


def headed(header: str, raw: bytes) -> bytes:
    return header.encode() + b"\r\n" + raw


def receipt_of(answers: list[str]) -> str:
    match = re.search(r"\d{4}(?: \d{4}){4}", " ".join(answers))
    assert match, answers
    return match.group(0)


def first_report(ctx: Intake) -> str:
    """Her first e-mail; returns her receipt (from the answer queued to her)."""
    arrive(ctx, plain_mail("Salam. Müdir məni hədələyir.", sender=f"Günel <{HER}>"))
    return receipt_of(queued(ctx))


# -- no answer loops -------------------------------------------------------------------------

AUTOMATIC = [
    "Auto-Submitted: auto-replied",
    "Auto-Submitted: auto-generated; owner-email=x@example.org",
    "Auto-Submitted: AUTO-NOTIFIED",
    "Precedence: bulk",
    "Precedence: junk",
    "Precedence: list",
    "List-Id: Some list <list.example.org>",
    "Return-Path: <>",
]


@pytest.mark.parametrize("header", AUTOMATIC)
def test_an_automatic_message_is_never_answered(header: str) -> None:
    msg = mail.inbound_from_raw(headed(header, plain_mail("STOP", sender=HER)))
    assert msg.address == HER and not msg.answer


@pytest.mark.parametrize(
    "sender",
    ["MAILER-DAEMON@mx.example.org", "postmaster@example.org", "Undisclosed recipients:;", ""],
)
def test_bounces_and_mail_with_no_sender_are_never_answered(sender: str) -> None:
    assert not mail.inbound_from_raw(plain_mail("Delivery failed", sender=sender)).answer


def test_ordinary_mail_and_auto_submitted_no_are_answered() -> None:
    assert mail.inbound_from_raw(plain_mail("Salam", sender=HER)).answer
    assert mail.inbound_from_raw(headed("Auto-Submitted: no", plain_mail("Hi", sender=HER))).answer
    assert not mail.inbound_from_raw(plain_mail("Hi", sender=OURS), own_address=OURS).answer


def test_what_we_send_says_it_is_automatic_and_is_never_answered_back() -> None:
    settings: Any = SimpleNamespace(address=OURS)
    sent = mail.SmtpSender(settings).message(HER, "Sizin qəbz nömrəniz: 1234")
    assert sent["Auto-Submitted"] == "auto-replied"
    # Our own answer, delivered back into our box (a forwarding loop): stored, unanswered.
    assert not mail.inbound_from_raw(sent.as_bytes(), own_address=OURS).answer
    del sent["Auto-Submitted"]
    assert not mail.inbound_from_raw(sent.as_bytes(), own_address=OURS).answer


@pytest.mark.timeout(120)
def test_auto_replies_are_kept_but_never_answered_nor_a_stop(
    instance: Instance, certs: Certs
) -> None:
    _app, ctx = app_of(instance, certs)
    first_report(ctx)
    (source_id,) = [r[0] for r in _sources(ctx)]
    # Her vacation autoresponder answers our answer with "STOP"-like text.
    arrive(ctx, headed("Auto-Submitted: auto-replied", plain_mail("STOP", sender=HER)))
    assert queued(ctx) == []  # no answer: no loop
    assert count(instance.config, "channel_threads") == 1  # and no withdrawal
    kinds = [k for k, _doc in decrypt_items(ctx.store.service, source_id, instance.reviewer_key)]
    assert kinds.count("message") == 1  # kept, sealed, in her case
    # A bounce from a stranger's server: a report of its own, unanswered.
    arrive(
        ctx, headed("Return-Path: <>", plain_mail("Undeliverable", sender="MAILER-DAEMON@x.org"))
    )
    # A message with no sender at all: kept, nothing queued for a "no-sender:" address.
    arrive(ctx, plain_mail("Kömək edin", sender=""))
    assert queued(ctx) == []
    assert len(_sources(ctx)) == 3
    ctx.store.close()


def _sources(ctx: Intake) -> list[tuple[Any, ...]]:
    conn = ctx.store.service.db.reader()
    return [tuple(r) for r in conn.execute("SELECT id FROM sources").fetchall()]


@pytest.mark.timeout(120)
def test_the_poller_does_not_answer_our_own_answer(instance: Instance, certs: Certs) -> None:
    with dovecot(certs) as box:
        box.append(plain_mail("Sizin qəbz nömrəniz: 1234 5678", sender=f"Səsim <{OURS}>"))
        _app, ctx = intake_app(instance, box)
        assert poller(ctx).poll_once().stored == 1
        assert box.messages() == []
    flush(ctx)
    assert count(instance.config, "sources") == 1
    assert queued(ctx) == []
    ctx.store.close()


# -- STOP and YES by e-mail must be proven hers ------------------------------------------------


@pytest.mark.timeout(120)
def test_a_forged_stop_deletes_nothing_and_tells_her_how(instance: Instance, certs: Certs) -> None:
    _app, ctx = app_of(instance, certs)
    first_report(ctx)
    # Anyone who knows her address: STOP, then STOP with a receipt that is not hers.
    arrive(ctx, plain_mail("STOP", sender=HER))
    assert queued(ctx) == [mail.needs_receipt("az", stop=True)]
    arrive(ctx, plain_mail(f"Стоп {codenames.generate_receipt()}", sender=HER))
    assert queued(ctx) == [mail.needs_receipt("ru", stop=True)]
    # An Authentication-Results header saying DMARC passed proves nothing, whoever wrote
    # it; nor does a pass from our server under a forged one saying fail.
    arrive(ctx, headed(AR_OK, plain_mail("STOP", sender=HER)))
    failed = AR_OK.replace("dmarc=pass", "dmarc=fail")
    arrive(ctx, headed(failed, headed(AR_OK, plain_mail("STOP", sender=HER))))
    assert len(queued(ctx)) == 2
    assert count(instance.config, "channel_threads") == 1
    (source_id,) = [r[0] for r in _sources(ctx)]
    kinds = [k for k, _doc in decrypt_items(ctx.store.service, source_id, instance.reviewer_key)]
    assert kinds.count("report") == 1 and kinds.count("message") == 4  # all kept
    ctx.store.close()


@pytest.mark.parametrize("spacing", ["grouped", "bare", "dashes"])
@pytest.mark.timeout(120)
def test_stop_with_her_receipt_withdraws(instance: Instance, certs: Certs, spacing: str) -> None:
    _app, ctx = app_of(instance, certs)
    receipt = first_report(ctx)
    digits = receipt.replace(" ", "")
    typed = {"grouped": receipt, "bare": digits, "dashes": "-".join(receipt.split())}[spacing]
    arrive(ctx, plain_mail(f"Dayan\n{typed}\n", sender=HER.upper()))
    with _app.app_context():
        assert queued(ctx) == [texts.withdrawn("az")]
    assert count(instance.config, "channel_threads") == 0
    assert count(instance.config, "intake_parts") == 0
    ctx.store.close()


def test_a_receipt_is_found_in_any_spacing_and_nothing_else_is_a_command() -> None:
    assert mail.command_with_receipt("STOP") == ("STOP", None)
    assert mail.command_with_receipt("stop 1234 5678 9012 3456 7890") == (
        "stop", "12345678901234567890"
    )  # fmt: skip
    assert mail.command_with_receipt("12345678901234567890\nbəli!") == (
        "bəli!",
        "12345678901234567890",
    )
    # Not 20 digits: a bare STOP (not proven hers), as "STOP 1234" is one on SMS.
    assert mail.command_with_receipt("stop 1234 5678") == ("stop 1234 5678", None)
    assert mail.command_with_receipt("please stop him 12345678901234567890") is None


# -- YES, then a lawyer's reply by e-mail -------------------------------------------------------


@pytest.mark.timeout(120)
def test_yes_with_her_receipt_then_a_reply_goes_out_over_smtp(
    instance: Instance, certs: Certs, smtp: SmtpServer
) -> None:
    app, ctx = app_of(instance, certs, smtp)
    receipt = first_report(ctx)
    (source_id,) = [r[0] for r in _sources(ctx)]
    service = ctx.store.service
    # Without YES: the reply waits on the web, nothing is queued, nothing sent.
    service.place_reply(source_id, "Cavab bir: saytda oxuyun.", "az", author="lawyer")
    assert queued(ctx, clear=False) == []
    assert delivery_channel(service.db.reader(), source_id) is None
    # YES alone (forgeable) does not opt her in: she is told how.
    arrive(ctx, plain_mail("YES", sender=HER))
    assert queued(ctx) == [mail.needs_receipt("en", stop=False)]
    assert delivery_channel(service.db.reader(), source_id) is None
    # YES with her receipt: opted in; the confirmation and the next reply go out by SMTP.
    arrive(ctx, plain_mail(f"YES {receipt}", sender=HER))
    assert delivery_channel(service.db.reader(), source_id) == "email"
    reply = "Cavab iki: vəkil sizinlə danışmaq istəyir."
    service.place_reply(source_id, reply, "az", author="lawyer")
    sender = mail.make_sender("imap", ctx.settings["imap"])
    waiting = ctx.store.outbox(channel_private_key(ctx.config), "imap")
    for out in waiting:
        sender.send(out.address, out.text)
    ctx.store.delivered([o.id for o in waiting])
    received = smtp.wait(2)
    assert len(received) == 2
    assert all(r.tls and r.rcpt_tos == [HER] and r.mail_from == OURS for r in received)
    parsed = [message_from_bytes(r.data) for r in received]
    bodies = sorted(m.get_payload(decode=True).decode().rstrip() for m in parsed)
    with app.app_context():
        assert bodies == sorted([texts.opted_in("en"), reply])
    assert all(m["Auto-Submitted"] == "auto-replied" for m in parsed)
    # Her receipt was in the YES e-mail: it is kept nowhere, not even sealed.
    items = decrypt_items(service, source_id, instance.reviewer_key)
    assert receipt.replace(" ", "").encode() not in b"".join(
        d if isinstance(d, bytes) else repr(d).encode() for _k, d in items
    )
    ctx.store.close()


def test_there_is_no_authserv_id_setting_any_more(certs: Certs) -> None:
    """DMARC proves a domain, not a person: no mail server's verdict is a setting."""
    from securedrop_like.config import ConfigError
    from tests.intake.email_support import imap_secrets, imap_section

    box: Any = SimpleNamespace(port=1, user="report", password="unused-imap", certs=certs)
    with pytest.raises(ConfigError, match="authserv_id"):
        mail.load_settings("imap", imap_section(box, authserv_id="mx.sesim.test"),
                           imap_secrets(box))  # fmt: skip
    assert not hasattr(mail, "dmarc_pass")


# -- second review: forged From, receipts never kept, no "received" loops ------------------------


def with_two_froms(raw: bytes, first: str) -> bytes:
    """``raw`` with a second From header above the one its server checked."""
    return f"From: {first}".encode() + b"\r\n" + raw


@pytest.mark.parametrize("shape", ["two headers", "two addresses"])
@pytest.mark.timeout(120)
def test_a_message_with_two_senders_is_never_a_command(
    instance: Instance, certs: Certs, shape: str
) -> None:
    _app, ctx = app_of(instance, certs)
    receipt = first_report(ctx)
    if shape == "two headers":
        # The attacker's own account at her domain (DKIM/DMARC pass for it), her address
        # in a From above it; here even with her receipt it must not be a command.
        raw = with_two_froms(plain_mail(f"STOP {receipt}", sender="evil@example.org"), HER)
    else:
        raw = plain_mail(f"STOP {receipt}", sender=f"{HER}, evil@example.org")
    arrive(ctx, raw)
    assert count(instance.config, "channel_threads") == 1  # nothing withdrawn
    assert len(_sources(ctx)) == 1
    msg = mail.inbound_from_raw(raw, own_address=OURS)
    assert not msg.commands and msg.attachments == () and msg.text == "STOP"
    # Without digits: an ordinary part, its whole message kept, no notice.
    plain = with_two_froms(plain_mail("STOP", sender="evil@example.org"), HER)
    msg = mail.inbound_from_raw(plain, own_address=OURS)
    assert not msg.commands and msg.notices == () and msg.attachments
    ctx.store.close()


def everything_decrypted(ctx: Intake, instance: Instance) -> bytes:
    """Every stored item, opened with a reviewer's key (and with the channel key where it
    opens), every pending part and every queued message opened with the channel key,
    and every plain row: what an attacker holding both keys reads."""
    from crypto import CryptoError, decrypt_bytes
    from tests.intake.core_support import table_rows

    service = ctx.store.service
    key = channel_private_key(ctx.config)
    out: list[bytes] = []
    for (source_id,) in _sources(ctx):
        for _kind, doc in decrypt_items(service, source_id, instance.reviewer_key):
            out.append(doc if isinstance(doc, bytes) else repr(doc).encode())
    for table, rows in table_rows(instance.config).items():
        for row in rows:
            for cell in row:
                if isinstance(cell, bytes):
                    out.append(cell)
                    try:
                        out.append(decrypt_bytes(cell, key))
                    except (CryptoError, ValueError, TypeError):
                        pass
                elif cell is not None:
                    out.append(str(cell).encode())
        out.append(table.encode())
    for row in ctx.store.outbox(key, "imap", limit=1000):
        out.append(f"{row.address} {row.text}".encode())
    return b"\n".join(out)


FAILING = ["other address", "case closed", "wrong receipt", "automatic", "two froms"]


@pytest.mark.parametrize("case", FAILING)
@pytest.mark.timeout(120)
def test_an_unproven_stop_with_digits_keeps_only_the_word(
    instance: Instance, certs: Certs, case: str
) -> None:
    _app, ctx = app_of(instance, certs)
    receipt = first_report(ctx)
    (hers,) = _sources(ctx)
    digits = receipt.replace(" ", "")
    sent = receipt
    sender = HER
    raw_header = ""
    if case == "other address":
        sender = "gunel.new@example.net"  # no thread for this address
    elif case == "case closed":
        (source_id,) = [r[0] for r in _sources(ctx)]
        ctx.store.service.set_case_status([source_id], "closed")  # her thread is deleted
    elif case == "wrong receipt":
        sent = codenames.generate_receipt()
        digits = sent.replace(" ", "")
    elif case == "automatic":
        raw_header = "Auto-Submitted: auto-replied"
    # Her 20 digits bare in the text and grouped in the Subject (kept in message.eml).
    raw = plain_mail(f"STOP {digits}", sender=f"Günel <{sender}>", subject=f"re {sent}")
    if raw_header:
        raw = headed(raw_header, raw)
    if case == "two froms":
        raw = with_two_froms(raw, "someone@example.org")
    assert digits.encode() in raw and sent.encode() in raw
    arrive(ctx, raw)
    assert hers in _sources(ctx)  # nothing withdrawn
    seen = everything_decrypted(ctx, instance)
    assert b"STOP" in seen  # the word is kept (the check above could fail)
    assert digits.encode() not in seen
    assert sent.encode() not in seen
    grouped = " ".join(digits[i : i + 4] for i in range(0, 20, 4))
    assert grouped.encode() not in seen
    # The notice is still queued where she can be answered.
    waiting = queued(ctx)
    if case in ("automatic", "two froms"):
        assert mail.needs_receipt("az", stop=True) not in waiting
    else:
        assert mail.needs_receipt("az", stop=True) in waiting or mail.needs_receipt(
            "en", stop=True
        ) in waiting
    ctx.store.close()


@pytest.mark.timeout(120)
def test_a_known_thread_gets_no_received_by_e_mail(instance: Instance, certs: Certs) -> None:
    app, ctx = app_of(instance, certs)
    first_report(ctx)
    # A robot that sends none of the automatic headers answers our answer, again and again.
    arrive(ctx, plain_mail("Thank you for your e-mail. I am out of office.", sender=HER))
    arrive(ctx, plain_mail("Thank you for your e-mail. I am out of office.", sender=HER,
                           subject="again"))  # fmt: skip
    assert queued(ctx) == []  # no "received": no loop
    # Her first answers for a new source, and command notices, still go.
    arrive(ctx, plain_mail("STOP", sender=HER))
    assert queued(ctx) == [mail.needs_receipt("az", stop=True)]
    arrive(ctx, plain_mail("Salam, kömək edin.", sender="leyla@example.org"))
    assert len(queued(ctx)) == 2  # receipt + YES explanation (as before)
    ctx.store.close()


@pytest.mark.timeout(180)
def test_at_most_max_proofs_receipts_are_checked_per_poll(
    instance: Instance, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail, "MAX_PROOFS", 2)
    with dovecot(certs) as box:
        _app, ctx = intake_app(instance, box)
        for n in range(3):
            box.append(plain_mail(f"STOP {codenames.generate_receipt()}", sender=HER,
                                  subject=f"s{n}"))  # fmt: skip
        box.append(plain_mail("Salam", sender="leyla@example.org"))
        calls: list[str] = []
        real = ctx.store.receipt_owns_thread

        def counting(msg: Any, receipt: str) -> bool:
            calls.append(receipt)
            return real(msg, receipt)

        monkeypatch.setattr(ctx.store, "receipt_owns_thread", counting)
        first = poller(ctx).poll_once()
        assert len(calls) == 2
        assert first.stored == 3 and first.deferred == 1
        assert len(box.messages()) == 1  # left in the box, not stored
        second = poller(ctx).poll_once()
        assert len(calls) == 3 and second.stored == 1 and second.deferred == 0
        assert box.messages() == []
    ctx.store.close()
