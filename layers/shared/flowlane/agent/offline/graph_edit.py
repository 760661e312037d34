"""Edits of a draft's graph that keep everything else as it was.

Each function takes a draft and answers a new one (the input is never changed): insert a node
before another (the edges into it now enter the new node), add a node beside another (same
incoming edges), replace a node (same edges, new id), remove a node (its predecessors are wired
to its successors, and expressions that read it are pointed at what it read).
"""

from __future__ import annotations

import re

from pydantic import JsonValue

from flowlane.agent.draft import Draft, DraftEdge, DraftNode
from flowlane.agent.offline.data_refs import DataRef, Tail, manual_data, node_ref, webhook_data
from flowlane.agent.offline.lexicon import slug
from flowlane.models.workflow import NodeType

# The port a node's flow goes on from, when it has several (IF: the test passed; LOOP: after it).
_MAIN_PORTS = {"IF": "true", "APPROVAL": "approved", "LOOP": "done"}
_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)


def main_port(node: DraftNode) -> str:
    return _MAIN_PORTS.get(node.subtype.upper(), "main")


def unique_id(draft: Draft, hint: str) -> str:
    base = slug(hint, 40) or "step"
    taken = {n.id for n in draft.nodes}
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}-{n}"
        n += 1
    return candidate


def incoming(draft: Draft, node_id: str) -> list[DraftEdge]:
    return [e for e in draft.edges if e.target == node_id and e.kind == "main"]


def outgoing(draft: Draft, node_id: str) -> list[DraftEdge]:
    return [e for e in draft.edges if e.source == node_id and e.kind == "main"]


def _copy(draft: Draft) -> Draft:
    return draft.model_copy(deep=True)


def insert_before(draft: Draft, target: str, node: DraftNode, port: str | None = None) -> Draft:
    """`node` takes the edges into `target`, and leads to it from `port` (its main port)."""
    result = _copy(draft)
    index = next(i for i, n in enumerate(result.nodes) if n.id == target)
    result.nodes.insert(index, node)
    for edge in result.edges:
        if edge.target == target and edge.kind == "main":
            edge.target = node.id
    result.edges.append(DraftEdge(source=node.id, target=target, port=port or main_port(node)))
    return result


def add_beside(draft: Draft, sibling: str | None, node: DraftNode) -> Draft:
    """`node` gets the same incoming edges as `sibling` (after the same step); with no sibling,
    it follows the last node of the flow."""
    result = _copy(draft)
    if sibling is not None:
        index = next(i for i, n in enumerate(result.nodes) if n.id == sibling)
        result.nodes.insert(index + 1, node)
        for edge in incoming(draft, sibling):
            result.edges.append(edge.model_copy(update={"target": node.id}))
        return result
    last = last_node(draft)
    result.nodes.append(node)
    if last is not None:
        result.edges.append(DraftEdge(source=last.id, target=node.id, port=main_port(last)))
    return result


def last_node(draft: Draft) -> DraftNode | None:
    """The last node in document order with nothing after it (the flow's end)."""
    sources = {e.source for e in draft.edges if e.kind == "main"}
    attached = {e.source for e in draft.edges if e.kind != "main"}
    ends = [n for n in draft.nodes if n.id not in sources and n.id not in attached]
    return ends[-1] if ends else (draft.nodes[-1] if draft.nodes else None)


def replace(draft: Draft, old: str, node: DraftNode) -> Draft:
    """`node` in place of `old`, with its edges (and expressions reading `old` renamed)."""
    result = _copy(draft)
    index = next(i for i, n in enumerate(result.nodes) if n.id == old)
    result.nodes[index] = node
    for edge in result.edges:
        if edge.source == old:
            edge.source = node.id
        if edge.target == old:
            edge.target = node.id
    if node.id != old:
        for other in result.nodes:
            other.parameters = {k: _rename(v, old, node.id) for k, v in other.parameters.items()}
    return result


