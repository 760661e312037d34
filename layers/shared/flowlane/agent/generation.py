"""The generation graph (LangGraph): plain words, or a refinement, to a checked, saved workflow.

    understand -> search -> draft -> check --ok--> save
                                      |  ^
                               errors |  | (at most `max_repairs` rounds)
                                      v  |
                                     repair          errors after the last round -> give_up

- understand: the offline planner reads the request: what is missing becomes `missing_info`
  (with the default it assumed), and the words worth searching the catalogue for.
- search: lexical ranking over the node templates; the matches go to the model's prompt.
- draft: the whole workflow in one structured output (or the refinement of the current one).
- check: validate, every node reached, dry run on sample data (`agent.checks`).
- repair: the errors go back to the drafter.
- save: the caller's workflow is created (or, for a refinement, updated).

Built in a factory with its collaborators injected (the drafter, i.e. the model; the checker;
the saver; the progress sink), as LangGraph's own examples do, so tests script the model and the
worker and the API build the same graph. The state is plain JSON, so any checkpointer can keep
it; with one, a generation interrupted midway resumes from its last finished step.

LangGraph costs about 0.75 s to import: only the agent worker and the generation routes import
this module, never a cold start that does not generate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph

from flowlane.agent.catalogue import catalogue_digest, search_catalogue
from flowlane.agent.checks import CheckReport
from flowlane.agent.draft import Draft
from flowlane.agent.drafting import Drafter, DraftRequest, DraftUnreadable, as_strings
from flowlane.models.workflow import WorkflowCreate

Emit = Callable[[str, dict[str, Any]], None]


class GenerationState(TypedDict, total=False):
    mode: Literal["generate", "refine"]
    description: str
    feedback: str
    context: dict[str, Any]
    preferences: dict[str, Any]
    current: dict[str, Any] | None  # the draft of the workflow a refinement starts from
    hints: list[str]
    missing_info: list[str]
    suggestions: list[str]
    keywords: list[str]
    catalogue: str
    draft: dict[str, Any] | None
    errors: list[str]
    rounds: int
    workflow_id: str | None
    model_calls: int
    outcome: Literal["saved", "failed"]


@dataclass
class GenerationDeps:
    drafter: Drafter
    check: Callable[[WorkflowCreate], CheckReport]
    save: Callable[[Draft], str]  # the saved workflow's id
    emit: Emit
    max_repairs: int = 3


def summary(draft: Draft) -> dict[str, Any]:
    """What a progress event shows of a draft."""
    return {
        "name": draft.name,
        "nodes": [
            {"id": n.id, "name": n.name, "type": n.type.value, "subtype": n.subtype}
            for n in draft.nodes
        ],
        "edges": [
            {"source": e.source, "target": e.target, "port": e.port, "kind": e.kind}
            for e in draft.edges
        ],
        "missing_info": draft.missing_info,
    }


def _merge(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))


def build_generation_graph(deps: GenerationDeps, checkpointer: Any = None) -> Any:
    def request_of(state: GenerationState) -> DraftRequest:
        return DraftRequest(
            description=state.get("description") or state.get("feedback", ""),
            context=state.get("context", {}),
            preferences=state.get("preferences", {}),
            hints=state.get("hints", []),
            catalogue=state.get("catalogue", ""),
        )

    def understand(state: GenerationState) -> GenerationState:
        from flowlane.agent.offline import understand as read_request

        text = state.get("description") or state.get("feedback", "")
        deps.emit("start", {"mode": state.get("mode", "generate"), "request": text})
        reading = read_request(
            text,
            context=as_strings(state.get("context", {})),
            preferences=as_strings(state.get("preferences", {})),
        )
        update: GenerationState = {
            "keywords": list(reading.keywords),
            "rounds": 0,
            "model_calls": 0,
            "hints": [],
            "missing_info": [],
            "suggestions": [],
        }
        if state.get("mode") == "generate":
            # A refinement's words are about a change, not the whole automation: what they
            # leave out is not missing from the workflow.
            update["hints"] = [*reading.missing_info, *reading.suggestions]
            update["missing_info"] = list(reading.missing_info)
            update["suggestions"] = list(reading.suggestions)
        return update

    def search(state: GenerationState) -> GenerationState:
        query = " ".join(state.get("keywords") or []) or request_of(state).description
        hits = search_catalogue(query, limit=10)
        return {"catalogue": catalogue_digest(hits)}

    def drafted(state: GenerationState, make: Callable[[], Draft]) -> GenerationState:
        try:
            draft = make()
        except DraftUnreadable as exc:
            update: GenerationState = {"draft": None, "errors": exc.errors}
        else:
            deps.emit("draft", {"round": state.get("rounds", 0), "draft": summary(draft)})
            update = {"draft": draft.model_dump(mode="json"), "errors": []}
        update["model_calls"] = deps.drafter.calls
        return update

    def draft(state: GenerationState) -> GenerationState:
        request = request_of(state)
        if state.get("mode") == "refine" and state.get("current"):
            current = Draft.model_validate(state["current"])
            return drafted(
                state, lambda: deps.drafter.refine(current, state.get("feedback", ""), request)
            )
        return drafted(state, lambda: deps.drafter.draft(request))

    def check(state: GenerationState) -> GenerationState:
        errors = list(state.get("errors", []))
        if state.get("draft") is not None and not errors:
            document = Draft.model_validate(state["draft"]).to_workflow()
            report = deps.check(document)
            errors = report.errors
        if errors:
            deps.emit("debugging", {"round": state.get("rounds", 0) + 1, "errors": errors})
        return {"errors": errors}

    def repair(state: GenerationState) -> GenerationState:
        previous = Draft.model_validate(state["draft"]) if state.get("draft") else None
        rounds = state.get("rounds", 0) + 1
        update = drafted(
            {**state, "rounds": rounds},
            lambda: deps.drafter.repair(request_of(state), previous, state.get("errors", [])),
        )
        update["rounds"] = rounds
        return update

    def save(state: GenerationState) -> GenerationState:
        final = Draft.model_validate(state["draft"])
        workflow_id = deps.save(final)
        missing = _merge(state.get("missing_info", []), final.missing_info)
        suggestions = _merge(state.get("suggestions", []), final.suggestions)
        deps.emit(
            "complete",
            {"workflow_id": workflow_id, "draft": summary(final), "missing_info": missing},
        )
        return {
            "workflow_id": workflow_id,
            "missing_info": missing,
            "suggestions": suggestions,
            "outcome": "saved",
        }

    def give_up(state: GenerationState) -> GenerationState:
        deps.emit("error", {"errors": state.get("errors", []), "rounds": state.get("rounds", 0)})
        return {"outcome": "failed"}

    def after_check(state: GenerationState) -> str:
        if not state.get("errors"):
            return "save"
        if state.get("rounds", 0) < deps.max_repairs:
            return "repair"
        return "give_up"

    graph = StateGraph(GenerationState)
    graph.add_node("understand", understand)
    graph.add_node("search", search)
    graph.add_node("draft", draft)
    graph.add_node("check", check)
    graph.add_node("repair", repair)
    graph.add_node("save", save)
    graph.add_node("give_up", give_up)
    graph.add_edge(START, "understand")
    graph.add_edge("understand", "search")
    graph.add_edge("search", "draft")
    graph.add_edge("draft", "check")
    graph.add_conditional_edges("check", after_check, ["save", "repair", "give_up"])
    graph.add_edge("repair", "check")
    graph.add_edge("save", END)
    graph.add_edge("give_up", END)
    return graph.compile(checkpointer=checkpointer)
