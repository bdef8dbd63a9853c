"""After a failed form the error is at the top, where she is, and links to its field;
the busy message does not point at marked questions that are not there, and quotes
the label its button really has, in every language."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from source_interface import create_app
from tests.conftest import Instance, SourceBrowser

SUMMARY_RE = re.compile(r'<div class="errbox" role="alert" id="error-summary">(.*?)</div>', re.S)
BUTTON_RE = re.compile(r'<button type="submit">([^<]+)</button>')
QUOTED_RE = re.compile(r"[“«]([^”»]+)[”»]")


def _summary(html: str) -> str:
    found = SUMMARY_RE.findall(html)
    assert len(found) == 1, html[:3000]
    return str(found[0])


def _main_top(html: str) -> str:
    """What comes between <main> and the first form control: the top of the page."""
    main = html.index('<main id="main">')
    first_field = html.index("<form", main)
    return html[main:first_field]


def test_the_report_form_summary_links_each_marked_question(source: SourceBrowser) -> None:
    source.client.get("/lang/en")
    response = source.report("", when_kind="month", when_month="3")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    summary = _summary(html)
    assert "Please look at the marked questions below." in summary
    links = dict(re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', summary))
    assert links == {
        "what_happened": "Please tell us what happened. A few words are enough.",
        "when_day": "Please choose both the month and the year.",
    }
    for target in links:  # every link leads to a control on the page
        assert f'id="{target}"' in html


def test_the_case_page_shows_its_error_at_the_top(source: SourceBrowser, app: Flask) -> None:
    source.report_and_get_codename()
    source.client.get("/lang/en")
    too_long = "x" * (app.config["SESIM"].max_text_chars + 1)
    response = source.send_message(too_long)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    top = _main_top(html)
    assert 'id="error-summary"' in top  # before the answers, the table and the form
    assert '<a href="#message">This text is too long' in _summary(html)
    assert html.count('role="alert"') == 1  # one alert, not two read out


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_busy_message_marks_nothing_and_quotes_the_real_button(
    instance: Instance, lang: str
) -> None:
    app = create_app(instance.config.with_changes(max_sessions=1), TESTING=True)
    try:
        SourceBrowser(app.test_client()).report_and_get_codename()  # the one slot is hers
        newcomer = SourceBrowser(app.test_client())
        newcomer.client.get(f"/lang/{lang}")
        response = newcomer.report("Please keep this text.")
        assert response.status_code == 503
        html = response.get_data(as_text=True)
        summary = _summary(html)
        with app.test_request_context("/"):
            from flask_babel import force_locale

            from securedrop_like.i18n import gettext

            with force_locale(lang):
                marked = gettext("Please look at the marked questions below.")
        assert marked not in summary  # no question is marked
        assert "<ul>" not in summary
        assert "Please keep this text." in html
        [button] = BUTTON_RE.findall(html)
        assert QUOTED_RE.findall(summary) == [button.strip()], (summary, button)
    finally:
        app.extensions["sesim"].service.close()
