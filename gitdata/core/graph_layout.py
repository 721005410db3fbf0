"""Laying out the lineage DAG of versions as ``git log --graph`` draws commits.

Pure logic, plain data in and out: the CLI prints :attr:`GraphLayout.rows`, a web UI
can place :attr:`GraphLayout.nodes` (row, column) and draw :attr:`GraphLayout.edges`.

Versions are drawn one per row, every child above its parents (newest first where
the DAG leaves a choice).  Each version sits in a *lane* (a column); a lane carries
the line down to the version it waits for.  A version's first new parent takes its
lane, further parents open lanes to its right, and a parent some other lane already
waits for is joined by a diagonal.  Between two rows, connector rows draw the lanes
moving: ``|`` straight down, ``\\`` one column right, ``/`` one column left, ``X``
where two lines cross.  A line that moves several columns takes one connector row per
column.  Unrelated roots and heads simply open or close their own lane.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gitdata.core.ids import is_version_id

NODE = "*"


@dataclass(frozen=True)
class GraphRow:
    """One text row of the drawing: its glyphs and the version drawn on it (None
    for a connector row)."""

    glyphs: str
    node: str | None = None


@dataclass(frozen=True)
class PlacedNode:
    """Where a version is drawn: its row (index into :attr:`GraphLayout.rows`) and
    lane (column; its glyph is at character ``2 * column``)."""

    id: str
    row: int
    column: int


@dataclass
class GraphLayout:
    """The drawing of a DAG: rows of glyphs, where each version sits, and its edges
    (child, parent) between versions that are drawn, parents in their order."""

    rows: list[GraphRow] = field(default_factory=list)
    nodes: list[PlacedNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    columns: int = 0


def _shown_parents(parents: Mapping[str, Sequence[str]], vid: str) -> list[str]:
    """The parents of ``vid`` that are drawn, each once, in their order."""
    out: list[str] = []
    for p in parents.get(vid, ()):
        if p in parents and p != vid and p not in out:
            out.append(p)
    return out


def topo_order(
    parents: Mapping[str, Sequence[str]], newest_first: Sequence[str] | None = None
) -> list[str]:
    """Every id of ``parents`` once, each child before its parents; where the DAG
    leaves a choice, ids come in ``newest_first`` order (ids it lacks go last, by id).

    A cycle (only a damaged store could hold one) does not stop the walk: the ids
    left on it follow in ``newest_first`` order."""
    rank = {vid: i for i, vid in enumerate(newest_first or ()) if vid in parents}
    late = len(rank)

    def key(vid: str) -> tuple[int, str]:
        return (rank.get(vid, late), vid)

    children = dict.fromkeys(parents, 0)
    shown = {vid: _shown_parents(parents, vid) for vid in parents}
    for ps in shown.values():
        for p in ps:
            children[p] += 1
    ready = [key(v) for v, n in children.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(parents):
        if not ready:  # a cycle: take the newest id not drawn yet
            heapq.heappush(ready, min(key(v) for v in parents if v not in done))
        vid = heapq.heappop(ready)[1]
        if vid in done:
            continue
        done.add(vid)
        order.append(vid)
        for p in shown[vid]:
            children[p] -= 1
            if children[p] == 0 and p not in done:
                heapq.heappush(ready, key(p))
    return order


def _connector_rows(moves: list[tuple[int, int]]) -> list[str]:
    """The rows that carry each line from its lane ``start`` to lane ``end``."""
    rows: list[str] = []
    pos = [start for start, _ in moves]
    width = 2 * max([s for s, _ in moves] + [e for _, e in moves] + [0]) + 1
    while any(p != e for p, (_, e) in zip(pos, moves, strict=True)):
        cells = [" "] * width
        for i, (_, end) in enumerate(moves):
            p = pos[i]
            if p == end:
                at, glyph = 2 * p, "|"
            elif end > p:
                at, glyph = 2 * p + 1, "\\"
                pos[i] = p + 1
            else:
                at, glyph = 2 * p - 1, "/"
                pos[i] = p - 1
            cells[at] = glyph if cells[at] in (" ", glyph) else "X"
        rows.append("".join(cells).rstrip())
    return rows


def layout(
    parents: Mapping[str, Sequence[str]],
    newest_first: Sequence[str] | None = None,
    glyphs: Mapping[str, str] | None = None,
) -> GraphLayout:
    """Lay out the DAG ``parents`` (id -> parent ids; parents that are not keys are
    not drawn) as rows of text.

    ``newest_first`` orders versions the DAG does not order; ``glyphs`` replaces
    the ``*`` of some versions (one character each, e.g. a squashed version)."""
    out = GraphLayout()
    lanes: list[str] = []  # the id each lane waits for
    drawn: set[str] = set()
    for vid in topo_order(parents, newest_first):
        if vid in lanes:
            col = lanes.index(vid)
        else:
            lanes.append(vid)  # a head: a lane of its own
            col = len(lanes) - 1
        cells = ["|"] * len(lanes)
        cells[col] = (glyphs or {}).get(vid, NODE)[:1] or NODE
        out.nodes.append(PlacedNode(vid, len(out.rows), col))
        out.rows.append(GraphRow(" ".join(cells), vid))
        out.columns = max(out.columns, len(lanes))
        drawn.add(vid)
        ps = _shown_parents(parents, vid)
        out.edges.extend((vid, p) for p in ps)
        # a parent drawn already (a cycle) gets no lane: it would never close
        waiting = [p for p in ps if p not in drawn]
        opened = [p for p in waiting if p not in lanes]
        new_lanes = lanes[:col] + opened + lanes[col + 1 :]
        where = {v: i for i, v in enumerate(new_lanes)}
        moves: list[tuple[int, int]] = []
        for i, v in enumerate(lanes):
            if i == col:
                moves.extend((col, where[p]) for p in waiting)
            else:
                moves.append((i, where[v]))
        lanes = new_lanes
        out.columns = max(out.columns, len(lanes))
        out.rows.extend(GraphRow(r) for r in _connector_rows(moves))
    return out


# ---------------------------------------------------------------- versions as a DAG

SQUASH = "S"  # the glyph of a squashed version


def squash_sources(parents: Sequence[str], metadata: Mapping[str, object]) -> list[str]:
    """The versions a squash was made of, from its record: a squash has no parents
    and its ``metadata.squashed_from`` lists the ids (docs/format.md §3); [] otherwise."""
    sources = metadata.get("squashed_from")
    if parents or not isinstance(sources, list):
        return []
    if not all(isinstance(s, str) and is_version_id(s) for s in sources):
        return []
    return list(sources)


@dataclass(frozen=True)
class VersionNode:
    """What the lineage view shows of one version (plain data)."""

    id: str
    project: str
    name: str
    version: str
    parents: list[str]
    created: str = ""
    state: str = "closed"
    tags: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    squashed_from: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able form."""
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "version": self.version,
            "parents": list(self.parents),
            "created": self.created,
            "state": self.state,
            "tags": list(self.tags),
            "stats": dict(self.stats),
            "squashed_from": list(self.squashed_from),
        }


