"""Charts and the lineage DAG drawn as inline SVG, computed in Python.

Inline SVG needs no script and no download, prints, and keeps a saved report one
file.  Every label is escaped (``html.esc``); every number is formatted here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gitdata.config import human_size
from gitdata.ui.html import Html, esc, join

_W = 560  # chart width in px
_BAR_H = 18


@dataclass(frozen=True)
class DagNode:
    """A node placed on the lineage drawing: ``row`` from the top, ``col`` lane."""

    id: str
    label: str
    row: int
    col: int
    squashed: bool = False


def _svg(width: int, height: int, body: str, label: str) -> Html:
    return Html(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">{body}</svg>'
    )


def dag(
    nodes: Sequence[DagNode],
    edges: Sequence[tuple[str, str]],
    *,
    current: str | None = None,
    href: Callable[[str], str | None] = lambda vid: None,
) -> Html:
    """The lineage: a circle per node (a link when ``href`` gives one), a line from
    each child to each parent, the label to the right of the lanes."""
    if not nodes:
        return Html("")
    lanes = max(n.col for n in nodes) + 1
    step_x, step_y, pad = 22, 30, 14
    label_x = pad + lanes * step_x + 6
    at = {n.id: (pad + n.col * step_x, pad + n.row * step_y) for n in nodes}
    parts: list[str] = []
    for child, parent in edges:
        if child not in at or parent not in at:
            continue
        (x1, y1), (x2, y2) = at[child], at[parent]
        mid = (y1 + y2) / 2
        parts.append(f'<path class="edge" d="M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"/>')
    for n in nodes:
        x, y = at[n.id]
        classes = (
            "node" + (" current" if n.id == current else "") + (" squash" if n.squashed else "")
        )
        shape = (
            f'<g class="{classes}" data-id="{esc(n.id)}"><circle cx="{x}" cy="{y}" r="6"/>'
            f'<text x="{label_x}" y="{y + 4}">{esc(n.label)}</text>'
            f"<title>{esc(n.id)}</title></g>"
        )
        target = href(n.id)
        parts.append(f'<a href="{esc(target)}">{shape}</a>' if target else shape)
    width = label_x + 8 + 7 * max(len(n.label) for n in nodes)
    height = pad * 2 + (max(n.row for n in nodes)) * step_y
    return _svg(width, height, "".join(parts), "lineage of the version")


def bars(rows: Sequence[tuple[str, int]], *, unit: str = "count", title: str = "") -> Html:
    """Horizontal bars, one per (label, value); ``unit`` 'bytes' formats sizes."""
    if not rows:
        return Html('<p class="muted">nothing to show</p>')
    top = max(v for _, v in rows) or 1
    label_w, bar_w = 200, _W - 200 - 90
    parts = []
    for i, (label, value) in enumerate(rows):
        y = i * (_BAR_H + 4)
        w = max(1, round(bar_w * value / top)) if value else 0
        shown = human_size(value) if unit == "bytes" else f"{value:,}"
        parts.append(
            f'<text x="0" y="{y + 13}">{esc(_clip(label, 30))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{_BAR_H}" fill="#5b84d6"/>'
            f'<text x="{label_w + w + 6}" y="{y + 13}">{esc(shown)}</text>'
        )
    return _svg(_W, len(rows) * (_BAR_H + 4), "".join(parts), title or "bar chart")


def stacked(rows: Sequence[tuple[str, int, int, int]], *, title: str = "") -> Html:
    """One bar per (label, added, modified, removed), the three stacked in their colours."""
    if not rows:
        return Html('<p class="muted">nothing to show</p>')
    top = max(a + m + r for _, a, m, r in rows) or 1
    label_w, bar_w = 120, _W - 120 - 120
    parts = []
    for i, (label, *counts) in enumerate(rows):
        y = i * (_BAR_H + 4)
        x = label_w
        parts.append(f'<text x="0" y="{y + 13}">{esc(_clip(label, 16))}</text>')
        for value, colour in zip(counts, ("#1f7a3a", "#d08a1c", "#b42323"), strict=True):
            w = round(bar_w * value / top)
            if w:
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{w}" height="{_BAR_H}" fill="{colour}"/>'
                )
            x += w
        a, m, r = counts
        parts.append(f'<text x="{x + 6}" y="{y + 13}">+{a:,} ~{m:,} -{r:,}</text>')
    return _svg(_W, len(rows) * (_BAR_H + 4), "".join(parts), title or "changes per version")


def line(points: Sequence[tuple[str, int]], *, unit: str = "count", title: str = "") -> Html:
    """A line through (label, value) points in order, with the first and last labels
    and the largest value on the axes."""
    if not points:
        return Html('<p class="muted">nothing to show</p>')
    height, pad_l, pad_b, pad_t = 160, 70, 24, 10
    top = max(v for _, v in points) or 1
    span = max(1, len(points) - 1)
    inner_w, inner_h = _W - pad_l - 20, height - pad_b - pad_t

    def xy(i: int, v: int) -> tuple[float, float]:
        return pad_l + inner_w * i / span, pad_t + inner_h * (1 - v / top)

    fmt = human_size if unit == "bytes" else (lambda v: f"{v:,}")
    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = join(
        Html(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2456c7">'
            f"<title>{esc(label)}: {esc(fmt(v))}</title></circle>"
        )
        for (x, y), (label, v) in zip(coords, points, strict=True)
    )
    axes = (
        f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{_W - 20}" y2="{pad_t + inner_h}" '
        'stroke="#b8c0cf"/>'
        f'<text x="0" y="{pad_t + 8}">{esc(fmt(top))}</text>'
        f'<text x="0" y="{pad_t + inner_h}">0</text>'
        f'<text x="{pad_l}" y="{height - 6}">{esc(_clip(points[0][0], 20))}</text>'
        f'<text x="{_W - 20}" y="{height - 6}" text-anchor="end">'
        f"{esc(_clip(points[-1][0], 20))}</text>"
    )
    body = f'{axes}<polyline points="{path}" fill="none" stroke="#2456c7" stroke-width="2"/>{dots}'
    return _svg(_W, height, body, title or "over time")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
