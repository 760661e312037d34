"""Plain words -> `Understanding`: the trigger, the ordered steps, what is missing.

Reading order:
1. exact entities (URLs, addresses, channels, repositories) are read and masked;
2. the trigger is read (`triggers`) and its words blanked out;
3. the rest is cut into sentences; in each, the structure words are found first: a loop
   ("for each", "every item", "per row"), a condition ("if ..., otherwise ...", "... only if
   ..."), and the actions of each part are read clause by clause (`actions`);
4. the steps are arranged: an approval asked "first" moves before the work it guards (right
   after the data is fetched), remembering "what was already seen" moves after the fetch;
5. what the steps still need (a channel, an address, a URL, a repository, a credential) becomes
   `missing_info`; each default taken becomes an assumption or a suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import JsonValue

from flowlane.agent.offline.actions import Context, find_actions
from flowlane.agent.offline.conditions import read_condition
from flowlane.agent.offline.entities import read_entities
from flowlane.agent.offline.lexicon import sentence_case, squash
from flowlane.agent.offline.model import (
    AI_KINDS,
    OUTPUT_KINDS,
    SOURCE_KINDS,
    Step,
    StepKind,
    TriggerKind,
    Understanding,
)
from flowlane.agent.offline.services import BY_KEY, display_names
from flowlane.agent.offline.triggers import read_trigger

_F = re.IGNORECASE
_SENTENCE = re.compile(
    r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\s*[;\n]+\s*|\s+[\u2014\u2013]\s+|\s+-{2,}\s+|(?:^|\s)[•·*]\s+"
)
_CLAUSE = re.compile(r",\s*(?:and\s+)?(?:then\s+)?|\s+(?:and\s+)?then\s+|:\s+|\s+→\s+|\s+->\s+")
_ELSE = re.compile(
    r"[,;]?\s*\b(?:otherwise|else|if\s+not(?:,)?|or\s+else|if\s+(?:it\s+)?(?:isn't|is\s+not|doesn't|does\s+not)\b[^,]*,|fallback\s*(?:→|->|:)?)\s*",
    _F,
)
_IF = re.compile(
    r"\b(?:only\s+if|only\s+when|if|unless|in\s+case|provided\s+that|when|whenever)\b", _F
)
_THEN_BOUNDARY = re.compile(r",|\bthen\b|:", _F)
_ACTION_VERB = re.compile(
    r"\b(send|post|notify|alert|email|create|add|ask|summari[sz]e|forward|route|move|assign|reply|write|draft|"
    r"escalate|page|call|tag|label|open|file|log|save|store|update|publish|message|ping|tell|trigger|stop|skip|"
    r"approve|wait|translate|extract|classify|request|get|fetch)\b",
    _F,
)
_LOOP = re.compile(
    r"\b(?:for\s+(?:each|every)\s+(?P<noun1>[\w-]+(?:\s+[\w-]+)?)|"
    r"(?:each|every)\s+(?:one\s+of\s+the\s+|of\s+the\s+|single\s+)?(?P<noun2>(?!time\b|day\b|days\b|week\b|month\b|morning\b|evening\b|night\b|hour\b|minute\b|weekday\b|year\b|other\b)[a-z][\w-]*)|"
    r"per\s+(?P<noun3>row|item|record|entry|line|user|client|customer|lead|order|file|message|issue)|"
    r"one\s+by\s+one|individually|in\s+a\s+loop|loops?\s+(?:over|through)\s+(?P<noun4>[\w-]+))\b",
    _F,
)
_LIST_NOUNS = re.compile(
    r"\b(rows?|items?|records?|entries|lines?|users?|clients?|customers?|leads?|orders?|files?|messages?|issues?|"
    r"articles?|posts?|stories|urls?|sites?|websites?|links?|feeds?|emails?|contacts?|subscribers?|products?|"
    r"invoices?|tickets?|results?|events?|repos?|repositories|accounts?|members?|people|candidates?|update|updates|"
    r"toot|tweets?|comments?|reviews?|tasks?|deals?|companies|pages?|images?|videos?|documents?|story|article|item|row|one)\b",
    _F,
)


def understand(
    description: str,
    *,
    context: Mapping[str, str] | None = None,
    preferences: Mapping[str, str] | None = None,
) -> Understanding:
    """What the request asks for (see the module doc). Deterministic; no network; no clock."""
    settings = {**dict(context or {}), **dict(preferences or {})}
    text = squash(description)
    entities, masked = read_entities(text)
    trigger_reading = read_trigger(masked)
    body = _blank(masked, trigger_reading.spans)
    ctx = Context(entities=entities, text=masked, trigger_source=trigger_reading.trigger.source)
    ctx.github = bool(re.search(r"\bgit\s*hub\b", masked, _F)) or bool(entities.repos)
    steps: list[Step] = []
    for sentence in _SENTENCE.split(body):
        if sentence.strip(" ,.;:-"):
            steps.extend(_read_sentence(sentence, ctx))
    steps = _arrange(steps)
    understanding = Understanding(
        description=description.strip(),
        title="",
        trigger=trigger_reading.trigger,
        steps=steps,
        preferences=dict(settings),
    )
    _apply_settings(understanding, settings)
    understanding.missing_info.extend(trigger_reading.missing)
    understanding.suggestions.extend(trigger_reading.notes)
    understanding.assumptions.extend(ctx.notes)
    _report(understanding, entities.channels, entities.emails, entities.repos)
    understanding.title = _title(understanding)
    return understanding


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(max(start, 0), min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


# -- sentences -------------------------------------------------------------------------------


def _read_sentence(sentence: str, ctx: Context) -> list[Step]:
    loop = _LOOP.search(sentence)
    if loop and not re.search(r"\b(?:each|every)\s+(?:time|day)\b", loop.group(0), _F):
        noun = next(
            (
                g
                for g in (
                    loop.group("noun1"),
                    loop.group("noun2"),
                    loop.group("noun3"),
                    loop.group("noun4"),
                )
                if g
            ),
            "item",
        )
        if _LIST_NOUNS.search(noun) or loop.group(0).lower().startswith(
            ("for each", "for every", "per ", "one by", "individually", "in a loop", "loop")
        ):
            clause_start = _clause_start(sentence, loop.start())
            before = sentence[:clause_start]
            inside = sentence[clause_start:]
            if loop.group(0).lower().startswith(
                "for "
            ) and loop.start() == clause_start + _leading_space(inside):
                comma = inside.find(",", loop.end() - clause_start)
                inside = inside[comma + 1 :] if comma >= 0 else inside[loop.end() - clause_start :]
            steps = _read_part(before, ctx)
            aggregate = _AGGREGATE.search(inside)
            after = ""
            if aggregate:
                cut = _clause_start(inside, aggregate.start())
                inside, after = inside[:cut], inside[cut:]
            body = _read_part(inside, ctx)
            item = _item_noun(noun)
            for inner in body:
                if inner.kind is StepKind.FETCH and inner.url is None and item in _URL_ITEMS:
                    inner.params["url_from_item"] = True
            steps.append(
                Step(
                    kind=StepKind.LOOP,
                    words=squash(loop.group(0)),
                    body=body,
                    params={"item": item},
                )
            )
            return steps + _read_part(after, ctx)
    return _read_part(sentence, ctx)


# Words of a step that works on all the items together, so it runs after the loop.
_AGGREGATE = re.compile(
    r"\b(compil(?:e|es|ed|ing)|digest|combin(?:e|es|ed)|aggregat\w*|merg(?:e|es|ed)|all\s+of\s+them|totals?|"
    r"(?:a|one)\s+(?:single\s+)?(?:summary|report|newsletter))\b",
    _F,
)
_URL_ITEMS = frozenset({"url", "site", "website", "link", "page", "feed", "endpoint", "domain"})


def _leading_space(text: str) -> int:
    return len(text) - len(text.lstrip())


def _item_noun(noun: str) -> str:
    words = noun.lower().split()
    word = words[-1] if words else "item"
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _clause_start(sentence: str, position: int) -> int:
    """Where the clause holding `position` starts (after the last comma or 'and' before it)."""
    head = sentence[:position]
    cuts = [m.end() for m in re.finditer(r",|;|\band\b|\bthen\b", head, _F)]
    return cuts[-1] if cuts else 0


def _read_part(text: str, ctx: Context) -> list[Step]:
    """Steps of a piece of sentence, with its condition (if any)."""
    if not text.strip(" ,.;:"):
        return []
    main, otherwise = text, ""
    else_match = _ELSE.search(text)
    if else_match and _IF.search(text[: else_match.start()]):
        main, otherwise = text[: else_match.start()], text[else_match.end() :]
    condition = _condition_marker(main)
    if condition is None:
        arrow = _ARROW_RULE.search(main)
        if arrow:
            spec, understood = read_condition(
                arrow.group("cond"), after_classification=_classified(ctx)
            )
            if understood:
                fallback = _FALLBACK.search(arrow.group("then"))
                then_text = (
                    arrow.group("then")[: fallback.start()] if fallback else arrow.group("then")
                )
                else_text = arrow.group("then")[fallback.end() :] if fallback else otherwise
                step = Step(
                    kind=StepKind.CONDITION,
                    words=squash(arrow.group("cond")),
                    condition=spec,
                    then=_actions(then_text, ctx),
                    otherwise=_actions(else_text, ctx),
                    params={"understood": True},
                )
                return [*_actions(main[: arrow.start()], ctx), step]
        return _actions(main, ctx) + _actions(otherwise, ctx)
    start = condition.start()
    prefix = main[:start]
    prefix_steps = _actions(prefix, ctx)
    after = main[condition.end() :]
    if prefix_steps and not prefix.rstrip().endswith((",", ";")):
        # "post to Slack only if there are more than 5": the action before `if` is the branch.
        cut = _clause_start(prefix, len(prefix))
        unconditional = _actions(prefix[:cut], ctx) if cut else []
        conditional = _actions(prefix[cut:], ctx) if cut else prefix_steps
        boundary = _THEN_BOUNDARY.search(after)
        words = after[: boundary.start()] if boundary else after
        rest = after[boundary.end() :] if boundary else ""
        spec, understood = read_condition(
            f"{condition.group(0)} {words}", after_classification=_classified(ctx)
        )
        step = Step(
            kind=StepKind.CONDITION,
            words=squash(f"{condition.group(0)} {words}"),
            condition=spec,
            then=conditional,
            otherwise=_actions(otherwise, ctx),
            params={"understood": understood},
        )
        return [*unconditional, step, *_actions(rest, ctx)]
    boundary = _THEN_BOUNDARY.search(after)
    if boundary is None:
        verb = _ACTION_VERB.search(after)
        cut = verb.start() if verb and verb.start() > 0 else len(after)
        words, then_text = after[:cut], after[cut:]
    else:
        words, then_text = after[: boundary.start()], after[boundary.end() :]
    spec, understood = read_condition(
        f"{condition.group(0)} {words}", after_classification=_classified(ctx)
    )
    step = Step(
        kind=StepKind.CONDITION,
        words=squash(f"{condition.group(0)} {words}"),
        condition=spec,
        then=_actions(then_text, ctx),
        otherwise=_actions(otherwise, ctx),
        params={"understood": understood},
    )
    return [*prefix_steps, step]


# "Budget greater than 5000 → #hot-leads, fallback → #new-leads": a routing rule with no "if".
_ARROW_RULE = re.compile(r"(?P<cond>[^,:;→]{3,80}?)\s*(?:→|->|=>)\s*(?P<then>.+)$")
_FALLBACK = re.compile(r"[,;]?\s*\b(?:fallback|otherwise|else|default)\b\s*(?:→|->|=>|:)?\s*", _F)
_NOT_A_CONDITION = re.compile(
    r"\b(?:determine|determines|check|checks|checking|see|sees|decide|decides|find\s+out|verify|verifies|test|tests|know|tell|ask|asks|whether)\s*$",
    _F,
)


def _condition_marker(text: str) -> re.Match[str] | None:
    for match in _IF.finditer(text):
        word = match.group(0).lower()
        if _NOT_A_CONDITION.search(text[: match.start()]):
            continue  # "to determine if it is up": part of the action, not a branch
        if re.match(r"\s*(?:approved|accepted|confirmed|ok|okay)\b", text[match.end() :], _F):
            continue  # "if approved": the approval's own port
        if word in ("when", "whenever"):
            tail = text[match.end() : match.end() + 60]
            if not re.search(
                r"\b(more|less|fewer|greater|above|below|over|under|exceeds?|reach(?:es|ed)?|hits?|equals|contains?|is\s+(?:down|empty|not)|fails?)\b",
                tail,
                _F,
            ):
                continue
        return match
    return None


def _classified(ctx: Context) -> bool:
    return ctx.ai_steps > 0 and bool(
        re.search(r"classif|categor|triage|prioriti|sentiment|label|score", ctx.text, _F)
    )


_WORD_LIST = re.compile(
    r"\b[\w-]+(?:\s+[\w-]+)?(?:,\s+[\w-]+(?:\s+[\w-]+)?)+,?\s+(?:or|and)\s+[\w-]+(?:\s+[\w-]+)?\b"
)
# Only lists of labels or fields are kept whole ("as billing, bug or other").
_LIST_CUE = re.compile(
    r"\b(extract\w*|classif\w*|categori\w*|label\w*|fields?|such as|like|including|one of|as|"
    r"into|the)\s*$",
    re.I,
)
_LIST_COMMA = "\u00a7"


def _actions(text: str, ctx: Context) -> list[Step]:
    # "as sales, support or spam" is one list, not three clauses.
    protected = _WORD_LIST.sub(
        lambda m: (
            m.group(0).replace(",", _LIST_COMMA)
            if _LIST_CUE.search(m.string[max(0, m.start() - 40) : m.start()])
            or _LIST_CUE.search(m.group(0).split(" ")[0] + " ")
            else m.group(0)
        ),
        text,
    )
    steps: list[Step] = []
    for clause in _CLAUSE.split(protected):
        if clause.strip(" ,.;:()"):
            steps.extend(find_actions(clause.replace(_LIST_COMMA, ","), ctx))
    return steps


# -- arranging -------------------------------------------------------------------------------


def _arrange(steps: list[Step]) -> list[Step]:
    steps = _drop_generic_notices(steps)
    steps = _merge_adjacent(steps)
    steps = _drop_repeats(steps)
    steps = _sources_first(steps)
    steps = _fill_empty(steps)
    steps = _loops_take_conditions(steps)
    steps = _merge_adjacent(steps)
    steps = _approvals_first(steps)
    steps = _dedupe_after_source(steps)
    return steps


def _drop_generic_notices(steps: list[Step]) -> list[Step]:
    """ "Notify the team" is the Slack post or email the request names elsewhere, if any."""
    named = [
        s
        for s in _walk(steps)
        if (s.kind in OUTPUT_KINDS and not s.params.get("generic"))
        or (s.kind is StepKind.SERVICE and s.write)
    ]
    if not named:
        return steps
    kept: list[Step] = []
    for step in steps:
        if step.kind is StepKind.SLACK and step.params.get("generic"):
            continue
        step.then = _drop_generic_notices(step.then)
        step.otherwise = _drop_generic_notices(step.otherwise)
        step.body = _drop_generic_notices(step.body)
        kept.append(step)
    return kept


def _walk(steps: list[Step]) -> list[Step]:
    found: list[Step] = []
    for step in steps:
        found.extend([step, *_walk(step.then), *_walk(step.otherwise), *_walk(step.body)])
    return found


def _fill_empty(steps: list[Step]) -> list[Step]:
    """A loop or condition with nothing in it takes the step that follows it."""
    result: list[Step] = []
    index = 0
    while index < len(steps):
        step = steps[index]
        nxt = steps[index + 1] if index + 1 < len(steps) else None
        if step.kind is StepKind.LOOP:
            step.body = _fill_empty(step.body)
            if not step.body:
                if nxt is None:
                    index += 1
                    continue
                step.body = [nxt]
                index += 1
        if step.kind is StepKind.CONDITION:
            step.then = _fill_empty(step.then)
            step.otherwise = _fill_empty(step.otherwise)
            if not step.then and not step.otherwise and nxt is not None:
                step.then = [nxt]
                index += 1
        result.append(step)
        index += 1
    return result


def _loops_take_conditions(steps: list[Step]) -> list[Step]:
    """ "Each URL is checked. If it is down, alert": a test of the item right after a loop
    belongs to the loop's body (a test of how many there are stays after it)."""
    result: list[Step] = []
    for step in steps:
        previous = result[-1] if result else None
        if (
            previous is not None
            and previous.kind is StepKind.LOOP
            and step.kind is StepKind.CONDITION
            and step.condition is not None
            and step.condition.subject != "count"
        ):
            previous.body.append(step)
            continue
        result.append(step)
    return result


