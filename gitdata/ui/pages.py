"""The pages of the web UI and of ``gd report``, as HTML strings.

Each function takes what the :class:`~gitdata.ui.catalog.Catalog` read and returns a
whole page.  ``Links`` decides where links go: the server links every version to
its page; a saved report links nowhere outside itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitdata.api import Dataset
from gitdata.config import human_size
from gitdata.core.summary import ChangeSummary, FileChange, Tally
from gitdata.errors import mask_credentials
from gitdata.ui import svg
from gitdata.ui.catalog import Catalog, Comparison, DatasetRow, FilePage
from gitdata.ui.html import (
    Html,
    Num,
    esc,
    join,
    link,
    num,
    page,
    query,
    size,
    table,
    tag,
)

SHORT = 12


@dataclass(frozen=True)
class Links:
    """Where a page's links point; ``None`` renders plain text."""

    version: Callable[[str], str | None] = lambda vid: f"/version/{vid}"
    files: Callable[[str, int, str], str | None] = lambda vid, p, q: query(
        f"/version/{vid}/files", page=p if p > 1 else None, q=q or None
    )
    compare: Callable[[str, str], str | None] = lambda a, b: query("/compare", source=a, target=b)
    forms: bool = True  # search and compare forms (a saved report has no server)


SAVED = Links(
    version=lambda vid: None,
    files=lambda vid, p, q: None,
    compare=lambda a, b: None,
    forms=False,
)


def _to(href: str | None, *children: Any, **attrs: Any) -> Html:
    return link(href, *children, **attrs) if href else join(children)


def short_link(links: Links, vid: str) -> Html:
    """A version's short id, linked to its page when pages link."""
    return _to(links.version(vid), _short(vid))


def _short(vid: str) -> Html:
    return tag("code", vid[:SHORT], title=vid)


def _tags(tags: list[str]) -> Html:
    return join(tag("span", t, class_="tag") for t in tags)


# ------------------------------------------------------------------ dataset list
def index(rows: list[DatasetRow], q: str) -> Html:
    """Every dataset, searchable by project, name, tags and description."""
    form = tag(
        "form",
        Html(
            '<input type="search" name="q" placeholder="project, name, tag or description" '
            f'value="{esc(q)}" aria-label="search">'
        ),
        Html('<button type="submit">Search</button>'),
        class_="inline",
        action="/",
        method="get",
        id="search",
    )
    body = table(
        ["project", "name", "versions", "latest", "id", "created", "tags", "description"],
        (
            [
                r.project,
                r.name,
                num(len(r.versions)),
                link(f"/version/{r.latest['id']}", r.latest["version"], class_="latest"),
                _short(r.latest["id"]),
                r.latest["created"][:19].replace("T", " "),
                _tags(r.tags),
                r.latest["description"],
            ]
            for r in rows
        ),
        id="datasets",
    )
    found = (
        tag("p", f"{len(rows)} dataset(s) match {q!r}", class_="muted")
        if q
        else tag("p", f"{len(rows)} dataset(s)", class_="muted")
    )
    return page("gitdata: datasets", join([tag("h1", "Datasets"), form, found, body]))


# ------------------------------------------------------------------ one version
def _identity(ds: Dataset, links: Links) -> Html:
    record = ds.record
    assert record is not None
    rows: list[list[Any]] = [
        ["id", tag("code", ds.id)],
        ["project", ds.project],
        ["name", ds.name],
        ["version", ds.version],
        ["created", record.created],
        ["tags", _tags(ds.tags)],
        ["description", ds.description],
        *([["published", "yes"]] if ds.is_published() else []),
        *([["formerly", ", ".join(ds.former_names)]] if ds.former_names else []),
        ["manifest", tag("code", record.manifest)],
        ["store", tag("code", mask_credentials(ds.storage_url))],
        [
            "parents",
            join((_to(links.version(p), _short(p), class_="parent") for p in ds.parents), ", ")
            if ds.parents
            else tag("span", "none", class_="muted"),
        ],
        ["files", num(int(record.stats.get("files", 0)))],
        ["size", size(int(record.stats.get("bytes", 0)))],
    ]
    return table(["", ""], rows, id="identity")


