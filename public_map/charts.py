"""Server-rendered SVG charts for the statistics page: horizontal bars, a column chart
of months and a choropleth of Baku's twelve districts. No script and no ``style``
attribute (the pages' CSP forbids inline styles): colours are SVG presentation
attributes (``fill="#…"``), layout comes from ``map.css``.

Every chart is ``role="img"`` with a ``<title>`` and ``<desc>`` (its accessible name and
description); the page puts the same numbers in a table beside it. Each bar, column or
district carries ``data-key`` (the code) and ``data-count`` (the number), so tests can
check the drawing against the table. Labels are escaped here (``markupsafe``): they are
the site's own translated texts, but nothing is trusted to be markup.

The district shapes come from ``static/basemap/districts.geojson`` (ODbL), projected
once (an equirectangular projection scaled by the cosine of the middle latitude: at
Baku's size it is as good as any) and cached as SVG path data.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

BASEMAP = Path(__file__).parent / "static" / "basemap" / "districts.geojson"
SVG_NS = "http://www.w3.org/2000/svg"

#: One colour per harassment type (taxonomy code), the same on the map and in the
#: statistics: the Okabe–Ito colour-blind-safe set in the taxonomy's order (as the map
#: page's ``.t-0`` … ``.t-8``), its three lightest darkened and olive made grey so that
#: each has a contrast of at least 3:1 against white (WCAG 1.4.11 for graphics; tests
#: check). Labels and numbers are drawn in near-black, never in these colours.
TYPE_COLOURS: dict[str, str] = {
    "sextortion": "#d55e00",  # vermillion
    "touching": "#0072b2",  # blue
    "verbal": "#c58800",  # orange, darkened from #e69f00
    "nonverbal": "#cc79a7",  # reddish purple
    "stalking": "#009e73",  # bluish green
    "online": "#229de2",  # sky blue, darkened from #56b4e9
    "threats": "#a1960d",  # yellow, darkened from #f0e442
    "assault": "#882255",  # wine
    "other": "#8c8c8c",  # grey (instead of olive, too near the darkened yellow)
}
#: Bars of the other charts (service, perpetrator, months): the site's purple.
BAR_COLOUR = "#3d1f5c"
#: "Not said" rows: grey (4.5:1 on white too).
NOT_SAID_COLOUR = "#6b6b6b"
#: The choropleth's classes, light to dark (ColorBrewer "Purples" of 6 without its
#: lightest, which is too near white); a district with no entry is white. Borders are
#: dark grey, and the table beside the map gives every number.
CLASS_COLOURS = ("#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f")
ZERO_COLOUR = "#ffffff"
BORDER_COLOUR = "#4a4a4a"
TEXT_COLOUR = "#1d1d1f"

Format = Callable[[int], str]


@dataclass(frozen=True)
class Bar:
    """One bar: ``key`` is the code (``""`` for "not said"), ``label`` shown text."""

    key: str
    label: str
    count: int
    colour: str = BAR_COLOUR


def _svg(chart_id: str, width: float, height: float, title: str, desc: str, body: Markup) -> Markup:
    return Markup(
        '<svg xmlns="{ns}" class="stats-svg" id="{id}" viewBox="0 0 {w} {h}" role="img"'
        ' aria-labelledby="{id}-title {id}-desc">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>'
    ).format(ns=SVG_NS, id=chart_id, w=_n(width), h=_n(height), title=title, desc=desc, body=body)


def _n(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


BARS_WIDTH = 320.0  # about a phone's width in CSS pixels: text stays near its size
LINE = 17.0  # a label line's height
CHARS_PER_LINE = 38  # at 14 px, a line of ~300 units (Cyrillic is wider than Latin)


def wrap(label: str, limit: int = CHARS_PER_LINE) -> list[str]:
    """``label`` in lines of at most ``limit`` characters, broken between words (a word
    longer than a line gets a line of its own)."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def bars(chart_id: str, title: str, desc: str, rows: Sequence[Bar], fmt: Format) -> Markup:
    """Horizontal bars, one per row, the label above each bar (wrapped) and the number
    after it (mobile first: long labels need the whole width). Lengths are proportional
    to the counts; the longest bar fills the plot."""
    number_room = 56.0
    plot = BARS_WIDTH - number_room
    top = max((r.count for r in rows), default=0) or 1
    parts: list[Markup] = []
    y = 0.0
    for row in rows:
        lines = wrap(row.label)
        label = Markup("").join(
            Markup('<tspan x="0" y="{y}">{line}</tspan>').format(y=_n(y + 14 + i * LINE), line=line)
            for i, line in enumerate(lines)
        )
        y += len(lines) * LINE
        length = plot * row.count / top
        parts.append(
            Markup(
                '<g class="stats-row"><text class="stats-label" fill="{text}">{label}</text>'
                '<rect x="0" y="{by}" width="{w}" height="18" fill="{fill}" data-key="{key}"'
                ' data-count="{count}"><title>{title}: {shown}</title></rect>'
                '<text x="{nx}" y="{ny}" class="stats-number" fill="{text}">{shown}</text></g>'
            ).format(
                label=label,
                by=_n(y + 3),
                w=_n(length),
                fill=row.colour,
                key=row.key,
                count=row.count,
                title=row.label,
                shown=fmt(row.count),
                nx=_n(length + 6),
                ny=_n(y + 17),
                text=TEXT_COLOUR,
            )  # fmt: skip
        )
        y += 30
    return _svg(chart_id, BARS_WIDTH, max(y, 20) + 2, title, desc, Markup("").join(parts))


