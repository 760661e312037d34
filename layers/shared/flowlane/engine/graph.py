"""The workflow as a graph: flow edges, attachments, loop bodies, a topological order.

Shared by validation, the reference interpreter, the node runner and the compiler, so they agree
on what a connection means:

- An edge whose input kind (`type`) or output port is `ai_tool`, `ai_memory` or `ai_model`
  attaches its source to the target (an AI agent); it is not part of the flow.
- A LOOP's body is every node reachable from its `each` port without passing through the LOOP
  itself. An edge from the body back to its LOOP ends an iteration (the only cycle allowed).
- An edge into a body from outside it (besides `each`) is a dependency of the LOOP: the loop
  starts once that node has finished, and the body reads its output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from flowlane.models.workflow import ConnectionsMapData, NodeData, NodeType

ATTACHMENT_KINDS = frozenset({"ai_tool", "ai_memory", "ai_model"})
MAIN = "main"
EACH, DONE = "each", "done"


@dataclass(frozen=True)
class Edge:
    source: str
    port: str
    target: str
    kind: str = MAIN
    index: int = 0

    @property
    def is_attachment(self) -> bool:
        return self.kind in ATTACHMENT_KINDS or self.port in ATTACHMENT_KINDS

    @property
    def attachment_kind(self) -> str:
        return self.kind if self.kind in ATTACHMENT_KINDS else self.port


class CycleError(ValueError):
    def __init__(self, nodes: list[str]) -> None:
        super().__init__("the connections form a cycle through " + " -> ".join(nodes))
        self.nodes = nodes


def is_loop(node: NodeData) -> bool:
    return node.type is NodeType.FLOW and node.subtype == "LOOP"


def is_trigger(node: NodeData) -> bool:
    return node.type is NodeType.TRIGGER


class WorkflowGraph:
    def __init__(self, nodes: Iterable[NodeData], connections: ConnectionsMapData) -> None:
        self.nodes: dict[str, NodeData] = {n.id: n for n in nodes}
        self.edges: list[Edge] = []  # flow edges between existing nodes, in document order
        self.attachment_edges: list[Edge] = []
        self.dangling: list[Edge] = []  # edges naming a node that does not exist
        self._out: dict[str, list[Edge]] = defaultdict(list)
        self._in: dict[str, list[Edge]] = defaultdict(list)
        seen: set[Edge] = set()
        for source, ports in connections.connections.items():
            for port, array in ports.connection_types.items():
                for c in array.connections:
                    edge = Edge(source, port, c.node, c.type or MAIN, c.index)
                    if edge in seen:  # the same connection twice is one connection
                        continue
                    seen.add(edge)
                    if source not in self.nodes or c.node not in self.nodes:
                        self.dangling.append(edge)
                    elif edge.is_attachment:
                        self.attachment_edges.append(edge)
                    else:
                        self.edges.append(edge)
                        self._out[source].append(edge)
                        self._in[c.node].append(edge)

    # -- neighbourhood -------------------------------------------------------------------------

    def out_edges(self, node_id: str) -> list[Edge]:
        return self._out.get(node_id, [])

    def in_edges(self, node_id: str) -> list[Edge]:
        return self._in.get(node_id, [])

    @cached_property
    def attachments(self) -> dict[str, dict[str, list[str]]]:
        """target agent id -> input kind -> attached node ids (document order)."""
        found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for edge in self.attachment_edges:
            ids = found[edge.target][edge.attachment_kind]
            if edge.source not in ids:
                ids.append(edge.source)
        return {k: dict(v) for k, v in found.items()}

    @cached_property
    def attached_only(self) -> set[str]:
        """Nodes that are attachments and take no part in the flow."""
        attached = {e.source for e in self.attachment_edges}
        in_flow = {e.source for e in self.edges} | {e.target for e in self.edges}
        return attached - in_flow

    @cached_property
    def triggers(self) -> list[str]:
        return [i for i, n in self.nodes.items() if is_trigger(n)]

    # -- loops ---------------------------------------------------------------------------------

    @cached_property
    def loop_bodies(self) -> dict[str, set[str]]:
        """LOOP id -> the ids of its body (reachable from `each`, not through the LOOP)."""
        bodies: dict[str, set[str]] = {}
        for loop_id, node in self.nodes.items():
            if not is_loop(node):
                continue
            body: set[str] = set()
            stack = [e.target for e in self.out_edges(loop_id) if e.port == EACH]
            while stack:
                current = stack.pop()
                if current == loop_id or current in body:
                    continue
                body.add(current)
                stack.extend(e.target for e in self.out_edges(current))
            bodies[loop_id] = body
        return bodies

    def is_back_edge(self, edge: Edge) -> bool:
        """An edge from a LOOP's body back to the LOOP: the end of an iteration."""
        body = self.loop_bodies.get(edge.target)
        return body is not None and edge.source in body

    @cached_property
    def enclosing_loop(self) -> dict[str, str]:
        """node id -> the innermost LOOP whose body holds it."""
        owner: dict[str, str] = {}
        # Smaller bodies are nested inside larger ones: assign the largest first, then let
        # each smaller body overwrite, so the innermost loop wins.
        for loop_id, body in sorted(self.loop_bodies.items(), key=lambda kv: -len(kv[1])):
            for node_id in body:
                owner[node_id] = loop_id
        return owner

    def loops_of(self, node_id: str) -> list[str]:
        """The LOOPs around a node, outermost first."""
        chain: list[str] = []
        current = self.enclosing_loop.get(node_id)
        while current is not None:
            chain.append(current)
            current = self.enclosing_loop.get(current)
        return list(reversed(chain))

    # -- order ---------------------------------------------------------------------------------

    def dependencies(self, node_id: str) -> list[str]:
        """The nodes that must finish before this one may start (back edges excluded)."""
        deps = [e.source for e in self.in_edges(node_id) if not self.is_back_edge(e)]
        body = self.loop_bodies.get(node_id)
        if body:
            # An edge into the body from outside is a dependency of the loop itself.
            for inner in body:
                deps.extend(
                    e.source
                    for e in self.in_edges(inner)
                    if e.source not in body and e.source != node_id
                )
        return list(dict.fromkeys(deps))

    @cached_property
    def order(self) -> list[str]:
        """Every flow node in a topological order (document order among equals).

        Raises CycleError naming the nodes of a cycle that is not a LOOP body's way back.
        """
        flow = [i for i in self.nodes if i not in self.attached_only]
        position = {node_id: n for n, node_id in enumerate(flow)}
        pending = dict.fromkeys(flow, 0)
        dependants: dict[str, list[str]] = defaultdict(list)
        for node_id in flow:
            for dep in self.dependencies(node_id):
                if dep in pending:
                    pending[node_id] += 1
                    dependants[dep].append(node_id)
        import heapq

        ready = [(position[i], i) for i, count in pending.items() if count == 0]
        heapq.heapify(ready)
        result: list[str] = []
        while ready:
            _, current = heapq.heappop(ready)
            result.append(current)
            for nxt in dependants[current]:
                pending[nxt] -= 1
                if pending[nxt] == 0:
                    heapq.heappush(ready, (position[nxt], nxt))
        if len(result) < len(flow):
            done = set(result)
            raise CycleError(self._find_cycle({i for i in flow if i not in done}))
        return result

    def _find_cycle(self, remaining: set[str]) -> list[str]:
        # Walk dependencies inside the remaining nodes until one repeats.
        position = {node_id: n for n, node_id in enumerate(self.nodes)}
        start = min(remaining, key=position.__getitem__)
        path: list[str] = []
        index: dict[str, int] = {}
        current = start
        while current not in index:
            index[current] = len(path)
            path.append(current)
            current = next(d for d in self.dependencies(current) if d in remaining)
        cycle = path[index[current] :]
        cycle.reverse()  # dependencies walk backwards; report in flow direction
        return [*cycle, cycle[0]]

    @cached_property
    def reachable_from_triggers(self) -> set[str]:
        seen: set[str] = set()
        stack = list(self.triggers)
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(e.target for e in self.out_edges(current))
        return seen