def _history_charts(history: list[dict[str, Any]]) -> Html:
    if len(history) < 1:
        return Html("")
    label = lambda r: f"{r['version']} ({r['created'][:10]})"  # noqa: E731
    bytes_over_time = svg.line(
        [(label(r), int(r["stats"].get("bytes", 0))) for r in history],
        unit="bytes",
        title="size per version",
    )
    files_over_time = svg.line(
        [(label(r), int(r["stats"].get("files", 0))) for r in history],
        title="files per version",
    )
    churn = svg.stacked(
        [
            (
                r["version"],
                int(r["stats"].get("added", 0)),
                int(r["stats"].get("modified", 0)),
                int(r["stats"].get("removed", 0)),
            )
            for r in history[-30:]
        ],
        title="added, modified and removed per version",
    )
    return tag(
        "section",
        tag("h2", "Over time"),
        tag(
            "div",
            tag("div", tag("h3", "Size"), bytes_over_time, class_="card"),
            tag("div", tag("h3", "Files"), files_over_time, class_="card"),
            tag("div", tag("h3", "Changes per version"), churn, class_="card"),
            class_="grid",
        ),
        id="history",
    )


def version(
    ds: Dataset,
    *,
    lineage: Html,
    summary: Html,
    breakdown: Html,
    history: list[dict[str, Any]],
    listing: Html,
    links: Links,
) -> Html:
    """The version page: identity, lineage, change-set summary, charts, listing."""
    compare = Html("")
    if links.forms and len(history) > 1:
        options = join(
            tag("option", f"{r['version']} {r['id'][:SHORT]}", value=r["id"])
            for r in reversed(history)
            if r["id"] != ds.id
        )
        compare = tag(
            "form",
            Html(f'<input type="hidden" name="target" value="{esc(ds.id)}">'),
            tag("select", options, name="source", aria_label="compare with"),
            Html('<button type="submit">Compare</button>'),
            action="/compare",
            method="get",
            class_="inline",
            id="compare-form",
        )
    body = join(
        [
            tag("h1", f"{ds.project}/{ds.name} ", tag("span", ds.version, class_="muted")),
            _identity(ds, links),
            compare,
            tag("section", tag("h2", "Lineage"), lineage, id="lineage"),
            tag("section", tag("h2", "Change set"), summary, id="summary"),
            tag("section", tag("h2", "Breakdown"), breakdown, id="breakdown"),
            _history_charts(history),
            tag("section", tag("h2", "Files"), listing, id="files"),
        ]
    )
    return page(f"{ds.project}/{ds.name} {ds.version}", body, nav=links.forms)


def file_table(ds: Dataset, files: FilePage, links: Links) -> Html:
    """One page of the listing, with a search box and a pager (when served)."""
    rows = (
        [
            tag("span", e.path, class_="mono path"),
            size(e.size),
            tag("code", e.sha256[:16], title=e.sha256),
            tag("code", e.chunk[:12] or "external", title=e.url or e.chunk),
            num(e.offset),
        ]
        for e in files.entries
    )
    grid = table(["path", "size", "sha256", "chunk", "offset"], rows, id="file-table")
    shown = f"{files.total:,} file(s)" + (f" matching {files.query!r}" if files.query else "")
    parts: list[Any] = []
    if links.forms:
        parts.append(
            tag(
                "form",
                Html(
                    '<input type="search" name="q" placeholder="path contains, or a glob" '
                    f'value="{esc(files.query)}" aria-label="filter files">'
                ),
                Html('<button type="submit">Filter</button>'),
                action=f"/version/{ds.id}/files",
                method="get",
                class_="inline",
                id="file-search",
            )
        )
    pager: list[Any] = [tag("span", f"{shown}; page {files.page} of {files.pages}", class_="muted")]
    if files.page > 1:
        pager.insert(
            0, _to(links.files(ds.id, files.page - 1, files.query), "‹ previous", rel="prev")
        )
    if files.page < files.pages:
        pager.append(_to(links.files(ds.id, files.page + 1, files.query), "next ›", rel="next"))
    if not links.forms and files.pages > 1:
        pager.append(
            tag("span", f"(this report lists the first {files.per_page:,})", class_="muted")
        )
    parts.append(tag("div", *pager, class_="pager"))
    parts.append(grid)
    return join(parts)


