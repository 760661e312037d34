"""What the offline agent says: each tool's result (or error) in plain words for a person.

The results are the shapes `AgentTools` documents; a field that is missing or of another type is
left out of the sentence rather than failing the turn, since the turn has already acted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from flowlane.agent.conversation_tools import ToolOutcome
from flowlane.nodes.llm.offline import summarise

MAX_NAMED = 6  # steps, nodes or problems named in one sentence
MAX_DETAIL_ERRORS = 3
MAX_DESCRIPTION_CHARS = 120

# How a failed tool reads: "I couldn't <action>: <why>."
ACTIONS = {
    "search_catalogue": "search the node catalogue",
    "draft_workflow": "draft the workflow",
    "refine_workflow": "change the workflow",
    "validate_workflow": "check the workflow",
    "dry_run_workflow": "test the workflow",
    "execute_workflow": "start the workflow",
    "list_executions": "list the workflow's runs",
    "get_execution": "read that execution",
}

HELP = (
    "I can draft a workflow from a description (for example: “every weekday at 9, post new "
    "GitHub issues to Slack”), change it, check it, test it with sample data, run it, and tell "
    "you how its runs went. No language model is configured, so I follow simple rules: say what "
    "you want to automate, or “test it”, “run it”, “did it work?”, “do you support Slack?”."
)
GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))\b")
THANKS = re.compile(r"\b(?:thanks|thank you|cheers)\b")
_CHANGE_WITHOUT_WORKFLOW = re.compile(r"\b(?:change|add|remove|rename|replace|instead|edit)\b")


def help_text(text: str, workflow: dict[str, Any] | None) -> str:
    """The answer when no tool fits: what the agent can do, in the session's situation."""
    opening = ""
    if GREETING.search(text):
        opening = "Hello! "
    elif THANKS.search(text):
        opening = "You're welcome. "
    if workflow is None and _CHANGE_WITHOUT_WORKFLOW.search(text):
        return (
            f"{opening}There is no workflow in this session yet, so there is nothing to change. "
            "Describe the automation you want and I'll draft it first."
        )
    current = ""
    if workflow is not None:
        current = f" This session's workflow is *{_name(workflow)}*."
    return f"{opening}{HELP}{current}"


def summarise_turn(outcomes: list[ToolOutcome]) -> str:
    return " ".join(summarise_outcome(outcome) for outcome in outcomes)


def summarise_outcome(outcome: ToolOutcome) -> str:
    if outcome.error is not None:
        return failure_text(outcome.call.name, outcome.error)
    reply = _REPLIES.get(outcome.call.name)
    result = outcome.result or {}
    return reply(result) if reply is not None else f"{outcome.call.name} finished."


def failure_text(tool: str, error: dict[str, Any]) -> str:
    message = str(error.get("message") or "it failed").rstrip(".")
    text = f"I couldn't {ACTIONS.get(tool, 'do that')}: {message}."
    raw = error.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    problems = [_issue(e) for e in _list(details.get("errors"))[:MAX_DETAIL_ERRORS]]
    if problems:
        text += f" ({'; '.join(problems)})"
    retry = details.get("retry_after_seconds")
    if isinstance(retry, int):
        text += f" Try again in {retry} seconds."
    return text


# -- one reply per tool --------------------------------------------------------------------------


def _draft(result: dict[str, Any]) -> str:
    nodes = _list(result.get("nodes"))
    steps = _named([_name(n) for n in nodes])
    text = f"I drafted *{_name(result)}* with {_count(len(nodes), 'step')}"
    text += f": {steps}." if steps else "."
    missing = [_issue(m) for m in _list(result.get("missing_info"))]
    if missing:
        text += f" I still need: {'; '.join(missing)}."
    text += _validity(result)
    suggestions = [_issue(s) for s in _list(result.get("suggestions"))[:2]]
    if suggestions:
        text += f" Suggestion: {'; '.join(suggestions)}."
    return text + " Say “test it” to try it with sample data, or tell me what to change."


def _refine(result: dict[str, Any]) -> str:
    changes = [_issue(c) for c in _list(result.get("changes"))]
    text = "I updated the workflow"
    text += f": {_named(changes, separator='; ')}." if changes else "."
    return text + _validity(result)


def _validate(result: dict[str, Any]) -> str:
    errors = _list(result.get("errors"))
    warnings = _list(result.get("warnings"))
    if result.get("valid") and not errors:
        text = "The workflow is valid."
    else:
        problems = _named([_issue(e) for e in errors], separator="; ")
        text = f"The workflow has {_count(len(errors), 'problem')}: {problems}."
    if warnings:
        text += f" {_count(len(warnings), 'warning')}: "
        text += _named([_issue(w) for w in warnings], separator="; ") + "."
    return text


