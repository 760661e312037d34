"""The offline turn: a message routed to a tool by its intent, with no model (the conversational
agent when no LLM key is set, CONTRACT.md section 3).

Routing is a fixed order of word tables, so the same message always does the same thing:
1. `COMMANDS`: short, explicit commands ("run it", "test it", "dry run", "is it valid?",
   "did it work?", "do you support X?"). An execution id in the message reads that execution.
2. A new automation asked for outright ("create a workflow that ...") → draft_workflow.
3. A change ("add", "instead", "rename", ...) while the session has a workflow → refine_workflow.
4. A description of an automation (a schedule word; or an event word, an action verb or a
   service, two of the three) → draft_workflow.
5. `HINTS`: single words that suggest an intent ("status", "check", "test", "can you ...").
6. Otherwise a short text saying what the agent can do, with no tool call; so is a catalogue
   question with no subject ("what nodes are there?"): the search is lexical and would find
   nothing, and the help text says to ask about a service.
Commands come first because a description rarely contains them, while a description often
contains hint words ("post the *status* of my PRs", "*check* my inbox every hour"). Nothing but an
explicit command ever executes a workflow: a run acts on real services.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from flowlane.agent.conversation_replies import help_text, summarise_turn
from flowlane.agent.conversation_tools import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    AgentTools,
    ToolOutcome,
    TurnEvent,
    call_event,
    complete_event,
    run_tool_call,
)
from flowlane.nodes.llm.chat import ToolCall, Usage
from flowlane.nodes.llm.offline import MODEL, SERVICE

Intent = Literal[
    "executions", "dry_run", "execute", "validate", "catalogue", "refine", "draft", "help"
]


def _table(text: str) -> tuple[str, ...]:
    """A word table written `a | b c | d` (regex fragments; `|` inside a group has no spaces)."""
    return tuple(entry.strip() for entry in text.split(" | "))


def _words(text: str) -> list[str]:
    return text.split()


# What "it" can be in a command: the session's workflow.
_IT = r"(?:it|this|that|again|now|(?:the|my|this) (?:workflow|automation|flow))"

COMMANDS: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (
        "executions",
        (
            r"did (?:it|the workflow) (?:work|run|succeed|fail|finish)",
            r"has it (?:run|finished)",
            r"how did (?:it|the run|the test) go",
            r"what happened",
            r"(?:last|latest|recent|previous|past) (?:\d+ )?(?:runs?|executions?)",
            r"executions",
            r"(?:run|execution) history",
            r"what(?:'s| is) the status",
            r"status of (?:the |my )?(?:run|execution|workflow)s?",
        ),
    ),
    (
        "dry_run",
        (
            r"dry[- ]?run",
            r"simulat(?:e|ion)",
            r"(?:test|trial) run",
            r"run a test",
            rf"(?:test|try) (?:{_IT}|with)",
            r"does it work",
            r"give it a (?:try|go)",
        ),
    ),
    ("execute", (rf"(?:run|execute|start|trigger|launch|fire) {_IT}", r"kick it off")),
    (
        "validate",
        (
            rf"(?:validate|check|verify) {_IT}",
            r"is (?:it|this|the workflow) (?:valid|correct|ok|okay|right)",
            r"any (?:errors|problems|issues)",
        ),
    ),
    (
        "catalogue",
        (
            r"(?:do|does) (?:you|flowlane|it) support",
            r"is there an? (?:node|integration|trigger|action|step)",
            r"(?:what|which) (?:kinds? of )?(?:nodes|integrations|services|apps|triggers|actions|"
            r"node types|templates|steps)",
            r"(?:list|show) (?:me )?(?:the |all )?(?:nodes|integrations|templates)",
            r"can you (?:connect|integrate|talk|work) (?:to|with)",
        ),
    ),
)

# A whole message of one word (give or take "please"/"now") is a command too.
ONE_WORD_COMMANDS: dict[str, Intent] = {
    "run": "execute",
    "execute": "execute",
    "start": "execute",
    "trigger": "execute",
    "test": "dry_run",
    "try": "dry_run",
    "simulate": "dry_run",
    "validate": "validate",
    "check": "validate",
    "status": "executions",
    "history": "executions",
    "runs": "executions",
    "help": "help",
}

NEW_WORKFLOW = (
    r"(?:new|another|second|different|separate) (?:workflow|automation|flow)",
    r"(?:create|build|make|draft|set up|design|write) (?:me )?an? (?:workflow|automation|flow|"
    r"pipeline|zap)",
    r"automate",
)

CHANGE_WORDS = _table(
    r"change | add | remove | delete | instead | also | make it | rename | replace | update | "
    r"modify | edit | switch | swap | drop | move | tweak | adjust | don't | do not | "
    r"no longer | rather | fix | insert | include | exclude | skip | should | want it to | "
    r"like it to | too"
)

SCHEDULE_WORDS = _table(
    r"every | daily | hourly | weekly | monthly | nightly | weekdays? | weekends? | mornings? | "
    r"evenings? | noon | midnight | (?:mon|tues|wednes|thurs|fri|satur|sun)days? | cron | "
    r"schedule[ds]? | at \d{1,2}(?::\d{2})?(?: ?[ap]m)? | \d{1,2} ?[ap]m | "
    r"once an? (?:hour|day|week|month)"
)
EVENT_WORDS = _table(
    r"when | whenever | if | once | after | upon | as soon as | each time | new | receives? | "
    r"arrives? | incoming | webhooks? | triggers?"
)
ACTION_VERBS = _table(
    r"send | post | notify | e-?mail | message | alert | create | add | save | store | fetch | "
    r"pull | sync | copy | forward | summari[sz]e | translate | upload | download | back ?up | "
    r"remind | publish | log | record | open | close | assign | label | report | collect | "
    r"monitor | watch | scrape | ping | append | write | update | tag | classify | reply | "
    r"respond | escalate | archive | share | text | call | check"
)
SERVICES = _table(
    r"slack | github | gitlab | gmail | e-?mails? | mail | outlook | sheets? | spreadsheets? | "
    r"google | notion | jira | trello | asana | linear | discord | teams | telegram | whatsapp | "
    r"sms | twilio | twitter | s3 | dynamodb | http | api | rss | feeds? | calendar | drive | "
    r"dropbox | airtable | hubspot | salesforce | stripe | shopify | zendesk | pagerduty | "
    r"postgres | mysql | database | csv | openai | gpt | claude | llm | ai | urls? | website | "
    r"inbox | issues? | pull requests? | prs? | tickets? | invoices? | orders? | leads? | "
    r"customers?"
)

HINTS: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    ("executions", (r"status", r"history", r"executions?", r"runs", r"logs?")),
    ("validate", (r"valid", r"invalid", r"validate", r"check", r"verify", r"errors?")),
    ("dry_run", (r"test", r"try")),
    ("catalogue", (r"can you", r"could you", r"are you able", r"support\w*", r"integrat\w*")),
)

# Words that carry no subject in a catalogue question ("do you support Google Sheets?" searches
# for "google sheets").
CATALOGUE_STOPWORDS = frozenset(
    _words(
        "a able about action actions all an and any app apps are available be can connect could "
        "do does flowlane for have i in integrate integrates integration integrations is it kind "
        "kinds list me my node nodes of on or please service services show step steps support "
        "supported supports talk templates the there this to tool tools trigger triggers type "
        "types use we what which with work you your"
    )
)

EXECUTION_ID = re.compile(r"\b\d{8}T\d{9}-[0-9a-f]{8}\b", re.IGNORECASE)
_LIMIT = re.compile(r"\b(?:last|latest|recent|previous|past) (\d{1,3})\b")
_WORD = re.compile(r"[a-z0-9][a-z0-9'.+-]*")


def _any(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


_COMMANDS = tuple((intent, _any(patterns)) for intent, patterns in COMMANDS)
_HINTS = tuple((intent, _any(patterns)) for intent, patterns in HINTS)
_NEW_WORKFLOW = _any(NEW_WORKFLOW)
_CHANGE = _any(CHANGE_WORDS)
_SCHEDULE = _any(SCHEDULE_WORDS)
_EVENT = _any(EVENT_WORDS)
_VERB = re.compile(r"\b(?:" + "|".join(ACTION_VERBS) + r")(?:s|es|ed|d|ing)?\b")
_SERVICE = _any(SERVICES)


@dataclass(frozen=True)
class Route:
    intent: Intent
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()  # (tool name, arguments), in order


def _normal(message: str) -> str:
    # Lower case, one space between words, curly apostrophes straightened (U+2019).
    return " ".join(message.lower().replace("\u2019", "'").split())


def describes_automation(text: str) -> bool:
    """A schedule word, or two of: an event word, an action verb, a service."""
    if _SCHEDULE.search(text):
        return True
    signals = (_EVENT.search(text), _VERB.search(text), _SERVICE.search(text))
    return sum(1 for signal in signals if signal) >= 2


def _intent(text: str, has_workflow: bool) -> Intent:
    bare = re.sub(r"\b(?:please|now)\b|[^\w\s]", " ", text).split()
    if len(bare) == 1 and bare[0] in ONE_WORD_COMMANDS:
        return ONE_WORD_COMMANDS[bare[0]]
    if EXECUTION_ID.search(text):
        return "executions"
    for intent, pattern in _COMMANDS:
        if pattern.search(text):
            return intent
    if _NEW_WORKFLOW.search(text):
        return "draft"
    if has_workflow and _CHANGE.search(text):
        return "refine"
    if describes_automation(text):
        return "draft"
    for intent, pattern in _HINTS:
        if pattern.search(text) and (intent != "catalogue" or catalogue_query(text)):
            return intent
    return "help"


def catalogue_query(text: str) -> str:
    """The subject words of a catalogue question."""
    words = [w.strip(".'") for w in _WORD.findall(text.lower())]
    return " ".join(w for w in words if w and w not in CATALOGUE_STOPWORDS)


def trigger_data(message: str) -> Any:
    """The first JSON object written in the message, else {}."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", message):
        try:
            value, _ = decoder.raw_decode(message, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _limit(text: str) -> int:
    match = _LIMIT.search(text)
    if match is None:
        return DEFAULT_LIST_LIMIT
    return max(1, min(MAX_LIST_LIMIT, int(match.group(1))))


def _execution_id(message: str) -> str | None:
    match = EXECUTION_ID.search(message)
    if match is None:
        return None
    found = match.group(0)
    # Ids are written `...T...-hex` in lower-case hex; a person may have typed either case.
    return f"{found[:8]}T{found[9:].lower()}"


def route(message: str, *, has_workflow: bool) -> Route:
    """What the offline agent does with the message: the tools to call, with their arguments."""
    text = _normal(message)
    intent = _intent(text, has_workflow)
    if intent == "catalogue" and not catalogue_query(text):
        intent = "help"
    calls: tuple[tuple[str, dict[str, Any]], ...]
    if intent == "executions":
        calls = (("list_executions", {"limit": _limit(text)}),)
        execution_id = _execution_id(message)
        if execution_id is not None:
            calls += (("get_execution", {"execution_id": execution_id}),)
    elif intent in ("dry_run", "execute"):
        calls = ((f"{intent}_workflow", {"trigger_data": trigger_data(message)}),)
    elif intent == "validate":
        calls = (("validate_workflow", {}),)
    elif intent == "catalogue":
        calls = (("search_catalogue", {"query": catalogue_query(text)}),)
    elif intent == "refine":
        calls = (("refine_workflow", {"feedback": message.strip()}),)
    elif intent == "draft":
        calls = (("draft_workflow", {"description": message.strip()}),)
    else:
        calls = ()
    return Route(intent, calls)


def offline_turn(message: str, tools: AgentTools) -> Iterator[TurnEvent]:
    """The turn without a model: route, run the tools, say what happened in plain words."""
    workflow = tools.current_workflow()
    planned = route(message, has_workflow=workflow is not None)
    outcomes: list[ToolOutcome] = []
    for number, (name, arguments) in enumerate(planned.calls, start=1):
        call = ToolCall(f"offline-{number}", name, arguments)
        yield call_event(call)
        outcome = run_tool_call(tools, call)
        yield outcome.result_event()
        outcomes.append(outcome)
    text = summarise_turn(outcomes) if outcomes else help_text(_normal(message), workflow)
    yield TurnEvent("text", {"content": text})
    yield complete_event(text, len(outcomes), SERVICE, MODEL, Usage())
