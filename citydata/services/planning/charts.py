"""Server-rendered SVG charts for the Planning Datahub's pages: no script, nothing to load.

Each function returns safe markup (every label escaped) for one ``<svg role="img">`` with a
``<title>`` and ``<desc>`` that say what it shows, and a ``<title>`` on every bar (its tooltip).
Colours and sizes are SVG attributes, never ``style`` (the Content-Security-Policy forbids
inline styles). Charts are pictures of numbers the page also gives as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#1d70b8"
AXIS = "#505a5f"
GRID = "#b1b4b6"
TEXT = "#0b0c0c"
WIDTH = 720
FONT = 13


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (the top of the axis)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _open(chart_id: str, title: str, description: str, height: int) -> str:
    return (f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
            f'width="100%" role="img" aria-labelledby="{escape(chart_id)}-title '
            f'{escape(chart_id)}-desc" font-family="inherit" font-size="{FONT}">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
            f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>')


def column_chart(chart_id: str, title: str, points: Sequence[tuple[str, float]], *,
                 unit: str = "", label_every: int = 3, height: int = 260) -> Markup:
    """Vertical bars, one per point (e.g. applications received per month), left to right.

    Every ``label_every``-th point is named under the axis (and the last one); each bar's
    tooltip names its point and value."""
    left, right, top, bottom = 56, 30, 12, 44
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    highest = max((v for _, v in points), default=0)
    ceiling = nice_max(highest)
    parts = [_open(chart_id, title, _describe(points, unit), height)]
    for tick in (0, ceiling / 2, ceiling):
        y = top + plot_h - plot_h * tick / ceiling
        parts.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID if tick else AXIS}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="{TEXT}">{escape(_number(tick))}</text>')
    if points:
        slot = plot_w / len(points)
        bar_w = max(1.0, slot * 0.7)
        for i, (name, value) in enumerate(points):
            x = left + i * slot + (slot - bar_w) / 2
            h = plot_h * value / ceiling
            y = top + plot_h - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{BAR}"><title>{escape(name)}: {escape(_number(value))}'
                         f'{escape(" " + unit if unit else "")}</title></rect>')
            if i % label_every == 0 or i == len(points) - 1:
                cx = left + i * slot + slot / 2
                parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                             f'fill="{TEXT}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, items: Sequence[tuple[str, float]], *,
              unit: str = "", maximum: float | None = None, label_width: int = 300,
              row: int = 26) -> Markup:
    """Horizontal bars, one row per item, its label on the left and its value at the end.

    ``maximum`` fixes the scale (1 for shares); otherwise the largest value fills the row."""
    top, right = 6, 70
    height = top * 2 + row * max(1, len(items))
    plot_w = WIDTH - label_width - right
    scale = maximum if maximum else max((v for _, v in items), default=0) or 1
    parts = [_open(chart_id, title, _describe(items, unit), height)]
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = plot_w * min(value, scale) / scale
        shown = _number(value) + (f" {unit}" if unit else "")
        parts.append(f'<text x="{label_width - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                     f'fill="{TEXT}">{escape(_clip(name, 42))}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                     f'fill="{BAR}"><title>{escape(name)}: {escape(shown)}</title></rect>')
        parts.append(f'<text x="{label_width + w + 6:.1f}" y="{y + row / 2 + 4:.1f}" '
                     f'fill="{TEXT}">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(points: Sequence[tuple[str, float]], unit: str) -> str:
    """A one-sentence text alternative: how many values, and the largest."""
    if not points:
        return "No values."
    name, value = max(points, key=lambda p: p[1])
    suffix = f" {unit}" if unit else ""
    return (f"{len(points)} values; the largest is {name} with {_number(value)}{suffix}. "
            "The numbers are also in the table that follows.")