def files_page(ds: Dataset, files: FilePage, links: Links) -> Html:
    """The listing on a page of its own."""
    body = join(
        [
            tag(
                "h1",
                _to(links.version(ds.id), f"{ds.project}/{ds.name} {ds.version}"),
                " files",
            ),
            file_table(ds, files, links),
        ]
    )
    return page(f"{ds.project}/{ds.name} {ds.version}: files", body)


# ------------------------------------------------------------------ compare
def _signed_size(delta: int) -> Num:
    return Num(esc(("+" if delta > 0 else "-" if delta < 0 else "") + human_size(abs(delta))))


def change_rows(changes: list[FileChange], limit: int = 1000) -> list[list[Any]]:
    """One row per change: kind, path (``old → new`` for a rename), sizes, delta."""
    return [
        [
            tag("span", c.kind, class_=_KIND_CLASS[c.kind]),
            tag("span", f"{c.old_path} → {c.path}" if c.old_path else c.path, class_="mono path"),
            size(c.old_size) if c.kind != "added" else "",
            size(c.size) if c.kind != "removed" else "",
            _signed_size(c.delta),
        ]
        for c in changes[:limit]
    ]


def compare(c: Comparison, links: Links, limit: int = 1000) -> Html:
    """What changed from one version to another, with sizes and size deltas."""
    s, t = c.summary, c.summary.totals
    head = tag(
        "h1",
        "Compare ",
        _to(links.version(c.source.id), c.source.version, class_="source"),
        " → ",
        _to(links.version(c.target.id), c.target.version, class_="target"),
    )
    line = tag(
        "p",
        f"{c.source.project}/{c.source.name} {c.source.id[:SHORT]} → "
        f"{c.target.project}/{c.target.name} {c.target.id[:SHORT]}: "
        f"{t.added:,} added, {t.modified:,} modified, {t.removed:,} removed, "
        f"{t.renamed:,} renamed; net {_signed_size(t.delta)}",
        id="compare-summary",
    )
    sections = []
    for title, changes in (
        ("added", s.added),
        ("modified", s.modified),
        ("removed", s.removed),
        ("renamed", s.renamed),
    ):
        if not changes:
            continue
        more = (
            tag("p", f"the first {limit:,} of {len(changes):,}", class_="muted")
            if len(changes) > limit
            else ""
        )
        sections.append(
            tag(
                "section",
                tag("h2", f"{title} ({len(changes):,})"),
                table(
                    ["", "path", "before", "after", "Δ"],
                    change_rows(changes, limit),
                    id=f"{title}-files",
                ),
                more,
            )
        )
    return page("gitdata: compare", join([head, line, summary(s), *sections]))


