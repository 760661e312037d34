"""Building workflow documents in tests: nodes and edges in a line each."""

from __future__ import annotations

from typing import Any

from flowlane.models.workflow import WorkflowData


def node(node_id: str, kind: str, subtype: str, **fields: Any) -> dict[str, Any]:
    parameters = fields.pop("parameters", {})
    return {"id": node_id, "type": kind, "subtype": subtype, "parameters": parameters, **fields}


def connections(*edges: tuple[Any, ...]) -> dict[str, Any]:
    """Edges as (source, port, target[, index[, kind]])."""
    result: dict[str, Any] = {}
    for edge in edges:
        source, port, target = edge[:3]
        index = edge[3] if len(edge) > 3 else 0
        kind = edge[4] if len(edge) > 4 else "main"
        ports = result.setdefault(source, {"connection_types": {}})["connection_types"]
        ports.setdefault(port, {"connections": []})["connections"].append(
            {"node": target, "index": index, "type": kind}
        )
    return {"connections": result}


def workflow(nodes: list[dict[str, Any]], *edges: tuple[Any, ...], **fields: Any) -> WorkflowData:
    return WorkflowData.model_validate(
        {
            "id": fields.pop("id", "wf"),
            "name": fields.pop("name", "test"),
            "created_at": 0,
            "updated_at": 0,
            "nodes": nodes,
            "connections": connections(*edges),
            **fields,
        }
    )


def manual(node_id: str = "start") -> dict[str, Any]:
    return node(node_id, "TRIGGER", "MANUAL")


def set_node(node_id: str, values: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return node(node_id, "ACTION", "SET", parameters={"values": values}, **fields)
