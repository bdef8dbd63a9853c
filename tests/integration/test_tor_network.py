"""End to end over a private Tor network: the real apps, reached only through real onions.

The network, the servers and the tors are built once (``onion_site`` in
``conftest.py``); these tests are the things a woman, a lawyer and a
stranger do through it.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner

from crypto import OnionServiceKey, is_onion_address
from securedrop_like.derivation import Deriver
from securedrop_like.service import ReportService
from sesim.cli import main
from tests.conftest import CODENAME_RE, csrf_of
from tests.integration.tor_network import OnionSite, onion_request, socks_reply
from tor_config.control import UploadWatcher, add_client_auth, add_ephemeral_onion

pytestmark = pytest.mark.slow

REPLY = "We read your report. A lawyer can meet you; write back here."
MISSING_CLIENT_AUTH = "0xf4"  # tor's SOCKS reply: "Onion Service Missing Client Authorization"


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def test_the_whole_source_flow_over_the_source_onion(onion_site: OnionSite) -> None:
    site = onion_site
    woman = site.session(site.public)
    start = onion_request(woman, "GET", site.source_url + "/")
    first_fetch = site.seconds_since_launch()
    assert start.status_code == 200
    print(f"\nfirst onion page {first_fetch:.1f} s after the authorities were launched")

    form = onion_request(woman, "GET", site.source_url + "/report")
    sent = onion_request(
        woman,
        "POST",
        site.source_url + "/report",
        data={"csrf_token": csrf_of(form.text), "what_happened": "It happened at the office."},
    )
    # The codename page is the answer to the POST itself (issue 8: no 303 window).
    assert sent.status_code == 200 and not sent.history, sent.text[:500]
    match = CODENAME_RE.search(sent.text)
    assert match
    codename = match.group(1)
    case = onion_request(woman, "GET", site.source_url + "/case")
    token = csrf_of(case.text)
    onion_request(woman, "POST", site.source_url + "/logout", data={"csrf_token": token})

    # A lawyer answers (the staff interface seals the reply the same way).
    deriver = Deriver(site.config)
    lookup_id = deriver.derive(deriver.normalise(codename)).lookup_id
    service = ReportService.open(site.config)
    try:
        source = service.find_source(lookup_id)
        assert source is not None
        service.place_reply(source.id, REPLY, "en", "lawyer")
    finally:
        service.close()

    later = site.session(site.public)
    login = onion_request(later, "GET", site.source_url + "/login")
    back = onion_request(
        later,
        "POST",
        site.source_url + "/login",
        data={"csrf_token": csrf_of(login.text), "codename": codename},
    )
    assert back.status_code == 200 and back.url.endswith("/case")
    assert REPLY in back.text
    assert len(re.findall(r'<article class="reply"', back.text)) == 1


def test_the_servers_refuse_their_local_address_once_an_onion_is_set(
    onion_site: OnionSite,
) -> None:
    direct = requests.get(onion_site.source_base + "/", timeout=10)
    assert direct.status_code == 421
    assert onion_site.config.instance_name not in direct.text


def test_the_staff_login_page_over_the_staff_onion_with_a_client_key(
    onion_site: OnionSite,
) -> None:
    lawyer = onion_site.session(onion_site.lawyer)
    page = onion_request(lawyer, "GET", onion_site.staff_url + "/login")
    assert page.status_code == 200
    assert 'name="password"' in page.text


def test_the_staff_onion_is_refused_without_a_key_and_opens_with_one(
    onion_site: OnionSite,
) -> None:
    site = onion_site
    staff_host = _host(site.staff_url)
    deadline = time.monotonic() + 25
    reply = socks_reply(site.public, staff_host)
    while reply == "0xf0" and time.monotonic() < deadline:  # descriptor not found (yet)
        time.sleep(0.5)
        reply = socks_reply(site.public, staff_host)
    assert reply == MISSING_CLIENT_AUTH

    # What Tor Browser does when she pastes her key: ONION_CLIENT_AUTH_ADD (base64).
    add_client_auth(site.public.controller, site.spare_key.private_line, "lawyer-2")
    page = onion_request(site.session(site.public), "GET", site.staff_url + "/login")
    assert page.status_code == 200 and 'name="password"' in page.text


def test_tor_status_sees_both_onions_published(onion_site: OnionSite) -> None:
    result = CliRunner().invoke(
        main,
        ["tor", "status", "--check-published", "--home", str(onion_site.config.home)],
        env={"SESIM_TOR_CONTROL_PORT": str(onion_site.config.tor_control_port)},
    )
    assert result.exit_code == 0, result.output
    assert "bootstrapped 100%" in result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:] if line[:1] != " "}
    for name, url in (("source", onion_site.source_url), ("staff", onion_site.staff_url)):
        assert _host(url) in lines[name]
        assert "running, descriptor built, published" in lines[name], result.output
    assert "2 client key(s)" in lines["staff"]
    assert "WARNING" not in result.output


def test_an_onion_the_app_was_not_configured_for_is_refused(onion_site: OnionSite) -> None:
    """An ephemeral onion to the same server (as a misconfigured tor would make) gets 421."""
    site = onion_site
    key = OnionServiceKey.generate()
    watcher = UploadWatcher(site.service.controller)
    try:
        address = add_ephemeral_onion(
            site.service.controller, 80, int(urlsplit(site.source_base).port or 0), key=key
        )
        assert address == key.address  # tor derives the same address from our key
        watcher.wait([address], timeout=20)
    finally:
        watcher.close()
    try:
        page = onion_request(site.session(site.public), "GET", f"http://{address}/")
        assert page.status_code == 421
        assert site.config.instance_name not in page.text
    finally:
        site.service.controller.remove_ephemeral_hidden_service(address[:56])
    # A client-authorised ephemeral onion, with a key tor makes.
    closed = add_ephemeral_onion(
        site.service.controller, 80, 9, client_public_keys=[site.spare_key.public]
    )
    assert is_onion_address(closed) and closed != address
    site.service.controller.remove_ephemeral_hidden_service(closed[:56])
