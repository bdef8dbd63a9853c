"""What the public map's browser tests share: a fresh tab and the map's status."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import ACTION_TIMEOUT_MS, NAVIGATION_TIMEOUT_MS

#: The map page's own contract: ``#map-status`` carries the counts once it has drawn.
READY = "#map-status[data-ready='1']"


def new_page(chromium: Any, viewport: dict[str, int], **options: Any) -> tuple[Any, Any]:
    """A new context (closed by the caller) and its page, with the suite's time limits.
    Nothing is answered for the page: a missing file is a 404 the tests see."""
    context = chromium.new_context(viewport=viewport, locale="en-US", **options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return context, context.new_page()


def map_status(page: Any) -> dict[str, int]:
    """``total``, ``on_map`` and ``clustered`` once the map has drawn."""
    page.wait_for_selector(READY, state="attached")
    values = page.eval_on_selector(
        "#map-status", "e => [e.dataset.total, e.dataset.onMap, e.dataset.clustered]"
    )
    return dict(zip(("total", "on_map", "clustered"), map(int, values), strict=True))
