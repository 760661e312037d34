"""What the ASL compiler costs: compile time and size per shape, state transitions per run.

1. **Compile + validate time.** The three shapes of `benchmarks/validate.py` (chain, fan-out +
   MERGE, random DAG with IFs) at 10, 100, 1,000 and 5,000 nodes: `validate_workflow` then
   `compile_workflow` on the parsed `WorkflowData`. The first run is "cold" (expression caches
   cleared, the workflow never seen); the figures are the median of the warm runs after it. Also
   the definition: states, bytes (all machines), bytes per node, machines (parts), and the
   compiler's own estimates of transitions and history events on the longest path. A size
   refused with WORKFLOW_TOO_LARGE is printed with its figures. A compile still running after
   `--cap-seconds` is stopped and printed as such (the rest of the benchmark still runs).
   Budget (the compiler issue): 1,000 nodes compiled + validated in 50 ms, cost growing linearly.
2. **Cost per run.** Small workflows of SET nodes (small expressions, no network) are executed
   on one embedded runtime (moto runs the state machines for real) through
   `ExecutionLauncher.execute`; once the record is final and the Step Functions execution has
   ended, its history (child executions included, when the workflow was split) is read and every
   event whose type ends with `StateEntered` counts as one state transition. Executed nodes are
   the node runs of the execution (the trigger's included: the launcher runs it before the machine
   starts, and a skipped node leaves no run). Budget: transitions / executed nodes <= 1.1.
   Workflows: chains, IF diamonds in a row, SWITCHes of 3 cases rejoining, nested IFs, and one
   chain run in parts (the launcher's split budget lowered to 4,000 bytes for it, so the path of
   a workflow too large for one machine is measured too: child executions counted).
   Two baselines are computed on the same workflows, with the same denominator; the trigger is
   left out of both (every design can run it before the machine, as the launcher does):

   - Kedro's way: every topological layer of the whole graph (trigger excluded) is a Parallel
     state whose branches are the layer's nodes, every node invoked (the runner skips those not
     taken): transitions = sum over layers L of (1 + |L|); a 1-node layer is still a Parallel.
   - A dispatcher loop: a Task computes the ready nodes, a Map runs them, a Choice loops back
     until none is left: transitions = sum over rounds R of (1 Task + 1 Map + |R| + 1 Choice),
     the rounds being the topological layers of the executed nodes (trigger excluded).

   Layers are longest-path depths over `WorkflowGraph.dependencies`, in `WorkflowGraph.order`.
3. **Definition bytes per node** for each shape and size (from part 1).

Printed, never asserted.

    python benchmarks/compile.py [--runs 5] [--sizes 10,100,1000,5000] [--skip-runs]
                                 [--cap-seconds 20]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers/shared"))
sys.path.insert(0, str(ROOT / "benchmarks"))

# Handlers invoked in process read their settings as on Lambda: they must reach the embedded
# runtime; EMF metrics would print to stdout.
os.environ["FLOWLANE_RUNTIME"] = "embedded"
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

from validate import SHAPES, _clear_expression_caches  # noqa: E402

from flowlane.engine.compiler import CompiledWorkflow, Target, compile_workflow  # noqa: E402
from flowlane.engine.graph import WorkflowGraph  # noqa: E402
from flowlane.engine.validation import validate_workflow  # noqa: E402
from flowlane.errors import WorkflowTooLarge  # noqa: E402
from flowlane.models.workflow import WorkflowCreate, WorkflowData  # noqa: E402
from flowlane.nodes.registry import catalogue  # noqa: E402

BUDGET_NODES, BUDGET_MS = 1000, 50.0
BUDGET_RATIO = 1.1
OWNER = "bench"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# Part 1 names the node runner and machines the way `flowlane compile` does on the embedded side.
TARGET = Target(
    node_runner_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:flowlane-node-runner",
    state_machine_arn_prefix=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:",
)
# After a cold run longer than this, fewer warm runs (about this many seconds per size).
WARM_SECONDS = 6.0
Doc = dict[str, Any]


# -- part 1: compile + validate time -----------------------------------------------------------


class _Overtime(Exception):
    pass


@contextmanager
def _cap(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` (the compiler is pure Python: SIGALRM reaches it)."""

    def expire(*_: object) -> None:
        raise _Overtime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Sample:
    validate_ms: float
    compile_ms: float
    compiled: CompiledWorkflow | None
    refused: WorkflowTooLarge | None

    @property
    def total_ms(self) -> float:
        return self.validate_ms + self.compile_ms


