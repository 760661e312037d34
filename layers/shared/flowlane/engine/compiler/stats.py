"""What a compiled definition costs: states, bytes, transitions and history events.

Step Functions bills state transitions (every state entered, retries included) and fails an
execution past 25,000 history events. Both are estimated on the longest way through the
definition: the costliest case of every Choice, every branch of a Parallel, one iteration of
each Map (a LOOP's real cost grows with its items; the node runner checks that at run time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# History events per state entered, as Step Functions writes them (checked against moto's
# histories in the tests): entered + exited, plus scheduled/started/succeeded for a Task.
EVENTS = {
    "Task": 5,
    "Callback": 6,
    "Child": 6,
    "Choice": 2,
    "Wait": 2,
    "Pass": 2,
    "Succeed": 2,
    "Fail": 2,
    "Parallel": 4,
    "Map": 4,
}
MAP_ITERATION_EVENTS = 2
EXECUTION_EVENTS = 2
FAILURE_STATES = ("#record-failure", "#failed")


@dataclass(frozen=True)
class Cost:
    transitions: int
    events: int

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.transitions + other.transitions, self.events + other.events)


ZERO = Cost(0, 0)


def count_states(states: dict[str, Any]) -> int:
    total = 0
    for state in states.values():
        total += 1
        for branch in state.get("Branches", []):
            total += count_states(branch["States"])
        if "ItemProcessor" in state:
            total += count_states(state["ItemProcessor"]["States"])
    return total


def longest(definition: dict[str, Any]) -> Cost:
    """The costliest successful way from StartAt to the end, with the execution's own events."""
    cost = _walk(definition["StartAt"], definition["States"], {})
    return cost + Cost(0, EXECUTION_EVENTS)


def _walk(start: str, states: dict[str, Any], memo: dict[str, Cost]) -> Cost:
    """Costliest way from `start` to the end of `states`, iteratively (a chain of thousands
    of states would exhaust Python's recursion limit)."""
    stack: list[tuple[str, bool]] = [(start, False)]
    while stack:
        name, expanded = stack.pop()
        if name in memo:
            continue
        targets = _targets(states[name])
        if not expanded:
            stack.append((name, True))
            stack.extend((t, False) for t in targets if t not in memo)
            continue
        best = ZERO
        for target in targets:
            candidate = memo[target]
            if (candidate.transitions, candidate.events) > (best.transitions, best.events):
                best = candidate
        memo[name] = _own(states[name]) + best
    return memo[start]


def _own(state: dict[str, Any]) -> Cost:
    kind = state["Type"]
    resource = str(state.get("Resource", ""))
    if kind == "Task" and ".waitForTaskToken" in resource:
        own = Cost(1, EVENTS["Callback"])
    elif kind == "Task" and "states:startExecution" in resource:
        own = Cost(1, EVENTS["Child"])
    else:
        own = Cost(1, EVENTS.get(kind, 2))
    if kind == "Parallel":
        for branch in state["Branches"]:
            own = own + _walk(branch["StartAt"], branch["States"], {})
    if kind == "Map":
        body = state["ItemProcessor"]
        own = own + Cost(0, MAP_ITERATION_EVENTS) + _walk(body["StartAt"], body["States"], {})
    return own


def _targets(state: dict[str, Any]) -> list[str]:
    targets: list[str] = []
    if "Next" in state:
        targets.append(state["Next"])
    targets.extend(c["Next"] for c in state.get("Choices", []))
    if "Default" in state:
        targets.append(state["Default"])
    targets.extend(c["Next"] for c in state.get("Catch", []) if c["Next"] not in FAILURE_STATES)
    return targets
