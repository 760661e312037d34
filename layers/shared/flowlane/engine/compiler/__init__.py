"""The ASL compiler: a workflow revision becomes Step Functions state machines (DESIGN.md 1-3).

`compile_workflow` plans the graph (`plan.py`), emits JSONPath-mode ASL (`asl.py`) and checks
the quotas (`stats.py`): a definition is at most 1 MB and an execution's history at most 25,000
events. A workflow past either budget is split: consecutive parts of its top-level sequence
become child state machines, run in turn by `states:startExecution.sync:2` Tasks. One step
too large on its own to fit a part is refused with WORKFLOW_TOO_LARGE and the figures.

The output is deterministic (the same document gives the same bytes), and a machine's name is
derived from its definition: a definition never changes under a name, so executions started
on an older revision keep their machine, and revisions that differ only in parameters share one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from flowlane.config import EngineSettings, engine_settings
from flowlane.engine.compiler.asl import Emitter, Target
from flowlane.engine.compiler.plan import Block
from flowlane.engine.compiler.stats import count_states, longest
from flowlane.engine.graph import WorkflowGraph
from flowlane.errors import WorkflowTooLarge
from flowlane.models.workflow import WorkflowData

__all__ = ["CompiledMachine", "CompiledWorkflow", "Target", "compile_workflow"]

# Step Functions' quotas, and the share of them one definition may use before it is split.
MAX_DEFINITION_BYTES = 1_048_576
MAX_HISTORY_EVENTS = 25_000
SPLIT_BYTES = 900_000
SPLIT_EVENTS = 20_000
NAME_LIMIT = 80


@dataclass
class CompiledMachine:
    name: str
    definition: dict[str, Any]
    text: str
    states: int
    transitions: int
    history_events: int

    @property
    def bytes(self) -> int:
        return len(self.text.encode())


@dataclass
class CompiledWorkflow:
    machine: CompiledMachine
    # Parts of a workflow too large for one machine, created before `machine`, which runs them.
    children: list[CompiledMachine] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, int]:
        machines = [*self.children, self.machine]
        return {
            "states": sum(m.states for m in machines),
            "estimated_transitions": sum(m.transitions for m in machines),
            "bytes": sum(m.bytes for m in machines),
            "estimated_history_events": max(m.history_events for m in machines),
            "machines": len(machines),
        }


def canonical(definition: dict[str, Any]) -> str:
    return json.dumps(definition, separators=(",", ":"), ensure_ascii=False)


def machine_name(prefix: str, workflow_id: str, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", workflow_id)
    room = NAME_LIMIT - len(prefix) - len(digest) - 1
    return f"{prefix}{safe[:room]}-{digest}"


def compile_workflow(
    workflow: WorkflowData,
    target: Target,
    *,
    engine: EngineSettings | None = None,
    name_prefix: str = "flowlane-",
    split_bytes: int = SPLIT_BYTES,
    split_events: int = SPLIT_EVENTS,
    graph: WorkflowGraph | None = None,
) -> CompiledWorkflow:
    """`graph`: the workflow's graph when the caller has it (validation builds the same)."""
    engine = engine or engine_settings()
    graph = graph or WorkflowGraph(workflow.nodes, workflow.connections)
    emitter = Emitter(workflow, graph, target, engine)
    plan = emitter.planner.top_level()
    whole = _machine(emitter, plan, name_prefix, workflow, finish=True)
    if whole.bytes <= split_bytes and whole.history_events <= split_events:
        return CompiledWorkflow(whole)
    return _split(workflow, graph, target, engine, plan, name_prefix, split_bytes, split_events)


def _machine(
    emitter: Emitter, block: Block, prefix: str, workflow: WorkflowData, *, finish: bool
) -> CompiledMachine:
    definition = emitter.machine(block, finish=finish, comment=f"Flowlane workflow {workflow.id}")
    text = canonical(definition)
    cost = longest(definition)
    return CompiledMachine(
        name=machine_name(prefix, workflow.id, text),
        definition=definition,
        text=text,
        states=count_states(definition["States"]),
        transitions=cost.transitions,
        history_events=cost.events,
    )


