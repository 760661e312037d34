"""Feedback in words -> the same draft with only that changed.

`refine(draft, feedback)` cuts the feedback into instructions ("run it at 8 instead and post to
#ops") and applies each with the first handler of the table that recognises it. A handler
changes only what it is about: every other node, id, parameter and edge stays as it was. An
instruction no handler recognises leaves the draft as it is and adds a suggestion saying so;
refine never raises for words.

Handled: the schedule (time, days, rate, time zone), the Slack channel, the email recipient,
"also send an email / post to Slack" (a new output after the same step as the existing one),
"post to Slack instead of email" (replace, keeping the edges), removing a step ("remove the
approval", "don't summarise"), adding an approval before a step, adding a condition, changing
a condition's threshold, changing an AI step's instruction ("shorter", "in French", "more
formal"), renaming the workflow.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import JsonValue

from flowlane.agent.draft import Draft, DraftNode
from flowlane.agent.offline import graph_edit
from flowlane.agent.offline.conditions import read_condition
from flowlane.agent.offline.data_refs import template
from flowlane.agent.offline.entities import read_entities
from flowlane.agent.offline.lexicon import DAY_TITLES, sentence_case, squash
from flowlane.agent.offline.schedule_words import find_schedule, mentioned_days, mentioned_times
from flowlane.agent.offline.timezones import find_timezone, zone_label
from flowlane.models.workflow import NodeType

_F = re.IGNORECASE
_SPLIT = re.compile(
    r"(?<=[.!?;])\s+|\s*;\s*|,?\s+and\s+(?:also\s+)?(?=(?:also|then|post|send|email|remove|delete|drop|add|make|run|use|rename|call|change|"
    r"ask|only|translate|write|put|don'?t|do not|skip|notify)\b)",
    _F,
)
_OUTPUT_SUBTYPES = ("SLACK", "EMAIL", "WEBHOOK", "GITHUB")
_LANGUAGES = (
    "english|french|german|spanish|italian|portuguese|dutch|japanese|chinese|korean|arabic|"
    "russian|hindi|swedish|polish|turkish"
)

Handler = Callable[[Draft, str], tuple[Draft, str] | None]


def refine(draft: Draft, feedback: str) -> Draft:
    """The draft changed as `feedback` asks (see the module doc)."""
    return refine_with_changes(draft, feedback)[0]


def refine_with_changes(draft: Draft, feedback: str) -> tuple[Draft, list[str]]:
    """`refine`, and a sentence per change made (for the API's `changes`)."""
    result = draft.model_copy(deep=True)
    changes: list[str] = []
    for piece in _SPLIT.split(squash(feedback)):
        instruction = piece.strip(" .,;")
        if not instruction:
            continue
        for handler in _HANDLERS:
            outcome = handler(result, instruction)
            if outcome is not None:
                result, change = outcome
                changes.append(change)
                break
        else:
            note = (
                f'Not understood: "{instruction}" (nothing was changed for it). '
                'Try e.g. "run it at '
                '8 instead", "post to #ops", "also email x@y.com", "remove the approval".'
            )
            result.suggestions = [*result.suggestions, note]
    return result, changes


# -- helpers ---------------------------------------------------------------------------------


def _nodes(draft: Draft, subtype: str) -> list[DraftNode]:
    return [n for n in draft.nodes if n.subtype.upper() == subtype]


def _outputs(draft: Draft) -> list[DraftNode]:
    found = []
    for node in draft.nodes:
        subtype = node.subtype.upper()
        if node.type is NodeType.TRIGGER:
            continue
        if (
            subtype in ("SLACK", "EMAIL", "WEBHOOK")
            or (subtype == "GITHUB" and node.parameters.get("operation") != "list_issues")
            or (
                subtype == "HTTP_REQUEST"
                and node.parameters.get("method")
                in (
                    "POST",
                    "PUT",
                    "PATCH",
                )
            )
        ):
            found.append(node)
    return found


def _message_of(node: DraftNode | None, draft: Draft) -> str:
    if node is None:
        return draft.name
    for key in ("text", "body", "message"):
        value = node.parameters.get(key)
        if isinstance(value, str):
            return value
    return draft.name


def _target(draft: Draft, words: str) -> DraftNode | None:
    """The node `words` points at ("before posting", "the summary", "the email")."""
    table: tuple[tuple[str, Callable[[DraftNode], bool]], ...] = (
        (r"slack|post(?:ing)?|channel", lambda n: n.subtype.upper() == "SLACK"),
        (r"e-?mail|mail", lambda n: n.subtype.upper() == "EMAIL"),
        (
            r"summar|digest|ai\b|chat|generat|writ|translat|classif|extract",
            lambda n: n.subtype.upper() == "CHAT",
        ),
        (r"approv|sign-?off|review", lambda n: n.subtype.upper() == "APPROVAL"),
        (r"condition|check|\bif\b|filter", lambda n: n.subtype.upper() == "IF"),
        (r"wait|delay|pause", lambda n: n.subtype.upper() == "WAIT"),
        (r"memory|remember|dedup|duplicate", lambda n: n.type is NodeType.MEMORY),
        (r"loop|each", lambda n: n.subtype.upper() == "LOOP"),
        (r"fetch|request|http|api|download", lambda n: n.subtype.upper() == "HTTP_REQUEST"),
        (r"github|issue", lambda n: n.subtype.upper() == "GITHUB"),
        (r"send(?:ing)?|publish|notify|output", lambda n: n in _outputs(draft)),
    )
    for pattern, test in table:
        if re.search(pattern, words, _F):
            summarise = re.search(r"summar", words, _F)
            matches = [n for n in draft.nodes if test(n)]
            if summarise:
                matches = sorted(matches, key=lambda n: "summar" not in n.id)
            if matches:
                return matches[0]
    return None


def _new_node(
    draft: Draft,
    hint: str,
    name: str,
    node_type: NodeType,
    subtype: str,
    parameters: dict[str, JsonValue],
    credentials: dict[str, str] | None = None,
) -> DraftNode:
    return DraftNode(
        id=graph_edit.unique_id(draft, hint),
        name=name,
        type=node_type,
        subtype=subtype,
        parameters=parameters,
        credentials=credentials or {},
    )


def _with(draft: Draft, **changes: object) -> Draft:
    return draft.model_copy(update=changes)


# -- handlers --------------------------------------------------------------------------------


def _rename(draft: Draft, text: str) -> tuple[Draft, str] | None:
    match = re.search(
        r"\b(?:rename|call|name|title)\s+(?:it|this|the\s+workflow|this\s+workflow|the\s+flow|the\s+automation)?\s*"
        r"(?:to|as)?\s*[\"'\u201c]?(?P<name>[^\"'\u201d]{2,200}?)[\"'\u201d]?$",
        text,
        _F,
    )
    if not match or not re.match(
        r"\s*(?:rename|call (?:it|this|the)|name (?:it|this|the)|title)", text, _F
    ):
        return None
    name = match.group("name").strip()
    return _with(draft, name=name), f'renamed the workflow to "{name}"'


def _replace_output(draft: Draft, text: str) -> tuple[Draft, str] | None:
    kinds = r"slack|e-?mail|discord|teams|telegram"
    match = (
        re.search(
            rf"\b(?:post|send|use|notify|message)\s+(?:it\s+|this\s+|them\s+|via\s+|on\s+)?(?:to\s+|in\s+|by\s+)?(?P<new>{kinds})\b.*?\binstead\s+of\s+(?:an?\s+|the\s+)?(?P<old>{kinds})",
            text,
            _F,
        )
        or re.search(
            rf"\binstead\s+of\s+(?:an?\s+|the\s+)?(?P<old>{kinds})(?:\s+\w+)?\s*,?\s*(?:post|send|use|notify)\s+(?:it\s+)?(?:to\s+|via\s+|by\s+|on\s+)?(?P<new>{kinds})",
            text,
            _F,
        )
        or re.search(
            rf"\breplace\s+(?:the\s+)?(?P<old>{kinds})(?:\s+\w+)?\s+(?:with|by)\s+(?:an?\s+)?(?P<new>{kinds})",
            text,
            _F,
        )
    )
    if not match:
        return None
    old_kind = "EMAIL" if "mail" in match.group("old").lower() else match.group("old").upper()
    new_kind = "EMAIL" if "mail" in match.group("new").lower() else match.group("new").upper()
    old_nodes = _nodes(draft, old_kind)
    if not old_nodes or new_kind not in ("SLACK", "EMAIL"):
        return None
    entities, _ = read_entities(text)
    for old in old_nodes:
        message = _message_of(old, draft)
        if new_kind == "SLACK":
            channel = entities.channels[0] if entities.channels else "#general"
            node = _new_node(
                draft,
                "post to slack",
                f"Post to Slack {channel}",
                NodeType.EXTERNAL_ACTION,
                "SLACK",
                {"operation": "post_message", "channel": channel, "text": message},
                {"slack": "slack-bot"},
            )
            if not entities.channels:
                draft = _with(
                    draft,
                    missing_info=[
                        *draft.missing_info,
                        "Which Slack channel to post to (#general is a placeholder)",
                    ],
                )
        else:
            to = entities.emails[:1] or ["team@example.com"]
            node = _new_node(
                draft,
                "send email",
                f"Email {to[0]}",
                NodeType.EXTERNAL_ACTION,
                "EMAIL",
                {"to": list(to), "subject": draft.name[:200], "body": message},
            )
            if not entities.emails:
                draft = _with(
                    draft,
                    missing_info=[
                        *draft.missing_info,
                        "Who receives the email (team@example.com is a placeholder)",
                    ],
                )
        draft = graph_edit.replace(draft, old.id, node)
    return draft, f"replaced {old_kind.lower()} with {new_kind.lower()}"


_REMOVABLE = (
    (r"approv|sign-?off|review", "APPROVAL"),
    (r"summar|digest|ai step|the ai\b|translat|classif|extract|generat", "CHAT"),
    (r"condition|check|\bif\b|threshold|filter", "IF"),
    (r"wait|delay|pause", "WAIT"),
    (r"e-?mail", "EMAIL"),
    (r"slack", "SLACK"),
    (r"memory|remember|dedup|duplicate", "MEMORY"),
)


def _remove(draft: Draft, text: str) -> tuple[Draft, str] | None:
    match = re.search(
        r"\b(?:remove|delete|drop|skip|get\s+rid\s+of|no\s+need\s+for|without|take\s+out|cut)\s+(?:the\s+|that\s+|this\s+|any\s+)?(?P<what>.+)$|"
        r"\b(?:don'?t|do\s+not|no\s+longer|stop|never)\s+(?P<verb>\w+(?:\s+\w+)?)|^no\s+(?P<no>\w+)",
        text,
        _F,
    )
    if not match:
        return None
    words = match.group("what") or match.group("verb") or match.group("no") or ""
    for pattern, subtype in _REMOVABLE:
        if not re.search(pattern, words, _F):
            continue
        candidates = [
            n
            for n in draft.nodes
            if n.subtype.upper() == subtype or (subtype == "MEMORY" and n.type is NodeType.MEMORY)
        ]
        if subtype == "CHAT" and re.search(r"summar", words, _F):
            candidates = sorted(candidates, key=lambda n: "summar" not in n.id)
        if not candidates:
            return None
        result, notes = graph_edit.remove(draft, candidates[0].id)
        if notes:
            result = _with(result, suggestions=[*result.suggestions, *notes])
        return result, f"removed '{candidates[0].id}'"
    return None


def _also_output(draft: Draft, text: str) -> tuple[Draft, str] | None:
    if not re.search(r"\b(?:also|as\s+well|too|in\s+addition|additionally)\b", text, _F):
        return None
    entities, _ = read_entities(text)
    outputs = _outputs(draft)
    sibling = outputs[0] if outputs else None
    message = _message_of(sibling, draft)
    if entities.emails or re.search(r"\be-?mail\b", text, _F):
        to = entities.emails[:1] or ["team@example.com"]
        node = _new_node(
            draft,
            f"email {to[0].split('@')[0]}",
            f"Email {to[0]}",
            NodeType.EXTERNAL_ACTION,
            "EMAIL",
            {"to": list(to), "subject": draft.name[:200], "body": message},
        )
        result = graph_edit.add_beside(draft, sibling.id if sibling else None, node)
        if not entities.emails:
            result = _with(
                result,
                missing_info=[
                    *result.missing_info,
                    "Who receives the email (team@example.com is a placeholder)",
                ],
            )
        return result, f"added an email to {to[0]}"
    if entities.channels or re.search(r"\bslack\b", text, _F):
        channel = entities.channels[0] if entities.channels else "#general"
        node = _new_node(
            draft,
            f"post to {channel}",
            f"Post to Slack {channel}",
            NodeType.EXTERNAL_ACTION,
            "SLACK",
            {"operation": "post_message", "channel": channel, "text": message},
            {"slack": "slack-bot"},
        )
        return graph_edit.add_beside(
            draft, sibling.id if sibling else None, node
        ), f"added a Slack post to {channel}"
    return None


def _channel(draft: Draft, text: str) -> tuple[Draft, str] | None:
    entities, _ = read_entities(text)
    if not entities.channels or not _nodes(draft, "SLACK"):
        return None
    if not re.search(r"\b(post|send|use|channel|instead|change|switch|move|put|to|in)\b", text, _F):
        return None
    channel = entities.channels[0]
    result = draft.model_copy(deep=True)
    for node in _nodes(result, "SLACK"):
        node.parameters["channel"] = channel
        node.name = f"Post to Slack {channel}"
    result.missing_info = [m for m in result.missing_info if "Slack channel" not in m]
    return result, f"Slack posts go to {channel}"


def _recipient(draft: Draft, text: str) -> tuple[Draft, str] | None:
    entities, _ = read_entities(text)
    if not entities.emails or re.search(r"\bapprov", text, _F):
        return None
    emails = _nodes(draft, "EMAIL")
    if not emails:
        return _also_output(draft, f"also {text}")
    result = draft.model_copy(deep=True)
    for node in _nodes(result, "EMAIL"):
        node.parameters["to"] = list(entities.emails)
        node.name = f"Email {entities.emails[0]}"
    result.missing_info = [m for m in result.missing_info if "receives the email" not in m]
    return result, f"the email goes to {', '.join(entities.emails)}"


def _schedule(draft: Draft, text: str) -> tuple[Draft, str] | None:
    zone = find_timezone(text)
    times = mentioned_times(text)
    days = mentioned_days(text)
    full = find_schedule(text)
    if zone is None and not times and not days and full is None:
        return None
    triggers = [n for n in draft.nodes if n.type is NodeType.TRIGGER]
    schedule_nodes = [n for n in triggers if n.subtype.upper() == "SCHEDULE"]
    result = draft.model_copy(deep=True)
    if not schedule_nodes:
        if full is None or not triggers:
            return None
        expression, tz = full.expression, full.timezone or result.timezone
        node = _new_node(
            result,
            full.label.split(" at ")[0],
            full.label,
            NodeType.TRIGGER,
            "SCHEDULE",
            {"expression": expression, "timezone": tz},
        )
        result = graph_edit.replace(result, triggers[0].id, node)
        return _with(result, timezone=tz), f"the workflow now runs on {expression}"
    node = next(n for n in result.nodes if n.id == schedule_nodes[0].id)
    expression = str(node.parameters.get("expression", ""))
    cron = re.fullmatch(r"cron\((.*)\)", expression)
    if full is not None and (
        full.expression.startswith(("rate(", "at(")) or cron is None or (times and days)
    ):
        expression = full.expression
    elif cron is not None and (times or days):
        fields = cron.group(1).split()
        if times:
            fields[0] = str(times[0][1])
            fields[1] = ",".join(str(h) for h, _ in times)
        if days:
            fields[2], fields[4] = "?", _day_field(days)
        expression = f"cron({' '.join(fields)})"
    node.parameters["expression"] = expression
    changes = [f"the schedule is {expression}"]
    if zone is not None:
        node.parameters["timezone"] = zone.zone
        result.timezone = zone.zone
        changes.append(f"in {zone.zone}")
        result.suggestions = [s for s in result.suggestions if "No time zone was named" not in s]
    node.name = _schedule_name(expression, str(node.parameters.get("timezone") or result.timezone))
    return result, " ".join(changes)


def _day_field(days: list[str]) -> str:
    if days == ["MON", "TUE", "WED", "THU", "FRI"]:
        return "MON-FRI"
    return ",".join(days)


def _schedule_name(expression: str, zone: str) -> str:
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) \S+ (\S+) \S+\)", expression)
    if not cron:
        return expression
    minute, hour, _dom, dow = cron.groups()
    when = (
        f"{int(hour.split(',')[0]):02d}:{int(minute):02d}"
        if hour.split(",")[0].isdigit() and minute.isdigit()
        else f"{hour}:{minute}"
    )
    days = {"*": "Every day", "?": "Every month", "MON-FRI": "Every weekday"}.get(
        dow, "Every " + ", ".join(DAY_TITLES.get(d, d) for d in dow.split(","))
    )
    return f"{days} at {when} ({zone_label(zone)} time)"


