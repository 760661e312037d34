"""Deterministic repairs of a draft's structure, for the offline repair round.

A model gets its errors back and fixes them itself; the offline planner cannot reason about an
error message, so its repair round applies the fixes any reviewer would: drop edges to nodes
that do not exist, give the workflow a trigger when it has none, and chain a node nothing
leads to after the node listed before it (drafts list nodes in flow order).
"""

from __future__ import annotations

from flowlane.agent.draft import Draft, DraftEdge, DraftNode
from flowlane.models.workflow import NodeType

ATTACH_KINDS = frozenset({"ai_tool", "ai_memory", "ai_model"})


def mend(draft: Draft) -> Draft:
    nodes = list(draft.nodes)
    ids = {n.id for n in nodes}
    edges = [e for e in draft.edges if e.source in ids and e.target in ids and e.source != e.target]
    if not any(n.type is NodeType.TRIGGER for n in nodes):
        trigger = DraftNode(
            id=_free_id("start", ids), name="Start", type=NodeType.TRIGGER, subtype="MANUAL"
        )
        if nodes:
            edges.insert(0, DraftEdge(source=trigger.id, target=nodes[0].id))
        nodes.insert(0, trigger)
        ids.add(trigger.id)
    # Triggers take no input: drop edges into them.
    triggers = {n.id for n in nodes if n.type is NodeType.TRIGGER}
    edges = [e for e in edges if e.target not in triggers]
    reached = _reachable(triggers, edges)
    previous: str | None = None
    for node in nodes:
        if node.id not in reached:
            source = previous or next(iter(sorted(triggers)))
            edges.append(DraftEdge(source=source, target=node.id))
            reached = _reachable(triggers, edges)
        previous = node.id
    return draft.model_copy(update={"nodes": nodes, "edges": edges})


def _reachable(starts: set[str], edges: list[DraftEdge]) -> set[str]:
    seen = set(starts)
    frontier = list(starts)
    attached: dict[str, list[str]] = {}
    for edge in edges:
        if edge.kind in ATTACH_KINDS:
            attached.setdefault(edge.target, []).append(edge.source)
    while frontier:
        current = frontier.pop()
        following = [e.target for e in edges if e.source == current and e.kind == "main"]
        for nxt in [*following, *attached.get(current, [])]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def _free_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