def _dry_run(result: dict[str, Any]) -> str:
    return "The test run " + _run_story(result)


def _execute(result: dict[str, Any]) -> str:
    status = str(result.get("status") or "running").lower()
    return (
        f"I started the workflow: execution {result.get('execution_id')} is {status}. "
        "Ask me “did it work?” to see how it went."
    )


def _list_runs(result: dict[str, Any]) -> str:
    runs = [r for r in _list(result.get("executions")) if isinstance(r, dict)]
    if not runs:
        return "The workflow has no runs yet."
    latest = runs[0]
    text = f"The latest run, {latest.get('execution_id')}, {_status(latest)}"
    started = latest.get("started_at")
    text += f" (started {started})." if started else "."
    if len(runs) > 1:
        tally = Counter(_status(r) for r in runs)
        counts = ", ".join(f"{n} {status}" for status, n in sorted(tally.items()))
        text += f" Of the last {len(runs)}: {counts}."
    return text


def _get_execution(result: dict[str, Any]) -> str:
    return f"Execution {result.get('execution_id')} " + _run_story(result)


def _search(result: dict[str, Any]) -> str:
    templates = [t for t in _list(result.get("templates")) if isinstance(t, dict)]
    if not templates:
        return "I found no node for that; try other words, such as the service's name."
    shown = [_template(t) for t in templates[:MAX_NAMED]]
    more = len(templates) - len(shown)
    tail = f"; and {more} more" if more else ""
    return f"I found {_count(len(templates), 'matching node')}: {'; '.join(shown)}{tail}."


_REPLIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "search_catalogue": _search,
    "draft_workflow": _draft,
    "refine_workflow": _refine,
    "validate_workflow": _validate,
    "dry_run_workflow": _dry_run,
    "execute_workflow": _execute,
    "list_executions": _list_runs,
    "get_execution": _get_execution,
}


# -- pieces --------------------------------------------------------------------------------------


def _template(template: dict[str, Any]) -> str:
    """'Slack (EXTERNAL_ACTION.SLACK): Send a message ...'; the name alone when there is none."""
    label = str(template.get("id"))
    if template.get("name"):
        label = f"{template['name']} ({label})"
    description = str(template.get("description") or "")
    if len(description) > MAX_DESCRIPTION_CHARS:
        description = description[: MAX_DESCRIPTION_CHARS - 1] + "…"
    return f"{label}: {description}" if description else label


def _run_story(result: dict[str, Any]) -> str:
    """'SUCCEEDED; 6 steps ran.' plus the error and the output, for a test run or an execution."""
    runs = _list(result.get("node_runs"))
    text = f"{_status(result)}; {_count(len(runs), 'step')} ran."
    error = result.get("error")
    if error:
        text += f" {_error_sentence(error)}"
    output = result.get("output")
    if output is not None and not error:
        text += f" Output: {summarise(output)}"
    return text


def _error_sentence(error: Any) -> str:
    if not isinstance(error, dict):
        return f"Error: {error}."
    message = str(error.get("message") or error.get("code") or "unknown error").rstrip(".")
    node = error.get("node_id")
    return f"Step {node} failed: {message}." if node else f"Error: {message}."


def _validity(result: dict[str, Any]) -> str:
    if "valid" not in result:
        return ""
    errors = [_issue(e) for e in _list(result.get("errors"))]
    if result.get("valid") and not errors:
        return " It passes validation."
    return f" It does not validate yet: {_named(errors, separator='; ') or 'see the errors'}."


def _status(result: dict[str, Any]) -> str:
    return str(result.get("status") or "UNKNOWN").upper()


def _name(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("name", "id", "workflow_id"):
            if item.get(key):
                return str(item[key])
        return "(unnamed)"
    return str(item)


def _issue(item: Any) -> str:
    """A problem, change or question as text: its message, else its description, else itself."""
    if isinstance(item, dict):
        for key in ("message", "msg", "description", "question", "text"):
            if item.get(key):
                where = item.get("node_id")
                return f"{where}: {item[key]}" if where else str(item[key])
        return summarise(item)
    return str(item)


def _named(names: list[str], separator: str = ", ") -> str:
    shown = names[:MAX_NAMED]
    more = len(names) - len(shown)
    return separator.join(shown) + (f"{separator}and {more} more" if more else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