@dataclass
class Lineage:
    """Versions and their drawing: ``nodes`` in row order (children first), the
    ``layout``, and for each version the parents it names that are not drawn
    (deleted, or outside the versions asked for)."""

    nodes: list[VersionNode]
    layout: GraphLayout
    hidden_parents: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """``{"nodes": [...], "edges": [...]}`` with full ids; each node also has its
        ``row`` and ``column`` in the drawing and its ``hidden_parents``."""
        placed = {p.id: p for p in self.layout.nodes}
        nodes = []
        for n in self.nodes:
            d = n.to_dict()
            d.update(
                row=placed[n.id].row,
                column=placed[n.id].column,
                hidden_parents=self.hidden_parents.get(n.id, []),
            )
            nodes.append(d)
        edges = [{"child": c, "parent": p} for c, p in self.layout.edges]
        return {"nodes": nodes, "edges": edges}


def lineage(nodes: Sequence[VersionNode]) -> Lineage:
    """Lay out ``nodes`` (newest first where the DAG leaves a choice: by ``created``,
    then id); squashed versions are drawn with :data:`SQUASH`."""
    by_id = {n.id: n for n in nodes}
    newest = sorted(by_id.values(), key=lambda n: (n.created, n.id), reverse=True)
    drawing = layout(
        {vid: n.parents for vid, n in by_id.items()},
        [n.id for n in newest],
        {n.id: SQUASH for n in newest if n.squashed_from},
    )
    hidden = {
        n.id: [p for p in n.parents if p not in by_id]
        for n in by_id.values()
        if any(p not in by_id for p in n.parents)
    }
    return Lineage([by_id[p.id] for p in drawing.nodes], drawing, hidden)
