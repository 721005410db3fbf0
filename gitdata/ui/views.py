"""Pages filled from the catalog: what each route (and ``gd report``) shows."""

from __future__ import annotations

from typing import Any

from gitdata.api import Dataset
from gitdata.errors import GitDataError, InvalidInputError, NotARepositoryError
from gitdata.ui import pages, svg
from gitdata.ui.catalog import Catalog, check_version_id
from gitdata.ui.html import Html

REPORT_FILES = 1000  # files a saved report lists


class Views:
    """The pages of one catalog, linked as ``links`` says."""

    def __init__(self, catalog: Catalog, links: pages.Links, *, timeline: bool = True) -> None:
        self.catalog = catalog
        self.links = links
        self.show_timeline = timeline

    def index(self, q: str) -> Html:
        """The dataset list, filtered by ``q``."""
        return pages.index(self.catalog.datasets(q), q)

    def _lineage(self, ds: Dataset) -> Html:
        from gitdata.core.graph_layout import layout

        graph = self.catalog.lineage(ds.id)
        placed = layout(graph)
        nodes = []
        for row, n in enumerate(placed.nodes):  # one row per version, connectors aside
            try:
                other = self.catalog.version(n.id)
            except GitDataError:  # a vanished ancestor is drawn unnamed
                nodes.append(svg.DagNode(n.id, n.id[:8], row, n.column))
                continue
            stats = other.record.stats if other.record else {}
            label = (
                f"{other.version}  {n.id[:8]}  {stats.get('files', 0):,} files  "
                f"+{stats.get('added', 0):,} ~{stats.get('modified', 0):,} "
                f"-{stats.get('removed', 0):,}"
                + (f" >{stats['renamed']:,}" if stats.get("renamed") else "")
            )
            nodes.append(
                svg.DagNode(n.id, label, row, n.column, squashed=bool(other.squashed_from))
            )
        return svg.dag(nodes, placed.edges, current=ds.id, href=self.links.version)

    def version(self, version_id: str, *, per_page: int = 100) -> Html:
        """The page of one version."""
        ds = self.catalog.version(version_id)
        files = self.catalog.files(version_id, 1, per_page)
        shown = pages.summary(self.catalog.change_summary(version_id))
        if len(ds.parents) > 1:
            # a merge's change set against its merged parents is often empty: what it
            # brought into the first parent's line is what people want to see
            brought = self.catalog.compare(ds.parents[0], version_id).summary
            shown = Html(
                shown
                + pages.tag(
                    "h3",
                    "Brought in by the merge (against the first parent, ",
                    pages.short_link(self.links, ds.parents[0]),
                    ")",
                )
                + pages.summary(brought)
            )
        return pages.version(
            ds,
            lineage=self._lineage(ds),
            summary=shown,
            breakdown=pages.breakdown(self.catalog.content(version_id)),
            history=self.catalog.versions_of(ds.project, ds.name),
            listing=pages.file_table(ds, files, self.links),
            links=self.links,
        )

    def files(self, version_id: str, page: int, q: str) -> Html:
        """One page of a version's listing."""
        ds = self.catalog.version(version_id)
        return pages.files_page(ds, self.catalog.files(version_id, page, 100, q), self.links)

    def compare(self, source: str, target: str) -> Html:
        """Two versions side by side."""
        if not source or not target:
            raise InvalidInputError("compare needs ?source=ID&target=ID")
        check_version_id(source)
        check_version_id(target)
        return pages.compare(self.catalog.compare(source, target), self.links)

    def timeline(self) -> Html:
        """Which commit pinned which version."""
        from gitdata.repo_api import Workspace

        entries: list[Any] | None = None
        if self.show_timeline:
            try:
                entries = Workspace(self.catalog.storage).timeline()
            except NotARepositoryError:
                entries = None
        return pages.timeline(entries, self.links)


def report(catalog: Catalog, version_id: str) -> Html:
    """The version page as one self-contained file: no links out, the first files."""
    views = Views(catalog, pages.SAVED, timeline=False)
    return views.version(version_id, per_page=REPORT_FILES)