def _approval(draft: Draft, text: str) -> tuple[Draft, str] | None:
    if not re.search(r"\b(approv\w*|sign-?off|confirm\w*)\b", text, _F):
        return None
    if re.search(r"\b(remove|delete|drop|skip|no|without|don'?t)\b", text, _F):
        return None
    before = re.search(r"\bbefore\s+(?P<what>.+)$", text, _F)
    target = _target(draft, before.group("what")) if before else None
    if target is None:
        outputs = _outputs(draft)
        target = outputs[0] if outputs else graph_edit.last_node(draft)
    if target is None or target.type is NodeType.TRIGGER:
        return None
    entities, _ = read_entities(text)
    notify: dict[str, JsonValue] = {
        "channel": "email",
        "target": entities.emails[0] if entities.emails else "manager@example.com",
    }
    if entities.channels:
        notify = {"channel": "slack", "target": entities.channels[0]}
    who = re.search(
        r"\b(?:my|the|a|our)\s+(manager|boss|lead|editor|team lead|director|owner)\b", text, _F
    )
    approver = who.group(1).lower() if who else "approver"
    node = _new_node(
        draft,
        f"{approver} approves" if who else "ask for approval",
        f"{approver.capitalize()} approves" if who else "Ask for approval",
        NodeType.HUMAN_IN_THE_LOOP,
        "APPROVAL",
        {
            "message": f"{draft.name}: go ahead with '{target.name}'?",
            "timeout_seconds": 86_400,
            "notify": notify,
        },
    )
    result = graph_edit.insert_before(draft, target.id, node)
    if not entities.emails and not entities.channels:
        result = _with(
            result,
            missing_info=[
                *result.missing_info,
                f"How to reach the {approver} for the approval (an email address or a Slack"
                f" channel)",
            ],
        )
    return result, f"added an approval before '{target.id}'"