def _merge_adjacent(steps: list[Step]) -> list[Step]:
    """The same output named twice in a row ("send a Slack message, channel: #sales") is one."""
    result: list[Step] = []
    for step in steps:
        previous = result[-1] if result else None
        if previous is not None and _same_output(previous, step):
            for key in ("channel", "to"):
                if key in step.params and key not in previous.params:
                    previous.params[key] = step.params[key]
            continue
        result.append(step)
    return result


_MERGEABLE = (
    StepKind.SLACK,
    StepKind.EMAIL,
    StepKind.FETCH,
    StepKind.GITHUB_LIST_ISSUES,
    *AI_KINDS,
)


def _same_output(previous: Step, step: Step) -> bool:
    if (
        previous.kind != step.kind
        or step.kind not in _MERGEABLE
        or previous.service != step.service
    ):
        return False
    if step.url is not None and previous.url != step.url:
        return False
    for key in ("channel", "to"):
        if (
            key in step.params
            and key in previous.params
            and step.params[key] != previous.params[key]
        ):
            return False
    return True


def _signature(step: Step) -> tuple[object, ...]:
    return (step.kind, step.service, step.write, step.url, repr(sorted(step.params.items())))


def _drop_repeats(steps: list[Step]) -> list[Step]:
    """A request that names a step twice (its title, then its details) asks for it once."""
    kept: list[Step] = []
    seen: set[tuple[object, ...]] = set()
    for step in steps:
        signature = _signature(step)
        if step.kind in (StepKind.CONDITION, StepKind.LOOP, StepKind.WAIT):
            seen = set()  # "email, wait a day, email again": both are meant
            kept.append(step)
            continue
        if signature in seen:
            continue
        if step.kind is StepKind.APPROVAL:
            seen = {signature}  # what follows an approval is new work
        else:
            seen.add(signature)
        if step.kind in AI_KINDS:
            seen.add((step.kind, None, False, None, "[]"))
        kept.append(step)
    return kept