COLUMNS_WIDTH = 360.0
COLUMNS_PLOT = COLUMNS_WIDTH - 44  # the plot's width: 40 for the axis, 4 spare


def columns(
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[Bar],
    fmt: Format,
    axis_labels: Sequence[str],
) -> Markup:
    """A column per row (months in order, a month with none drawn as an empty column of
    height 0), a baseline, the top value on the axis, and ``axis_labels[i]`` under
    column i where it is not empty (e.g. the year at each January)."""
    width, left, bottom, plot_height, top_pad = COLUMNS_WIDTH, 40.0, 30.0, 160.0, 12.0
    plot_width = COLUMNS_PLOT
    count = max(len(rows), 1)
    step = plot_width / count
    gap = min(2.0, step * 0.2)
    top = max((r.count for r in rows), default=0) or 1
    base = top_pad + plot_height
    parts: list[Markup] = [
        Markup(
            '<line x1="{x}" y1="{y}" x2="{x2}" y2="{y}" stroke="{c}" stroke-width="1"/>'
            '<line x1="{x}" y1="{t}" x2="{x2}" y2="{t}" stroke="#c8c8c8" stroke-width="1"/>'
            '<text x="{lx}" y="{ty}" class="stats-axis" text-anchor="end" fill="{c}">{top}</text>'
            '<text x="{lx}" y="{by}" class="stats-axis" text-anchor="end" fill="{c}">{zero}</text>'
        ).format(
            x=_n(left),
            x2=_n(width - 4),
            y=_n(base),
            t=_n(top_pad),
            c=TEXT_COLOUR,
            lx=_n(left - 4),
            ty=_n(top_pad + 4),
            by=_n(base),
            top=fmt(top),
            zero=fmt(0),
        )  # fmt: skip
    ]
    for index, row in enumerate(rows):
        height = plot_height * row.count / top
        x = left + index * step + gap / 2
        parts.append(
            Markup(
                '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" data-key="{key}"'
                ' data-count="{count}"><title>{label}: {shown}</title></rect>'
            ).format(
                x=_n(x),
                y=_n(base - height),
                w=f"{max(step - gap, 0.1):.2f}",
                h=_n(height),
                fill=row.colour,
                key=row.key,
                count=row.count,
                label=row.label,
                shown=fmt(row.count),
            )  # fmt: skip
        )
        if index < len(axis_labels) and axis_labels[index]:
            parts.append(
                Markup('<text x="{x}" y="{y}" class="stats-axis" fill="{c}">{label}</text>').format(
                    x=_n(x), y=_n(base + 18), c=TEXT_COLOUR, label=axis_labels[index]
                )
            )
    return _svg(chart_id, width, base + bottom, title, desc, Markup("").join(parts))


# --- the district map -----------------------------------------------------------------

MAP_WIDTH = 400.0
MAP_PAD = 4.0


@dataclass(frozen=True)
class Shapes:
    """The projected districts: ``paths`` (code, SVG path data) and the drawing's size."""

    paths: tuple[tuple[str, str], ...]
    width: float
    height: float


def _rings(geometry: dict[str, object]) -> list[list[list[float]]]:
    coordinates: list[Any] = geometry["coordinates"]  # type: ignore[assignment]
    if geometry["type"] == "Polygon":
        return coordinates
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in coordinates for ring in polygon]
    raise ValueError(f"not a polygon: {geometry['type']}")


