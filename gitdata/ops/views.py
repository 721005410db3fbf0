"""What the terminal views (and a web UI) show: change-set summaries and lineage.

The pure parts live in :mod:`gitdata.core.summary` and :mod:`gitdata.core.graph_layout`;
this module reads the records and manifests they need from a store."""

from __future__ import annotations

from gitdata.core.graph_layout import Lineage, VersionNode, lineage, squash_sources
from gitdata.core.lineage import ancestors
from gitdata.core.record import VersionRecord
from gitdata.core.summary import ChangeSummary, summarize
from gitdata.errors import DatasetNotFoundError
from gitdata.ops.context import Context
from gitdata.ops.reader import list_records, load_manifest, load_record, parent_comparable
from gitdata.ops.state import Draft, DraftHeader


def change_summary(ctx: Context, meta: VersionRecord | Draft) -> ChangeSummary:
    """The summary of a version's (or draft's) changes against its merged parents."""
    if isinstance(meta, Draft):
        return summarize(ctx.parent_files(list(meta.parents)), meta.files)
    return summarize(*parent_comparable(ctx, list(meta.parents), load_manifest(ctx, meta.manifest)))


def record_node(record: VersionRecord) -> VersionNode:
    """The lineage node of a closed version."""
    return VersionNode(
        id=record.id,
        project=record.project,
        name=record.name,
        version=record.version,
        parents=list(record.parents),
        created=record.created,
        tags=list(record.tags),
        stats=dict(record.stats),
        squashed_from=squash_sources(record.parents, record.metadata),
    )


def _draft_node(draft: DraftHeader) -> VersionNode:
    return VersionNode(
        id=draft.id,
        project=draft.project,
        name=draft.name,
        version=draft.version,
        parents=list(draft.parents),
        created=draft.created,
        state="draft",
        tags=list(draft.tags),
    )


def version_lineage(ctx: Context, version_id: str) -> Lineage:
    """A version (or open draft) and every ancestor that still exists."""
    nodes: dict[str, VersionNode] = {}
    if ctx.state.has_draft(version_id):
        draft = ctx.state.load_draft(version_id)
        nodes[version_id] = _draft_node(
            DraftHeader(
                draft.id,
                draft.project,
                draft.name,
                draft.version,
                list(draft.parents),
                list(draft.tags),
                draft.description,
                draft.created,
            )
        )
    else:
        nodes[version_id] = record_node(load_record(ctx, version_id))

    def parents_of(vid: str) -> list[str]:
        node = nodes.get(vid)
        if node is None:
            try:
                node = nodes[vid] = record_node(load_record(ctx, vid))
            except DatasetNotFoundError:  # a deleted ancestor: its child shows it hidden
                return []
        return node.parents

    ancestors([version_id], parents_of)
    return lineage(list(nodes.values()))


def project_lineage(ctx: Context, project: str, name: str | None = None) -> Lineage:
    """Every closed version of ``project`` (and its sub-projects), or of one dataset
    ``project``/``name``; DatasetNotFoundError when there is none."""
    prefix = project.rstrip("/") + "/"
    records = [
        r
        for r in list_records(ctx)
        if (r.project == project or (name is None and r.project.startswith(prefix)))
        and (name is None or r.name == name)
    ]
    if not records:
        what = f"{project}/{name}" if name is not None else f"project {project}"
        raise DatasetNotFoundError(
            f"no version of {what} in {ctx.store.url}",
            project=project,
            name=name,
            hint="gd search lists the versions in the store",
        )
    return lineage([record_node(r) for r in records])