def _threshold(draft: Draft, text: str) -> tuple[Draft, str] | None:
    ifs = _nodes(draft, "IF")
    if not ifs or not re.search(r"\b(instead|threshold|change|raise|lower|make it)\b", text, _F):
        return None
    spec, understood = read_condition(text)
    if (
        not understood
        or spec.subject not in ("count", "field")
        or not isinstance(spec.value, int | float)
    ):
        return None
    result = draft.model_copy(deep=True)
    node = next(n for n in result.nodes if n.id == ifs[0].id)
    conditions = node.parameters.get("conditions")
    if not isinstance(conditions, list) or not conditions or not isinstance(conditions[0], dict):
        return None
    conditions[0]["op"] = spec.op
    conditions[0]["right"] = spec.value
    return result, f"the condition of '{node.id}' is now {spec.op} {spec.value}"


def _condition(draft: Draft, text: str) -> tuple[Draft, str] | None:
    match = re.search(
        r"\b(?:only\s+(?:\w+\s+){0,3}?(?P<kw>if|when|unless)|add\s+(?:a\s+)?(?:condition|check|filter)[:,]?\s*(?:only\s+)?(?P<kw2>if|when|unless)?)\s+(?P<cond>.+)$",
        text,
        _F,
    )
    if not match:
        return None
    words = match.group("cond")
    keyword = match.group("kw") or match.group("kw2") or "if"
    spec, understood = read_condition(f"{keyword} {words}")
    head = text[: match.start("cond")]
    target = (
        _target(draft, head)
        if re.search(r"\b(post|send|email|notify|summar|run)\w*", head, _F)
        else None
    )
    if target is None:
        outputs = _outputs(draft)
        target = outputs[0] if outputs else None
    if target is None:
        return None
    preds = graph_edit.incoming(draft, target.id)
    source = graph_edit.data_ref_of(draft, preds[0].source) if preds else None
    tails: list[tuple[str, str]] = []  # the IF's own predecessors are not known yet: use nodes refs
    if source is None:
        return None
    if spec.subject == "count":
        left = template(source.count(tails))
    elif spec.subject == "field" and spec.field:
        left = template(f"{source.expr(tails)}.{spec.field}")
    elif spec.subject == "status":
        left = (
            template(f"{source.expr(tails)}.status_code")
            if source.path == "body"
            else template(f"$lowercase({source.text(tails)})")
        )
    else:
        left = template(f"$lowercase({source.text(tails)})")
    right = spec.value.lower() if isinstance(spec.value, str) else spec.value
    node = _new_node(
        draft,
        " ".join(re.findall(r"\w+", spec.words)[:5]) or "check",
        sentence_case(spec.words).rstrip("?") + "?",
        NodeType.FLOW,
        "IF",
        {"conditions": [{"left": left, "op": spec.op, "right": right}], "combinator": "and"},
    )
    result = graph_edit.insert_before(draft, target.id, node, port="true")
    if not understood:
        result = _with(
            result,
            suggestions=[
                *result.suggestions,
                f"The condition \"{words}\" was not understood: check node '{node.id}'",
            ],
        )
    return result, f"added the condition '{node.id}' before '{target.id}'"


