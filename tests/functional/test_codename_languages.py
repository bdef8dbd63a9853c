"""Issue 11 item 1: the codename comes in the page's language and logs back in
however she types it (no diacritics, capitals, another layout's letters)."""

from __future__ import annotations

import html

import pytest

from securedrop_like import codenames
from tests.conftest import SourceBrowser

AZ_PLAIN = str.maketrans("əğıöüşçƏĞIİÖÜŞÇ", "egiousceGIIOUSC")


@pytest.mark.parametrize(
    ("lang", "retype"),
    [
        ("az", lambda c: c.translate(AZ_PLAIN).upper()),  # no az letters, capitals
        ("ru", lambda c: "  " + c.upper().replace("Й", "И").replace(" ", "  -  ") + " "),
        ("en", lambda c: c.upper().replace(" ", "-")),
    ],
)
def test_codename_is_in_the_page_language_and_logs_back_in_retyped(
    source: SourceBrowser, lang: str, retype: object
) -> None:
    source.client.get(f"/lang/{lang}")
    codename = html.unescape(source.report_and_get_codename("He sent threats."))
    words = codename.split()
    assert len(words) == codenames.WORDS_PER_CODENAME[lang]
    assert set(words) <= set(codenames.load_wordlist(lang))
    source.logout()
    assert callable(retype)
    response = source.login(retype(codename))
    assert response.status_code == 303
    assert "/case" in response.headers["Location"]
