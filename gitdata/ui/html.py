"""Building HTML safely: every dataset-supplied string goes through :func:`esc`.

No template engine: pages are small, and a function per piece keeps escaping in
one place.  ``Html`` marks a string as already-built markup; anything else given
to :func:`tag` or :func:`join` is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

from gitdata.config import human_size


class Html(str):
    """Markup that is already safe (built by this module from escaped parts)."""

    __slots__ = ()


class Num(Html):
    """A number cell's text: right-aligned in a table."""

    __slots__ = ()


Part = Html | str | int | float | None


def esc(value: Part) -> Html:
    """``value`` as safe text: markup is escaped, ``None`` is empty."""
    if value is None:
        return Html("")
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def join(parts: Iterable[Part], sep: str = "") -> Html:
    """The parts, each escaped unless it is ``Html``, joined by ``sep``."""
    return Html(sep.join(esc(p) for p in parts))


def tag(element: str, /, *children: Part, **attrs: Part) -> Html:
    """``<element attrs>children</element>``; ``class_`` stands for ``class``, ``None``
    attributes are left out, attribute values are escaped."""
    rendered = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None
    )
    return Html(f"<{element}{rendered}>{join(children)}</{element}>")


def link(href: str, /, *children: Part, **attrs: Part) -> Html:
    """An ``<a>``; ``href`` is escaped like any attribute."""
    return tag("a", *children, href=href, **attrs)


def query(path: str, **params: str | int | None) -> str:
    """``path?k=v...`` with the values URL-encoded (``None`` values left out)."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


def _cell(value: Part) -> Html:
    return tag("td", value, class_="num") if isinstance(value, Num) else tag("td", value)


def table(headers: list[str], rows: Iterable[Sequence[Part]], **attrs: Part) -> Html:
    """A table; :class:`Num` cells are right-aligned."""
    head = tag("tr", *(tag("th", h) for h in headers))
    body = join(tag("tr", *(_cell(c) for c in row)) for row in rows)
    return tag("table", tag("thead", head), tag("tbody", body), **attrs)


def num(n: int) -> Num:
    """An integer with thousands separators, for a number cell."""
    return Num(f"{n:,}")


def size(n: int) -> Num:
    """A byte count for a number cell."""
    return Num(esc(human_size(n)))


STYLE = """
:root { --fg:#1d2330; --muted:#5d6677; --line:#d9dee7; --accent:#2456c7; --add:#1f7a3a;
        --mod:#a66300; --del:#b42323; --bg:#fbfcfe; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
header { background: #16213a; color: #fff; padding: 10px 24px; display: flex; gap: 24px;
         align-items: baseline; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; font-size: 16px; }
main { padding: 16px 24px 48px; max-width: 1200px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
a { color: var(--accent); }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
              font-size: 12.5px; }
.muted { color: var(--muted); } .add { color: var(--add); } .mod { color: var(--mod); }
.del { color: var(--del); }
.tag { display: inline-block; background: #e7edf9; border-radius: 10px; padding: 0 8px;
       margin-right: 4px; font-size: 12px; }
form.inline { display: inline-flex; gap: 6px; margin: 8px 0; }
input[type=search], select { padding: 4px 8px; border: 1px solid var(--line);
                             border-radius: 4px; min-width: 280px; }
.pager { display: flex; gap: 12px; align-items: center; margin: 8px 0; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg .node circle { fill: #fff; stroke: var(--accent); stroke-width: 2; }
svg .node.current circle { fill: var(--accent); }
svg .node.squash circle { stroke-dasharray: 3 2; }
svg .edge { stroke: #8b97ad; stroke-width: 1.5; fill: none; }
"""


def page(title: str, body: Html, *, nav: bool = True) -> Html:
    """A whole page: doctype, inline style, header, ``body`` in ``<main>``; nothing
    loaded from anywhere else (works offline, and saved as one file)."""
    header = (
        tag(
            "header",
            link("/", "gitdata", class_="brand"),
            link("/", "Datasets"),
            link("/timeline", "Timeline"),
        )
        if nav
        else tag("header", tag("span", "gitdata", class_="brand"))
    )
    return Html(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body>{header}<main>{body}</main></body></html>\n"
    )
