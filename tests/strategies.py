"""Hypothesis strategies: random workflows and trigger data for the differential tests.

DESIGN.md decision 4: the reference interpreter and the compiled state machine must agree on
random graphs, branches and failures. Every workflow drawn here passes `validate_workflow` with no
errors and runs deterministically: its nodes read only their input, other nodes' outputs, the
trigger data, the loop item and index (no time, no randomness, no network). The test-only nodes
come from `tests.differential`; register them (`test_nodes()`) before validating or running.

Public strategies:
- `cases(workflow_strategy=None, max_nodes=12)`: (WorkflowData, trigger_data) pairs.
- `workflows(max_nodes=12)`: any shape below, composed.
- `trigger_data()`: what a MANUAL trigger is started with: `{v, flag, items: [{v, sub: [{v}]}]}`.
- One per shape, to target it: `chains()`, `diamonds()` (implicit joins and MERGE in its three
  modes), `branches()` (nested IF and SWITCH; branches that rejoin, end, or are left open),
  `loops()` (items from the trigger data, bodies of 1-3 nodes, one level of nesting,
  max_concurrency 1..3, `done` continuing), `non_series_parallel()` (the "N" shape, random DAGs
  from an upper-triangular adjacency, IF nodes inside them), `failures()` (TEST_FAIL, a failing
  IF or LOOP, under on_error continue/stop, with or without an `error` port, error_policy stop)
  and `retries()` (TEST_FLAKY_ATTEMPT failing its first k tries under a retry_policy).

Values stay numeric where expressions read them: every `v` is an integer, and expressions sum
`[input.v]` (a missing `v` sums to 0, a list of them adds up), so a join's `{id: output}` input,
a loop's list of results or an `{"error": ...}` output never makes an expression fail. Node
expressions read `nodes.<id>` of ancestors only: a node not upstream may be running concurrently
in a state machine, so reading it would not be deterministic there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from flowlane.models.workflow import WorkflowData
from tests.differential import TEST_FAIL, TEST_FLAKY_ATTEMPT
from tests.workflows import workflow

Draw = Callable[[st.SearchStrategy[Any]], Any]
# Where the flow goes on from: (node id, output port).
Exit = tuple[str, str]

START = "start"
# The smallest number of nodes each block adds: drawn only when there is room for it.
MIN_SIZE = {
    "step": 1,
    "chain": 2,
    "diamond": 3,
    "merge": 3,
    "if": 1,
    "switch": 1,
    "loop": 2,
    "n_shape": 4,
    "dag": 3,
    "failure": 1,
    "retry": 1,
}
ALL_KINDS = tuple(MIN_SIZE)
# Blocks that open branches; below MAX_DEPTH of them a block is a single node.
BRANCHING = frozenset({"diamond", "merge", "if", "switch", "n_shape", "dag"})
MAX_DEPTH = 2
# A loop inside a loop, no deeper (the loop items come from `trigger.items`, then `item.sub`).
MAX_LOOPS = 2


@dataclass(frozen=True)
class _Ctx:
    kinds: tuple[str, ...] = ALL_KINDS
    loops: tuple[str, ...] = ()  # the LOOPs around the block, outermost first
    depth: int = 0  # branching blocks around the block

    def deeper(self) -> _Ctx:
        return replace(self, depth=self.depth + 1)


class _Builder:
    """Nodes and edges as they are drawn, with each node's ancestors (for `nodes.<id>`)."""

    def __init__(self, max_nodes: int, prefix: str) -> None:
        self.max_nodes = max_nodes
        self.cap = max_nodes
        self.prefix = prefix
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[tuple[str, str, str, int]] = []
        self.ancestors: dict[str, frozenset[str]] = {}

    def room(self) -> int:
        return min(self.max_nodes, self.cap) - len(self.nodes)

    @contextmanager
    def capped(self, size: int) -> Iterator[None]:
        """At most `size` more nodes inside the block (a loop body, one branch of several)."""
        saved = self.cap
        self.cap = min(saved, len(self.nodes) + size)
        try:
            yield
        finally:
            self.cap = saved

    def new_id(self) -> str:
        return f"{self.prefix}{len(self.nodes)}"

    def ancestors_of(self, entries: Sequence[Exit]) -> frozenset[str]:
        found: set[str] = set()
        for source, _ in entries:
            found |= self.ancestors[source] | {source}
        return frozenset(found)

    def add(
        self, node: dict[str, Any], entries: Sequence[Exit], indexes: Sequence[int] | None = None
    ) -> str:
        node_id: str = node["id"]
        assert node_id not in self.ancestors, node_id
        self.nodes.append(node)
        seen: set[tuple[str, str, int]] = set()
        for n, (source, port) in enumerate(entries):
            index = indexes[n] if indexes is not None else 0
            if (source, port, index) not in seen:
                seen.add((source, port, index))
                self.edges.append((source, port, node_id, index))
        self.ancestors[node_id] = self.ancestors_of(entries)
        return node_id

    def connect(self, source: str, port: str, target: str) -> None:
        """An edge that adds no ancestor: a loop body's way back to its LOOP."""
        if (source, port, target, 0) not in self.edges:
            self.edges.append((source, port, target, 0))

    def build(self, settings: dict[str, Any]) -> WorkflowData:
        fields: dict[str, Any] = {"id": "generated", "name": "generated"}
        if settings:
            fields["settings"] = settings
        return workflow(self.nodes, *self.edges, **fields)


