"""Node templates: each registered subtype with its parameters' JSON Schema and ports."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flowlane.models.node_template import NodePorts, NodeTemplate
from flowlane.models.workflow import NodeType
from flowlane.nodes.base import ERROR_PORT, MAIN_PORT, Node
from flowlane.nodes.registry import catalogue

_TYPE_ORDER = list(NodeType)


def template_of(node: Node[Any]) -> NodeTemplate:
    schema = node.parameters_model.model_json_schema()
    schema.setdefault("title", f"{node.title} parameters")
    # A node reachable only as an attachment still accepts its agent's call as input.
    inputs = [] if node.type is NodeType.TRIGGER else [MAIN_PORT]
    return NodeTemplate(
        id=node.id,
        type=node.type.value,
        subtype=node.subtype,
        name=node.title,
        description=node.description,
        parameters_schema=schema,
        default_parameters=node.default_parameters(),
        ports=NodePorts(
            inputs=[*inputs, *node.accepts],
            outputs=[*node.outputs, ERROR_PORT],
            dynamic_outputs=type(node).output_ports is not Node.output_ports,
        ),
        attachable_as=list(node.attachable_as),
    )


@lru_cache(maxsize=1)
def all_templates() -> tuple[NodeTemplate, ...]:
    nodes = sorted(catalogue().values(), key=lambda n: _TYPE_ORDER.index(n.type))
    return tuple(template_of(n) for n in nodes)


def templates(node_type: NodeType | None = None) -> list[NodeTemplate]:
    return [t for t in all_templates() if node_type is None or t.type == node_type.value]