def _split(
    workflow: WorkflowData,
    graph: WorkflowGraph,
    target: Target,
    engine: EngineSettings,
    plan: Block,
    prefix: str,
    split_bytes: int,
    split_events: int,
) -> CompiledWorkflow:
    """Consecutive steps of the top level, as many per part as fit the budgets. Each step is
    sized once (its own machine's bytes and events; parts add up nearly exactly), so packing
    is linear; a Parallel too large alone becomes consecutive Parallels of its branches."""

    def machine_of(steps: list[Any]) -> CompiledMachine:
        emitter = Emitter(workflow, graph, target, engine)
        return _machine(emitter, Block(steps), prefix, workflow, finish=False)

    def fits(machine: CompiledMachine) -> bool:
        return machine.bytes <= split_bytes and machine.history_events <= split_events

    sized: list[tuple[Any, CompiledMachine]] = []
    for step in _fitting_steps(plan.steps, machine_of, fits):
        sized.append((step, machine_of([step])))
    children: list[CompiledMachine] = []
    part: list[Any] = []
    size = events = 0
    # Each step's own machine counts the fixed states again: the sums overestimate a part a
    # little, which keeps every part inside its budget.
    for step, alone in sized:
        if part and (
            size + alone.bytes > split_bytes or events + alone.history_events > split_events
        ):
            children.append(_checked(machine_of(part), fits, workflow, split_bytes, split_events))
            part, size, events = [], 0, 0
        part.append(step)
        size += alone.bytes
        events += alone.history_events
    if part:
        children.append(_checked(machine_of(part), fits, workflow, split_bytes, split_events))
    definition = Emitter(workflow, graph, target, engine).parts_machine(
        [target.state_machine_arn_prefix + c.name for c in children],
        comment=f"Flowlane workflow {workflow.id} in {len(children)} parts",
    )
    text = canonical(definition)
    cost = longest(definition)
    machine = CompiledMachine(
        name=machine_name(prefix, workflow.id, text),
        definition=definition,
        text=text,
        states=count_states(definition["States"]),
        transitions=cost.transitions,  # its own; `stats` adds the children's
        history_events=cost.events,
    )
    if not (machine.bytes <= MAX_DEFINITION_BYTES and machine.history_events <= MAX_HISTORY_EVENTS):
        raise _too_large(workflow, machine, split_bytes, split_events)
    return CompiledWorkflow(machine, children)


def _fitting_steps(steps: list[Any], machine_of: Any, fits: Any) -> list[Any]:
    """The steps, with any Parallel too large for one part cut into consecutive Parallels of
    its branches (they are independent, so running groups in turn keeps the semantics), and a
    branch too large even alone laid out as its own steps."""
    from flowlane.engine.compiler.plan import Parallel

    result: list[Any] = []
    for step in steps:
        if not isinstance(step, Parallel) or fits(machine_of([step])):
            result.append(step)
            continue
        group: list[Block] = []
        for branch in step.branches:
            if not fits(machine_of([Parallel([branch])])):
                if group:
                    result.append(Parallel(group))
                    group = []
                result.extend(_fitting_steps(branch.steps, machine_of, fits))
                continue
            if group and not fits(machine_of([Parallel([*group, branch])])):
                result.append(Parallel(group))
                group = []
            group.append(branch)
        if group:
            result.append(Parallel(group))
    return result


def _checked(
    machine: CompiledMachine, fits: Any, workflow: WorkflowData, split_bytes: int, split_events: int
) -> CompiledMachine:
    if not fits(machine):
        raise _too_large(workflow, machine, split_bytes, split_events)
    return machine


def _too_large(
    workflow: WorkflowData, machine: CompiledMachine, split_bytes: int, split_events: int
) -> WorkflowTooLarge:
    return WorkflowTooLarge(
        f"workflow {workflow.id} is too large for Step Functions even in parts: one part needs "
        f"{machine.bytes:,} bytes of definition (budget {split_bytes:,}) and about "
        f"{machine.history_events:,} history events (budget {split_events:,})",
        {
            "definition_bytes": machine.bytes,
            "definition_budget": split_bytes,
            "history_events": machine.history_events,
            "history_budget": split_events,
            "states": machine.states,
        },
    )