def _once(workflow: WorkflowData) -> Sample:
    # As the launcher does: one graph of the workflow for validation and the compiler.
    started = time.perf_counter()
    graph = WorkflowGraph(workflow.nodes, workflow.connections)
    validate_workflow(workflow, graph=graph)
    validated = time.perf_counter()
    compiled: CompiledWorkflow | None = None
    refused: WorkflowTooLarge | None = None
    try:
        compiled = compile_workflow(workflow, TARGET, graph=graph)
    except WorkflowTooLarge as exc:
        refused = exc
    ended = time.perf_counter()
    return Sample((validated - started) * 1000, (ended - validated) * 1000, compiled, refused)


def _as_workflow(document: Doc, workflow_id: str) -> WorkflowData:
    body = WorkflowCreate.model_validate(document)
    fields = body.model_dump(exclude={"id", "user_id", "session_id"})
    return WorkflowData.model_validate(
        {**fields, "id": workflow_id, "created_at": 0, "updated_at": 0, "revision": 1}
    )


@dataclass
class Row:
    shape: str
    nodes: int
    cold: Sample | None  # None: stopped at the cap
    validate_ms: float = 0.0
    compile_ms: float = 0.0
    total_ms: float = 0.0
    runs: int = 0

    @property
    def ok(self) -> bool:
        return self.cold is not None and self.cold.compiled is not None


def _measure(shape: str, document: Doc, runs: int, cap: float) -> Row:
    workflow = _as_workflow(document, f"bench-{shape.split()[0]}-{len(document['nodes'])}")
    nodes = len(workflow.nodes)
    _clear_expression_caches()
    try:
        with _cap(cap):
            cold = _once(workflow)
    except _Overtime:
        return Row(shape, nodes, None)
    warm_runs = (
        runs
        if cold.total_ms < 1000
        else max(1, min(runs, int(WARM_SECONDS * 1000 / cold.total_ms)))
    )
    warm = [_once(workflow) for _ in range(warm_runs)]
    return Row(
        shape,
        nodes,
        cold,
        validate_ms=statistics.median(s.validate_ms for s in warm),
        compile_ms=statistics.median(s.compile_ms for s in warm),
        total_ms=statistics.median(s.total_ms for s in warm),
        runs=warm_runs,
    )


def _print_row(row: Row, cap: float) -> None:
    lead = f"  {row.shape:<16} {row.nodes:>5}"
    if row.cold is None:
        print(f"{lead}   stopped: validate + compile still running after {cap:g} s (cold run)")
        return
    times = (
        f" {row.validate_ms:>8.1f} {row.compile_ms:>9.1f} {row.total_ms:>9.1f} "
        f"{row.total_ms / row.nodes:>7.3f} {row.cold.total_ms:>9.1f} {row.runs:>4}"
    )
    if row.cold.refused is not None:
        d = row.cold.refused.details
        print(
            f"{lead}{times}   WORKFLOW_TOO_LARGE: one part needs {d.get('states', 0):,} states, "
            f"{d.get('definition_bytes', 0):,} bytes (budget {d.get('definition_budget', 0):,}), "
            f"~{d.get('history_events', 0):,} history events "
            f"(budget {d.get('history_budget', 0):,})"
        )
        return
    assert row.cold.compiled is not None
    stats = row.cold.compiled.stats
    print(
        f"{lead}{times} {stats['states']:>6} {stats['bytes']:>9,} "
        f"{stats['bytes'] / row.nodes:>6.0f} {stats['machines']:>5} "
        f"{stats['estimated_transitions']:>6} {stats['estimated_history_events']:>7}"
    )