@functools.cache
def district_shapes() -> Shapes:
    """The twelve districts as SVG paths, projected and fitted to ``MAP_WIDTH`` (read and
    computed once per process). Points closer than half a unit to the previous one are
    dropped: invisible at this size, and the page is smaller."""
    features = json.loads(BASEMAP.read_text("utf-8"))["features"]
    rings = {f["properties"]["code"]: _rings(f["geometry"]) for f in features}
    points = [p for shape in rings.values() for ring in shape for p in ring]
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    squeeze = math.cos(math.radians((south + north) / 2))
    scale = (MAP_WIDTH - 2 * MAP_PAD) / ((east - west) * squeeze)
    height = (north - south) * scale + 2 * MAP_PAD

    def project(p: list[float]) -> tuple[float, float]:
        return (MAP_PAD + (p[0] - west) * squeeze * scale, MAP_PAD + (north - p[1]) * scale)

    paths = []
    for code in sorted(rings):
        data: list[str] = []
        for ring in rings[code]:
            kept: list[tuple[float, float]] = []
            for point in ring:
                x, y = project(point)
                if not kept or abs(x - kept[-1][0]) + abs(y - kept[-1][1]) >= 0.5:
                    kept.append((x, y))
            if len(kept) >= 3:
                data.append("M" + "L".join(f"{_n(x)} {_n(y)}" for x, y in kept) + "Z")
        paths.append((code, "".join(data)))
    return Shapes(tuple(paths), MAP_WIDTH, height)


@dataclass(frozen=True)
class Bin:
    """A class of the choropleth: counts from ``low`` to ``high`` inclusive."""

    low: int
    high: int
    colour: str


def bins(top: int) -> tuple[Bin, ...]:
    """Classes of equal width for counts 1..``top`` (at most five, whole numbers), after
    the class of zero. Equal widths keep the legend plain to read."""
    out = [Bin(0, 0, ZERO_COLOUR)]
    if top <= 0:
        return tuple(out)
    width = math.ceil(top / min(len(CLASS_COLOURS), top))
    classes = math.ceil(top / width)
    first = len(CLASS_COLOURS) - classes  # fewer classes than colours: the darker end
    for index in range(classes):
        low = 1 + index * width
        out.append(Bin(low, min(low + width - 1, top), CLASS_COLOURS[first + index]))
    return tuple(out)


def bin_of(count: int, classes: Sequence[Bin]) -> int:
    for index, found in enumerate(classes):
        if found.low <= count <= found.high:
            return index
    raise ValueError(count)


def choropleth(
    chart_id: str,
    title: str,
    desc: str,
    counts: dict[str, int],
    names: dict[str, str],
    fmt: Format,
    legend_title: str,
) -> Markup:
    """The districts filled by class of their count, with a legend under the map (a
    swatch and its range for each class)."""
    shapes = district_shapes()
    classes = bins(max(counts.values(), default=0))
    parts: list[Markup] = []
    for code, data in shapes.paths:
        count = counts.get(code, 0)
        index = bin_of(count, classes)
        parts.append(
            Markup(
                '<path d="{d}" class="stats-district" fill="{fill}" stroke="{stroke}"'
                ' stroke-width="0.8" data-key="{code}" data-count="{count}" data-class="{index}">'
                "<title>{name}: {shown}</title></path>"
            ).format(
                d=data,
                fill=classes[index].colour,
                stroke=BORDER_COLOUR,
                code=code,
                count=count,
                index=index,
                name=names.get(code, code),
                shown=fmt(count),
            )  # fmt: skip
        )
    y = shapes.height + 10
    parts.append(
        Markup('<text x="{x}" y="{y}" class="stats-label" fill="{c}">{t}</text>').format(
            x=_n(MAP_PAD), y=_n(y + 12), c=TEXT_COLOUR, t=legend_title
        )
    )
    y += 22
    for index, found in enumerate(classes):
        shown = fmt(found.low) if found.low == found.high else f"{fmt(found.low)}–{fmt(found.high)}"
        parts.append(
            Markup(
                '<g class="stats-legend" data-class="{i}" data-low="{low}" data-high="{high}">'
                '<rect x="{x}" y="{y}" width="22" height="16" fill="{fill}" stroke="{stroke}"'
                ' stroke-width="0.8"/>'
                '<text x="{tx}" y="{ty}" class="stats-number" fill="{c}">{shown}</text></g>'
            ).format(
                i=index,
                low=found.low,
                high=found.high,
                x=_n(MAP_PAD),
                y=_n(y),
                fill=found.colour,
                stroke=BORDER_COLOUR,
                tx=_n(MAP_PAD + 30),
                ty=_n(y + 13),
                c=TEXT_COLOUR,
                shown=shown,
            )  # fmt: skip
        )
        y += 22
    return _svg(chart_id, shapes.width, y + 2, title, desc, Markup("").join(parts))


def contrast(colour: str, background: str = "#ffffff") -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    light, dark = sorted((luminance(colour), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


__all__ = [
    "BAR_COLOUR",
    "TYPE_COLOURS",
    "Bar",
    "bars",
    "bins",
    "choropleth",
    "columns",
    "contrast",
    "district_shapes",
]
