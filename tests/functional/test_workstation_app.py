"""The workstation's local web app through the Flask test client.

Real parts: a workstation home made by keys.init_home (weak Argon2id costs in
tests), the SQLCipher case store, the app as `sesim serve workstation` builds it.
Cases are written into the store as an import would (the browser test imports
a real export bundle end to end).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_interface.workstation import keys
from journalist_interface.workstation.app import Workstation, create_app
from tests.conftest import csrf_of

PASSPHRASE = "a long passphrase for the workstation"
WEAK = {"opslimit": 1, "memlimit": 8 * 1024 * 1024}
REPORT = {
    "text": "Müəllim məndən imtahan üçün görüş istədi. Tell nobody: unicorn-7781.",
    "types": ["sextortion", "verbal"],
    "when": {"precision": "day", "date": "2026-03-14", "part_of_day": "evening"},
    "where": {"location": "sabail", "landmark": "near the faculty"},
    "perpetrator": "teacher",
    "service": "education",
    "role": "student",
    "wants": ["legal_help"],
    "consent": "ask_first",
}
DESIGNATION = "9f3c5e7a1b2d4c6e8f0a1b2c3d4e5f60"
PDF_LIKE = b"MZ\x90\x00 this is an executable, not an image"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    keys.init_home(home, PASSPHRASE, name="Aysel", **WEAK)
    return home


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(home: Path, clock: Clock) -> Iterator[Flask]:
    application = create_app(home, None, idle_minutes=10, clock=clock, TESTING=True)
    yield application
    application.extensions["sesim_workstation"].lock()


def ws_of(app: Flask) -> Workstation:
    ws: Workstation = app.extensions["sesim_workstation"]
    return ws


def unlock(client: FlaskClient, passphrase: str = PASSPHRASE) -> int:
    token = csrf_of(client.get("/unlock").get_data(as_text=True))
    return client.post("/unlock", data={"csrf_token": token, "passphrase": passphrase}).status_code


def seed(app: Flask) -> int:
    """One case with a report, a message, an image-less attachment and a reply, as an
    import leaves it."""
    store = ws_of(app).store
    assert store is not None
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO cases(designation, channel, first_day, last_day, status) "
            "VALUES (?, 'web', '2026-03-15', '2026-03-20', 'in_progress')",
            (DESIGNATION,),
        )
        case_id = int(cur.lastrowid)
        items = [
            ("a" * 32, "report", None, "2026-03-15", "az", json.dumps(REPORT)),
            (
                "b" * 32,
                "message",
                None,
                "2026-03-20",
                "en",
                json.dumps({"message": "One more thing"}),
            ),
            ("c" * 32, "file", "b" * 32, "2026-03-20", None, None),
        ]
        for item_id, kind, parent, day, lang, doc in items:
            conn.execute(
                "INSERT INTO items(id, case_id, kind, parent_id, day, size, lang, document) "
                "VALUES (?, ?, ?, ?, ?, 100, ?, ?)",
                (item_id, case_id, kind, parent, day, lang, doc),
            )
        conn.execute(
            "INSERT INTO files(item_id, name, content_type, plain_size) VALUES (?, ?, ?, ?)",
            ("c" * 32, 'evil".exe\r\nX: y', "image/png", len(PDF_LIKE)),
        )
        conn.execute(
            "INSERT INTO file_chunks(item_id, seq, data) VALUES (?, 0, ?)", ("c" * 32, PDF_LIKE)
        )
    return case_id


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert unlock(client) == 303
    return client


def test_a_wrong_passphrase_is_refused(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/cases").status_code == 303  # locked: to the unlock page
    assert unlock(client, "not the passphrase") == 403
    assert not ws_of(app).is_unlocked
    page = client.get("/cases")
    assert page.status_code == 303 and page.location.endswith("/unlock")
    assert unlock(client) == 303
    assert client.get("/cases").status_code == 200


def test_the_passphrase_is_never_logged(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    unlock(client, "wrong but secret words")
    unlock(client)
    assert "secret words" not in caplog.text and PASSPHRASE not in caplog.text


def test_every_page_answers(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    for path in [
        "/",
        "/cases",
        "/cases?q=imtahan",
        "/cases?tag=x",
        f"/cases/{case_id}",
        "/import",
        "/stats",
        "/stats?view=shared",
        "/stats.csv",
        f"/files/{'c' * 32}",
        f"/files/{'c' * 32}/download",
    ]:
        response = client.get(path)
        assert response.status_code in (200, 303), path
    assert client.get("/lang/ru?next=/cases").status_code == 303
    client.get("/lang/az")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    # Her answers, translated (az by default), her text, her message.
    assert "unicorn-7781" in page and "One more thing" in page
    assert "Səbail" in page
    assert "in_progress" in page  # the case status from the export


def test_search_finds_her_words(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    store = ws_of(app).store
    assert store is not None
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO search_index(body, item_id, case_id) VALUES (?, ?, ?)",
            (REPORT["text"], "a" * 32, case_id),
        )
    assert f"/cases/{case_id}" in client.get("/cases?q=unicorn").get_data(as_text=True)
    assert f"/cases/{case_id}" not in client.get("/cases?q=zebra").get_data(as_text=True)
    assert client.get('/cases?q="unbalanced AND (').status_code == 200


def test_search_finds_a_case_by_its_designation(app: Flask, client: FlaskClient) -> None:
    from securedrop_like import designations

    case_id = seed(app)
    label = designations.label("9f3c5e7a1b2d4c6e8f0a1b2c3d4e5f60", "az")  # as the staff see it
    assert f"/cases/{case_id}" in client.get(f"/cases?q={label}").get_data(as_text=True)
    assert label in client.get("/cases").get_data(as_text=True)
    other = "9f3c5e7a1b2d4c6e8f0a1b2c3d4e5f61"
    assert designations.label(other, "az") != label
    missing = client.get(f"/cases?q={designations.label(other, 'az')}").get_data(as_text=True)
    assert f"/cases/{case_id}" not in missing


@pytest.mark.parametrize(
    "path",
    [
        "/cases/999999",
        "/cases/abc",
        "/cases/-1",
        "/files/nothing",
        "/files/" + "x" * 300,
        "/files/%00/download",
        "/files/c/page/0.png",
        "/import/nojob",
        "/nowhere",
        "/cases?page=zz",
        "/cases/99999999999999999999",
        "/drafts?case_id=99999999999999999999",
        "/publication/99999999999999999999",
        "/files/x/page/99999999999999999999.png",
        "/cases?page=99999999999999",
    ],
)
def test_bad_ids_are_no_500(app: Flask, client: FlaskClient, path: str) -> None:
    seed(app)
    assert client.get(path).status_code in (200, 404)


def test_bad_uploads_are_no_500(client: FlaskClient, tmp_path: Path) -> None:
    token = csrf_of(client.get("/import").get_data(as_text=True))
    assert client.post("/import", data={"csrf_token": token}).status_code == 400
    missing = client.post("/import", data={"csrf_token": token, "path": str(tmp_path / "none.zip")})
    assert missing.status_code == 400
    assert (
        client.post("/import", data={"csrf_token": token, "path": "\x00" * 10}).status_code == 400
    )


def test_a_file_that_is_no_bundle_fails_calmly(app: Flask, client: FlaskClient) -> None:
    import io

    token = csrf_of(client.get("/import").get_data(as_text=True))
    started = client.post(
        "/import",
        data={"csrf_token": token, "bundle": (io.BytesIO(b"not a zip at all"), "photo.zip")},
        content_type="multipart/form-data",
    )
    if started.status_code == 501:  # the importer is not in this build
        pytest.skip("importer.py missing")
    assert started.status_code == 303
    for job in ws_of(app).jobs.values():
        assert job.thread is not None
        job.thread.join(timeout=30)
    page = client.get(started.location)
    assert page.status_code == 200
    assert 'class="err"' in page.get_data(as_text=True)
    assert not list((ws_of(app).home / "spool").glob("import-*"))  # the upload is removed


def test_a_post_without_its_token_is_refused(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    refused = client.post(f"/cases/{case_id}/notes", data={"note": "forged"})
    assert refused.status_code == 400
    other_site = client.post(
        f"/cases/{case_id}/notes",
        data={
            "note": "forged",
            "csrf_token": csrf_of(client.get(f"/cases/{case_id}").get_data(as_text=True)),
        },
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert other_site.status_code == 400
    assert app.test_client().post("/unlock", data={"passphrase": PASSPHRASE}).status_code == 400
    assert "forged" not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert app.test_client().post("/lock").status_code == 400


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "192.168.1.5", "rebind.example:8082"]
)
def test_a_foreign_host_is_refused(client: FlaskClient, host: str) -> None:
    assert client.get("/cases", headers={"Host": host}).status_code == 421
    assert client.get("/unlock", headers={"Host": host}).status_code == 421


@pytest.mark.parametrize("host", ["127.0.0.1:8082", "localhost:8082", "[::1]:8082"])
def test_loopback_names_are_served(client: FlaskClient, host: str) -> None:
    # (The session cookie belongs to the test client's own name: other names get the unlock page.)
    assert client.get("/cases", headers={"Host": host}).status_code in (200, 303)
    assert client.get("/unlock", headers={"Host": host}).status_code in (200, 303)


def test_strict_headers_on_every_page(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    for path in [
        "/unlock",
        "/cases",
        f"/cases/{case_id}",
        "/stats.csv",
        f"/files/{'c' * 32}/download",
        "/nowhere",
    ]:
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, path
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_lock_wipes_the_key(app: Flask, client: FlaskClient) -> None:
    ws = ws_of(app)
    unlocked = ws.unlocked
    assert unlocked is not None
    page = client.get("/cases").get_data(as_text=True)
    assert client.post("/lock", data={"csrf_token": csrf_of(page)}).status_code == 303
    assert unlocked.wiped and ws.unlocked is None and ws.store is None
    assert client.get("/cases").status_code == 303
    assert client.get("/stats.csv").status_code == 303


def test_idle_timeout_wipes_the_key(app: Flask, client: FlaskClient, clock: Clock) -> None:
    ws = ws_of(app)
    unlocked = ws.unlocked
    assert unlocked is not None
    clock.now += 9 * 60
    assert client.get("/cases").status_code == 200  # a request keeps it open
    clock.now += 9 * 60
    assert client.get("/cases").status_code == 200
    clock.now += 11 * 60
    assert client.get("/cases").status_code == 303
    assert unlocked.wiped and ws.unlocked is None


def test_another_browser_cannot_use_the_unlocked_key(app: Flask, client: FlaskClient) -> None:
    seed(app)
    stranger = app.test_client()
    response = stranger.get("/cases")
    assert response.status_code == 303 and response.location.endswith("/unlock")
    assert stranger.get(f"/files/{'c' * 32}/download").status_code == 303
    assert client.get("/cases").status_code == 200


def test_a_file_is_offered_only_as_an_attachment(app: Flask, client: FlaskClient) -> None:
    seed(app)
    page = client.get(f"/files/{'c' * 32}")
    assert page.status_code == 200
    # Declared image/png, but its bytes are no image: never rendered, only offered.
    assert "/page/0.png" not in page.get_data(as_text=True)
    download = client.get(f"/files/{'c' * 32}/download")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\r" not in disposition and "\n" not in disposition and disposition.count('"') == 2
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.data == PDF_LIKE


def test_notes_and_tags_are_kept_encrypted(app: Flask, client: FlaskClient, home: Path) -> None:
    case_id = seed(app)
    token = csrf_of(client.get(f"/cases/{case_id}").get_data(as_text=True))
    assert (
        client.post(
            f"/cases/{case_id}/notes",
            data={"csrf_token": token, "note": "Called the lawyer zanzibar"},
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/cases/{case_id}/tags", data={"csrf_token": token, "tag": "Zanzibar-Tag"}
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/cases/{case_id}/notes", data={"csrf_token": token, "note": "   "}
        ).status_code
        == 303
    )
    assert (
        client.post(f"/cases/{case_id}/tags", data={"csrf_token": token, "tag": "!!!"}).status_code
        == 303
    )
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Called the lawyer zanzibar" in page and "zanzibar-tag" in page
    assert "zanzibar-tag" in client.get("/cases?tag=zanzibar-tag").get_data(as_text=True)
    ws_of(app).lock()
    for path in home.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert b"zanzibar" not in raw.lower() and b"unicorn-7781" not in raw, path


def test_reading_a_case_clears_its_unread_count(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    assert 'class="unread"' in client.get("/cases").get_data(as_text=True)
    client.get(f"/cases/{case_id}")
    assert 'class="unread"' not in client.get("/cases").get_data(as_text=True)


def test_the_statistics_csv_hides_small_counts(app: Flask, client: FlaskClient) -> None:
    seed(app)
    csv = client.get("/stats.csv")
    assert csv.headers["Content-Disposition"].startswith("attachment;")
    text = csv.get_data(as_text=True)
    assert "<5" in text and ",1\r\n" not in text
    assert "unicorn" not in text and "faculty" not in text
    assert ">1<" in client.get("/stats").get_data(as_text=True)  # her own screen: every count


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_pages_in_every_language(app: Flask, client: FlaskClient, lang: str) -> None:
    case_id = seed(app)
    client.get(f"/lang/{lang}")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    expected = {"az": "Səbail", "ru": "Сабаил", "en": "Sabail"}[lang]
    assert expected in page


def _png_with_secret() -> bytes:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 40.3777 49.8920 secret-metadata")
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _add_file(app: Flask, case_id: int, item_id: str, data: bytes, name: str) -> None:
    store = ws_of(app).store
    assert store is not None
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO items(id, case_id, kind, parent_id, day, size) "
            "VALUES (?, ?, 'file', ?, '2026-03-15', 1)",
            (item_id, case_id, "a" * 32),
        )
        conn.execute(
            "INSERT INTO files(item_id, name, content_type, plain_size) "
            "VALUES (?, ?, 'image/png', ?)",
            (item_id, name, len(data)),
        )
        conn.execute(
            "INSERT INTO file_chunks(item_id, seq, data) VALUES (?, 0, ?)", (item_id, data)
        )


def test_an_image_is_shown_only_as_a_safe_rendering(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    original = _png_with_secret()
    _add_file(app, case_id, "d" * 32, original, "photo.png")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/files/{'d' * 32}/page/0.png" in page
    rendering = client.get(f"/files/{'d' * 32}/page/0.png")
    assert rendering.status_code == 200 and rendering.headers["Content-Type"] == "image/png"
    assert rendering.data.startswith(b"\x89PNG") and rendering.data != original
    assert b"secret-metadata" not in rendering.data
    # Kept in the case store: the second time comes from there.
    store = ws_of(app).store
    assert store is not None
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM renderings").fetchone()[0] == 1
    assert client.get(f"/files/{'d' * 32}/page/0.png").data == rendering.data
    assert client.get(f"/files/{'d' * 32}/page/1.png").status_code == 404


def test_a_broken_image_gets_a_reason_not_a_crash(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    _add_file(app, case_id, "e" * 32, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "broken.png")
    assert client.get(f"/files/{'e' * 32}/page/0.png").status_code == 422
    page = client.get(f"/files/{'e' * 32}")
    assert page.status_code == 200 and 'class="err"' in page.get_data(as_text=True)
    assert client.get(f"/cases/{case_id}").status_code == 200


def _give_her_a_key(app: Flask, case_id: int) -> None:
    from crypto import PrivateKey

    store = ws_of(app).store
    assert store is not None
    with store.transaction() as conn:
        conn.execute(
            "UPDATE cases SET source_public_key = ? WHERE id = ?",
            (PrivateKey.generate().public_key.raw, case_id),
        )


def test_a_reply_is_sealed_and_leaves_in_a_bundle(app: Flask, client: FlaskClient) -> None:
    import io
    import tarfile

    case_id = seed(app)
    page = client.get(f"/cases/{case_id}?template=acknowledgement&tlang=en").get_data(as_text=True)
    assert "Thank you for writing to us" in page  # the staff interface's template fills the box
    token = csrf_of(page)
    # No key for her yet (an export v1): a calm message, nothing stored.
    no_key = client.post(
        f"/cases/{case_id}/reply", data={"csrf_token": token, "text": "Hello", "lang": "en"}
    )
    assert no_key.status_code == 400
    assert 'role="alert"' in no_key.get_data(as_text=True)
    assert ">Hello</textarea>" in no_key.get_data(as_text=True)  # her reply is not lost
    assert "No reply is waiting" in client.get(
        "/lang/en?next=/replies", follow_redirects=True
    ).get_data(as_text=True)
    _give_her_a_key(app, case_id)
    assert (
        client.post(f"/cases/{case_id}/reply", data={"csrf_token": token, "text": "  "}).status_code
        == 303
    )
    sent = client.post(
        f"/cases/{case_id}/reply",
        data={"csrf_token": token, "text": "We read it: zebra-reply", "lang": "ru"},
    )
    assert sent.status_code == 303
    assert "zebra-reply" in client.get(f"/cases/{case_id}").get_data(as_text=True)
    replies_page = client.get("/replies").get_data(as_text=True)
    assert "1 reply is waiting" in replies_page
    # A download that breaks off half-way loses no reply: it is still waiting.
    dropped = client.post("/replies/bundle", data={"csrf_token": csrf_of(replies_page)})
    assert dropped.status_code == 200
    assert next(iter(dropped.response))
    dropped.close()
    assert "1 reply is waiting" in client.get("/replies").get_data(as_text=True)
    bundle = client.post("/replies/bundle", data={"csrf_token": csrf_of(replies_page)})
    assert bundle.status_code == 200
    assert bundle.headers["Content-Disposition"].startswith("attachment;")
    assert b"zebra-reply" not in bundle.data  # sealed
    with tarfile.open(fileobj=io.BytesIO(bundle.data)) as tar:
        assert tar.getnames()
    assert "No reply is waiting" in client.get("/replies").get_data(as_text=True)
    # Nothing pending: the button sends back to the page, no empty bundle.
    assert (
        client.post("/replies/bundle", data={"csrf_token": csrf_of(replies_page)}).status_code
        == 303
    )


def test_a_draft_from_a_case(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    _give_her_a_key(app, case_id)
    client.get("/lang/en")
    listing = client.get(f"/drafts?case_id={case_id}")
    assert listing.status_code == 200
    made = client.post(
        f"/cases/{case_id}/drafts", data={"csrf_token": csrf_of(listing.get_data(as_text=True))}
    )
    assert made.status_code == 303
    draft_url = made.location
    page = client.get(draft_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    token = csrf_of(html)
    # Her story (consent: ask me first) is in the draft, not yet publishable.
    assert "unicorn-7781" in html
    refused = client.post(draft_url + "/accept", data={"csrf_token": token})
    assert refused.status_code == 303 and "error=not_ready" in refused.location
    saved = client.post(
        draft_url,
        data={
            "csrf_token": token,
            "types": ["verbal", "bogus"],
            "district": "sabail",
            "month": "2026-03",
            "perpetrator": "teacher",
            "service": "education",
            "language": "en",
            "summary": "A teacher asked for a meeting. Call +994 50 123 45 67",
            "story": "",
        },
    )
    assert saved.status_code == 303
    html = client.get(draft_url).get_data(as_text=True)
    if importlib.util.find_spec("journalist_interface.workstation.redact") is None:
        assert "redaction check is not in this build" in html
    else:
        assert '<mark id="hit-summary-0">+994 50 123 45 67</mark>' in html
    bad = client.post(
        draft_url, data={"csrf_token": token, "month": "March", "summary": "Kept words xyz"}
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.get_data(as_text=True)
    assert "Kept words xyz</textarea>" in bad.get_data(as_text=True)  # nothing lost
    for month in ("1999-12", "2999-01"):  # the bundle's rule: 2000-01 to this month
        bad = client.post(
            draft_url, data={"csrf_token": token, "month": month, "summary": "Kept words xyz"}
        )
        assert bad.status_code == 400 and "2000-01 to this month" in bad.get_data(as_text=True)
    assert client.get("/drafts/" + "f" * 32).status_code == 404
    assert client.get("/drafts/nothex").status_code == 404
    assert (
        client.post("/drafts/" + "f" * 32 + "/accept", data={"csrf_token": token}).status_code
        == 404
    )


def _draft_of(client: FlaskClient, case_id: int) -> tuple[str, str]:
    client.get("/lang/en")
    listing = client.get(f"/drafts?case_id={case_id}").get_data(as_text=True)
    made = client.post(f"/cases/{case_id}/drafts", data={"csrf_token": csrf_of(listing)})
    assert made.status_code == 303
    return made.location, csrf_of(client.get(made.location).get_data(as_text=True))


def _save(client: FlaskClient, url: str, token: str, summary: str, story: str) -> None:
    form = {"csrf_token": token, "types": ["verbal"], "district": "sabail", "month": "2026-03",
            "perpetrator": "teacher", "service": "education", "language": "en",
            "summary": summary, "story": story}  # fmt: skip
    assert client.post(url, data=form).status_code == 303


def test_her_consent_redaction_and_the_publication_bundle(
    app: Flask, client: FlaskClient, home: Path
) -> None:
    """Redact a hit, keep another with a reason, ask her (a reply carrying the draft),
    her approval arrives, accept, and download the signed publication bundle."""
    from securedrop_like.bundles.publication import read_publication

    case_id = seed(app)
    _give_her_a_key(app, case_id)
    url, token = _draft_of(client, case_id)
    _save(client, url, token, "A teacher asked for a meeting. Write to x@example.org",
          "He called me at 050 123 45 67 after the exam.")  # fmt: skip
    html = client.get(url).get_data(as_text=True)
    assert '<mark id="hit-summary-0">x@example.org</mark>' in html
    assert "<mark" in html and "050 123 45 67" in html
    # Asking her before the details are dealt with is refused: she must see the final text.
    asked = client.post(url + "/ask", data={"csrf_token": token})
    assert "error=redact_first" in asked.location
    # A stale redaction (wrong offsets) changes nothing.
    stale_form = {"csrf_token": token, "field": "story", "start": "0", "end": "3", "text": "050"}
    stale = client.post(url + "/redact", data=stale_form)
    assert "error=stale" in stale.location
    start = len("He called me at ")
    done = client.post(url + "/redact", data={"csrf_token": token, "field": "story",
                                              "start": str(start), "end": str(start + 13),
                                              "text": "050 123 45 67"})  # fmt: skip
    assert "done=redacted" in done.location
    assert client.post(url + "/keep", data={"csrf_token": token, "field": "summary",
                                            "kind": "email", "text": "x@example.org",
                                            "reason": ""}).location.endswith("#check")  # fmt: skip
    kept = client.post(url + "/keep", data={"csrf_token": token, "field": "summary",
                                            "kind": "email", "text": "x@example.org",
                                            "reason": "The centre's public address"})  # fmt: skip
    assert "done=kept" in kept.location
    html = client.get(url).get_data(as_text=True)
    assert "050 123 45 67" not in html and "He called me at […] after the exam." in html
    assert '<mark id="hit-' not in html
    # Her consent is "ask me first": the draft goes to her inside a reply.
    assert "done=asked" in client.post(url + "/ask", data={"csrf_token": token}).location
    store = ws_of(app).store
    assert store is not None
    draft_id = url.rsplit("/", 1)[1]
    with store.connection() as conn:
        (doc,) = conn.execute(
            "SELECT document FROM items WHERE case_id = ? AND kind = 'reply'", (case_id,)
        ).fetchone()
    request_doc = json.loads(doc)["consent_request"]
    request_id = request_doc["draft_id"]  # a fresh id per request, not the draft's
    assert request_id != draft_id and "[…]" in request_doc["text"]
    refused = client.post(url + "/accept", data={"csrf_token": token})
    assert "error=not_ready" in refused.location
    # Her approval comes back in an export bundle (as the importer stores it).
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO consent_decisions(case_id, draft_id, decision, day)"
            " VALUES (?, ?, 'approve', '2026-03-21')",
            (case_id, request_id),
        )
    assert "She approved this draft." in client.get(url).get_data(as_text=True)
    assert "done=accepted" in client.post(url + "/accept", data={"csrf_token": token}).location
    drafts = client.get("/drafts").get_data(as_text=True)
    assert "1 entry is ready to publish." in drafts
    bundle = client.post("/publication", data={"csrf_token": csrf_of(drafts)})
    assert bundle.status_code == 200
    assert bundle.headers["Content-Disposition"].startswith("attachment;")
    publication = read_publication(bundle.data, keys.key_info(home).verify_key)
    assert publication.sequence == 1
    (entry,) = publication.entries
    assert entry.story == "He called me at […] after the exam."
    assert "unicorn" not in bundle.data.decode() and "050 123" not in bundle.data.decode()
    again = client.get("/publication/1")
    assert again.data == bundle.data
    # Nothing more to publish: back to the page with a message, no empty bundle.
    nothing = client.post("/publication", data={"csrf_token": csrf_of(drafts)})
    assert nothing.status_code == 303 and "done=nothing" in nothing.location
    assert client.get("/publication/7").status_code == 404
    # Taken off the map again, one entry, after a confirmation.
    page = client.get(url).get_data(as_text=True)
    assert 'id="retract"' in page and entry.id in page
    unconfirmed = client.post(url + "/retract", data={"csrf_token": token})
    assert "error=confirm_retract" in unconfirmed.location
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM retraction_queue").fetchone()[0] == 0
    retracted = client.post(url + "/retract", data={"csrf_token": token, "confirm": "yes"})
    assert "done=retracted" in retracted.location
    assert "will be taken off the map" in client.get(retracted.location).get_data(as_text=True)
    assert "1 retraction is waiting." in client.get("/drafts").get_data(as_text=True)
    again = client.post(url + "/retract", data={"csrf_token": token, "confirm": "yes"})
    assert "error=not_published" in again.location


def _pdf() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    pages = [Image.new("RGB", (60, 80), c) for c in ((200, 0, 0), (0, 200, 0))]
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:])
    return out.getvalue()


def test_a_pdf_is_shown_as_page_renderings(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    _add_file(app, case_id, "f" * 32, _pdf(), "letter.pdf")
    assert f"/files/{'f' * 32}" in client.get(f"/cases/{case_id}").get_data(as_text=True)
    page = client.get(f"/files/{'f' * 32}").get_data(as_text=True)
    assert f"/files/{'f' * 32}/page/0.png" in page and f"/files/{'f' * 32}/page/1.png" in page
    second = client.get(f"/files/{'f' * 32}/page/1.png")
    assert second.status_code == 200 and second.data.startswith(b"\x89PNG")
    assert client.get(f"/files/{'f' * 32}/page/2.png").status_code == 404


def test_a_withdrawal_takes_her_notes_tags_and_renderings_too(
    app: Flask, client: FlaskClient
) -> None:
    from journalist_interface.workstation.importer import apply_withdrawal

    case_id = seed(app)
    _add_file(app, case_id, "d" * 32, _png_with_secret(), "photo.png")
    assert client.get(f"/files/{'d' * 32}/page/0.png").status_code == 200
    token = csrf_of(client.get(f"/cases/{case_id}").get_data(as_text=True))
    client.post(f"/cases/{case_id}/notes", data={"csrf_token": token, "note": "Her aunt: Leyla"})
    client.post(f"/cases/{case_id}/tags", data={"csrf_token": token, "tag": "police"})
    store = ws_of(app).store
    assert store is not None
    with store.transaction() as conn:
        assert apply_withdrawal(
            conn, "9" * 32, "9f3c5e7a1b2d4c6e8f0a1b2c3d4e5f60", "2026-04-01", []
        )
    with store.connection() as conn:
        for table in ("case_notes", "case_tags", "renderings", "item_reads"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table  # noqa: S608
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Leyla" not in page and "unicorn-7781" not in page
    assert client.get(f"/files/{'d' * 32}/page/0.png").status_code == 404
    # Nothing can be sent to her any more.
    sent = client.post(f"/cases/{case_id}/reply", data={"csrf_token": token, "text": "Hello"})
    assert "done=withdrawn" in sent.location


def test_started_unlocked_for_the_demo_until_lock(home: Path) -> None:
    unlocked = keys.unlock(home, PASSPHRASE)
    application = create_app(home, unlocked, TESTING=True)
    try:
        anyone = application.test_client()
        page = anyone.get("/cases")
        assert page.status_code == 200
        anyone.post("/lock", data={"csrf_token": csrf_of(page.get_data(as_text=True))})
        assert unlocked.wiped
        assert application.test_client().get("/cases").status_code == 303
    finally:
        ws_of(application).lock()


GARBAGE = [
    "",
    "x" * 100_000,
    "\x00\u202e\ufeff",
    "-1",
    "99999999999999999999",
    "<script>",
    "' OR 1=1 --",
]


def test_no_post_answers_500_to_garbage(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    _give_her_a_key(app, case_id)
    draft_url, token = _draft_of(client, case_id)
    paths = [
        f"/cases/{case_id}/notes", f"/cases/{case_id}/notes/1/delete", f"/cases/{case_id}/tags",
        f"/cases/{case_id}/unread", f"/cases/{case_id}/reply", f"/cases/{case_id}/drafts",
        draft_url, draft_url + "/redact", draft_url + "/keep", draft_url + "/ask",
        draft_url + "/accept", "/import", "/replies/bundle", "/publication",
    ]  # fmt: skip
    fields = ["note", "tag", "action", "text", "lang", "types", "district", "station", "month",
              "perpetrator", "service", "language", "summary", "story", "field", "start", "end",
              "kind", "reason", "path"]  # fmt: skip
    seen = set()
    for path in paths:
        for value in GARBAGE:
            form = {"csrf_token": token, **dict.fromkeys(fields, value)}
            response = client.post(path, data=form)
            assert response.status_code < 500, (path, value[:20])
            seen.add(response.status_code)
    assert 303 in seen and 400 in seen  # the token was good: the views ran
    assert client.get(f"/cases/{case_id}").status_code == 200


def test_a_case_whose_consent_is_no_gets_no_draft(app: Flask, client: FlaskClient) -> None:
    case_id = seed(app)
    store = ws_of(app).store
    assert store is not None
    with store.transaction() as conn:
        conn.execute(
            "UPDATE items SET document = json_set(document, '$.consent', 'no') WHERE id = ?",
            ("a" * 32,),
        )
    page = client.get(f"/drafts?case_id={case_id}").get_data(as_text=True)
    made = client.post(f"/cases/{case_id}/drafts", data={"csrf_token": csrf_of(page)})
    assert made.status_code == 303 and "done=no_draft" in made.location
    assert "onun işindən heç nə dərc olunmur" in client.get(made.location).get_data(as_text=True)
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0


def test_a_swapped_key_shows_a_warning_and_stops_replies(app: Flask, client: FlaskClient) -> None:
    import io

    from crypto import EnvelopeContext, PrivateKey, encrypt_bytes
    from journalist_interface.workstation import keypin
    from securedrop_like import bundles
    from securedrop_like.store import new_id

    case_id = seed(app)
    _give_her_a_key(app, case_id)
    token = csrf_of(client.get(f"/cases/{case_id}").get_data(as_text=True))
    sent = client.post(
        f"/cases/{case_id}/reply", data={"csrf_token": token, "text": "first", "lang": "en"}
    )
    assert sent.status_code == 303
    # An export naming the server's own key for her, imported through the page.
    store, unlocked = ws_of(app).opened()
    message = new_id()
    sealed = encrypt_bytes(
        b'{"format":"sesim-message","v":1,"text":"hi","lang":"az"}',
        [unlocked.submission.public_key],
        context=EnvelopeContext.for_item("message", message),
    )
    bundle = io.BytesIO()
    bundles.write_export(
        bundle,
        [
            bundles.ExportItem(
                message, DESIGNATION, "message", None, "2026-05-02", len(sealed),
                open=lambda: io.BytesIO(sealed),
            )
        ],
        [],
        "2026-05-02",
        sources=[bundles.ExportSource(DESIGNATION, PrivateKey.generate().public_key, "web")],
    )  # fmt: skip
    bundle.seek(0)
    started = client.post(
        "/import",
        data={"csrf_token": token, "bundle": (bundle, "export.tar")},
        content_type="multipart/form-data",
    )
    assert started.status_code == 303
    for job in ws_of(app).jobs.values():
        assert job.thread is not None
        job.thread.join(timeout=30)
    result_page = client.get(started.location).get_data(as_text=True)
    assert 'id="key-conflicts"' in result_page and DESIGNATION in result_page
    with store.connection() as conn:
        assert keypin.key_conflict(conn, case_id) is not None
    page = client.get(f"/lang/ru?next=/cases/{case_id}", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert 'id="key-warning"' in text and "Её ключ изменился" in text
    assert f"accept-new-key {case_id}" in text
    refused = client.post(
        f"/cases/{case_id}/reply", data={"csrf_token": token, "text": "second", "lang": "en"}
    )
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "Сервер назвал для неё другой ключ" in body and ">second</textarea>" in body