def _sources_first(steps: list[Step]) -> list[Step]:
    """The data is fetched before it is worked on: a source named after the AI step that
    processes it ("fetching, summarizing and emailing ... retrieves the page") moves first."""
    first_ai = next(
        (
            i
            for i, s in enumerate(steps)
            if s.kind in AI_KINDS
            or s.kind in OUTPUT_KINDS
            or (s.kind is StepKind.SERVICE and s.write)
        ),
        None,
    )
    first_source = next((i for i, s in enumerate(steps) if _is_source(s)), None)
    if first_ai is None or first_source is None or first_source < first_ai:
        return steps
    source = steps[first_source]
    rest = steps[:first_source] + steps[first_source + 1 :]
    return [*rest[:first_ai], source, *rest[first_ai:]]


def _is_source(step: Step) -> bool:
    return step.kind in SOURCE_KINDS or (step.kind is StepKind.SERVICE and not step.write)


def _approvals_first(steps: list[Step]) -> list[Step]:
    """An approval asked "first" (alone, or as the branch of a condition) goes right after the
    steps that fetch the data, before the work it guards."""
    for index, step in enumerate(steps):
        first_approval = step.kind is StepKind.APPROVAL and step.params.get("position") == "first"
        guarded = (
            step.kind is StepKind.CONDITION
            and step.then
            and all(s.kind in (StepKind.APPROVAL, StepKind.WAIT) for s in step.then)
            and any(s.params.get("position") == "first" for s in step.then)
        )
        if not (first_approval or guarded):
            continue
        rest = steps[:index] + steps[index + 1 :]
        target = 0
        while target < len(rest) and (
            _is_source(rest[target]) or rest[target].kind is StepKind.DEDUPE
        ):
            target += 1
        if target >= index:
            return steps
        return [*rest[:target], step, *rest[target:]]
    return steps


