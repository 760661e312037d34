"""Where the data is, and the JSONata that reads it (CONTRACT.md section 3).

Each step of a draft works on "the data so far": the issues GitHub listed, the body an API
answered, the text an AI wrote, the request a webhook received, the current item of a loop. A
`DataRef` names it: the node that produced it, the path inside that node's output, and its
shape. `expr(predecessors)` writes the expression a node uses to read it: `input...` when the
node's only predecessor is the producer, else ``nodes.`id`...`` (the output of a node upstream
on every path), `trigger...` for the trigger's data, `item` inside a loop body.

Output shapes (flowlane.nodes): GITHUB list_issues outputs the list of issues; HTTP_REQUEST
`{status_code, headers, body}`; CHAT `{text, data, ...}`; WEBHOOK trigger `{body, headers, query,
method}`; SET the object it builds; LOOP (on `done`) the list of body results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

Shape = Literal["list", "object", "text"]
Tail = tuple[str, str]  # (node id, output port)


def node_ref(node_id: str) -> str:
    """``nodes.`fetch-issues` `` (always quoted: ids hold dashes)."""
    return f"nodes.`{node_id}`"


@dataclass(frozen=True)
class DataRef:
    node: str | None
    path: str = ""
    shape: Shape = "object"
    noun: str = "items"
    origin: Literal["node", "trigger", "item"] = "node"
    issues: bool = False  # a list of GitHub issues (titles worth listing)

    def base(self, preds: Sequence[Tail]) -> str:
        if self.origin == "item":
            return "item"
        if self.origin == "trigger":
            return "trigger"
        assert self.node is not None
        if len(preds) == 1 and preds[0] == (self.node, "main"):
            return "input"
        return node_ref(self.node)

    def expr(self, preds: Sequence[Tail]) -> str:
        base = self.base(preds)
        return f"{base}.{self.path}" if self.path else base

    def text(self, preds: Sequence[Tail]) -> str:
        """JSONata giving the data as text for a prompt or a message."""
        value = self.expr(preds)
        if self.shape == "text":
            return value
        if self.issues:
            return f'$join({value}.("#" & number & " " & title), "\\n")'
        return f"$string({value})"

    def count(self, preds: Sequence[Tail]) -> str:
        return f"$count({self.expr(preds)})"

    def at(self, path: str, shape: Shape) -> DataRef:
        return replace(self, path=f"{self.path}.{path}" if self.path else path, shape=shape)


def webhook_data() -> DataRef:
    return DataRef(None, "body", "object", "request", origin="trigger")


def manual_data() -> DataRef:
    return DataRef(None, "", "object", "input", origin="trigger")


def item_data(noun: str) -> DataRef:
    return DataRef(None, "", "object", noun, origin="item")


def template(expression: str) -> str:
    """`{{ expression }}` (CONTRACT.md section 3)."""
    return f"{{{{ {expression} }}}}"
