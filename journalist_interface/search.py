"""From what a lawyer types in the inbox's search box to a designation filter.

A designation token's first byte names the adjective (mod 64), the second
the noun, the last four hex digits are the suffix (securedrop_like/designations.py).
So "amber lark", "Янтарный", "3f9a" or "kəhrəba torağay · 3f9a" each become
a small set of allowed bytes, which the inbox query matches in SQL.
"""

from __future__ import annotations

import re

from securedrop_like import designations
from securedrop_like.inbox import DesignationFilter

_SUFFIX = re.compile(r"[0-9a-f]{4}")


def _bytes(indices: frozenset[int]) -> frozenset[str]:
    return frozenset(f"{b:02x}" for b in range(256) if b % designations.WORDS_PER_KIND in indices)


def designation_filter(text: str, lang: str) -> DesignationFilter | None:
    """The filter for a typed designation (or part of one); None if nothing can match."""
    query = designations.parse(text, lang)
    if query is None:
        return None
    table = designations.load()
    terms = query.replace(designations.SEPARATOR, " ").split()
    suffix = next((t for t in terms if _SUFFIX.fullmatch(t)), None)
    typed = [designations.fold(t) for t in terms if t != suffix]
    first = second = None
    if len(typed) == 2:
        adjective = table.adjective_index.get(typed[0])
        noun = table.noun_index.get(typed[1])
        if adjective is None or noun is None:
            return None
        first, second = _bytes(adjective), _bytes(noun)
    elif len(typed) == 1:
        if typed[0] in table.adjective_index:
            first = _bytes(table.adjective_index[typed[0]])
        elif typed[0] in table.noun_index:
            second = _bytes(table.noun_index[typed[0]])
        else:
            return None
    return DesignationFilter(first, second, suffix)