def _dedupe_after_source(steps: list[Step]) -> list[Step]:
    """ "Only new items" filters right after the data is fetched."""
    dedupes = [s for s in steps if s.kind is StepKind.DEDUPE]
    if not dedupes:
        return steps
    others = [s for s in steps if s.kind is not StepKind.DEDUPE]
    source = next((i for i, s in enumerate(others) if _is_source(s)), None)
    if source is None:
        return [dedupes[0], *others]
    return [*others[: source + 1], dedupes[0], *others[source + 1 :]]


# -- settings, missing information, assumptions ----------------------------------------------


def _apply_settings(u: Understanding, settings: Mapping[str, str]) -> None:
    zone = settings.get("timezone")
    if zone and u.trigger.kind is TriggerKind.SCHEDULE and not u.trigger.timezone:
        u.trigger = u.trigger.model_copy(update={"timezone": zone})
    channel = settings.get("slack_channel") or settings.get("channel")
    email = settings.get("email") or settings.get("email_to")
    repo = settings.get("github_repo") or settings.get("repo")
    for step in u.walk():
        if step.kind is StepKind.SLACK and channel and "channel" not in step.params:
            step.params["channel"] = channel if channel.startswith("#") else f"#{channel}"
        if step.kind is StepKind.EMAIL and email and "to" not in step.params:
            step.params["to"] = [email]
        if (
            step.kind
            in (
                StepKind.GITHUB_LIST_ISSUES,
                StepKind.GITHUB_CREATE_ISSUE,
                StepKind.GITHUB_ADD_COMMENT,
            )
            and repo
            and "/" in repo
        ):
            owner, name = repo.split("/", 1)
            step.params.setdefault("owner", owner)
            step.params.setdefault("repo", name)


