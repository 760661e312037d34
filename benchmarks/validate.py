"""Workflow validation time against the size and shape of the workflow.

Three shapes, each at 10, 100, 1,000 and 5,000 nodes, with realistic parameters (URLs, headers,
prompts and conditions holding `{{ }}` expressions, some unique to a node, some repeated):

- chain: a trigger, then one node after another (SET, HTTP_REQUEST, TRANSFORM, AI agent, ...);
- fan-out: a trigger feeding every node, all joined by one MERGE;
- random DAG: each node fed by one or two earlier ones, a third of them IFs whose `true` and
  `false` ports lead on (seeded, so every run builds the same graph).

`validate_workflow` is timed on the parsed workflow (what an executor or the deploy path calls),
median of several runs after a warm-up. Parsed expressions are cached by
`flowlane.engine.expressions` and most of validation's cost is parsing them, so two figures are
given: "cold" clears that cache before each run (a new Lambda, or a workflow never seen), "warm"
keeps it (the same workflow validated again in a warm process, as editing, saving and running
do). Parsing the JSON document into the model (`WorkflowCreate.model_validate`, what the route does
first) is shown apart. Budget (the engine issue): 1,000 nodes in 50 ms. Printed, never asserted.

    python benchmarks/validate.py [--runs 7] [--sizes 10,100,1000,5000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers/shared"))

from flowlane.engine import expressions  # noqa: E402
from flowlane.engine.validation import validate_workflow  # noqa: E402
from flowlane.models.workflow import WorkflowCreate  # noqa: E402
from flowlane.nodes.registry import catalogue  # noqa: E402

BUDGET_NODES, BUDGET_MS = 1000, 50.0
Doc = dict[str, Any]


def _node(index: int, kind: str) -> Doc:
    """A node of the given kind with the parameters such a node has in a real workflow."""
    node_id = f"n{index}"
    previous = f"n{max(index - 1, 0)}"
    if kind == "http":
        return {
            "id": node_id,
            "type": "ACTION",
            "subtype": "HTTP_REQUEST",
            "parameters": {
                "method": "POST",
                "url": f"https://api.example.com/orders/{{{{ nodes.{previous}.body.id }}}}",
                "headers": {
                    "Authorization": "Bearer {{ trigger.token }}",
                    "X-Request": f"req-{index}",
                },
                "query": {"page": "{{ input.page ? input.page : 1 }}"},
                "body": {"total": f"{{{{ $sum(nodes.{previous}.body.items.price) }}}}"},
                "timeout_seconds": 20,
            },
        }
    if kind == "set":
        return {
            "id": node_id,
            "type": "ACTION",
            "subtype": "SET",
            "parameters": {
                "values": {
                    "customer": "{{ trigger.customer.name }}",
                    "count": f"{{{{ $count(nodes.{previous}.items) + {index} }}}}",
                    "label": f"step {index}",
                },
                "keep_input": True,
            },
        }
    if kind == "transform":
        return {
            "id": node_id,
            "type": "ACTION",
            "subtype": "TRANSFORM",
            "parameters": {"expression": f"input.items[price > {index}].{{'sku': sku}}"},
        }
    if kind == "agent":
        return {
            "id": node_id,
            "type": "AI_AGENT",
            "subtype": "CHAT",
            "parameters": {
                "provider": "offline",
                "system_prompt": "You summarise orders for the support team.",
                "prompt": (
                    f"Summarise order {{{{ nodes.{previous}.body.id }}}} "
                    "for {{ trigger.customer.name }}"
                ),
                "temperature": 0.2,
                "max_tokens": 400,
            },
        }
    if kind == "if":
        return {
            "id": node_id,
            "type": "FLOW",
            "subtype": "IF",
            "parameters": {
                "conditions": [
                    {"left": "{{ input.status_code }}", "op": "lt", "right": 400},
                    {"left": f"{{{{ input.body.n{index} }}}}", "op": "exists"},
                ],
                "combinator": "and",
            },
        }
    if kind == "slack":
        return {
            "id": node_id,
            "type": "EXTERNAL_ACTION",
            "subtype": "SLACK",
            "parameters": {
                "operation": "post_message",
                "channel": "#orders",
                "text": f"Order {{{{ nodes.{previous}.body.id }}}} is ready",
            },
        }
    raise ValueError(kind)


KINDS = ("set", "http", "transform", "agent", "slack")
TRIGGER = {
    "id": "n0",
    "type": "TRIGGER",
    "subtype": "WEBHOOK",
    "parameters": {"path": "orders", "method": "POST"},
}


def _connect(connections: Doc, source: str, port: str, target: str, index: int = 0) -> None:
    ports = connections.setdefault(source, {"connection_types": {}})["connection_types"]
    ports.setdefault(port, {"connections": []})["connections"].append(
        {"node": target, "type": "main", "index": index}
    )


def chain(size: int) -> Doc:
    nodes = [TRIGGER] + [_node(i, KINDS[i % len(KINDS)]) for i in range(1, size)]
    connections: Doc = {}
    for i in range(1, size):
        _connect(connections, f"n{i - 1}", "main", f"n{i}")
    return {"name": f"chain {size}", "nodes": nodes, "connections": {"connections": connections}}


def fan_out(size: int) -> Doc:
    branches = max(size - 2, 1)
    nodes = [TRIGGER] + [_node(i, KINDS[i % len(KINDS)]) for i in range(1, branches + 1)]
    merge = {"id": "merge", "type": "FLOW", "subtype": "MERGE", "parameters": {"mode": "append"}}
    connections: Doc = {}
    for i in range(1, branches + 1):
        _connect(connections, "n0", "main", f"n{i}")
        _connect(connections, f"n{i}", "main", "merge", index=i - 1)
    return {
        "name": f"fan-out {size}",
        "nodes": [*nodes, merge],
        "connections": {"connections": connections},
    }


def random_dag(size: int) -> Doc:
    rng = random.Random(size)
    kinds = ["if" if rng.random() < 1 / 3 else KINDS[i % len(KINDS)] for i in range(size)]
    nodes = [TRIGGER] + [_node(i, kinds[i]) for i in range(1, size)]
    connections: Doc = {}
    for i in range(1, size):
        sources = {rng.randrange(max(0, i - 20), i) for _ in range(rng.choice((1, 2)))}
        for source in sorted(sources):
            port = rng.choice(("true", "false")) if kinds[source] == "if" and source else "main"
            _connect(connections, f"n{source}", port, f"n{i}")
    return {"name": f"random {size}", "nodes": nodes, "connections": {"connections": connections}}


SHAPES: dict[str, Callable[[int], Doc]] = {
    "chain": chain,
    "fan-out + merge": fan_out,
    "random DAG + IF": random_dag,
}


def _clear_expression_caches() -> None:
    expressions.parse_template.cache_clear()
    expressions.compile_expression.cache_clear()


def _median_ms(action: Callable[[], object], runs: int, before: Callable[[], None]) -> float:
    samples = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="10,100,1000,5000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    catalogue()  # import every node module once, as a warm process has
    print(
        f"validate_workflow: median of {args.runs} runs after a warm-up "
        f"(Python {sys.version.split()[0]}); ms"
    )
    header = f"  {'shape':<17} {'nodes':>6} {'edges':>6} {'parse':>8} {'cold':>8} {'warm':>8}"
    print(header + "   issues")
    verdicts: list[str] = []
    for name, build in SHAPES.items():
        for size in sizes:
            document = build(size)
            workflow = WorkflowCreate.model_validate(document)
            report = validate_workflow(workflow)  # the warm-up; also the issues shown
            edges = sum(
                len(array.connections)
                for ports in workflow.connections.connections.values()
                for array in ports.connection_types.values()
            )
            parse = _median_ms(
                lambda d=document: WorkflowCreate.model_validate(d), args.runs, lambda: None
            )
            cold = _median_ms(
                lambda w=workflow: validate_workflow(w), args.runs, _clear_expression_caches
            )
            warm = _median_ms(lambda w=workflow: validate_workflow(w), args.runs, lambda: None)
            issues = f"{len(report.errors)} errors, {len(report.warnings)} warnings"
            print(
                f"  {name:<17} {len(workflow.nodes):>6} {edges:>6} {parse:>8.1f} {cold:>8.1f} "
                f"{warm:>8.1f}   {issues}"
            )
            if size == BUDGET_NODES:
                verdicts.append(
                    f"  {name:<17} cold {cold:5.1f} ms: {'within' if cold <= BUDGET_MS else 'OVER'}"
                    f"; warm {warm:5.1f} ms: {'within' if warm <= BUDGET_MS else 'OVER'}"
                )
    if verdicts:
        print(f"budget: {BUDGET_NODES} nodes in {BUDGET_MS:.0f} ms")
        print("\n".join(verdicts))


if __name__ == "__main__":
    main()