def compile_section(sizes: list[int], runs: int, cap: float) -> list[Row]:
    print(
        f"1. validate_workflow + compile_workflow on the parsed workflow (Python "
        f"{sys.version.split()[0]}): median of warm runs (count in 'runs'), 'cold' = the first "
        "run, expression caches cleared; ms"
    )
    print(
        f"  {'shape':<16} {'nodes':>5} {'validate':>8} {'compile':>9} {'total':>9} "
        f"{'ms/node':>7} {'cold':>9} {'runs':>4} {'states':>6} {'def bytes':>9} "
        f"{'B/node':>6} {'parts':>5} {'trans.':>6} {'events':>7}"
    )
    rows: list[Row] = []
    for shape, build in SHAPES.items():
        for size in sizes:
            row = _measure(shape, build(size), runs, cap)
            _print_row(row, cap)
            rows.append(row)
    print(
        "  (trans. and events: the compiler's estimates on the longest path; parts: machines, "
        "more than 1 when split)"
    )
    _print_budget(rows, sizes, cap)
    return rows


def _print_budget(rows: list[Row], sizes: list[int], cap: float) -> None:
    print(f"  budget: {BUDGET_NODES:,} nodes in <= {BUDGET_MS:.0f} ms (validate + compile), linear")
    for shape in SHAPES:
        mine = [r for r in rows if r.shape == shape]
        parts: list[str] = []
        at_budget = next((r for r in mine if r.nodes == BUDGET_NODES), None)
        if at_budget is None:
            parts.append(f"no {BUDGET_NODES:,}-node run")
        elif at_budget.cold is None:
            parts.append(f"{BUDGET_NODES:,} nodes: > {cap:g} s, OVER")
        else:
            verdict = "within" if at_budget.total_ms <= BUDGET_MS else "OVER"
            parts.append(
                f"{BUDGET_NODES:,} nodes: warm {at_budget.total_ms:.1f} ms, cold "
                f"{at_budget.cold.total_ms:.1f} ms: {verdict}"
            )
        growth: list[str] = []
        for small, large in itertools.pairwise(mine):
            if small.cold is None or small.total_ms <= 0:
                continue
            factor = large.nodes / small.nodes
            if large.cold is None:
                growth.append(
                    f"{small.nodes}->{large.nodes}: x{factor:.0f} nodes, "
                    f"> x{cap * 1000 / small.total_ms:.0f} time (cold, stopped)"
                )
                continue
            times = large.total_ms / small.total_ms
            growth.append(f"{small.nodes}->{large.nodes}: x{factor:.0f} nodes, x{times:.1f} time")
        print(f"    {shape:<16} {'; '.join(parts)}")
        if growth:
            print(f"    {'':<16} growth (warm): {'; '.join(growth)}")


def bytes_section(rows: list[Row], sizes: list[int]) -> None:
    print("3. Definition bytes per node (all machines of the workflow)")
    print(f"  {'shape':<16} " + " ".join(f"{s:>9,}" for s in sizes))
    for shape in SHAPES:
        cells = []
        for row in (r for r in rows if r.shape == shape):
            if row.cold is None:
                cells.append(f"{'stopped':>9}")
            elif row.cold.refused is not None:
                cells.append(f"{'too large':>9}")
            else:
                assert row.cold.compiled is not None
                cells.append(f"{row.cold.compiled.stats['bytes'] / row.nodes:>9.0f}")
        print(f"  {shape:<16} " + " ".join(cells))
    print(
        "  (a workflow refused with WORKFLOW_TOO_LARGE has no definition; its part's bytes are "
        "in section 1)"
    )


# -- part 2: transitions per executed node -------------------------------------------------------


def _connect(connections: Doc, source: str, port: str, target: str, index: int = 0) -> None:
    ports = connections.setdefault(source, {"connection_types": {}})["connection_types"]
    ports.setdefault(port, {"connections": []})["connections"].append(
        {"node": target, "type": "main", "index": index}
    )


TRIGGER: Doc = {"id": "start", "type": "TRIGGER", "subtype": "MANUAL", "parameters": {}}