def _report(
    u: Understanding, channels: list[str], emails: list[str], repos: list[tuple[str, str]]
) -> None:
    missing, assumptions, suggestions = u.missing_info, u.assumptions, u.suggestions
    services: list[str] = []
    if u.trigger.source and u.trigger.source in BY_KEY:
        services.append(u.trigger.source)
    if u.trigger.kind is TriggerKind.SCHEDULE and not u.trigger.timezone:
        suggestions.append(
            "No time zone was named: the schedule runs in UTC (say e.g. 'Paris time' or "
            "'Europe/Berlin' to change it)"
        )
    if not u.steps:
        missing.append(
            "No action was recognised in the request: say what the workflow should do "
            "(fetch, summarise, post to Slack, email, ...)"
        )
    for step in u.walk():
        kind = step.kind
        if kind in (
            StepKind.GITHUB_LIST_ISSUES,
            StepKind.GITHUB_CREATE_ISSUE,
            StepKind.GITHUB_ADD_COMMENT,
        ):
            services.append("github")
            if "owner" not in step.params:
                if repos:
                    step.params["owner"], step.params["repo"] = repos[0]
                else:
                    step.params["owner"], step.params["repo"] = "your-org", "your-repo"
                    _once(
                        missing,
                        "The GitHub repository (owner/name): your-org/your-repo is a placeholder",
                    )
            _once(suggestions, "Store a GitHub token as the credential 'github-token'")
            if kind is StepKind.GITHUB_ADD_COMMENT and u.trigger.source != "github":
                _once(missing, "Which GitHub issue to comment on (its number)")
        elif kind is StepKind.SLACK:
            services.append("slack")
            if "channel" not in step.params:
                if channels:
                    step.params["channel"] = channels[0]
                else:
                    step.params["channel"] = "#general"
                    _once(missing, "Which Slack channel to post to (#general is a placeholder)")
            _once(suggestions, "Store the Slack bot token as the credential 'slack-bot'")
        elif kind is StepKind.EMAIL:
            services.append("email")
            if "to" not in step.params:
                addresses = [e for e in emails if not _approver_address(u, e)]
                if addresses:
                    to: list[JsonValue] = [addresses[0]]
                    step.params["to"] = to
                else:
                    step.params["to"] = ["team@example.com"]
                    _once(missing, "Who receives the email (team@example.com is a placeholder)")
            if re.search(r"\b(gmail|outlook|sendgrid|resend|mailgun|smtp)\b", step.words, _F):
                _once(
                    suggestions,
                    "Email is sent with Amazon SES from the platform's sender address, not from"
                    " Gmail, Outlook or another provider",
                )
        elif kind is StepKind.FETCH:
            if not step.url and not step.params.get("url_from_item"):
                missing.append(
                    f'The URL to fetch for "{_short(step.words)}" '
                    "(https://api.example.com/data is a placeholder)"
                )
        elif kind is StepKind.SERVICE and step.service in BY_KEY:
            service = BY_KEY[step.service]
            services.append(service.key)
            if service.key == "slack":
                _once(missing, f"Slack is read over its Web API: fill in {service.fill_in}")
                continue
            credential = (
                f" and store a credential named '{service.credential}'"
                if service.credential
                else ""
            )
            _once(
                missing,
                f"{service.name} has no built-in node: it is called over HTTP; fill in "
                f"{service.fill_in}{credential}",
            )
        elif kind is StepKind.APPROVAL:
            if "notify" not in step.params:
                who = str(step.params.get("approver", "the approver"))
                _once(
                    missing,
                    f"How to reach {_possessive(who)} for the approval (an email address or a"
                    f" Slack channel)",
                )
        elif kind is StepKind.CONDITION and step.condition is not None:
            spec = step.condition
            if not step.params.get("understood", True):
                assumptions.append(
                    f'The condition "{spec.words}" was not understood: it is a placeholder '
                    f'test (text contains "{spec.value}"); check it'
                )
            elif spec.subject == "field":
                assumptions.append(
                    f"The condition reads the field '{spec.field}' of the data; rename it to"
                    f" match your data"
                )
        elif kind is StepKind.DEDUPE:
            _once(
                assumptions,
                "Items already seen are remembered between runs (MEMORY key/value), so each is"
                " handled once",
            )
        elif kind in AI_KINDS:
            services.append("ai")
            if step.params.get("memory") == "conversation":
                _once(
                    assumptions,
                    "The conversation is kept in a conversation memory attached to the AI step",
                )
    u.services = display_names([s for s in services if s != "ai"]) + (
        ["AI"] if "ai" in services else []
    )
    u.keywords = _keywords(u)


