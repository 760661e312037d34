"""The node catalogue: every registered subtype, looked up by (type, subtype).

One module per node type registers its subtypes with `@register`. The modules are imported on the
first lookup, so importing the registry is cheap and no module pulls in what another needs
(the AI agent imports its LLM SDK only when it runs).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node

# One module per node type (DESIGN.md "Shape").
_MODULES = (
    "trigger",
    "action",
    "flow",
    "ai_agent",
    "external_action",
    "human_in_the_loop",
    "tool",
    "memory",
)

# Modules that hold subtypes of another module's type, in catalogue order after it.
_EXTRA_MODULES = ("http",)
_RANK = {
    f"flowlane.nodes.{m}": n for n, m in enumerate(_MODULES[:2] + _EXTRA_MODULES + _MODULES[2:])
}

_TYPE_MODULES = {
    NodeType.TRIGGER: "trigger",
    NodeType.ACTION: "action",
    NodeType.FLOW: "flow",
    NodeType.AI_AGENT: "ai_agent",
    NodeType.EXTERNAL_ACTION: "external_action",
    NodeType.HUMAN_IN_THE_LOOP: "human_in_the_loop",
    NodeType.TOOL: "tool",
    NodeType.MEMORY: "memory",
}

_nodes: dict[tuple[NodeType, str], Node[Any]] = {}
_loaded = False
_lock = threading.Lock()


class UnknownNode(LookupError):
    """The (type, subtype) pair is not in the catalogue; the message lists the valid ones."""

    def __init__(self, message: str, valid: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.valid = valid


def register(cls: type[Node[Any]]) -> type[Node[Any]]:
    node = cls()
    key = (node.type, node.subtype)
    if key in _nodes and type(_nodes[key]) is not cls:
        raise RuntimeError(f"node {node.id} is registered twice")
    _nodes[key] = node
    return cls


def catalogue() -> dict[tuple[NodeType, str], Node[Any]]:
    """Every subtype, in catalogue order (type, then the order the module registers them)."""
    global _loaded
    if not _loaded:
        with _lock:
            if not _loaded:
                for name in _MODULES:
                    importlib.import_module(f"flowlane.nodes.{name}")
                # Registration order depends on what was imported first; the catalogue's order
                # does not: node type, then module, then the order within the module.
                types = list(NodeType)
                ordered = sorted(
                    enumerate(_nodes.items()),
                    key=lambda e: (
                        types.index(e[1][0][0]),
                        _RANK.get(type(e[1][1]).__module__, len(_RANK)),
                        e[0],
                    ),
                )
                reordered = dict(item for _, item in ordered)
                _nodes.clear()
                _nodes.update(reordered)
                _loaded = True
    return _nodes


def subtypes_of(node_type: NodeType) -> list[str]:
    return [subtype for (t, subtype) in catalogue() if t == node_type]


def _load_type(kind: NodeType) -> None:
    """Import the one module of a node type: the node runner runs one node per cold start and
    should not build every other type's models (a few ms each)."""
    importlib.import_module(f"flowlane.nodes.{_TYPE_MODULES[kind]}")


def lookup(node_type: NodeType | str, subtype: str | None) -> Node[Any]:
    try:
        kind = NodeType(node_type)
    except ValueError:
        valid = [t.value for t in NodeType]
        raise UnknownNode(
            f"unknown node type {node_type!r}; valid types: {', '.join(valid)}", valid
        ) from None
    key = (kind, (subtype or "").upper())
    if key not in _nodes:
        _load_type(kind)
    node = _nodes.get(key) or catalogue().get(key)
    if node is None:
        valid = subtypes_of(kind)
        what = f"subtype {subtype!r}" if subtype else "no subtype"
        raise UnknownNode(f"{kind.value} has {what}; valid subtypes: {', '.join(valid)}", valid)
    return node
