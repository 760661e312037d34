"""From a workflow graph to an execution plan: sequences, routes and parallel branches.

DESIGN.md decision 2: compile the structure, fall back where there is none. A scope (the top
level, or one LOOP's body) is decomposed recursively:

1. **Cut nodes.** A node that every other node of the region either precedes or follows splits
   the region into a sequence: what comes before it, the node, what comes after it.
2. **Routes.** After a node that can take several ports (IF, SWITCH, an APPROVAL, any node with
   a connected `error` port), the part that follows splits into weakly connected components. A
   component whose every way in is one port of that node runs only when the node takes that
   port: it becomes a case of a route (a Choice state on the port the runner returned, or a
   Catch for the `error` port). Ports without a case continue past the route.
3. **Parallel branches.** Components that do not depend on each other run as branches of a
   Parallel state (at most MAX_BRANCHES, each holding several components when there are more).
4. **Layers.** A region with no cut node and one component is not series-parallel (the "N"
   shape a->c, a->d, b->d): it runs in topological layers, each layer a Parallel state.

Correctness never rests on the routes: the node runner itself skips a node no taken edge
reaches (CONTRACT.md section 4), so any order that respects dependencies gives the interpreter's
result. Routes and branches make it cheaper (fewer state transitions) and concurrent.

Trigger nodes are not in the plan: the execution starts with its trigger's run already recorded
(the launcher writes it), and edges from triggers, like edges from outside a loop body, come from
nodes that finished before the scope began.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flowlane.engine.graph import DONE, EACH, WorkflowGraph, is_loop
from flowlane.models.workflow import NodeData, NodeType
from flowlane.nodes.base import ERROR_PORT

# A Parallel state's branches run at once; more components than this share branches.
MAX_BRANCHES = 40
# The port of a dependency that is not an edge of the node itself (an edge into a LOOP's body
# makes the LOOP wait for its source): no port of the source decides whether it is taken.
ANY_PORT = "*"


@dataclass
class Run:
    """Run one node; then, when `cases` is set, route on the port it took.

    `cases` maps a port to the block that runs when the node takes it; other ports continue
    after the step. With `catch_error`, the `error` case is reached through a Catch (the runner
    raises NodeErrorPort) rather than a Choice.
    """

    node_id: str
    cases: dict[str, Block] = field(default_factory=dict)
    catch_error: bool = False
    # Set by the compiler: the step is the last of the execution (the runner records its end).
    finish: bool = False


@dataclass
class Route:
    """A Choice on the port of `node_id`, which ran just before (first step of a branch)."""

    node_id: str
    cases: dict[str, Block]


@dataclass
class Parallel:
    branches: list[Block]


@dataclass
class Block:
    steps: list[Step] = field(default_factory=list)


Step = Run | Route | Parallel


class Planner:
    """Builds the plan of each scope of one workflow graph."""

    def __init__(self, graph: WorkflowGraph) -> None:
        self.graph = graph
        self._position = {node_id: n for n, node_id in enumerate(graph.order)}

    # -- scopes ------------------------------------------------------------------------------

    def top_level(self) -> Block:
        flow = self.graph.order
        nodes = [
            n
            for n in flow
            if n not in self.graph.enclosing_loop
            and self.graph.nodes[n].type is not NodeType.TRIGGER
        ]
        return self.build(nodes)

    def loop_body(self, loop_id: str) -> Block:
        nodes = [n for n in self.graph.order if self.graph.enclosing_loop.get(n) == loop_id]
        return self.build(nodes)

    # -- edges within a scope ----------------------------------------------------------------

    def _scope_edges(self, nodes: list[str]) -> dict[str, list[tuple[str, str]]]:
        """node -> [(source, port)] for the sources inside `nodes` (the region's own edges)."""
        inside = set(nodes)
        preds: dict[str, list[tuple[str, str]]] = {n: [] for n in nodes}
        for node_id in nodes:
            direct = {
                (e.source, e.port)
                for e in self.graph.in_edges(node_id)
                if not self.graph.is_back_edge(e) and e.source in inside
            }
            sources = {s for s, _ in direct}
            for dep in self.graph.dependencies(node_id):
                if dep in inside and dep not in sources:
                    direct.add((dep, ANY_PORT))
            preds[node_id] = sorted(direct, key=lambda sp: (self._position[sp[0]], sp[1]))
        return preds

    # -- decomposition -----------------------------------------------------------------------

    def build(self, nodes: list[str]) -> Block:
        if not nodes:
            return Block()
        if len(nodes) == 1:
            return Block([Run(nodes[0])])
        preds = self._scope_edges(nodes)
        cuts = self._cut_nodes(nodes, preds)
        if not cuts:
            components = self._components(nodes, preds)
            if len(components) > 1:
                return Block([self._parallel([self.build(c) for c in components])])
            return self._layers(nodes, preds)
        position = {n: i for i, n in enumerate(nodes)}
        crossing, external_after = self._crossings(nodes, preds, position)
        outgoing: dict[str, list[str]] = {}
        for node_id in nodes:
            for source, port in preds[node_id]:
                outgoing.setdefault(source, []).append(port)
        steps: list[Step] = list(self.build(nodes[: position[cuts[0]]]).steps)
        for k, cut in enumerate(cuts):
            at = position[cut]
            last = k + 1 == len(cuts)
            if self._routable(cut):
                # Everything after the cut hangs off one of its ports: route it all.
                if last:
                    routed = self._route_all(cut, nodes[at + 1 :], preds)
                else:
                    routed = self._route_one_port(
                        cut, nodes[at + 1 :], outgoing.get(cut, []), crossing[at]
                    )
                    routed = None if external_after[at] else routed
                if routed is not None:
                    steps.extend(routed)
                    return Block(steps)
            end = len(nodes) if last else position[cuts[k + 1]]
            steps.extend(self._after(cut, nodes[at + 1 : end], preds))
        return Block(steps)

    def _crossings(
        self,
        nodes: list[str],
        preds: dict[str, list[tuple[str, str]]],
        position: dict[str, int],
    ) -> tuple[list[int], list[bool]]:
        """Per position i: how many region edges go from at or before i to after it, and
        whether a node after i has an edge from outside the region. Linear, so the planner
        stays linear on long chains."""
        delta = [0] * (len(nodes) + 1)
        external = [False] * len(nodes)
        inside = set(nodes)
        for node_id in nodes:
            target = position[node_id]
            for source, _ in preds[node_id]:
                delta[position[source]] += 1
                delta[target] -= 1
            external[target] = any(
                e.source not in inside and not self.graph.is_back_edge(e)
                for e in self.graph.in_edges(node_id)
            )
        crossing, running = [0] * len(nodes), 0
        for i in range(len(nodes)):
            running += delta[i]
            crossing[i] = running
        after, seen = [False] * len(nodes), False
        for i in range(len(nodes) - 1, -1, -1):
            after[i] = seen
            seen = seen or external[i]
        return crossing, after

    def _route_one_port(
        self, decider: str, rest: list[str], ports: list[str], crossing: int
    ) -> list[Step] | None:
        """The rest after a cut that another cut follows is one component: it is routed when
        every edge into it comes from the decider (its `ports`, one per edge), on one port."""
        kinds = set(ports)
        if len(kinds) != 1 or ANY_PORT in kinds or len(ports) != crossing:
            return None
        return [self._run_with_cases(decider, {ports[0]: [rest]})]

    def _cut_nodes(self, nodes: list[str], preds: dict[str, list[tuple[str, str]]]) -> list[str]:
        """Nodes every other node of the region precedes or follows, in order."""
        index = {n: i for i, n in enumerate(nodes)}
        ancestors = [0] * len(nodes)
        for i, node_id in enumerate(nodes):
            bits = 0
            for source, _ in preds[node_id]:
                j = index[source]
                bits |= ancestors[j] | (1 << j)
            ancestors[i] = bits
        descendants = [0] * len(nodes)
        succs: list[list[int]] = [[] for _ in nodes]
        for i, node_id in enumerate(nodes):
            for source, _ in preds[node_id]:
                succs[index[source]].append(i)
        for i in range(len(nodes) - 1, -1, -1):
            bits = 0
            for j in succs[i]:
                bits |= descendants[j] | (1 << j)
            descendants[i] = bits
        total = len(nodes) - 1
        return [
            n
            for i, n in enumerate(nodes)
            if ancestors[i].bit_count() + descendants[i].bit_count() == total
        ]

    def _components(
        self, nodes: list[str], preds: dict[str, list[tuple[str, str]]]
    ) -> list[list[str]]:
        """Weakly connected components of the region, each in topological order."""
        inside = set(nodes)
        parent = {n: n for n in nodes}

        def find(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        for node_id in nodes:
            for source, _ in preds[node_id]:
                if source in inside:
                    a, b = find(source), find(node_id)
                    if a != b:
                        parent[max(a, b, key=self._position.__getitem__)] = min(
                            a, b, key=self._position.__getitem__
                        )
        groups: dict[str, list[str]] = {}
        for node_id in nodes:
            groups.setdefault(find(node_id), []).append(node_id)
        return list(groups.values())

    # -- routes ------------------------------------------------------------------------------

    def _entry_ports(self, component: list[str], decider: str) -> set[str] | None:
        """The ports of `decider` whose edges lead into the component, or None when an edge
        from another node leads in. (Dependencies that are not edges, a LOOP waiting for a
        node that feeds its body, order the plan but do not decide whether the node runs.)"""
        inside = set(component)
        ports: set[str] = set()
        for node_id in component:
            for edge in self.graph.in_edges(node_id):
                if edge.source in inside or self.graph.is_back_edge(edge):
                    continue
                if edge.source != decider:
                    return None
                ports.add(edge.port)
        return ports

    def _conditional(
        self, decider: str, rest: list[str], preds: dict[str, list[tuple[str, str]]]
    ) -> tuple[dict[str, list[list[str]]], list[list[str]]]:
        """The components of `rest` by the single port that leads into each, and the others."""
        by_port: dict[str, list[list[str]]] = {}
        others: list[list[str]] = []
        if not self._routable(decider):
            return by_port, self._components(rest, preds) if rest else []
        for component in self._components(rest, preds) if rest else []:
            ports = self._entry_ports(component, decider)
            if ports is not None and len(ports) == 1:
                by_port.setdefault(next(iter(ports)), []).append(component)
            else:
                others.append(component)
        return by_port, others

    def _routable(self, node_id: str) -> bool:
        """Whether the node can take more than one port (so a route can skip work)."""
        ports = possible_ports(self.graph, self.graph.nodes[node_id])
        return ports is None or len(ports) > 1

    def _route_all(
        self, decider: str, rest: list[str], preds: dict[str, list[tuple[str, str]]]
    ) -> list[Step] | None:
        """Route everything after `decider` when every part of it hangs off one of its ports
        (branches that end without joining again)."""
        if not rest:
            return None
        by_port, others = self._conditional(decider, rest, preds)
        if others or not by_port:
            return None
        return [self._run_with_cases(decider, by_port)]

    def _after(
        self, decider: str, segment: list[str], preds: dict[str, list[tuple[str, str]]]
    ) -> list[Step]:
        """The decider and the segment up to the next cut node."""
        if not segment:
            return [Run(decider)]
        by_port, others = self._conditional(decider, segment, preds)
        if not by_port:
            return [Run(decider), *self._parallel_steps([self.build(c) for c in others])]
        if not others:
            return [self._run_with_cases(decider, by_port)]
        # Some parts depend on the port, others run whatever it is: side by side, the route
        # first in its own branch (it reads the port the decider just returned).
        route = Route(decider, self._cases(by_port))
        branches = [Block([route]), *(self.build(c) for c in others)]
        return [Run(decider), self._parallel(branches)]

    def _cases(self, by_port: dict[str, list[list[str]]]) -> dict[str, Block]:
        cases: dict[str, Block] = {}
        for port in sorted(by_port, key=_port_order):
            blocks = [self.build(c) for c in by_port[port]]
            cases[port] = Block(self._parallel_steps(blocks))
        return cases

    def _run_with_cases(self, decider: str, by_port: dict[str, list[list[str]]]) -> Run:
        cases = self._cases(by_port)
        return Run(decider, cases, catch_error=ERROR_PORT in cases)

    # -- parallel and layers -----------------------------------------------------------------

    def _parallel_steps(self, blocks: list[Block]) -> list[Step]:
        blocks = [b for b in blocks if b.steps]
        if not blocks:
            return []
        if len(blocks) == 1:
            return blocks[0].steps
        return [self._parallel(blocks)]

    def _parallel(self, blocks: list[Block]) -> Parallel:
        if len(blocks) <= MAX_BRANCHES:
            return Parallel(blocks)
        # As many branches as allowed, of balanced contiguous groups (document order within).
        n, k = len(blocks), MAX_BRANCHES
        return Parallel(
            [
                Block([step for b in blocks[i * n // k : (i + 1) * n // k] for step in b.steps])
                for i in range(k)
            ]
        )

    def _layers(self, nodes: list[str], preds: dict[str, list[tuple[str, str]]]) -> Block:
        depth: dict[str, int] = {}
        for node_id in nodes:
            depth[node_id] = 1 + max((depth[s] for s, _ in preds[node_id]), default=-1)
        layers: dict[int, list[str]] = {}
        for node_id in nodes:
            layers.setdefault(depth[node_id], []).append(node_id)
        steps: list[Step] = []
        for level in sorted(layers):
            steps.extend(self._parallel_steps([Block([Run(n)]) for n in layers[level]]))
        return Block(steps)


def _port_order(port: str) -> tuple[int, str]:
    # The error case last, the others by name: deterministic output.
    return (1 if port == ERROR_PORT else 0, port)


def possible_ports(graph: WorkflowGraph, node: NodeData) -> set[str] | None:
    """The ports a node may take when it does not stop the execution; None when they depend on
    values only known at run time."""
    from flowlane.engine.node_execution import definition_of
    from flowlane.nodes.base import NodeError

    has_error_edges = any(e.port == ERROR_PORT for e in graph.out_edges(node.id))
    try:
        definition = definition_of(node)
    except NodeError:
        return None
    if node.disabled:
        return {DONE if is_loop(node) else definition.outputs[0]}
    ports = set(definition.outputs) - {EACH}
    if node.type is NodeType.FLOW and node.subtype == "SWITCH":
        cases = node.parameters.get("cases")
        if not isinstance(cases, list):
            return None
        names = [c.get("name") for c in cases if isinstance(c, dict)]
        if not all(isinstance(n, str) for n in names):
            return None
        ports |= set(_strings(names))
    ports.add(definition.failure_port)
    if has_error_edges:
        ports.add(ERROR_PORT)
    return ports


def _strings(values: Iterable[object]) -> list[str]:
    return [v for v in values if isinstance(v, str)]
