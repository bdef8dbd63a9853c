"""Fixtures for the browser tests: the real source app on a local port, and Debian's Chromium.

The app is the one ``create_app`` builds for production (no TESTING flag),
served by werkzeug in a background thread on 127.0.0.1 with a port the kernel
picks, and shut down when the test ends. Chromium is Debian's
``/usr/bin/chromium``, driven through Playwright's sync API; no browser is
ever downloaded.

The message catalogues are compiled from the repository's ``.po`` files into
a temporary directory (exactly what ``make translations`` does), so the pages
are translated whether or not the developer ran that target.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import Instance

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "test-artifacts"
TRANSLATIONS = REPO / "securedrop_like" / "translations"
PHONE = {"width": 360, "height": 740}
# Every wait in these tests is bounded by these (milliseconds).
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000


class _QuietHandler(WSGIRequestHandler):
    """No access log: even in tests, addresses and paths are not written down."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class LiveSource:
    """The source app, served over HTTP for one test."""

    app: Flask
    url: str
    instance: Instance

    def __call__(self, path: str = "/") -> str:
        return self.url + path

    @property
    def service(self) -> Any:
        return self.app.extensions["sesim"].service

    def logged_in_source_ids(self) -> list[str]:
        """Source ids of the sessions that are logged in right now (server-side sessions)."""
        live = self.app.extensions["sesim"].sessions.live_data()
        return sorted({str(d["source_id"]) for d in live if d.get("source_id")})

    def gettext(self, lang: str, msgid: str, **variables: Any) -> str:
        """What the app itself shows for ``msgid`` in ``lang`` (so tests follow translations)."""
        from flask_babel import force_locale, gettext

        with self.app.test_request_context("/"), force_locale(lang):
            return str(gettext(msgid, **variables))


@pytest.fixture(scope="session")
def compiled_translations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    out = tmp_path_factory.mktemp("translations")
    for po_path in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as po:
            catalog = read_po(po, locale=po_path.parts[-3])
        target = out / po_path.parts[-3] / "LC_MESSAGES" / "messages.mo"
        target.parent.mkdir(parents=True)
        with target.open("wb") as mo:
            write_mo(mo, catalog, use_fuzzy=True)
    return out


@pytest.fixture
def live_source(instance: Instance, compiled_translations: Path) -> Iterator[LiveSource]:
    from source_interface import create_app

    app = create_app(instance.config)
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-source", daemon=True)
    thread.start()
    try:
        yield LiveSource(app, f"http://127.0.0.1:{server.server_port}", instance)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["sesim"].service.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's package (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=NAVIGATION_TIMEOUT_MS,
        )
        try:
            yield browser
        finally:
            browser.close()


def _context(chromium: Any, **options: Any) -> Iterator[Any]:
    context = chromium.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US", **options
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def no_js_context(chromium: Any) -> Iterator[Any]:
    """A phone at Tor Browser's "Safest": JavaScript off."""
    yield from _context(chromium, java_script_enabled=False)


@pytest.fixture
def inspect_context(chromium: Any) -> Iterator[Any]:
    """A phone-sized page where the test may run scripts (axe, layout checks).

    The pages' CSP forbids every script, which is the point; ``bypass_csp`` lets
    the test inject its own, and nothing of the app's.
    """
    yield from _context(chromium, java_script_enabled=True, bypass_csp=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# -- the staff interface (journalist_interface) -----------------------------------------------

LAPTOP = {"width": 1280, "height": 800}


@dataclass
class LiveStaff:
    """The staff app, served over HTTP for one test module, with its accounts."""

    app: Flask
    url: str
    instance: Instance
    accounts: Any  # journalist_interface.accounts.StaffAccounts

    def __call__(self, path: str = "/") -> str:
        return self.url + path

    @property
    def service(self) -> Any:
        return self.app.extensions["sesim_staff"].reports

    def gettext(self, lang: str, msgid: str, **variables: Any) -> str:
        """What the staff app shows for ``msgid`` in ``lang``."""
        from flask_babel import force_locale, gettext

        with self.app.test_request_context("/"), force_locale(lang):
            return str(gettext(msgid, **variables))

    def ngettext(self, lang: str, singular: str, plural: str, num: int) -> str:
        from flask_babel import force_locale, ngettext

        with self.app.test_request_context("/"), force_locale(lang):
            return str(ngettext(singular, plural, num))


@pytest.fixture(scope="module")
def staff_instance(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """An instance shared by one module's tests (one staff server per module)."""
    from securedrop_like.demo import install_demo_reviewer
    from securedrop_like.instance import init_instance
    from tests.conftest import FAST_ARGON2

    config = init_instance(tmp_path_factory.mktemp("staff") / "instance", dict(FAST_ARGON2))
    return Instance(config, install_demo_reviewer(config))


@pytest.fixture(scope="module")
def live_staff(staff_instance: Instance, compiled_translations: Path) -> Iterator[LiveStaff]:
    """The staff app as production builds it (no TESTING flag), on a local port."""
    from journalist_interface import create_app
    from journalist_interface.accounts import StaffAccounts
    from securedrop_like.db import Database

    # The cheapest Argon2id, as tests/conftest.py's FAST_ARGON2 is for codenames.
    accounts = StaffAccounts(
        Database.for_config(staff_instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    app = create_app(staff_instance.config, accounts=accounts)
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-staff", daemon=True)
    thread.start()
    try:
        yield LiveStaff(app, f"http://127.0.0.1:{server.server_port}", staff_instance, accounts)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["sesim_staff"].reports.close()


def laptop_context(chromium: Any, **options: Any) -> Any:
    """A 1280×800 desktop context (the caller closes it); the staff work at a desk."""
    context = chromium.new_context(viewport=LAPTOP, locale="en-US", **options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return context
