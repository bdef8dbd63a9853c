"""A phone taken from her hand: after "Quick exit", nothing of hers is one tap away.

Chromium, JavaScript off, 360×740, as in test_source_browser.py. The neutral
site must be an https:// address (config validation requires one) and must
not leave this machine. ``page.route`` cannot stand in for it: Playwright
calls a route handler only for the first URL of a redirect chain, and Quick
exit is a 303 from our server. So the neutral site is a tiny HTTPS server on
127.0.0.1 with a throw-away self-signed certificate (the test's browser
context accepts it), and a route refuses every request to anywhere else.
"""

from __future__ import annotations

import contextlib
import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance
from tests.browser.conftest import PHONE, LiveSource, _context
from tests.conftest import FAST_ARGON2, Instance

pytestmark = pytest.mark.browser

NEUTRAL_PAGE = b"<!doctype html><title>Weather</title><h1>Weather in Baku</h1>"
REPORT_TEXT = "The clerk at the passport office said he would stamp it only if I came at night."
LANDMARK = "Near Nizami metro, the blue door"
REPLY_TEXT = "We read your report. A lawyer from the Legal Centre can meet you next week."
TAP_PX = 44


class _Neutral(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(NEUTRAL_PAGE)))
        self.end_headers()
        self.wfile.write(NEUTRAL_PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def neutral_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """https://127.0.0.1:<port>/ answering every GET with a harmless page."""
    folder = tmp_path_factory.mktemp("neutral-tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            "/usr/bin/openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Neutral)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="neutral", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def instance(tmp_path: Path, neutral_site: str) -> Instance:
    """The test instance, whose Quick exit leads to the local neutral site."""
    config = init_instance(tmp_path / "instance", dict(FAST_ARGON2, quick_exit_url=neutral_site))
    return Instance(config, install_demo_reviewer(config))


@pytest.fixture
def no_js_context(chromium: Any) -> Iterator[Any]:
    """A phone at Tor Browser's "Safest" (JavaScript off) that accepts the test certificate."""
    yield from _context(chromium, java_script_enabled=False, ignore_https_errors=True)


@pytest.fixture
def inspect_context(chromium: Any) -> Iterator[Any]:
    """A phone where the test may run its own measuring scripts (the pages have none)."""
    yield from _context(
        chromium, java_script_enabled=True, bypass_csp=True, ignore_https_errors=True
    )


class Phone:
    """A page, our server's address and the neutral site's; nothing else is reachable."""

    def __init__(self, context: Any, live: LiveSource, neutral: str) -> None:
        self.live = live
        self.neutral = neutral
        self.refused: list[str] = []
        allowed = (live("/"), neutral)

        def refuse(route: Any) -> None:
            self.refused.append(route.request.url)
            route.abort()

        context.route(lambda url: not url.startswith(allowed), refuse)
        self.page = context.new_page()


def _submit(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.locator(f"{form} button").last.click()


def _quick_exit(phone: Phone) -> None:
    with phone.page.expect_navigation():
        phone.page.locator("header a.exit").click()
    assert phone.page.url == phone.neutral


def _path(page: Any) -> str:
    return urlsplit(page.url).path


def _report(phone: Phone, text: str = REPORT_TEXT) -> str:
    """Send a report through the form; returns the codename shown."""
    page = phone.page
    page.goto(phone.live("/report"))
    page.fill("#what_happened", text)
    _submit(page, "main form")
    assert _path(page) == "/report"  # the codename page answers the POST itself
    return str(page.locator("p.codename").inner_text()).strip()


def _nothing_of_hers(phone: Phone, codename: str, step: str) -> None:
    page, live = phone.page, phone.live
    html = page.content()
    where = f"{step}: {page.url}"
    for secret in (REPORT_TEXT, REPLY_TEXT, codename, LANDMARK):
        assert secret not in html, f"{where} shows {secret[:30]!r}"
    if page.url != phone.neutral:
        assert _path(page) == "/login", where
        heading = str(page.locator("main h1").inner_text()).strip()
        assert heading == live.gettext("az", "Come back to your report"), where


# -- (a) Back twice and Forward after Quick exit --------------------------------------------


def test_after_quick_exit_back_and_forward_show_nothing_of_hers(
    live_source: LiveSource, no_js_context: Any, neutral_site: str
) -> None:
    live = live_source
    phone = Phone(no_js_context, live, neutral_site)
    page = phone.page
    codename = _report(phone)
    (source_id,) = live.logged_in_source_ids()
    live.service.place_reply(source_id, REPLY_TEXT, "en", "lawyer")

    # She comes back another day: log in, read the lawyer's reply.
    _submit(page, "header form.out")
    page.goto(live("/login"))
    page.fill("#codename", codename)
    _submit(page, "main form")
    assert _path(page) == "/case"
    assert REPLY_TEXT in page.locator("article.reply p.text").inner_text()

    _quick_exit(phone)
    page.go_back()
    _nothing_of_hers(phone, codename, "first Back")
    page.go_back()
    _nothing_of_hers(phone, codename, "second Back")
    page.go_forward()
    _nothing_of_hers(phone, codename, "Forward")
    assert live.logged_in_source_ids() == []  # the server forgot her session
    assert phone.refused == []


def test_quick_exit_wipes_the_files_her_session_kept(
    live_source: LiveSource, no_js_context: Any, neutral_site: str
) -> None:
    """A failed form keeps her files (encrypted) for her session; Quick exit wipes them."""
    live = live_source
    phone = Phone(no_js_context, live, neutral_site)
    page = phone.page
    page.goto(live("/report"))
    page.fill("#what_happened", "   ")  # passes `required`, fails the server's check
    page.set_input_files(
        "#files", files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"x" * 5000}]
    )
    _submit(page, "main form")
    assert page.locator(".errbox[role=alert]").count() == 1
    service = live.app.extensions["sesim"].service
    assert service.unclaimed_uploads(), "the failed form kept her file"

    _quick_exit(phone)
    assert service.unclaimed_uploads() == set()
    assert phone.refused == []


