"""Generation with no store and no account: `flowlane generate "TEXT"`.

The same graph as the API (understand, search, draft, check, repair), with nothing saved: the
document is printed for the user to keep, validate, run or POST. The drafter follows the same
settings as the agent (FLOWLANE_AGENT_PROVIDER and the LLM keys); with no key it is the offline
planner, so the command works on a fresh machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowlane.agent.checks import check
from flowlane.agent.draft import Draft
from flowlane.config import agent_settings, integration_settings
from flowlane.models.workflow import WorkflowCreate

CLI_OWNER = "cli"


@dataclass
class StandaloneResult:
    document: WorkflowCreate | None
    valid: bool
    errors: list[str] = field(default_factory=list)
    missing_info: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    provider: str = "offline"
    model_calls: int = 0
    repair_rounds: int = 0


def generate_document(
    description: str,
    *,
    provider: str | None = None,
    context: dict[str, Any] | None = None,
    preferences: dict[str, Any] | None = None,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> StandaloneResult:
    from flowlane.agent.drafting import open_drafter
    from flowlane.agent.generation import GenerationDeps, build_generation_graph

    settings = agent_settings()
    drafter = open_drafter(provider or settings.provider, integration_settings())
    deps = GenerationDeps(
        drafter=drafter,
        check=lambda document: check(document, owner=CLI_OWNER),
        save=lambda draft: "",  # nothing to save: the caller prints the document
        emit=progress or (lambda kind, data: None),
        max_repairs=settings.max_repair_rounds,
    )
    try:
        state = build_generation_graph(deps).invoke(
            {
                "mode": "generate",
                "description": description,
                "context": context or {},
                "preferences": preferences or {},
            }
        )
    finally:
        drafter.close()
    draft = Draft.model_validate(state["draft"]) if state.get("draft") else None
    return StandaloneResult(
        document=draft.to_workflow() if draft else None,
        valid=state.get("outcome") == "saved",
        errors=list(state.get("errors", [])),
        missing_info=list(state.get("missing_info", [])),
        suggestions=list(state.get("suggestions", [])),
        provider=drafter.provider,
        model_calls=drafter.calls,
        repair_rounds=int(state.get("rounds", 0)),
    )
