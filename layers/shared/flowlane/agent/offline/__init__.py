"""The offline planner: plain words to a workflow draft with no model (used with no LLM key).

- `understand(description)` reads the request: trigger, ordered steps, services, what is missing,
  assumptions, catalogue keywords (`Understanding`). The agent also uses it alone, before a model
  drafts.
- `compose(understanding)` builds the `Draft`: nodes, parameters, expressions, edges.
- `plan(description)` is `compose(understand(description))`.
- `refine(draft, feedback)` changes what the feedback asks and keeps everything else.

Deterministic (the same words give the same draft), no network, no clock, a few milliseconds.
Modules: `schedule_words` and `timezones` (schedules in words), `entities` (URLs, addresses,
channels), `services` (what each named service becomes), `triggers`, `conditions`, `actions`,
`understand`; `data_refs`, `prompts`, `compose`; `graph_edit`, `refine`.
"""

from __future__ import annotations

from collections.abc import Mapping

from flowlane.agent.draft import Draft
from flowlane.agent.offline.compose import compose
from flowlane.agent.offline.model import (
    ConditionSpec,
    Step,
    StepKind,
    TriggerKind,
    TriggerSpec,
    Understanding,
)
from flowlane.agent.offline.refine import refine
from flowlane.agent.offline.understand import understand

__all__ = [
    "ConditionSpec",
    "Step",
    "StepKind",
    "TriggerKind",
    "TriggerSpec",
    "Understanding",
    "compose",
    "plan",
    "refine",
    "understand",
]


def plan(
    description: str,
    *,
    context: Mapping[str, str] | None = None,
    preferences: Mapping[str, str] | None = None,
) -> Draft:
    """The draft of a workflow doing what `description` asks: `compose(understand(...))`."""
    return compose(understand(description, context=context, preferences=preferences))