# -- (b) what she typed does not come back --------------------------------------------------


def test_after_quick_exit_back_shows_an_empty_report_form(
    live_source: LiveSource, no_js_context: Any, neutral_site: str
) -> None:
    phone = Phone(no_js_context, live_source, neutral_site)
    page = phone.page
    page.goto(live_source("/report"))
    page.fill("#what_happened", REPORT_TEXT)
    page.fill("#landmark", LANDMARK)
    _quick_exit(phone)

    page.go_back()
    assert _path(page) == "/report"
    assert page.input_value("#what_happened") == ""
    assert page.input_value("#landmark") == ""
    assert phone.refused == []


def test_every_form_and_text_field_asks_the_browser_not_to_keep_it(
    live_source: LiveSource, no_js_context: Any, neutral_site: str
) -> None:
    phone = Phone(no_js_context, live_source, neutral_site)
    page = phone.page
    _report(phone)
    forms = 0
    for path in ("/report", "/codename/check", "/case", "/case/withdraw", "/login"):
        page.goto(live_source(path))
        for form in page.locator("form").all():
            assert form.get_attribute("autocomplete") == "off", f"{path}: a form"
            forms += 1
        for field in page.locator("textarea, input[type=text]").all():
            name = field.get_attribute("name")
            assert field.get_attribute("autocomplete") == "off", f"{path}: {name}"
    assert forms >= 6


# -- (c) Quick exit stays within reach --------------------------------------------------------

VIEWPORT_PROBE_JS = """() => {
  const a = document.querySelector('header a.exit');
  const r = a.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
          width: r.width, height: r.height, x, y,
          onTop: hit === a || a.contains(hit),
          scrollY: window.scrollY,
          maxScroll: document.documentElement.scrollHeight - window.innerHeight,
          headerBottom: document.querySelector('header.top').getBoundingClientRect().bottom};
}"""
ANCHOR_PROBE_JS = """(id) => ({
  target: document.getElementById(id).getBoundingClientRect().top,
  headerBottom: document.querySelector('header.top').getBoundingClientRect().bottom,
})"""
TAP_TARGETS_JS = """() => [...document.querySelectorAll('header a')].map(a => {
  const r = a.getBoundingClientRect();
  return {text: a.textContent.trim(), width: r.width, height: r.height};
})"""


def _exit_in_reach_at_the_bottom(phone: Phone, where: str) -> None:
    page = phone.page
    small = [t for t in page.evaluate(TAP_TARGETS_JS) if t["height"] < TAP_PX]
    assert small == [], f"{where}: header links under {TAP_PX} px tall: {small}"
    page.mouse.wheel(0, 100_000)
    # The wheel scrolls asynchronously: wait until it has come to rest at the bottom
    # (a page that cannot get there fails the assertion below after the wait).
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            "() => window.scrollY > 0 && window.scrollY >="
            " document.documentElement.scrollHeight - window.innerHeight - 2",
            timeout=5_000,
        )
    probe = page.evaluate(VIEWPORT_PROBE_JS)
    assert probe["maxScroll"] > PHONE["height"], f"{where} is not long enough to test: {probe}"
    assert probe["scrollY"] >= probe["maxScroll"] - 2, f"{where}: not at the bottom: {probe}"
    assert 0 <= probe["top"] and probe["bottom"] <= PHONE["height"], f"{where}: {probe}"
    assert 0 <= probe["left"] and probe["right"] <= PHONE["width"], f"{where}: {probe}"
    assert probe["height"] >= TAP_PX and probe["width"] >= TAP_PX, f"{where}: {probe}"
    assert probe["onTop"], f"{where}: something covers Quick exit: {probe}"
    # The header must not eat the page: at most a sixth of the phone's height.
    assert probe["headerBottom"] <= PHONE["height"] / 6, f"{where}: {probe}"
    # One tap where it is, without scrolling, leaves.
    with page.expect_navigation():
        page.mouse.click(probe["x"], probe["y"])
    assert page.url == phone.neutral, where