_STYLE = (
    (
        r"\bshort(?:er)?\b|\bbrief(?:er)?\b|\bconcise\b|\bless\s+detail",
        "Keep it short: at most 3 bullet points, one line each.",
        300,
    ),
    (
        r"\blong(?:er)?\b|\bmore\s+detail(?:ed)?\b|\bin\s+depth\b|\bexpand\b",
        "Give more detail: explain each point in a sentence or two.",
        1200,
    ),
    (r"\bformal\b|\bprofessional\b", "Use a formal, professional tone.", None),
    (
        r"\bfriendl(?:y|ier)\b|\bcasual\b|\bwarm(?:er)?\b|\binformal\b",
        "Use a friendly, casual tone.",
        None,
    ),
    (r"\bbullet\s*points?\b|\bbullets\b", "Answer as bullet points.", None),
    (r"\bno\s+emojis?\b|\bwithout\s+emojis?\b", "Do not use emojis.", None),
    (r"\bemojis?\b", "Add a fitting emoji to each point.", None),
)


def _instruction(draft: Draft, text: str) -> tuple[Draft, str] | None:
    language = re.search(rf"\b(?:in|into|to)\s+({_LANGUAGES})\b", text, _F)
    chats = _nodes(draft, "CHAT")
    if not chats:
        return None
    sentences: list[str] = []
    max_tokens: int | None = None
    if language and re.search(
        r"\b(write|answer|translate|in|summar|make|reply|post|send)\b", text, _F
    ):
        sentences.append(f"Write the answer in {language.group(1).capitalize()}.")
    for pattern, sentence, tokens in _STYLE:
        if re.search(pattern, text, _F):
            sentences.append(sentence)
            max_tokens = tokens or max_tokens
            if pattern.startswith(r"\bno\s+emojis"):
                break
    if not sentences:
        return None
    target = _target(draft, text)
    node_id = target.id if target is not None and target.subtype.upper() == "CHAT" else chats[-1].id
    result = draft.model_copy(deep=True)
    node = next(n for n in result.nodes if n.id == node_id)
    system = str(node.parameters.get("system_prompt") or "")
    node.parameters["system_prompt"] = f"{system} {' '.join(sentences)}".strip()
    if max_tokens is not None:
        node.parameters["max_tokens"] = max_tokens
    return result, f"'{node_id}' now says: {' '.join(sentences)}"


_HANDLERS: tuple[Handler, ...] = (
    _rename,
    _replace_output,
    _remove,
    _also_output,
    _approval,
    _threshold,
    _condition,
    _schedule,
    _channel,
    _recipient,
    _instruction,
)
