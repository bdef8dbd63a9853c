"""A story's paragraphs are the same on its entry page and on the stories page (one
``paragraphs`` filter): its lines, without empty ones, each escaped."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from public_map import pages
from securedrop_like.bundles import bundle_sha256

from .chain import ONE, THREE, TWO, _template, bundle
from .test_stats_page import _client

STORY_ID = "5" * 32
STORY = "First <b>line</b>.\n\nSecond line.\n \n\nThird & last."
WANTED = "<p>First &lt;b&gt;line&lt;/b&gt;.</p><p>Second line.</p><p>Third &amp; last.</p>"


def test_the_entry_and_the_stories_page_show_the_same_paragraphs(tmp_path: Path) -> None:
    entry = dataclasses.replace(_template(), id=STORY_ID, story=STORY)
    client = _client(tmp_path, (ONE, TWO, THREE, bundle(4, bundle_sha256(THREE), (entry,))))
    shown = []
    for url in (f"/en/entry/{STORY_ID}/", "/en/stories/"):
        page = client.get(url).get_data(as_text=True)
        assert "<p></p>" not in page, url
        found = re.search(rf'<div class="story">({re.escape(WANTED)})</div>', page)
        assert found, url
        shown.append(found.group(1))
    assert shown[0] == shown[1]
    assert pages.paragraphs(STORY) == ["First <b>line</b>.", "Second line.", "Third & last."]
    assert pages.paragraphs(None) == []