def remove(draft: Draft, node_id: str) -> tuple[Draft, list[str]]:
    """The draft without `node_id`: its predecessors lead to its successors; nodes attached
    only to it go too; expressions reading it read what it read. Also answers notes for the
    user about expressions that could not be mended."""
    result = _copy(draft)
    gone = next(n for n in result.nodes if n.id == node_id)
    preds = incoming(result, node_id)
    succs = outgoing(result, node_id)
    replacement = _replacement(result, gone, preds)
    attached = [e.source for e in result.edges if e.target == node_id and e.kind != "main"]
    attached = [
        a for a in attached if all(e.target == node_id for e in result.edges if e.source == a)
    ]
    removed = {node_id, *attached}
    result.edges = [e for e in result.edges if e.source not in removed and e.target not in removed]
    result.nodes = [n for n in result.nodes if n.id not in removed]
    for pred in preds:
        for succ in succs:
            edge = DraftEdge(
                source=pred.source, target=succ.target, port=pred.port, index=succ.index
            )
            if edge not in result.edges and pred.source != succ.target:
                result.edges.append(edge)
    notes: list[str] = []
    for target_id in dict.fromkeys(e.target for e in succs):
        follower = next((n for n in result.nodes if n.id == target_id), None)
        if follower is not None:
            # `input` there was the removed node's output: read what it read instead.
            follower.parameters = _mend_all(follower.parameters, node_id, replacement, True)
    for node in result.nodes:
        node.parameters = _mend_all(node.parameters, node_id, replacement, False)
        if _reads(node.parameters, node_id):
            notes.append(
                f"Node '{node.id}' still reads the removed '{node_id}': update its expressions"
            )
    return result, notes


def _replacement(draft: Draft, node: DraftNode, preds: list[DraftEdge]) -> str | None:
    """What expressions that read `node` should read instead: the data it read itself."""
    if node.type is not NodeType.AI_AGENT:
        return None
    prompt = node.parameters.get("prompt")
    if not isinstance(prompt, str):
        return None
    found = _TEMPLATE.findall(prompt)
    if not found:
        return None
    expression: str = found[-1]
    if re.search(r"\binput\b", expression):
        if len(preds) != 1:
            return None
        expression = re.sub(r"\binput\b", node_ref(preds[0].source), expression)
    return expression


def _mend_all(
    parameters: dict[str, JsonValue], node_id: str, replacement: str | None, direct: bool
) -> dict[str, JsonValue]:
    return {k: _mend(v, node_id, replacement, direct) for k, v in parameters.items()}


def _mend(value: JsonValue, node_id: str, replacement: str | None, direct: bool) -> JsonValue:
    if isinstance(value, str):
        if replacement is None:
            return value
        quoted = re.escape(node_ref(node_id))
        value = re.sub(rf"{quoted}\.(?:text|data)\b", lambda _: replacement, value)
        if direct:
            value = re.sub(r"\binput\.(?:text|data)\b", lambda _: replacement, value)
        return value
    if isinstance(value, dict):
        return {k: _mend(v, node_id, replacement, direct) for k, v in value.items()}
    if isinstance(value, list):
        return [_mend(v, node_id, replacement, direct) for v in value]
    return value


def _rename(value: JsonValue, old: str, new: str) -> JsonValue:
    if isinstance(value, str):
        return value.replace(node_ref(old), node_ref(new))
    if isinstance(value, dict):
        return {k: _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    return value


def _reads(value: JsonValue, node_id: str) -> bool:
    if isinstance(value, str):
        return node_ref(node_id) in value
    if isinstance(value, dict):
        return any(_reads(v, node_id) for v in value.values())
    if isinstance(value, list):
        return any(_reads(v, node_id) for v in value)
    return False


def data_ref_of(draft: Draft, node_id: str) -> DataRef:
    """Where the data is after `node_id` (its own output when it produces data, else what its
    predecessor had): used to write expressions of inserted nodes."""
    seen: set[str] = set()
    current: str | None = node_id
    while current is not None and current not in seen:
        seen.add(current)
        node = next((n for n in draft.nodes if n.id == current), None)
        if node is None:
            break
        ref = _own_data(node)
        if ref is not None:
            return ref
        preds = incoming(draft, current)
        current = preds[0].source if preds else None
    return manual_data()


def _own_data(node: DraftNode) -> DataRef | None:
    subtype = node.subtype.upper()
    params = node.parameters
    if node.type is NodeType.TRIGGER:
        return (
            webhook_data()
            if subtype == "WEBHOOK"
            else (manual_data() if subtype == "MANUAL" else None)
        )
    if subtype == "GITHUB" and params.get("operation") == "list_issues":
        return DataRef(node.id, "", "list", "issues", issues=True)
    if subtype == "HTTP_REQUEST" and params.get("method", "GET") == "GET":
        return DataRef(node.id, "body", "object", "data")
    if subtype == "CHAT":
        if params.get("output_format") == "json":
            return DataRef(node.id, "data", "object", "result")
        return DataRef(node.id, "text", "text", "text")
    if subtype == "SET":
        values = params.get("values")
        if isinstance(values, dict) and "items" in values:
            return DataRef(node.id, "items", "list", "items")
        return DataRef(node.id, "", "object", "data")
    if subtype == "LOOP":
        return DataRef(node.id, "", "list", "results")
    return None


def tails_into(draft: Draft, node_id: str) -> list[Tail]:
    return [(e.source, e.port) for e in incoming(draft, node_id)]