def _set(node_id: str, n: int) -> Doc:
    return {
        "id": node_id,
        "type": "ACTION",
        "subtype": "SET",
        "parameters": {"values": {"step": n, "total": f"{{{{ trigger.n + {n} }}}}"}},
    }


def _if(node_id: str, flag: int) -> Doc:
    return {
        "id": node_id,
        "type": "FLOW",
        "subtype": "IF",
        "parameters": {
            "conditions": [{"left": f"{{{{ trigger.flags[{flag}] }}}}", "op": "is_true"}]
        },
    }


def _document(name: str, nodes: list[Doc], connections: Doc) -> Doc:
    return {"name": name, "nodes": nodes, "connections": {"connections": connections}}


def run_chain(size: int) -> Doc:
    """The trigger and size - 1 SET nodes one after another."""
    nodes = [TRIGGER] + [_set(f"s{i}", i) for i in range(1, size)]
    connections: Doc = {}
    for i in range(1, size):
        _connect(connections, "start" if i == 1 else f"s{i - 1}", "main", f"s{i}")
    return _document(f"chain {size}", nodes, connections)


def diamonds(count: int) -> Doc:
    """IF -> true: SET / false: SET -> join SET, `count` times in a row."""
    nodes = [TRIGGER]
    connections: Doc = {}
    previous = "start"
    for k in range(count):
        nodes += [_if(f"if{k}", k), _set(f"t{k}", k), _set(f"f{k}", k), _set(f"j{k}", k)]
        _connect(connections, previous, "main", f"if{k}")
        _connect(connections, f"if{k}", "true", f"t{k}")
        _connect(connections, f"if{k}", "false", f"f{k}")
        _connect(connections, f"t{k}", "main", f"j{k}")
        _connect(connections, f"f{k}", "main", f"j{k}")
        previous = f"j{k}"
    return _document(f"{count} IF diamonds", nodes, connections)


def switches(count: int) -> Doc:
    """SWITCH with cases a, b, c -> a SET each -> join SET, `count` times in a row."""
    nodes = [TRIGGER]
    connections: Doc = {}
    previous = "start"
    for k in range(count):
        cases = [
            {
                "name": name,
                "conditions": [
                    {"left": f"{{{{ trigger.routes[{k}] }}}}", "op": "equals", "right": name}
                ],
            }
            for name in ("a", "b", "c")
        ]
        nodes.append(
            {"id": f"sw{k}", "type": "FLOW", "subtype": "SWITCH", "parameters": {"cases": cases}}
        )
        _connect(connections, previous, "main", f"sw{k}")
        for name in ("a", "b", "c"):
            nodes.append(_set(f"{name}{k}", k))
            _connect(connections, f"sw{k}", name, f"{name}{k}")
            _connect(connections, f"{name}{k}", "main", f"j{k}")
        nodes.append(_set(f"j{k}", k))
        previous = f"j{k}"
    return _document(f"{count} SWITCH x3 cases", nodes, connections)


def nested_ifs(depth: int) -> Doc:
    """IF1 true -> IF2 true -> ... -> SET; each IFk false -> SET ck; joins on the way out."""
    nodes = [TRIGGER]
    connections: Doc = {}

    def nest(k: int) -> tuple[str, str]:
        if k == 0:
            nodes.append(_set("leaf", 0))
            return "leaf", "leaf"
        nodes.append(_if(f"if{k}", depth - k))
        entry, exit_ = nest(k - 1)
        nodes.append(_set(f"c{k}", k))
        nodes.append(_set(f"j{k}", k))
        _connect(connections, f"if{k}", "true", entry)
        _connect(connections, f"if{k}", "false", f"c{k}")
        _connect(connections, exit_, "main", f"j{k}")
        _connect(connections, f"c{k}", "main", f"j{k}")
        return f"if{k}", f"j{k}"

    entry, _ = nest(depth)
    _connect(connections, "start", "main", entry)
    return _document(f"nested IFs depth {depth}", nodes, connections)


# Part bytes for the one run split on purpose (the others fit one machine): about 6 SETs a part.
SPLIT_BYTES = 4_000