def _approver_address(u: Understanding, address: str) -> bool:
    return any(
        s.kind is StepKind.APPROVAL
        and isinstance(s.params.get("notify"), dict)
        and s.params["notify"].get("target") == address  # type: ignore[union-attr]
        for s in u.walk()
    )


def _possessive(who: str) -> str:
    return who if who.startswith("the ") else f"your {who}"


def _once(bucket: list[str], text: str) -> None:
    if text not in bucket:
        bucket.append(text)


def _short(words: str, limit: int = 60) -> str:
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


_KEYWORDS: dict[StepKind, tuple[str, ...]] = {
    StepKind.FETCH: ("http", "request", "api"),
    StepKind.GITHUB_LIST_ISSUES: ("github", "issues", "list"),
    StepKind.GITHUB_CREATE_ISSUE: ("github", "issue", "create"),
    StepKind.GITHUB_ADD_COMMENT: ("github", "comment"),
    StepKind.AI_SUMMARISE: ("ai", "chat", "summarise"),
    StepKind.AI_CLASSIFY: ("ai", "chat", "classify"),
    StepKind.AI_EXTRACT: ("ai", "chat", "extract"),
    StepKind.AI_TRANSLATE: ("ai", "chat", "translate"),
    StepKind.AI_GENERATE: ("ai", "chat", "generate"),
    StepKind.CONDITION: ("if", "condition"),
    StepKind.LOOP: ("loop", "each"),
    StepKind.APPROVAL: ("approval", "human"),
    StepKind.REMEMBER: ("memory", "key", "value"),
    StepKind.DEDUPE: ("memory", "key", "value", "set"),
    StepKind.SLACK: ("slack", "message"),
    StepKind.EMAIL: ("email",),
    StepKind.WEBHOOK_OUT: ("webhook", "post"),
    StepKind.WAIT: ("wait", "delay"),
    StepKind.SERVICE: ("http", "request"),
}


