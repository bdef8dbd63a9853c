"""The whole source flow through the Flask test client."""

from __future__ import annotations

import io
import json

import pytest
from flask import Flask

from securedrop_like import codenames
from tests.conftest import Instance, SourceBrowser


def _service(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["sesim"].service


def _decrypt_all(app: Flask, instance: Instance, source_id: str) -> list[tuple[str, bytes]]:
    service = _service(app)
    out = []
    for item in service.items(source_id):
        sink = io.BytesIO()
        service.decrypt_item_to(item, instance.reviewer_key, sink)
        out.append((item.kind, sink.getvalue()))
    return out


def test_report_gives_a_seven_word_codename_that_logs_back_in(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    source.client.get("/lang/en")
    codename = source.report_and_get_codename("He asked for money and more.")
    assert len(codename.split()) == codenames.CODENAME_WORDS
    source.logout()
    response = source.login(codename.upper().replace(" ", "-"))
    assert response.status_code == 303
    assert "/case" in response.headers["Location"]
    assert "Your case" in source.case()


def test_codename_is_shown_until_she_has_checked_it_then_never_again(
    source: SourceBrowser,
) -> None:
    codename = source.report_and_get_codename()
    source.client.get("/lang/ru?next=/codename")  # switching language keeps it
    assert codename in source.client.get("/codename").get_data(as_text=True)
    assert codename not in source.case()  # only ever on its own page
    assert codename in source.client.get("/codename").get_data(as_text=True)
    token = source.token("/codename/check")
    source.client.post("/codename/check", data={"csrf_token": token, "codename": codename})
    again = source.client.get("/codename")
    assert again.status_code == 303


def test_report_and_files_are_sealed_to_the_reviewer_with_the_answers_inside(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    source.report_and_get_codename(
        "The official at the housing office said he would sign only if I met him.",
        files=[(b"\x89PNG fake image bytes" * 100, "photo.png")],
        types=["sextortion", "threats"],
        perpetrator="official",
        service="housing",
        district="nasimi",
        landmark="28 May",
        when_month="9",
        when_year="2026",
        part_of_day="evening",
        role="self",
        wants=["legal_help", "contact"],
        consent="no",
    )
    source_id = (
        source.client.get("/case") and app.extensions["sesim"].sessions.live_data()[0]["source_id"]
    )
    decrypted = _decrypt_all(app, instance, source_id)
    kinds = [k for k, _ in decrypted]
    assert kinds == ["report", "file"]
    report = json.loads(decrypted[0][1])
    assert report["format"] == "sesim-report"
    assert report["types"] == ["sextortion", "threats"]
    assert report["where"] == {"location": "nasimi", "landmark": "28 May"}
    assert report["when"] == {"precision": "month", "date": "2026-09", "part_of_day": "evening"}
    assert report["consent"] == "no"
    assert report["attachments"][0]["name"] == "photo.png"
    assert decrypted[1][1] == b"\x89PNG fake image bytes" * 100


def test_message_reply_delete_and_withdraw(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    source.client.get("/lang/en")
    source.report_and_get_codename("First report.")
    response = source.send_message("I remembered the room number.", [(b"doc", "note.txt")])
    assert response.status_code == 303
    assert "Sent." in source.client.get(response.headers["Location"]).get_data(as_text=True)
    source_id = app.extensions["sesim"].sessions.live_data()[0]["source_id"]
    service = _service(app)
    assert "No answer yet" in source.case()
    service.place_reply(source_id, "We can help you. Reply here.", "en", "lawyer")

    page = source.case()
    assert "We can help you. Reply here." in page
    assert "New" in page
    reply = next(i for i in service.items(source_id) if i.kind == "reply")
    # One tap asks first (a page of its own, no JavaScript); nothing is deleted yet.
    assert f'href="/case/replies/{reply.id}/delete"' in page
    asked = source.client.get(f"/case/replies/{reply.id}/delete")
    assert asked.status_code == 200 and "Delete this answer?" in asked.get_data(as_text=True)
    unconfirmed = source.client.post(
        f"/case/replies/{reply.id}/delete", data={"csrf_token": source.token("/case")}
    )
    assert unconfirmed.status_code == 200
    assert "Delete this answer?" in unconfirmed.get_data(as_text=True)
    assert reply.id in {i.id for i in service.items(source_id)}
    delete = source.client.post(
        f"/case/replies/{reply.id}/delete",
        data={"csrf_token": source.token("/case"), "confirm": "yes"},
    )
    assert delete.status_code == 303
    after = source.case()
    assert "We can help you" not in after and "The reply was deleted." in after
    # She was answered: the page must not now say that no answer came yet.
    assert "No answer yet" not in after and "you deleted them" in after
    assert "No answer yet" not in source.case()
    assert source.client.get("/case/replies/" + "0" * 32 + "/delete").status_code == 404

    file_ids = [i.id for i in service.items(source_id) if not i.is_inline]
    blob_ids = "SELECT id FROM blobs"
    assert file_ids and set(file_ids) <= {r[0] for r in service.db.reader().execute(blob_ids)}
    confirm = source.client.post("/case/withdraw", data={"csrf_token": source.token("/case")})
    assert confirm.status_code == 400  # the box was not ticked: nothing deleted
    assert service.items(source_id)
    done = source.client.post(
        "/case/withdraw", data={"csrf_token": source.token("/case"), "confirm": "yes"}
    )
    assert done.status_code == 200
    assert service.items(source_id) == []
    assert service.db.reader().execute(blob_ids).fetchall() == []
    from securedrop_like import models

    retractions = models.retractions(service.db.reader())
    assert len(retractions) == 1 and len(retractions[0].item_ids) == 3  # report, message, file
    assert source.login().status_code == 400
    assert source.client.get("/case").status_code == 303


def test_login_with_a_wrong_codename_says_so_in_the_chosen_language(
    source: SourceBrowser,
) -> None:
    source.client.get("/lang/en")
    response = source.login("correct horse battery staple apple banana cherry")
    assert response.status_code == 400
    assert "could not find" in response.get_data(as_text=True)


def test_she_chooses_digits_on_the_form_before_any_codename(source: SourceBrowser) -> None:
    """Issue 11, item 2: the choice is on the report form; no words are ever shown."""
    form = source.client.get("/report").get_data(as_text=True)
    assert 'name="codename_kind" value="words"' in form
    assert 'name="codename_kind" value="digits"' in form
    assert "checked" not in form.split("codename-choice")[1].split("</fieldset>")[0]
    receipt = source.report_and_get_codename(codename_kind="digits")
    assert codenames.looks_like_receipt(receipt.replace(" ", ""))
    assert len(receipt.replace(" ", "")) == codenames.RECEIPT_DIGITS
    assert receipt in source.client.get("/codename").get_data(as_text=True)  # kept for now
    source.logout()
    assert source.login(receipt.replace(" ", "-")).status_code == 303

    words = SourceBrowser(source.client.application.test_client())
    for kind in ("words", "", "nonsense"):  # nothing chosen (or anything else): words
        codename = words.report_and_get_codename(codename_kind=kind)
        assert len(codename.split()) == codenames.WORDS_PER_CODENAME["az"], codename  # az page
        words.logout()
    # The swap below the codename is gone: a number is chosen before, never after.
    token = source.token("/case")
    assert source.client.post("/codename/digits", data={"csrf_token": token}).status_code in (
        404,
        405,
    )


def test_the_choice_is_kept_when_the_form_comes_back(source: SourceBrowser) -> None:
    response = source.report("   ", codename_kind="digits")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="digits" checked' in page and 'value="words" checked' not in page


def test_codename_check_confirms_what_she_wrote_down(source: SourceBrowser) -> None:
    codename = source.report_and_get_codename()
    token = source.token("/codename/check")
    good = source.client.post("/codename/check", data={"csrf_token": token, "codename": codename})
    assert good.status_code == 200 and 'class="ok"' in good.get_data(as_text=True)
    bad = source.client.post(
        "/codename/check", data={"csrf_token": token, "codename": "wrong " * 7}
    )
    assert bad.status_code == 400


@pytest.mark.parametrize("kind", ["words", "digits"])
def test_her_case_page_leads_back_to_the_check_until_it_matches(
    source: SourceBrowser, kind: str
) -> None:
    """Issue 11, item 4: after going straight to her case page she can still check the
    codename (or number) and see it again, until a check matches; then never."""
    codename = source.report_and_get_codename(codename_kind=kind)
    page = source.client.get("/case").get_data(as_text=True)
    assert 'id="unchecked"' in page
    assert 'href="/codename/check"' in page and 'href="/codename"' in page
    assert f'data-kind="{"receipt" if kind == "digits" else "codename"}"' in page
    token = source.token("/codename/check")
    source.client.post("/codename/check", data={"csrf_token": token, "codename": codename})
    page = source.client.get("/case").get_data(as_text=True)
    assert 'id="unchecked"' not in page and 'href="/codename"' not in page


def test_a_reply_moved_from_another_item_shows_a_line_not_an_error_page(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    """Two of her replies' ciphertexts exchanged in the database: both are sealed to her
    key, only the binding to their ids tells. Her page still opens, in her language,
    and says which answers could not be opened; the others still show."""
    from contextlib import closing

    from securedrop_like import models
    from securedrop_like.db import Database

    source.client.get("/lang/az")
    source.report_and_get_codename("Report.")
    source_id = app.extensions["sesim"].sessions.live_data()[0]["source_id"]
    service = _service(app)
    first = service.place_reply(source_id, "Birinci cavab 4f1a.", "az", "lawyer")
    second = service.place_reply(source_id, "İkinci cavab 9c2e.", "az", "lawyer")
    kept = service.place_reply(source_id, "Üçüncü cavab 77d0.", "az", "lawyer")
    page = source.case()
    assert all(t in page for t in ("Birinci cavab 4f1a.", "İkinci cavab 9c2e."))
    with closing(Database.for_config(instance.config).open()) as conn, conn:
        a, b = (models.inline_ciphertext(conn, i) for i in (first, second))
        conn.execute("UPDATE items SET inline = ? WHERE id = ?", (b, first))
        conn.execute("UPDATE items SET inline = ? WHERE id = ?", (a, second))
    page = source.case()  # 200, not a 500
    unreadable = "Bu cavabı açmaq mümkün olmadı."
    assert page.count(unreadable) == 2
    assert "Birinci cavab" not in page and "İkinci cavab" not in page
    assert "Üçüncü cavab 77d0." in page and kept
    # She can still delete an answer that does not open.
    delete = source.client.post(
        f"/case/replies/{first}/delete",
        data={"csrf_token": source.token("/case"), "confirm": "yes"},
    )
    assert delete.status_code == 303
    assert source.case().count(unreadable) == 1