# ------------------------------------------------------------------ timeline
def timeline(entries: list[Any] | None, links: Links) -> Html:
    """Which commit pinned which version (inside a repository)."""
    if entries is None:
        body = tag(
            "p",
            "Not inside a git repository: start gd ui in one to see which "
            "commit pinned which version.",
            class_="muted",
        )
    else:
        rows = []
        for e in entries:
            for path, pointer in e.changes:
                rows.append(
                    [
                        tag("code", e.commit[:10], title=e.commit),
                        e.date[:19].replace("T", " "),
                        e.author,
                        e.message,
                        f"{pointer.project}/{pointer.name}" if pointer else path,
                        _to(links.version(pointer.id), pointer.version)
                        if pointer
                        else tag("span", "deleted", class_="del"),
                    ]
                )
        body = table(
            ["commit", "date", "author", "message", "dataset", "version"], rows, id="timeline"
        )
    return page("gitdata: timeline", join([tag("h1", "Timeline"), body]))


def error(status: int, message: str) -> Html:
    """A page for a request that cannot be answered."""
    return page(f"gitdata: {status}", join([tag("h1", str(status)), tag("p", message)]))


def history_of(catalog: Catalog, ds: Dataset) -> list[dict[str, Any]]:
    """The dataset's closed versions, oldest first, for the charts."""
    return catalog.versions_of(ds.project, ds.name)


# ------------------------------------------------------------------ summaries
_KIND_CLASS = {"added": "add", "modified": "mod", "removed": "del", "renamed": "mod"}


def _group_rows(groups: list[Tally], limit: int) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            tag("span", g.key or "(top level)", class_="mono"),
            num(g.files),
            num(g.added),
            num(g.modified),
            num(g.removed),
            num(g.renamed),
            _signed_size(g.delta),
        ]
        for g in groups[:limit]
    ]
    if len(groups) > limit:
        rows.append([tag("span", f"and {len(groups) - limit:,} more", class_="muted")])
    return rows


def summary(s: ChangeSummary, limit: int = 20) -> Html:
    """The change-set summary: totals per kind, by top-level folder and by file type,
    and the largest changes."""
    if s.is_empty():
        return tag("p", "no changes", class_="muted", id="no-changes")
    t = s.totals
    totals = table(
        ["", "files", "bytes"],
        [
            [tag("span", "added", class_="add"), num(t.added), size(t.added_bytes)],
            [tag("span", "modified", class_="mod"), num(t.modified), size(t.modified_bytes)],
            [tag("span", "removed", class_="del"), num(t.removed), size(t.removed_bytes)],
            [tag("span", "renamed", class_="mod"), num(t.renamed), size(t.renamed_bytes)],
            ["net change", "", _signed_size(t.delta)],
        ],
        id="summary-totals",
    )
    heads = ["", "files", "added", "modified", "removed", "renamed", "net"]
    largest = table(
        ["", "path", "before", "after", "Δ"], change_rows(s.largest(limit)), id="largest-changes"
    )
    return join(
        [
            tag(
                "div",
                tag("div", tag("h3", "Totals"), totals, class_="card"),
                tag(
                    "div",
                    tag("h3", "By top-level folder"),
                    table(heads, _group_rows(s.by_folder, limit), id="summary-folders"),
                    class_="card",
                ),
                tag(
                    "div",
                    tag("h3", "By file type"),
                    table(heads, _group_rows(s.by_type, limit), id="summary-types"),
                    class_="card",
                ),
                class_="grid",
            ),
            tag("h3", "Largest changes"),
            largest,
        ]
    )


def breakdown(content: tuple[list[Tally], list[Tally]], limit: int = 15) -> Html:
    """What the version holds, by top-level folder and by file type (bytes)."""
    by_folder, by_type = content
    folders = [(g.key or "(top level)", g.added_bytes) for g in by_folder[:limit]]
    types = [(g.key or "(no extension)", g.added_bytes) for g in by_type[:limit]]
    return tag(
        "div",
        tag(
            "div",
            tag("h3", "Bytes by top-level folder"),
            svg.bars(folders, unit="bytes", title="bytes by folder"),
            class_="card",
        ),
        tag(
            "div",
            tag("h3", "Bytes by file type"),
            svg.bars(types, unit="bytes", title="bytes by type"),
            class_="card",
        ),
        class_="grid",
    )
