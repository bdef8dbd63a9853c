"""The reviewer workstation in a real Chromium, from her report to the reply bundle.

The whole flow across apps: women report through the source app (one with a
photo), a lawyer downloads "everything unread" from the staff interface in the
browser (export bundle v2), and the reviewer, on the workstation served on
127.0.0.1, unlocks it with her passphrase, imports that bundle (progress page,
meta refresh), opens a case, sees the photo only as a sandbox rendering, writes
a reply and downloads the reply bundle, which the staff interface accepts.
All with JavaScript off. Then axe-core checks every workstation page in az, ru
and en (JavaScript on and CSP bypassed in that context only).
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from crypto import read_public_key_file
from journalist_interface.workstation import keys
from journalist_interface.workstation.server import THREADS, make_workstation_server
from securedrop_like import bundles, db, models
from tests.browser.conftest import (
    AXE_JS,
    LAPTOP,
    LiveStaff,
    _QuietHandler,
    laptop_context,
)
from tests.browser.test_source_browser import (
    AXE_RUN_JS,
    BLOCKING_IMPACTS,
    html_lang,
    path_of,
    submit,
    switch_language,
)
from tests.browser.test_staff_browser import add_account, log_in
from tests.conftest import FAST_ARGON2, Instance, SourceBrowser

pytestmark = pytest.mark.browser

PASSPHRASE = "the reviewer's long passphrase"
REPORT_TEXT = "Polis idarəsində məndən pul və görüş istədilər. Marker okapi-5521."
OTHER_TEXT = "A man followed me from the metro every evening. Marker quokka-9034."
REPLY_TEXT = "We read your report. A lawyer will write to you soon. Marker narwhal-1207."
EVERY_PAGE = [
    "unlock",
    "unlock-error",
    "cases",
    "case",
    "file",
    "import",
    "import-error",
    "replies",
    "stats",
    "drafts",
    "draft",
    "not-found",
]


def photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    image = Image.new("RGB", (64, 48), (30, 120, 200))
    image.save(out, "JPEG", exif=b"Exif\x00\x00" + b"secret-camera-serial" * 3)
    return out.getvalue()


@dataclass
class LiveWorkstation:
    app: Flask
    url: str
    home: Path

    def __call__(self, path: str = "/") -> str:
        return self.url + path

    def gettext(self, lang: str, msgid: str, **variables: Any) -> str:
        from flask_babel import force_locale, gettext

        with self.app.test_request_context("/"), force_locale(lang):
            return str(gettext(msgid, **variables))


@dataclass
class World:
    staff: LiveStaff
    source_app: Flask
    ws: LiveWorkstation
    bundle: Path  # the export bundle the staff interface gave


def _serve(app: Flask, name: str, server: Any = None) -> tuple[Any, threading.Thread, str]:
    if server is None:
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path, chromium: Any
) -> Iterator[World]:
    from journalist_interface import create_app as create_staff_app
    from journalist_interface.accounts import StaffAccounts
    from journalist_interface.workstation.app import create_app as create_ws_app
    from securedrop_like.instance import init_instance
    from source_interface import create_app as create_source_app

    base = tmp_path_factory.mktemp("workstation-flow")
    # The reviewer's workstation, and its public key as the instance's one reviewer.
    home = base / "workstation"
    info = keys.init_home(home, PASSPHRASE, name="Nərmin", opslimit=1, memlimit=8 * 1024 * 1024)
    public = read_public_key_file(info.submission_key_file)
    config = init_instance(base / "instance", dict(FAST_ARGON2))
    conn = db.Database.for_config(config).open()
    try:
        conn.execute("BEGIN IMMEDIATE")
        models.insert_reviewer_key(
            conn, key_id=public.key_id, name="Nərmin", public_key=public.raw, day=db.today()
        )
        conn.execute("COMMIT")
    finally:
        conn.close()

    source_app = create_source_app(config, TESTING=True)
    woman = SourceBrowser(source_app.test_client())
    woman.report_and_get_codename(REPORT_TEXT, files=[(photo(), "photo.jpg")])
    SourceBrowser(source_app.test_client()).report_and_get_codename(OTHER_TEXT)

    accounts = StaffAccounts(db.Database.for_config(config), opslimit=1, memlimit=8 * 1024 * 1024)
    staff_app = create_staff_app(config, accounts=accounts)
    staff_app.extensions["babel"].translation_directories = [str(compiled_translations)]
    staff_server, staff_thread, staff_url = _serve(staff_app, "live-staff")
    staff = LiveStaff(staff_app, staff_url, Instance(config, None), accounts)  # type: ignore[arg-type]

    ws_app = create_ws_app(home, None)
    ws_app.extensions["babel"].translation_directories = [str(compiled_translations)]
    # The workstation on the server `sesim workstation serve` runs (a pool of threads).
    ws_server, ws_thread, ws_url = _serve(
        ws_app, "live-workstation", make_workstation_server(ws_app, "127.0.0.1", 0)
    )
    try:
        # The lawyer downloads everything unread, in the browser.
        lawyer = add_account(staff, "rena", "en")
        context = laptop_context(chromium, java_script_enabled=False, accept_downloads=True)
        page = context.new_page()
        log_in(page, staff, lawyer)
        assert path_of(page) == "/", page.content()[:2000]
        with page.expect_download() as download:
            page.get_by_role("button", name="Download everything unread", exact=True).click()
        bundle = base / "export.tar"
        download.value.save_as(bundle)
        context.close()
        yield World(staff, source_app, LiveWorkstation(ws_app, ws_url, home), bundle)
    finally:
        for server, thread in ((ws_server, ws_thread), (staff_server, staff_thread)):
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
        ws_app.extensions["sesim_workstation"].lock()
        staff_app.extensions["sesim_staff"].reports.close()
        source_app.extensions["sesim"].service.close()


def unlock(page: Any, ws: LiveWorkstation, passphrase: str = PASSPHRASE) -> None:
    page.goto(ws("/unlock"))
    page.fill("#passphrase", passphrase)
    submit(page, "main form")


def import_bundle(page: Any, ws: LiveWorkstation, bundle: Path) -> None:
    page.goto(ws("/import"))
    page.set_input_files("#bundle", str(bundle))
    submit(page, "main form")
    assert re.fullmatch(r"/import/[\w-]+", path_of(page))
    # The progress page refreshes itself (meta refresh, no JavaScript) until done.
    page.wait_for_selector("main progress[value='1'][max='1'], main .err", timeout=30_000)


def test_from_her_report_to_the_reply_bundle(world: World, chromium: Any, tmp_path: Path) -> None:
    ws = world.ws
    context = laptop_context(chromium, java_script_enabled=False, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(ws("/"))
        assert path_of(page) == "/unlock"  # locked at start
        page.goto(ws("/lang/en?next=/unlock"))
        unlock(page, ws, "not the passphrase")
        assert page.locator("#unlock-error[role=alert]").count() == 1
        unlock(page, ws)
        assert path_of(page) == "/cases"

        import_bundle(page, ws, world.bundle)
        assert page.locator("main .err").count() == 0, page.content()[:3000]
        facts = page.locator("main dl.facts dd").all_inner_texts()
        assert facts[0] == "3" and facts[1] == "3", facts  # 2 reports + 1 photo, all new

        # Importing the same bundle again changes nothing.
        import_bundle(page, ws, world.bundle)
        assert page.locator("main dl.facts dd").all_inner_texts()[1] == "0"

        page.goto(ws("/cases"))
        assert page.locator("main table tbody tr.unread").count() == 2
        page.fill("#q", "okapi")
        submit(page, "main form[role=search]")
        links = page.locator("main table tbody a[href^='/cases/']")
        assert links.count() == 1

        rendered: list[Any] = []
        page.on(
            "response", lambda r: rendered.append(r) if re.search(r"/page/0\.png$", r.url) else None
        )
        with page.expect_navigation():
            links.first.click()
        assert "okapi-5521" in page.locator("main").inner_text()
        img = page.locator("main img.rendering")
        assert img.count() == 1
        page.wait_for_load_state("load")
        assert rendered and rendered[0].status == 200
        body = rendered[0].body()
        assert body.startswith(b"\x89PNG") and b"secret-camera-serial" not in body
        assert rendered[0].headers["content-type"] == "image/png"

        page.fill("#reply-text", REPLY_TEXT)
        submit(page, "main form[action$='/reply']")
        assert "narwhal-1207" in page.locator("main").inner_text()

        page.goto(ws("/replies"))
        with page.expect_download() as info:
            page.get_by_role("button", name="Download the reply bundle", exact=True).click()
        saved = tmp_path / "replies.tar"
        info.value.save_as(saved)
        assert b"narwhal-1207" not in saved.read_bytes()  # sealed
        with saved.open("rb") as src:
            assert len(bundles.read_replies(src, saved.stat().st_size)) == 1

        # The staff interface takes it: the reply reaches her case.
        before = _reply_count(world)
        staff_page = laptop_context(chromium, java_script_enabled=False).new_page()
        lawyer = add_account(world.staff, "leyla", "en")
        log_in(staff_page, world.staff, lawyer)
        staff_page.goto(world.staff("/replies/upload"))
        staff_page.set_input_files("#bundle", str(saved))
        submit(staff_page, "main form")
        staff_page.context.close()
        assert _reply_count(world) == before + 1

        # The pooled server keeps the case store's connections few, however many requests.
        for _ in range(30):
            page.goto(ws("/cases"))
        assert 0 < _open_case_stores(ws.home) <= THREADS + 2  # + the two import threads'

        submit(page, "header form.logout")
        assert path_of(page) == "/unlock"
        assert not world.ws.app.extensions["sesim_workstation"].is_unlocked
    finally:
        context.close()


def _open_case_stores(home: Path) -> int:
    """How many descriptors of this process have the case store file open."""
    target = str((home / "cases.db").resolve())
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += os.readlink(fd) == target
        except OSError:
            continue
    return count


def _reply_count(world: World) -> int:
    conn = world.staff.app.extensions["sesim_staff"].db.reader()
    return int(conn.execute("SELECT count(*) FROM items WHERE kind = 'reply'").fetchone()[0])


# -- accessibility (axe-core) in three languages ----------------------------------------------


def walk_every_page(page: Any, world: World, lang: str, visit: Any) -> None:
    ws = world.ws
    page.goto(ws("/unlock"))
    if html_lang(page) != lang:
        switch_language(page, lang)
    visit("unlock", page)
    unlock(page, ws, "wrong passphrase")
    assert page.locator("#unlock-error[role=alert]").count() == 1
    visit("unlock-error", page)
    unlock(page, ws)
    if world.ws.app.extensions["sesim_workstation"].store is not None:
        with world.ws.app.extensions["sesim_workstation"].connection() as conn:
            empty = conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
        if empty:
            import_bundle(page, ws, world.bundle)
    page.goto(ws("/cases"))
    assert html_lang(page) == lang
    visit("cases", page)
    with page.expect_navigation():
        page.locator("main table tbody a[href^='/cases/']").first.click()
    if page.locator("main img.rendering").count() == 0:
        page.goto(ws("/cases"))
        with page.expect_navigation():
            page.locator("main table tbody a[href^='/cases/']").last.click()
    case_path = path_of(page)
    visit("case", page)
    with page.expect_navigation():
        page.locator("main figcaption a").first.click()
    visit("file", page)
    page.goto(ws("/import"))
    visit("import", page)
    page.fill("#path", "/nowhere/at/all.tar")
    submit(page, "main form")
    assert page.locator("main [role=alert]").count() == 1
    visit("import-error", page)
    page.goto(ws("/replies"))
    visit("replies", page)
    page.goto(ws("/stats"))
    visit("stats", page)
    page.goto(ws("/drafts?case_id=" + case_path.rsplit("/", 1)[1]))
    visit("drafts", page)
    submit(page, "main form[action$='/drafts']")
    assert path_of(page).startswith("/drafts/")
    # A summary with a phone number: the check marks it, with its two controls.
    page.check("#type-verbal")
    page.fill("#summary", "A man at the metro. He left his number: 050 123 45 67.")
    submit(page, "main form[action^='/drafts/']:has(#summary)")
    assert page.locator("main mark[id^='hit-summary-']").count() == 1
    visit("draft", page)
    response = page.goto(ws("/nope"))
    assert response is not None and response.status == 404
    visit("not-found", page)


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_every_workstation_page_passes_axe(
    world: World, chromium: Any, artifacts: Path, lang: str
) -> None:
    assert AXE_JS.exists(), f"{AXE_JS} is missing: run npm ci in tests/browser"
    context = laptop_context(chromium, java_script_enabled=True, bypass_csp=True)
    blocking: dict[str, list[dict[str, Any]]] = {}
    visited: list[str] = []

    def visit(name: str, page: Any) -> None:
        visited.append(name)
        assert html_lang(page) == lang, name
        page.add_script_tag(path=str(AXE_JS))
        violations = page.evaluate(AXE_RUN_JS)
        for v in violations:
            print(f"axe {lang} {name}: {v['impact']} {v['id']} {v['targets']}")
        bad = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        if bad:
            blocking[name] = bad
        page.screenshot(path=str(artifacts / f"workstation-{lang}-{name}.png"), full_page=True)
        page.set_viewport_size(LAPTOP)

    try:
        walk_every_page(context.new_page(), world, lang, visit)
    finally:
        context.close()
    assert visited == EVERY_PAGE
    assert blocking == {}, "axe found serious or critical violations:\n" + json.dumps(
        blocking, indent=1, ensure_ascii=False
    )