# (label, document, trigger data, split budget in bytes when the run is split into parts on purpose)
RUN_WORKFLOWS: list[tuple[str, Callable[[], Doc], Doc, int | None]] = [
    ("chain 5", lambda: run_chain(5), {"n": 1}, None),
    ("chain 20", lambda: run_chain(20), {"n": 1}, None),
    ("chain 50", lambda: run_chain(50), {"n": 1}, None),
    ("IF diamond x3", lambda: diamonds(3), {"n": 1, "flags": [True, False, True]}, None),
    ("IF diamond x10", lambda: diamonds(10), {"n": 1, "flags": [True, False] * 5}, None),
    ("SWITCH 3 cases", lambda: switches(1), {"n": 1, "routes": ["b"]}, None),
    ("SWITCH 3 cases x5", lambda: switches(5), {"n": 1, "routes": ["a", "b", "c", "b", "a"]}, None),
    ("nested IF d3 all true", lambda: nested_ifs(3), {"n": 1, "flags": [True, True, True]}, None),
    (
        "nested IF d3 true,false",
        lambda: nested_ifs(3),
        {"n": 1, "flags": [True, False, True]},
        None,
    ),
    ("nested IF d5 all true", lambda: nested_ifs(5), {"n": 1, "flags": [True] * 5}, None),
    # The path of a workflow too large for one machine: child machines run by the parent.
    ("chain 20 in parts", lambda: run_chain(20), {"n": 1}, SPLIT_BYTES),
]


def topological_layers(graph: WorkflowGraph, nodes: set[str]) -> list[list[str]]:
    """`nodes` by longest-path depth over their dependencies among `nodes`."""
    depth: dict[str, int] = {}
    for node_id in graph.order:
        if node_id in nodes:
            depth[node_id] = 1 + max(
                (depth[d] for d in graph.dependencies(node_id) if d in depth), default=-1
            )
    layers: dict[int, list[str]] = {}
    for node_id, level in depth.items():
        layers.setdefault(level, []).append(node_id)
    return [layers[level] for level in sorted(layers)]


def kedro_transitions(graph: WorkflowGraph) -> int:
    flow = {n for n in graph.order if n not in graph.triggers}
    return sum(1 + len(layer) for layer in topological_layers(graph, flow))


def dispatcher_transitions(graph: WorkflowGraph, executed: set[str]) -> int:
    ran = executed - set(graph.triggers)
    return sum(3 + len(layer) for layer in topological_layers(graph, ran))


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**arguments)
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events
        arguments["nextToken"] = token


def _wait_ended(sfn: Any, arn: str, deadline: float) -> str:
    while True:
        status: str = sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING" or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


@contextmanager
def _split_budget(split_bytes: int | None) -> Iterator[None]:
    """Make the launcher split workflows past `split_bytes` (the default budget is 900 KB)."""
    if split_bytes is None:
        yield
        return
    from flowlane.runtime import launcher

    original = launcher.compile_workflow
    launcher.compile_workflow = functools.partial(original, split_bytes=split_bytes)
    try:
        yield
    finally:
        launcher.compile_workflow = original


@dataclass
class RunFigures:
    label: str
    nodes: int
    status: str
    transitions: int
    executed: int
    estimated: int
    kedro: int
    dispatcher: int
    seconds: float
    error: str