def _keywords(u: Understanding) -> list[str]:
    words: list[str] = {
        TriggerKind.SCHEDULE: ["schedule", "cron"],
        TriggerKind.WEBHOOK: ["webhook"],
        TriggerKind.MANUAL: ["manual"],
    }[u.trigger.kind]
    for step in u.walk():
        words.extend(_KEYWORDS[step.kind])
        if step.kind is StepKind.SERVICE and step.service in BY_KEY:
            words.append(BY_KEY[step.service].name.lower())
        if step.kind is StepKind.CONDITION and step.condition and step.condition.subject == "count":
            words.append("set")
    return list(dict.fromkeys(words))


# -- the title -------------------------------------------------------------------------------

_AI_TITLES = {
    StepKind.AI_SUMMARISE: "summary",
    StepKind.AI_CLASSIFY: "triage",
    StepKind.AI_EXTRACT: "extraction",
    StepKind.AI_TRANSLATE: "translation",
    StepKind.AI_GENERATE: "AI reply",
}


def _title(u: Understanding) -> str:
    steps = u.walk()
    source = next((s for s in steps if _is_source(s)), None)
    ai = next((s for s in steps if s.kind in AI_KINDS), None)
    outputs = [
        s for s in steps if s.kind in OUTPUT_KINDS or (s.kind is StepKind.SERVICE and s.write)
    ]
    parts: list[str] = []
    if u.trigger.kind is TriggerKind.WEBHOOK:
        parts.append(u.trigger.label)
    elif source is not None:
        parts.append(_source_title(source))
    if ai is not None:
        parts.append(_AI_TITLES[ai.kind])
    names: list[str] = []
    for out in outputs:
        name = {
            StepKind.SLACK: "Slack",
            StepKind.EMAIL: "email",
            StepKind.WEBHOOK_OUT: "webhook",
            StepKind.GITHUB_CREATE_ISSUE: "GitHub issue",
            StepKind.GITHUB_ADD_COMMENT: "GitHub comment",
        }.get(out.kind) or BY_KEY[out.service or "database"].name
        if name not in names:
            names.append(name)
    title = " ".join(parts)
    if names:
        title = (
            f"{title} to {' and '.join(names[:2])}"
            if title
            else f"Send to {' and '.join(names[:2])}"
        )
    if not title:
        words = re.findall(r"[\w'-]+", u.description)
        title = " ".join(words[:8]) or "New workflow"
    if u.trigger.kind is TriggerKind.SCHEDULE and u.trigger.label:
        label = u.trigger.label.split(" at ")[0].split(" (")[0]
        title = f"{sentence_case(title)} ({label[:1].lower()}{label[1:]})"
    return sentence_case(title)[:120]


def _source_title(step: Step) -> str:
    if step.kind is StepKind.GITHUB_LIST_ISSUES:
        return "GitHub issues"
    if step.kind is StepKind.SERVICE and step.service in BY_KEY:
        service = BY_KEY[step.service]
        return f"{service.name} {service.noun}s"
    return "Fetched data"
