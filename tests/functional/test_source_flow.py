"""The whole source flow through the Flask test client."""

from __future__ import annotations

import io
import json

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


def test_codename_is_shown_until_she_leaves_the_page_then_never_again(
    source: SourceBrowser,
) -> None:
    codename = source.report_and_get_codename()
    source.client.get("/lang/ru?next=/codename")  # switching language keeps it
    assert codename in source.client.get("/codename").get_data(as_text=True)
    assert codename not in source.case()
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
    service.place_reply(source_id, "We can help you. Reply here.", "en", "lawyer")

    page = source.case()
    assert "We can help you. Reply here." in page
    assert "New" in page
    reply = next(i for i in service.items(source_id) if i.kind == "reply")
    delete = source.client.post(
        f"/case/replies/{reply.id}/delete", data={"csrf_token": source.token("/case")}
    )
    assert delete.status_code == 303
    assert "We can help you" not in source.case()

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


def test_digits_receipt_replaces_the_codename(source: SourceBrowser) -> None:
    words = source.report_and_get_codename()
    source.client.get("/case")  # leaving the codename page ends the offer
    assert (
        source.client.post("/codename/digits", data={"csrf_token": source.token("/case")})
        .headers["Location"]
        .endswith("/case")
    )

    other = SourceBrowser(source.client.application.test_client())
    other.report_and_get_codename()
    token = other.token("/codename/check")  # not /case: visiting it ends the offer
    response = other.client.post("/codename/digits", data={"csrf_token": token})
    assert response.status_code == 200  # shown in this answer, like the first codename
    page = response.get_data(as_text=True)
    receipt = page.split('class="codename" lang="en">')[1].split("<")[0]
    assert receipt in other.client.get("/codename").get_data(as_text=True)  # and kept for now
    assert codenames.looks_like_receipt(receipt.replace(" ", ""))
    assert len(receipt.replace(" ", "")) == codenames.RECEIPT_DIGITS
    other.logout()
    assert other.login(receipt.replace(" ", "-")).status_code == 303
    assert words != receipt


def test_codename_check_confirms_what_she_wrote_down(source: SourceBrowser) -> None:
    codename = source.report_and_get_codename()
    token = source.token("/codename/check")
    good = source.client.post("/codename/check", data={"csrf_token": token, "codename": codename})
    assert good.status_code == 200 and 'class="ok"' in good.get_data(as_text=True)
    bad = source.client.post(
        "/codename/check", data={"csrf_token": token, "codename": "wrong " * 7}
    )
    assert bad.status_code == 400


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
        f"/case/replies/{first}/delete", data={"csrf_token": source.token("/case")}
    )
    assert delete.status_code == 303
    assert source.case().count(unreadable) == 1