def runs_section() -> list[RunFigures]:
    from flowlane.config import LocalSettings, StoreSettings, aws_settings
    from flowlane.observability import log_to_stderr
    from flowlane.runtime.embedded import EmbeddedRuntime
    from flowlane.runtime.launcher import ExecutionLauncher, target_for
    from flowlane.runtime.services import Services

    print(
        "2. State transitions per executed node, counted from Step Functions histories on the "
        "embedded runtime (*StateEntered events)"
    )
    log_to_stderr()
    aws_settings.cache_clear()
    results: list[RunFigures] = []
    started = time.perf_counter()
    with EmbeddedRuntime(
        state_dir=None, store=StoreSettings(), local=LocalSettings(), region=aws_settings().region
    ) as runtime:
        print(f"  (embedded runtime started in {time.perf_counter() - started:.1f} s)")
        services = Services(aws=runtime.aws, store=runtime.store, clients=runtime.clients)
        sfn = services.clients.stepfunctions
        launcher = ExecutionLauncher(services)
        target = target_for(services)
        header = (
            f"  {'workflow':<24} {'nodes':>5} {'status':>9} {'trans.':>6} {'ran':>4} "
            f"{'ratio':>6} {'est.':>5} {'kedro':>6} {'ratio':>6} {'dispatch':>8} {'ratio':>6} "
            f"{'s':>5}"
        )
        print(header)
        for label, build, data, split_bytes in RUN_WORKFLOWS:
            body = WorkflowCreate.model_validate(build())
            workflow = services.workflows.create(OWNER, body)
            began = time.perf_counter()
            with _split_budget(split_bytes):
                compiled = launcher.compile(OWNER, workflow)
                execution = launcher.execute(OWNER, workflow.id, data)
            deadline = time.monotonic() + 180
            while True:
                record = services.executions.get(OWNER, execution.execution_id)
                if record.final or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            arns: list[str] = []
            if record.sfn_execution_arn:
                arns.append(record.sfn_execution_arn)
            for child in compiled.children:
                child_arn = target.state_machine_arn_prefix + child.name
                listed = sfn.list_executions(stateMachineArn=child_arn)["executions"]
                arns += [
                    e["executionArn"]
                    for e in listed
                    if e["name"].startswith(execution.execution_id)
                ]
            transitions = 0
            for arn in arns:
                _wait_ended(sfn, arn, deadline)
                transitions += sum(
                    1 for e in _history(sfn, arn) if e["type"].endswith("StateEntered")
                )
            seconds = time.perf_counter() - began
            executed = {
                r.run.node_id for r in services.executions.list_runs(OWNER, execution.execution_id)
            }
            graph = WorkflowGraph(workflow.nodes, workflow.connections)
            figures = RunFigures(
                label,
                len(workflow.nodes),
                record.status.value,
                transitions,
                len(executed),
                compiled.stats["estimated_transitions"],
                kedro_transitions(graph),
                dispatcher_transitions(graph, executed),
                seconds,
                record.error.message if record.error else "",
            )
            results.append(figures)
            n = max(figures.executed, 1)
            print(
                f"  {label:<24} {figures.nodes:>5} {figures.status:>9} {transitions:>6} "
                f"{figures.executed:>4} {transitions / n:>6.2f} {figures.estimated:>5} "
                f"{figures.kedro:>6} {figures.kedro / n:>6.2f} {figures.dispatcher:>8} "
                f"{figures.dispatcher / n:>6.2f} {seconds:>5.1f}"
                + (f"   {len(compiled.children)} child machines" if compiled.children else "")
            )
    print(
        "  (trans.: states entered; ran: node runs, trigger included; ratio: per node run; "
        "est.: the compiler's longest-path estimate; kedro and dispatch: the baselines of the "
        "module docstring)"
    )
    succeeded = [f for f in results if f.status == "SUCCEEDED"]
    over = [f for f in succeeded if f.transitions / max(f.executed, 1) > BUDGET_RATIO]
    print(
        f"  budget: <= {BUDGET_RATIO} transitions per executed node (runs that succeeded): ", end=""
    )
    if over:
        print(
            "OVER on "
            + ", ".join(f"{f.label} ({f.transitions / max(f.executed, 1):.2f})" for f in over)
        )
    else:
        print("within on every one")
    for f in results:
        if f.status != "SUCCEEDED":
            print(f"  not SUCCEEDED: {f.label}: {f.status} {f.error}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs per size (part 1)")
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--skip-runs", action="store_true", help="skip part 2 (executions)")
    parser.add_argument(
        "--cap-seconds", type=float, default=20.0, help="stop a cold compile after this long"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    catalogue()  # import every node module once, as a warm process has
    began = time.perf_counter()
    rows = compile_section(sizes, args.runs, args.cap_seconds)
    print()
    if not args.skip_runs:
        runs_section()
        print()
    bytes_section(rows, sizes)
    print(f"(the whole benchmark took {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