def _node(node_id: str, kind: str, subtype: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "subtype": subtype, **fields}


def _chance(draw: Draw, tenths: int) -> bool:
    """True `tenths` times in ten; shrinks to False."""
    return bool(draw(st.integers(0, 9)) >= 10 - tenths)


# -- values and conditions ---------------------------------------------------------------------


def _number(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> Any:
    """A JSON number or an expression that gives one, from what the node can see."""
    upstream = sorted(b.ancestors_of(entries))
    k = draw(st.integers(0, 3))
    options = ["const", "input", "joined", "trigger"]
    if upstream:
        options.append("node")
    if ctx.loops:
        options.append("item")
    kind = draw(st.sampled_from(options))
    if kind == "const":
        return k
    if kind == "input":
        return f"{{{{ $sum([input.v]) + {k} }}}}"
    if kind == "joined":
        # A join's input is {upstream_id: output}: read every upstream's v.
        return f"{{{{ $sum([input.*.v]) + $sum([input.v]) * {k} }}}}"
    if kind == "trigger":
        return f"{{{{ trigger.v * {k} + 1 }}}}"
    if kind == "node":
        # Backticks: ids like `step-3` are not JSONata names.
        source = draw(st.sampled_from(upstream))
        return f"{{{{ $sum([nodes.`{source}`.v]) + {k} }}}}"
    return f"{{{{ $sum([item.v]) * 10 + index + {k} }}}}"


def _condition(draw: Draw, ctx: _Ctx) -> dict[str, Any]:
    options = ["parity", "above", "flag"]
    if ctx.loops:
        options += ["first", "item"]
    kind = draw(st.sampled_from(options))
    k = draw(st.integers(0, 6))
    if kind == "parity":
        return {"left": "{{ $sum([input.v]) % 2 }}", "op": "equals", "right": 0}
    if kind == "above":
        return {"left": "{{ $sum([input.v]) }}", "op": "gt", "right": k}
    if kind == "flag":
        return {"left": "{{ trigger.flag }}", "op": "is_true"}
    if kind == "first":
        return {"left": "{{ index }}", "op": "equals", "right": 0}
    return {"left": "{{ $sum([item.v]) }}", "op": "gte", "right": k}


def _conditions(draw: Draw, ctx: _Ctx) -> dict[str, Any]:
    count = draw(st.integers(1, 2))
    params: dict[str, Any] = {"conditions": [_condition(draw, ctx) for _ in range(count)]}
    if count > 1:
        params["combinator"] = draw(st.sampled_from(["and", "or"]))
    return params


# A condition that cannot be evaluated (a list has no order with a number): CONDITION_ERROR.
BROKEN_CONDITION = {"left": "{{ [1, 2] }}", "op": "gt", "right": 1}
# Items that cannot be computed: EXPRESSION_ERROR.
BROKEN_ITEMS = "{{ $error('no items') }}"


def _on_error(draw: Draw) -> dict[str, Any]:
    return {"on_error": draw(st.sampled_from(["continue", "stop"]))}


def _error_branch(draw: Draw, b: _Builder, node_id: str, ctx: _Ctx) -> list[Exit]:
    """Maybe connect the node's `error` port to a handler; the handler's exits that go on."""
    if b.room() < 1 or not draw(st.booleans()):
        return []
    exits = _block(draw, b, [(node_id, "error")], ctx.deeper())
    return exits if draw(st.booleans()) else []


# -- single nodes ------------------------------------------------------------------------------


def _set(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> str:
    node_id = b.new_id()
    values = {"v": _number(draw, b, entries, ctx), "at": node_id}
    params: dict[str, Any] = {"values": values}
    if _chance(draw, 2):
        params["keep_input"] = True
    fields: dict[str, Any] = {"disabled": True} if _chance(draw, 1) else {}
    return b.add(_node(node_id, "ACTION", "SET", parameters=params, **fields), entries)


def _step(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> list[Exit]:
    """One node that computes: SET mostly, TRANSFORM or FILTER now and then."""
    kind = draw(st.sampled_from(["set", "set", "set", "transform", "filter"]))
    node_id = b.new_id()
    if kind == "set":
        return [(_set(draw, b, entries, ctx), "main")]
    if kind == "transform":
        k = draw(st.integers(1, 3))
        expression = f'{{"v": $sum([input.v]) * {k}, "at": "{node_id}"}}'
        node = _node(node_id, "ACTION", "TRANSFORM", parameters={"expression": expression})
    else:
        source = "{{ item.sub }}" if ctx.loops and _chance(draw, 5) else "{{ trigger.items }}"
        condition = {"left": "{{ item.v }}", "op": "gte", "right": draw(st.integers(0, 6))}
        node = _node(
            node_id, "FLOW", "FILTER", parameters={"items": source, "conditions": [condition]}
        )
    return [(b.add(node, entries), "main")]


# -- blocks ------------------------------------------------------------------------------------


def _block(
    draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx, kinds: Sequence[str] = ()
) -> list[Exit]:
    """Add a block fed by `entries` (several entries: an implicit join); where the flow goes on
    from after it (empty when every branch ends). With no room left, the entries themselves."""
    if b.room() < 1:
        return list(entries)
    allowed = [
        k
        for k in (kinds or ctx.kinds)
        if MIN_SIZE[k] <= b.room()
        and not (k in BRANCHING and ctx.depth >= MAX_DEPTH)
        and not (k == "loop" and len(ctx.loops) >= MAX_LOOPS)
    ] or ["step"]
    kind = draw(st.sampled_from(allowed))
    if kind == "step":
        return _step(draw, b, entries, ctx)
    if kind == "chain":
        return _chain(draw, b, entries, ctx)
    if kind in ("diamond", "merge"):
        return _diamond(draw, b, entries, ctx, merge=kind == "merge")
    if kind in ("if", "switch"):
        return _branch(draw, b, entries, ctx, switch=kind == "switch")
    if kind == "loop":
        return _loop(draw, b, entries, ctx)
    if kind == "n_shape":
        return _n_shape(draw, b, entries, ctx)
    if kind == "dag":
        return _dag(draw, b, entries, ctx)
    return _failure(draw, b, entries, ctx, flaky=kind == "retry")


def _chain(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> list[Exit]:
    exits = list(entries)
    for _ in range(draw(st.integers(2, 4))):
        if b.room() < 1:
            break
        exits = _step(draw, b, exits, ctx)
    return exits


def _diamond(
    draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx, *, merge: bool
) -> list[Exit]:
    """Fan out to 2-3 branches, then join them: in a SET (implicit join) or a MERGE."""
    count = min(draw(st.integers(2, 3)), b.room() - 1)
    branch_exits: list[list[Exit]] = []
    for n in range(count):
        # Leave a node for each branch still to come and one for the join.
        share = b.room() - (count - n - 1) - 1
        with b.capped(max(share, 0)):
            branch_exits.append(_block(draw, b, entries, ctx.deeper()))
    joined = [e for exits in branch_exits for e in exits]
    if not merge:
        return _step(draw, b, joined, ctx)
    indexes = [n for n, exits in enumerate(branch_exits) for _ in exits]
    mode = draw(st.sampled_from(["append", "merge_objects", "choose_branch"]))
    params: dict[str, Any] = {"mode": mode}
    if mode == "choose_branch":
        params["branch"] = draw(st.integers(0, count))  # `count`: a branch no input has
    node = _node(b.new_id(), "FLOW", "MERGE", parameters=params)
    return [(b.add(node, joined, indexes), "main")]


def _branch(
    draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx, *, switch: bool
) -> list[Exit]:
    """An IF or SWITCH whose ports each continue (rejoin what follows), end, or stay open."""
    node_id = b.new_id()
    fields: dict[str, Any] = {}
    broken = _chance(draw, 1)
    if switch:
        count = draw(st.integers(1, 3))
        modulus = count + draw(st.integers(0, 1))
        cases: list[dict[str, Any]] = [
            {
                "name": f"c{n}",
                "conditions": [
                    {"left": f"{{{{ $sum([input.v]) % {modulus} }}}}", "op": "equals", "right": n}
                ],
            }
            for n in range(count)
        ]
        if broken:
            cases[0]["conditions"] = [BROKEN_CONDITION]
        params: dict[str, Any] = {"cases": cases}
        ports = [f"c{n}" for n in range(count)] + ["default"]
        subtype = "SWITCH"
    else:
        params = {"conditions": [BROKEN_CONDITION]} if broken else _conditions(draw, ctx)
        ports = ["true", "false"]
        subtype = "IF"
    if broken:
        fields.update(_on_error(draw))
    b.add(_node(node_id, "FLOW", subtype, parameters=params, **fields), entries)
    exits: list[Exit] = []
    for port in ports:
        fate = draw(st.sampled_from(["continue", "end", "open"]))
        if fate == "open" or (fate == "end" and b.room() < 1):
            continue
        branch: list[Exit] = [(node_id, port)]
        if b.room() >= 1 and (fate == "end" or draw(st.booleans())):
            branch = _block(draw, b, branch, ctx.deeper())
        if fate == "continue":
            exits.extend(branch)
    if broken:
        exits.extend(_error_branch(draw, b, node_id, ctx))
    return exits


def _loop(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> list[Exit]:
    """A LOOP over the trigger's items (an outer item's `sub` when nested), a body of 1-3 nodes
    that may or may not lead back to the LOOP, and `done` going on."""
    loop_id = b.new_id()
    items = "{{ item.sub }}" if ctx.loops else "{{ trigger.items }}"
    fields: dict[str, Any] = {}
    broken = _chance(draw, 1)
    if broken:
        items = BROKEN_ITEMS
        fields.update(_on_error(draw))
    params = {"items": items, "max_concurrency": draw(st.integers(1, 3))}
    b.add(_node(loop_id, "FLOW", "LOOP", parameters=params, **fields), entries)
    first_body = len(b.nodes)
    body_entries: list[Exit] = [(loop_id, "each")]
    # Not from an enclosing LOOP's `each`: the validator reports that as LOOP_BODY_ESCAPES
    # (its continuation of the inner LOOP runs through the outer LOOP's way back).
    sides = [e for e in entries if e[1] != "each"]
    if sides and _chance(draw, 2):
        # An edge into the body from before the loop: a dependency of the LOOP, read by the
        # body next to the item ({loop_id: item, source: output}).
        body_entries.append(draw(st.sampled_from(sides)))
    inner = replace(ctx, loops=(*ctx.loops, loop_id), depth=ctx.depth + 1)
    with b.capped(draw(st.integers(1, 3))):
        # Nest a loop a third of the time it fits (drawn among all kinds, it seldom would).
        nest = len(inner.loops) < MAX_LOOPS and b.room() >= 2 and _chance(draw, 3)
        body_exits = _block(draw, b, body_entries, inner, ("loop",) if nest else ())
    body = {n["id"] for n in b.nodes[first_body:]}
    if draw(st.booleans()):
        for source, port in body_exits:
            if source in body:
                b.connect(source, port, loop_id)
    exits: list[Exit] = [(loop_id, "done")]
    if broken:
        exits.extend(_error_branch(draw, b, loop_id, ctx))
    return exits


def _fan_node(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> tuple[str, bool]:
    """A SET or an IF for the non-series-parallel shapes; (id, whether it is an IF)."""
    if draw(st.booleans()):
        return _set(draw, b, entries, ctx), False
    node_id = b.new_id()
    b.add(_node(node_id, "FLOW", "IF", parameters=_conditions(draw, ctx)), entries)
    return node_id, True


def _port(draw: Draw, is_if: bool) -> str:
    return draw(st.sampled_from(["true", "false"])) if is_if else "main"


def _n_shape(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> list[Exit]:
    """a and b after a fan-out, then a -> c, a -> d, b -> d: not series-parallel."""
    a, a_if = _fan_node(draw, b, entries, ctx)
    b2, b_if = _fan_node(draw, b, entries, ctx)
    c = _set(draw, b, [(a, _port(draw, a_if))], ctx)
    d = _set(draw, b, [(a, _port(draw, a_if)), (b2, _port(draw, b_if))], ctx)
    return [(c, "main"), (d, "main")]


def _dag(draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx) -> list[Exit]:
    """3-6 nodes with a random upper-triangular adjacency; nodes with no edge from an earlier
    one hang off the entries; the sinks go on."""
    count = draw(st.integers(3, min(6, b.room())))
    ids: list[tuple[str, bool]] = []
    has_out: set[str] = set()
    for _ in range(count):
        incoming: list[Exit] = []
        for source, is_if in ids:
            if draw(st.booleans()):
                incoming.append((source, _port(draw, is_if)))
                has_out.add(source)
        ids.append(_fan_node(draw, b, incoming or entries, ctx))
    exits: list[Exit] = []
    for node_id, is_if in ids:
        if node_id not in has_out:
            exits.append((node_id, _port(draw, is_if)))
    return exits


def _failure(
    draw: Draw, b: _Builder, entries: Sequence[Exit], ctx: _Ctx, *, flaky: bool
) -> list[Exit]:
    """TEST_FAIL (retryable or not), or TEST_FLAKY_ATTEMPT failing its first k tries under a
    retry_policy; on_error continue or stop; maybe an `error` port to a handler."""
    node_id = b.new_id()
    fields = _on_error(draw)
    if flaky:
        params: dict[str, Any] = {"fail_times": draw(st.integers(0, 3))}
        subtype = TEST_FLAKY_ATTEMPT
        retried = True
    else:
        params = {"code": draw(st.sampled_from(["UPSTREAM_ERROR", "VALIDATION_ERROR"]))}
        subtype = TEST_FAIL
        retried = draw(st.booleans())
    if retried:
        # wait_between_tries is at least 1 s: the interpreter's dry run shortens it to
        # max_retry_wait, a compiled machine's Retry does not (keep max_tries small).
        fields["retry_policy"] = {"max_tries": draw(st.integers(1, 3)), "wait_between_tries": 1}
    if _chance(draw, 1):
        fields["disabled"] = True
    b.add(_node(node_id, "ACTION", subtype, parameters=params, **fields), entries)
    return [(node_id, "main"), *_error_branch(draw, b, node_id, ctx)]


# -- workflows ---------------------------------------------------------------------------------


@st.composite
def _workflows(
    draw: Draw,
    max_nodes: int,
    first: tuple[str, ...],
    kinds: tuple[str, ...],
    stop_policy_tenths: int,
) -> WorkflowData:
    b = _Builder(max_nodes, draw(st.sampled_from(["n", "step-"])))
    b.add(_node(START, "TRIGGER", "MANUAL"), [])
    ctx = _Ctx(kinds=kinds)
    exits: list[Exit] = _block(draw, b, [(START, "main")], ctx, first)
    while exits and b.room() > 0 and draw(st.booleans()):
        exits = _block(draw, b, exits, ctx)
    settings = {"error_policy": "stop"} if _chance(draw, stop_policy_tenths) else {}
    return b.build(settings)


def workflows(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    """Any shape, composed: blocks in sequence, nested in branches and loop bodies."""
    return _workflows(max_nodes, ALL_KINDS, ALL_KINDS, 1)


def chains(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    return _workflows(max_nodes, ("chain",), ("step", "chain"), 0)


def diamonds(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    return _workflows(max_nodes, ("diamond", "merge"), ALL_KINDS, 0)


def branches(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    kinds = ("step", "chain", "if", "switch")
    return _workflows(max_nodes, ("if", "switch"), kinds, 0)


def loops(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    return _workflows(max_nodes, ("loop",), ALL_KINDS, 1)


def non_series_parallel(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    return _workflows(max_nodes, ("n_shape", "dag"), ALL_KINDS, 0)


def failures(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    kinds = ("step", "chain", "diamond", "if", "loop", "failure", "retry")
    return _workflows(max_nodes, ("failure",), kinds, 3)


def retries(max_nodes: int = 12) -> st.SearchStrategy[WorkflowData]:
    return _workflows(max_nodes, ("retry",), ("step", "chain", "retry", "loop"), 1)


SHAPES: dict[str, Callable[..., st.SearchStrategy[WorkflowData]]] = {
    "chains": chains,
    "diamonds": diamonds,
    "branches": branches,
    "loops": loops,
    "non_series_parallel": non_series_parallel,
    "failures": failures,
    "retries": retries,
}


def trigger_data() -> st.SearchStrategy[dict[str, Any]]:
    """`{v, flag, items: [{v, sub: [{v}]}]}`: small integers, 0-3 items, 0-2 sub-items each."""
    return _trigger_data()


@st.composite
def _trigger_data(draw: Draw) -> dict[str, Any]:
    # Lengths from a list that puts empty last: loops need items more often than not, and
    # st.lists (or st.integers) would draw many empty ones.
    def values(lengths: list[int]) -> list[dict[str, Any]]:
        return [{"v": draw(st.integers(0, 9))} for _ in range(draw(st.sampled_from(lengths)))]

    items = [{**leaf, "sub": values([1, 2, 0])} for leaf in values([1, 2, 3, 0])]
    return {"v": draw(st.integers(0, 9)), "flag": draw(st.booleans()), "items": items}


def cases(
    workflow_strategy: st.SearchStrategy[WorkflowData] | None = None, max_nodes: int = 12
) -> st.SearchStrategy[tuple[WorkflowData, dict[str, Any]]]:
    """(workflow, trigger_data) pairs; `workflows(max_nodes)` unless a shape is given."""
    strategy = workflows(max_nodes) if workflow_strategy is None else workflow_strategy
    return st.tuples(strategy, trigger_data())
