"""What a refinement changed, in plain words, and how it lands on the stored workflow.

`describe_changes` compares two drafts node by node and edge by edge. `apply_draft` writes a
refined draft over the stored document and keeps everything the draft does not speak about:
positions a person arranged, notes, webhooks, retry waits, settings other than the time zone,
static and pinned data, tags and the active switch.
"""

from __future__ import annotations

import json
from typing import Any

from flowlane.agent.draft import Draft, DraftEdge, DraftNode
from flowlane.models.workflow import NodeData, RetryPolicyData, WorkflowData


def _edge_key(edge: DraftEdge) -> tuple[str, str, str, str]:
    return (edge.source, edge.port, edge.target, edge.kind)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _node_changes(before: DraftNode, after: DraftNode) -> list[str]:
    changes: list[str] = []
    label = f"'{after.id}'"
    if (before.type, before.subtype.upper()) != (after.type, after.subtype.upper()):
        changes.append(
            f"changed {label} from {before.type.value}/{before.subtype} to "
            f"{after.type.value}/{after.subtype}"
        )
    if before.name != after.name:
        changes.append(f"renamed {label} to '{after.name}'")
    for name in sorted(set(before.parameters) | set(after.parameters)):
        old, new = before.parameters.get(name), after.parameters.get(name)
        if old == new:
            continue
        if name not in before.parameters:
            changes.append(f"set {label} {name} to {_show(new)}")
        elif name not in after.parameters:
            changes.append(f"removed {label} {name}")
        else:
            changes.append(f"changed {label} {name} from {_show(old)} to {_show(new)}")
    if before.credentials != after.credentials:
        changes.append(f"changed {label} credentials to {_show(after.credentials)}")
    if before.disabled != after.disabled:
        changes.append(f"{'disabled' if after.disabled else 'enabled'} {label}")
    if (before.on_error or "continue") != (after.on_error or "continue"):
        changes.append(f"set {label} on_error to {after.on_error}")
    return changes


def describe_changes(before: Draft, after: Draft) -> list[str]:
    changes: list[str] = []
    if before.name != after.name:
        changes.append(f"renamed the workflow to '{after.name}'")
    if before.timezone != after.timezone:
        changes.append(f"changed the time zone from {before.timezone} to {after.timezone}")
    old_nodes = {n.id: n for n in before.nodes}
    new_nodes = {n.id: n for n in after.nodes}
    for node in after.nodes:
        if node.id not in old_nodes:
            changes.append(
                f"added '{node.id}' ({node.type.value}/{node.subtype}): {node.name or node.id}"
            )
    for node in before.nodes:
        if node.id not in new_nodes:
            changes.append(f"removed '{node.id}' ({node.type.value}/{node.subtype})")
    for node in after.nodes:
        if node.id in old_nodes:
            changes.extend(_node_changes(old_nodes[node.id], node))
    old_edges = {_edge_key(e) for e in before.edges}
    new_edges = {_edge_key(e) for e in after.edges}
    for source, port, target, kind in sorted(new_edges - old_edges):
        changes.append(f"connected '{source}' ({port}) to '{target}'" + _kind(kind))
    for source, port, target, kind in sorted(old_edges - new_edges):
        if source in new_nodes and target in new_nodes:
            changes.append(f"disconnected '{source}' ({port}) from '{target}'" + _kind(kind))
    return changes


def _kind(kind: str) -> str:
    return "" if kind == "main" else f" as {kind}"


def apply_draft(original: WorkflowData, draft: Draft) -> dict[str, Any]:
    """The `WorkflowRepository.update` changes that make `original` what `draft` says."""
    document = draft.to_workflow()
    kept = {node.id: node for node in original.nodes}
    nodes: list[NodeData] = []
    for node in document.nodes:
        old = kept.get(node.id)
        if old is None:
            nodes.append(node)
            continue
        retry = old.retry_policy
        if node.retry_policy is None:
            retry = None
        elif retry is None or retry.max_tries != node.retry_policy.max_tries:
            retry = RetryPolicyData(
                max_tries=node.retry_policy.max_tries,
                wait_between_tries=retry.wait_between_tries if retry else 5,
            )
        nodes.append(
            old.model_copy(
                update={
                    "name": node.name,
                    "type": node.type,
                    "subtype": node.subtype,
                    "parameters": node.parameters,
                    "credentials": node.credentials,
                    "disabled": node.disabled,
                    "on_error": node.on_error if _said_on_error(draft, node.id) else old.on_error,
                    "retry_policy": retry,
                }
            )
        )
    settings = original.settings.model_copy(update={"timezone": document.settings.timezone})
    changes: dict[str, Any] = {
        "name": document.name,
        "nodes": [n.model_dump() for n in nodes],
        "connections": document.connections.model_dump(),
        "settings": settings.model_dump(),
    }
    if draft.description and draft.description != (original.description or ""):
        changes["description"] = document.description
    return changes


def _said_on_error(draft: Draft, node_id: str) -> bool:
    node = draft.node(node_id)
    return node is not None and node.on_error in ("continue", "stop")
