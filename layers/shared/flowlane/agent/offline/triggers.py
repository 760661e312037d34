"""What starts the workflow: a schedule, a webhook or form, or a person (manual).

A strong schedule ("every weekday at 9", "hourly") wins; then an event ("when Stripe sends an
event", "when someone submits our contact form", "for new GitHub issues") makes a WEBHOOK
trigger with a path taken from the words; then a weak schedule word ("daily"); else MANUAL.
The words of the trigger are handed back as spans, so they are not read again as actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flowlane.agent.offline.lexicon import slug
from flowlane.agent.offline.model import TriggerKind, TriggerSpec
from flowlane.agent.offline.schedule_words import ScheduleMatch, find_schedule
from flowlane.agent.offline.services import NATIVE, find_services

_F = re.IGNORECASE
_EVENT_VERBS = (
    r"webhook|is\s+called|gets?\s+called|receive[sd]?|arrives?|arrive|comes?\s+in|lands?|"
    r"(?:is|are|gets?|get|was|were)\s+(?:created|added|opened|submitted|placed|received|updated|labell?ed|"
    r"closed|paid|booked|assigned|merged|pushed|starred|deleted|cancell?ed|triggered|published|posted|made|filed|raised|reported|fired)|"
    r"submits?|fills?\s+(?:out|in)|completes?|signs?\s+up|subscribes?|unsubscribes?|registers?|buys?|purchases?|orders?|"
    r"books?|sends?|posts?|pays?|fires?|happens?|occurs?|opens?|creates?|stars?|messages?|writes?|asks?|invokes?|"
    r"mentions?|replies|types|fails?|joins?|leaves|cancels|churns|uploads?"
)
_WHEN = re.compile(
    rf"\b(?:when(?:ever)?|once|every\s+time|each\s+time|as\s+soon\s+as|the\s+moment|on\s+every|on\s+each|upon)\s+"
    rf"(?P<clause>[^.;,]{{0,90}}?\b(?:{_EVENT_VERBS})\b[^.;,]{{0,50}})",
    _F,
)
_WEBHOOK = re.compile(
    r"\b(?:via|through|from|on|using|with|by)\s+(?:a|an|the)?\s*(?:incoming\s+|inbound\s+)?webhooks?\b|"
    r"\bwebhooks?\s+(?:trigger|call|request|receives?|post|endpoint|node|is\s+called|fires)\b|"
    r"\b(?:receives?|accepts?|gets?)\s+(?:a\s+|an\s+|incoming\s+)?(?:http\s+)?(?:post|webhook|json)\s*(?:requests?|payloads?|calls?)?\b|"
    r"\b(?:triggered|started|called)\s+(?:by|via)\s+(?:a|an)?\s*(?:http|webhook|api)\s*(?:call|request)?\b|"
    r"\bwhen\s+(?:we|i|you)\s+(?:receive|get)\s+a\s+(?:post|request|call)\b|\bslash\s+command\b|\bon\s+demand\b|"
    r"\blistens?\s+(?:for|to)\s+(?:new|incoming|updated)\b[^.;,]{0,60}|"
    r"\b(?:be\s+|is\s+|gets\s+)?triggered\s+(?:based\s+on|by|when|on|whenever)\s+[^.;,]{0,80}|"
    r"\b[\w-]+\s+trigger\s+node\s+(?:configured|set\s+up|listening)?[^.;,]{0,60}|"
    r"^\s*new\s+(?:[\w-]+\s+){0,2}(?:created|added|received|placed|opened|submitted|paid)\b",
    _F,
)
_FORM = re.compile(
    r"\b(?:(?:new\s+)?(?:\w+\s+)?form\s+(?:submissions?|responses?|entries|trigger|posts)|"
    r"(?:submits?|fills?\s+(?:out|in)|completes?)\s+(?:our\s+|the\s+|a\s+|my\s+|your\s+|an\s+)?(?:[\w-]+\s+){0,2}?\w*forms?|"
    r"new\s+(?:typeform|tally|jotform|google\s+forms?)\s+(?:submissions?|responses?|entries)|"
    r"(?:typeform|tally|jotform|google\s+forms?)\s+(?:submissions?|responses?))\b",
    _F,
)
_FORM_NAME = re.compile(r"([\w-]+(?:\s+[\w-]+)?)\s+forms?\b", _F)
_NEW_THING = re.compile(
    r"\b(?:for|on|about|of)\s+(?:every\s+|each\s+)?new\s+(?P<noun>(?:[\w-]+\s+){0,2}?(?:issues?|"
    r"pull requests?|prs?|orders?|leads?|"
    r"signups?|sign-ups?|subscribers?|subscriptions?|payments?|customers?|contacts?|deals?|tickets?|messages?|comments?|"
    r"submissions?|users?|bookings?|invoices?|stars?|reviews?|errors?))\b",
    _F,
)
_CHAT = re.compile(
    r"\b(?:chat\s+message\s+(?:is\s+)?received|messages?\s+(?:the|a|your|our)\s+bot|(?:telegram|discord|slack|whatsapp)\s+bot\s+(?:receives?|gets?)|"
    r"(?:user|customer)\s+(?:sends?|writes?)\s+(?:a\s+)?message|responds?\s+to\s+(?:any|every|each|incoming)\s+message|"
    r"any\s+message\s+in\s+a\s+(?:telegram|slack|discord)|incoming\s+(?:chat\s+)?messages?)\b",
    _F,
)
_EMAIL_EVENT = re.compile(
    r"\b(?:(?:new|incoming|inbound)\s+(?:[\w-]+\s+)?e-?mails?|e-?mails?\s+(?:arrive|arrives|come\s+in|comes\s+in)|"
    r"(?:monitors?|watch(?:es)?|listens?\s+(?:to|for))\s+(?:an?\s+|the\s+|my\s+)?(?:\w+\s+)?inbox|email\s+trigger|gmail\s+trigger|imap)\b",
    _F,
)
_CONDITION_CUE = re.compile(
    r"\b(more|less|fewer|greater|above|below|over|under|exceeds?|contains?|equals|down|fails?|"
    r"than|at least|is empty)\b",
    _F,
)
_STRONG_SCHEDULE = re.compile(
    r"\b(every|each|hourly|nightly|weekly|monthly|yearly|annually|twice|once a|at)\b|\d|noon|"
    r"midnight|morning|evening",
    _F,
)


@dataclass
class TriggerReading:
    trigger: TriggerSpec
    spans: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    schedule: ScheduleMatch | None = None


def read_trigger(text: str) -> TriggerReading:
    """The trigger of a (masked) request; see the module doc."""
    schedule = find_schedule(text)
    strong = schedule is not None and any(
        _STRONG_SCHEDULE.search(text[s:e]) for s, e in schedule.spans if e > s
    )
    event = _event(text)
    if schedule is not None and (strong or event is None):
        spec = TriggerSpec(
            kind=TriggerKind.SCHEDULE,
            expression=schedule.expression,
            timezone=schedule.timezone,
            words=" ".join(text[s:e] for s, e in schedule.spans if e > s),
            label=schedule.label,
        )
        reading = TriggerReading(
            spec, list(schedule.spans), list(schedule.notes), schedule=schedule
        )
        if _EMAIL_EVENT.search(text):
            reading.notes.append(
                "Flowlane has no email trigger: the schedule polls the mailbox over its API instead"
            )
        return reading
    if event is not None:
        return event
    return TriggerReading(TriggerSpec(kind=TriggerKind.MANUAL, label="Run now"))


def _event(text: str) -> TriggerReading | None:
    form = _FORM.search(text)
    if form:
        return _form(text, form)
    for match in _WHEN.finditer(text):
        clause = match.group("clause")
        if _CONDITION_CUE.search(clause) and not re.search(r"\bnew\b|\bwebhook\b", clause, _F):
            continue
        return _webhook(text, match.start(), match.end(), clause)
    chat = _CHAT.search(text)
    if chat:
        return _webhook(text, chat.start(), chat.end(), chat.group(0), path_hint="chat")
    email = _EMAIL_EVENT.search(text)
    if email:
        reading = _webhook(
            text, email.start(), email.end(), email.group(0), path_hint="incoming-email"
        )
        reading.missing.append(
            "Flowlane has no email trigger: have your mail provider forward incoming emails to "
            f"POST /api/v1/webhooks/{reading.trigger.path} (an inbound-parse webhook), or run on a "
            "schedule that reads the mailbox over its API"
        )
        return reading
    hook = _WEBHOOK.search(text)
    if hook:
        path_hint = "slack-command" if "slash" in hook.group(0).lower() else None
        return _webhook(text, hook.start(), hook.end(), hook.group(0), path_hint=path_hint)
    new = _NEW_THING.search(text)
    if new and find_services(text):
        return _webhook(text, new.start(), new.end(), new.group(0))
    return None


_FORM_TOOLS = frozenset({"typeform", "hubspot", "google_forms"})
# "Trigger: New Typeform Submission." describes the trigger: its words are not an action.
_TRIGGER_LABEL = re.compile(r"\btrigger\s*[:\u2014-]\s*[^.;\n]*", _F)


def _form(text: str, match: re.Match[str]) -> TriggerReading:
    words = match.group(0)
    services = [m.service for m in find_services(words) if m.service.key not in NATIVE]
    if not services:
        services = [m.service for m in find_services(text) if m.service.key in _FORM_TOOLS]
    named = _FORM_NAME.search(words)
    name = ""
    if named:
        name = " ".join(
            w
            for w in named.group(1).lower().split()
            if w
            not in (
                "our",
                "the",
                "a",
                "my",
                "your",
                "an",
                "out",
                "in",
                "new",
                "submits",
                "fills",
                "completes",
            )
        )
    if services:
        path = slug(f"{services[0].key} {name if name != services[0].key else ''} submissions")
        source = services[0].key
    else:
        path = slug(f"{name} form") if name and name != "form" else "form"
        source = "form"
    spec = TriggerSpec(
        kind=TriggerKind.WEBHOOK,
        path=path,
        source=source,
        words=words,
        label=f"{(name or 'form').capitalize()} form submitted"
        if source == "form"
        else f"New {services[0].name} submission",
    )
    reading = TriggerReading(spec, [(match.start(), match.end()), *_labels(text)])
    reading.notes.append(
        f"Send the form's submissions to POST /api/v1/webhooks/{path} (most form tools have a"
        f" webhook setting)"
    )
    return reading


def _labels(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TRIGGER_LABEL.finditer(text)]


def _webhook(
    text: str, start: int, end: int, clause: str, path_hint: str | None = None
) -> TriggerReading:
    services = [m.service for m in find_services(clause) if m.service.key not in ("ai",)]
    noun = re.search(
        r"\b(issues?|pull requests?|prs?|orders?|leads?|signups?|sign-ups?|subscribers?|"
        r"subscriptions?|payments?|"
        r"customers?|contacts?|deals?|tickets?|messages?|comments?|submissions?|users?|bookings?|invoices?|stars?|"
        r"reviews?|errors?|alerts?|events?|pushes|commits?|releases?|files?|emails?|members?|charges?)\b",
        clause,
        _F,
    )
    noun_word = noun.group(1).lower() if noun else "events"
    if not noun_word.endswith("s"):
        noun_word = noun_word + ("es" if noun_word.endswith("sh") else "s")
    if not services and noun:
        # "New subscription created: post ... the Stripe customer page": the service that has
        # such events, named elsewhere in the request.
        services = [
            m.service
            for m in find_services(text)
            if noun.group(1).lower().rstrip("s") in m.service.events
        ]
    service = services[0] if services else None
    if path_hint:
        path = path_hint
    elif service is not None:
        path = slug(f"{service.key.replace('_', '-')} {noun_word}")
    else:
        path = slug(noun_word if noun else "incoming")
    label = f"{service.name} {noun_word}" if service else f"Incoming {noun_word}"
    spec = TriggerSpec(
        kind=TriggerKind.WEBHOOK,
        path=path,
        source=service.key if service else None,
        words=clause.strip(),
        label=label[:1].upper() + label[1:],
    )
    reading = TriggerReading(spec, [(start, end), *_labels(text)])
    who = f"{service.name}'s" if service else "the sender's"
    reading.notes.append(f"Point {who} webhook at POST /api/v1/webhooks/{path}")
    return reading