def test_quick_exit_stays_in_reach_at_the_bottom_of_long_pages(
    live_source: LiveSource, inspect_context: Any, neutral_site: str
) -> None:
    """Scripts here only measure (the pages have none); the header is sticky by CSS alone."""
    live = live_source
    phone = Phone(inspect_context, live, neutral_site)
    page = phone.page
    for lang in ("az", "ru", "en"):
        page.goto(live(f"/lang/{lang}?next=/report"))
        _exit_in_reach_at_the_bottom(phone, f"/report ({lang})")

    _report(phone)
    (source_id,) = live.logged_in_source_ids()
    for n in range(3):
        live.service.place_reply(source_id, f"{REPLY_TEXT} ({n})\n" * 4, "en", "lawyer")
    page.goto(live("/case"))
    assert page.locator("article.reply").count() == 3
    # A link to a heading lands below the sticky header, not under it.
    page.goto(live("/case#add"))
    anchor = page.evaluate(ANCHOR_PROBE_JS, "add")
    assert anchor["target"] >= anchor["headerBottom"] - 1, anchor
    _exit_in_reach_at_the_bottom(phone, "/case")
    assert live.logged_in_source_ids() == []
    assert phone.refused == []


def test_quick_exit_answers_a_tap_at_the_bottom_with_javascript_off(
    live_source: LiveSource, no_js_context: Any, neutral_site: str
) -> None:
    """The same with JavaScript off: measured by Playwright itself, not by a page script."""
    from playwright.sync_api import expect

    phone = Phone(no_js_context, live_source, neutral_site)
    page = phone.page
    page.goto(live_source("/report"))
    send = page.locator("main form button[type=submit]")
    expect(send).not_to_be_in_viewport()
    page.mouse.wheel(0, 100_000)
    expect(send).to_be_in_viewport(ratio=1)  # at the bottom of the form
    exit_link = page.locator("header a.exit")
    expect(exit_link).to_be_in_viewport(ratio=1)
    box = exit_link.bounding_box()
    assert box is not None and box["height"] >= TAP_PX, box
    with page.expect_navigation():
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.url == phone.neutral
    assert phone.refused == []


# -- (d) Back and "Resend" after her report (review H1) ----------------------------------------


def _sources(live: LiveSource) -> int:
    return int(live.service.db.reader().execute("SELECT count(*) FROM sources").fetchone()[0])


def test_after_quick_exit_resending_her_report_shows_and_makes_nothing(
    live_source: LiveSource, no_js_context: Any, neutral_site: str
) -> None:
    """Her codename page is the answer to her POST, so that POST is one Back away.

    Chromium resends it on reload (the phone holder's "Resend"): the server must
    make no second case, show no codename and nothing she typed, log no one in.
    """
    live = live_source
    phone = Phone(no_js_context, live, neutral_site)
    page = phone.page
    page.goto(live("/report"))
    page.fill("#what_happened", REPORT_TEXT)
    page.fill("#landmark", LANDMARK)
    _submit(page, "main form")
    codename = str(page.locator("p.codename").inner_text()).strip()
    assert _sources(live) == 1
    _quick_exit(phone)
    assert live.logged_in_source_ids() == []

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    expired = live.gettext(
        "az",
        "For your safety this form had expired. Nothing was sent, and nothing you typed "
        "was kept. Please fill it in again.",
    )
    # Headless Chromium resends the POST already on Back (a desktop one first
    # asks "Confirm Form Resubmission"); reload is "Resend" again, now with the
    # form cookie the first answer set.
    for step, act in (("Back", page.go_back), ("reload", page.reload)):
        sent = len(posts)
        act()
        assert len(posts) == sent + 1, f"{step}: Chromium did not resend her report"
        html = page.content()
        for secret in (REPORT_TEXT, LANDMARK, codename):
            assert secret not in html, f"{step}: the resent report shows {secret[:30]!r}"
        assert page.locator("p.codename").count() == 0, step
        assert _path(page) == "/report", step
        assert expired in page.locator(".errbox[role=alert]").inner_text(), step
        assert _sources(live) == 1, f"{step}: the resent report made a second case"
        assert live.logged_in_source_ids() == [], step
    assert phone.refused == []
