"""Actions in a clause: which steps a few words ask for, and where each starts.

`find_actions(clause, context)` runs every detector over one clause (a piece of a sentence with
no condition or loop words left in it) and answers the steps in text order. Detectors are small
functions over word tables; each answers `(position, step)` pairs, and `find_actions` drops the
ones another detector already covers (an HTTP fetch of a service that has its own reader, a
second summary of the same thing, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flowlane.agent.offline.entities import Entities
from flowlane.agent.offline.lexicon import NUMBER, UNIT, number, squash, unit_seconds
from flowlane.agent.offline.model import AI_KINDS, OUTPUT_KINDS, Step, StepKind
from flowlane.agent.offline.services import BY_KEY, NATIVE, Mention, find_services

_F = re.IGNORECASE


@dataclass
class Context:
    """What the readers share across the clauses of one request."""

    entities: Entities
    text: str
    github: bool = False
    ai_steps: int = 0
    trigger_source: str | None = None
    conversation: bool = False
    notes: list[str] = field(default_factory=list)


Found = tuple[int, Step]

# -- word tables -----------------------------------------------------------------------------

_SUMMARISE = re.compile(
    r"\b(summari[sz](?:e|es|ed|ing|ation|ations)|condense[sd]?|boil(?:s)? down|tl;?dr)\b", _F
)
_SUMMARY_NOUN = re.compile(
    r"\b(summary|summaries|digest|recap|recaps|briefing|report|highlights|key points)\b", _F
)
_CLASSIFY = re.compile(
    r"\b(classif(?:y|ies|ied|ying|ication)|categori[sz](?:e|es|ed|ing|ation)|triage[sd]?|triaging|"
    r"prioriti[sz](?:e|es|ed|ing)|sentiment|scores?\s+(?:each|the|every|it|them|leads?|stories|articles)|scoring|"
    r"rank(?:s|ed|ing)?\s+(?:each|the|them)|"
    r"detects?\s+(?:the\s+)?(?:language|intent|sentiment|topic)|label(?:s|led|ling)?\s+(?:it|them|each|the)|tag(?:s|ged)?\s+(?:it|them|each))\b",
    _F,
)
_EXTRACT = re.compile(
    r"\b(extract(?:s|ed|ing)?|pars(?:e|es|ed|ing)\b(?!\s+(?:the\s+)?(?:feed|rss|xml))|pulls?\s+out|ocr|"
    r"reads?\s+(?:the\s+)?(?:fields|details|invoice|receipt|pdf))\b",
    _F,
)
_TRANSLATE = re.compile(r"\b(translat(?:e|es|ed|ing|ion|ions))\b", _F)
_LANGUAGES = (
    "english|french|german|spanish|italian|portuguese|dutch|japanese|chinese|korean|arabic|russian|"
    "hindi|swedish|polish|turkish|swahili|ukrainian|danish|norwegian|finnish|greek|hebrew|vietnamese|indonesian"
)
_LANGUAGE = re.compile(rf"\b(?:in|into|to)\s+({_LANGUAGES})\b", _F)
_GENERATE = re.compile(
    r"\b(writes?|writing|drafts?|drafted|drafting|generat(?:e|es|ed|ing)|compos(?:e|es|ed|ing)|crafts?|"
    r"rewrit(?:e|es|ing)|rewritten|repl(?:y|ies|ied|ying)\s+to|responds?\s+to|answers?|personali[sz](?:e|es|ed)|"
    r"creates?\s+(?:a\s+|an\s+)?(?:reply|response|post|caption|description|content|newsletter|"
    r"article|blog post|"
    r"message|welcome|cover letter)|ai agent|chat\s*bot|assistant|suggests?|"
    r"analy[sz](?:e|es|ed|ing)|research(?:es)?|reviews?\s+(?:the\s+)?(?:code|pr|pull request|"
    r"contract))\b",
    _F,
)
_WRITE_BACK = re.compile(r"\bwrites?\s+(?:\w+\s+){0,4}(?:back|to|into)\b", _F)
_AI_PROVIDER = re.compile(
    r"(?<![\w-])(ai|a\.i\.|openai|gpt[\w.-]*|chatgpt|claude(?:\s+\w+)?|anthropic|gemini|llms?|deepseek|mistral|llama|groq|"
    r"language model)(?![\w])",
    _F,
)
_CONVERSATION = re.compile(
    r"\b(conversation(?:al)? (?:history|memory|context)|chat (?:history|memory)|"
    r"long[- ]term memory|"
    r"remembers? (?:the |past |previous )?(?:conversations?|context|chats?|what (?:was|"
    r"the user) said|user preferences|earlier messages)|"
    r"memory of (?:the )?(?:conversation|chat)|context across (?:messages|sessions|conversations)|"
    r"remember (?:user )?preferences|with memory)\b",
    _F,
)

_FETCH_VERB = re.compile(
    r"(?<![-#@])\b(fetch(?:es|ed|ing)?|gets?|getting|pulls?|pulled|pulling|grabs?|retriev(?:e|es|ed|ing)|download(?:s|ed)?|"
    r"scrap(?:e|es|ed|ing)|crawl(?:s|ed)?|reads?|loads?|checks?|checked|checking|monitors?|monitoring|watch(?:es)?|"
    r"polls?|polling|calls?|pings?|quer(?:y|ies|ied)|hits?|requests?|looks?\s+up|collects?|visits?|"
    r"pull(?:s)?\s+in|tracks?|gathers?|lists?|finds?|searche?s?|sweeps?|ingests?|receives?)\b",
    _F,
)
_FETCH_OBJECT = re.compile(
    r"\b(api|apis|http|endpoints?|websites?|web\s*sites?|sites?|pages?|urls?|homepage|feeds?|rss|health|status|"
    r"prices?|rates?|stock|news|headlines|data|json|results|links?|articles?|stories|html)\b|URL\d",
    _F,
)
_GITHUB_LIST = re.compile(
    r"\b(?:fetch|get|list|pull|grab|retrieve|collect|check|read|find|load|gather|look\s+up|monitor|watch|track|"
    r"review|go\s+through|count|summari[sz]e)(?:es|s|ed|ing)?\b[^.;]{0,50}?\b(issues|"
    r"pull requests|prs|bug reports)\b|"
    r"\b(?:our|the|my|all|open|new)\s+(?:open\s+)?(?:github\s+)?(issues|pull requests|prs)\b",
    _F,
)
_GITHUB_CREATE = re.compile(
    r"\b(?:creat|fil|rais|log|submit|add|mak)(?:e|es|ed|ing|s)?\s+(?:a\s+|an\s+|the\s+|one\s+)?(?:new\s+)?"
    r"(?:github\s+)?(?:issues?|bug reports?|tickets?)\b|"
    r"\bopen(?:s|ed|ing)?\s+(?:a|an|one|new)\s+(?:new\s+)?(?:github\s+)?(?:issue|bug report|"
    r"ticket)\b",
    _F,
)
_GITHUB_COMMENT = re.compile(
    r"\b(?:add|post|leave|write|reply with)(?:s|ed|ing)?\s+(?:a\s+|"
    r"an\s+)?(?:\w+\s+){0,2}comments?\b|\bcomments?\s+on\s+(?:the\s+)?(?:issue|pr|"
    r"pull request)\b",
    _F,
)
_OUTPUT_VERB = re.compile(
    r"\b(send(?:s|ing)?|sent|posts?|posted|posting|publish(?:es|ed)?|shares?|deliver(?:s|ed)?|notif(?:y|ies|ied)|"
    r"alerts?|alerted|messages?|pings?|emails?|emailed|mails?|dispatch(?:es|ed)?|forwards?|tells?|"
    r"reports?\s+to|drops?|pushes|push|announces?|broadcasts?|returns?\s+(?:the\s+)?result\s+to|goes?\s+to|lands?\s+in)\b",
    _F,
)
_NOTIFY = re.compile(
    r"\b(notif(?:y|ies|ied|ication|ications)|alert(?:s|ed|ing)?|let\s+(?:me|us|them|"
    r"the team)\s+know|"
    r"ping(?:s)?\s+(?:me|us|the team)|send\s+(?:me|us)\s+(?:a\s+)?(?:message|note)|(?:tag|"
    r"mention)s?\s+@[\w.-]+)",
    _F,
)
_SLACK_READ_AFTER = re.compile(
    r"^\W{0,3}(?:\w+\s+){0,2}(activity|messages|conversations?|history|threads?|discussions?)\b", _F
)
_SLACK_READ_BEFORE = re.compile(
    r"\b(from|of|reads?|fetch(?:es)?|gets?|pulls?|monitors?|watch(?:es)?|recaps?|summari[sz]es?|"
    r"history for|in the past|retrieves?)\s+(?:\w+\s+){0,4}$",
    _F,
)
_EMAIL_SOURCE = re.compile(
    r"\b(incoming|inbound|new|unread|received|arriving)\s+(?:\w+\s+)?e-?mails?\b|"
    r"\be-?mails?\s+(?:arrive|arrives|come in|comes in|that arrive|received)\b|"
    r"\b(?:an?\s+|the\s+|my\s+|our\s+|dedicated\s+)?(?:gmail\s+|imap\s+|outlook\s+)?inbox(?:es)?\b|\bimap\b",
    _F,
)
# An email that is sent (not an email address field, not an incoming email).
_EMAIL_OUT = re.compile(
    r"\b(?:send|sends|sent|sending|deliver|delivers|delivered|dispatch(?:es|ed)?|forward(?:s|ed)?|write|writes|compose)\s+"
    r"(?:[\w'-]+\s+){0,5}?(?:e-?mails?|mail)\b|"
    r"(?:^|,|;|\band\b|\bthen\b|\bit\b)\s*(?:e-?mails?|mails?)\s+(?:me|us|them|him|her|it|the\s+\w+|a\s+\w+|an\s+\w+|EMAIL\d)\b|"
    r"\b(?:via|by|through|using|over)\s+(?:microsoft\s+|google\s+)?(?:e-?mail|gmail|outlook|sendgrid|resend|mailgun|ses|smtp|mail)\b|"
    r"\b(?:e-?mail|mail)\s+(?:alerts?|notifications?|summary|summaries|digest|report|update|reminders?)\b|"
    r"\b(?:an?|the)\s+(?:\w+\s+){0,3}?(?:e-?mail|mail)\s+(?:is|gets|are)\s+sent\b|"
    r"\b(?:receives?|gets?|get)\s+an?\s+(?:\w+\s+){0,2}?e-?mail\b|"
    r"\b(?:or|and)\s+e-?mail\b(?!\s+address)|\be-?mail\s+(?:and|or|&)\s+(?:\w+\s+)?(?:alerts?|notifications?|messages?)\b|"
    r"\b(?:a|an|the)\s+(?:\w+\s+)?(?:e-?mail)\s+(?:that|with|to)\b|"
    r"\be-?mail(?:s|ed|ing)?\s+(?:the\s+)?(?:team|accounting|support|customer|client|user|sender|manager|recipients?)\b|"
    r"^\s*(?:daily|weekly|monthly)?\s*e-?mailed\b|\ban?\s+(?:daily|weekly|monthly|friday|monday)\s+e-?mail\b",
    _F,
)
_EMAIL_WORD = re.compile(
    r"\b(e-?mails?|emailed|emailing|gmail|outlook|mail|sendgrid|resend|mailgun|ses|smtp)\b|EMAIL\d",
    _F,
)
_APPROVAL = re.compile(
    r"\b(approv(?:e|es|ed|al|als|ing)|sign[- ]?offs?|signs?\s+off|human[- ]in[- ]the[- ]loop|"
    r"(?:human|manual|editorial)\s+(?:review|approval|check|sign-off)|reviewed\s+by|vetted|"
    r"waits?\s+for\s+(?:a\s+|the\s+)?(?:human|manager|person|someone|confirmation|go-ahead|ok|okay)|"
    r"confirm(?:ation)?\s+(?:from|by)|ok\s+from|okay\s+from|green\s+light)\b",
    _F,
)
_APPROVER = re.compile(
    r"\b(?:my|the|a|our|an?)\s+(manager|boss|lead|editor|supervisor|team lead|director|admin|"
    r"owner|finance team|"
    r"reviewer|approver|cfo|ceo|accountant|legal team)\b",
    _F,
)
_DEDUPE = re.compile(
    r"\b(dedup(?:e|es|ed|licat\w*)|de-?duplicat\w*|duplicates?|duplicated|twice|"
    r"already\s+(?:been\s+)?(?:seen|sent|posted|processed|notified|handled|shared)|"
    r"(?:only|just)\s+(?:the\s+)?new\s+(?:ones|items|posts|articles|entries|issues|stories|messages|records|rows)|"
    r"new\s+since\s+(?:the\s+)?last|since\s+the\s+last\s+(?:check|run|time)|"
    r"(?:has|have)\s+(?:already\s+)?seen|previously\s+(?:posted|seen|sent|processed|recorded)|"
    r"filters?\s+out\s+(?:previously|already|old)|discards?\s+what\s+it\s+has\s+already\s+seen|"
    r"not\s+(?:yet\s+)?(?:seen|posted|sent|processed)\s+before)\b",
    _F,
)
_REMEMBER = re.compile(
    r"\b(remember(?:s|ed|ing)?|keeps?\s+track|tracks?\s+(?:of|the\s+(?:last|previous|count))|last\s+seen|"
    r"(?:keeps?|maintains?|stores?|saves?)\s+(?:a\s+|the\s+)?(?:running\s+)?(?:log|history|record|state|count|counter|snapshot|baseline)|"
    r"(?:consecutive[- ]failure|failure|running)\s+(?:count|counter)|counter|"
    r"compares?\s+(?:it\s+|them\s+|the\s+\w+\s+)?(?:with|against|to)\s+(?:the\s+)?(?:last|previous)|"
    r"previous\s+(?:run|value|snapshot|state|week)|snapshot|memory)\b",
    _F,
)
_WAIT = re.compile(
    rf"\b(?:wait(?:s|ing)?|pauses?|delay(?:s|ed)?|sleeps?|hold(?:s)?)\s+(?:for\s+)?(?:about\s+)?({NUMBER})\s*({UNIT})\b|"
    rf"\b({NUMBER})\s*({UNIT})\s+(?:later|afterwards|after\s+(?:that|the|submission|"
    rf"sign[- ]?up))\b|"
    rf"\b(?:after|in)\s+({NUMBER})\s*({UNIT})\b(?=.{{0,40}}\b(?:send|email|follow|remind|check|retry|post))|"
    r"\b(?:wait(?:s|ing)?|delay(?:s)?)\s+(?:for\s+)?a\s+(day|week|while|bit|moment)\b|\bthe\s+next\s+day\b|"
    r"\bwaits?\s+and\s+retr(?:y|ies)\b|\bretr(?:y|ies)\b",
    _F,
)
_WEBHOOK_OUT = re.compile(
    r"\b(?:post|send|forward|push|deliver|submit|call)(?:s|ed|ing)?\b[^.;]{0,40}?\b(?:to|at)\s+(?:the\s+)?(?:webhook\s+)?(?:url\s+)?(URL\d+)",
    _F,
)
# A service mention counts as a write when these come just before it, as a read otherwise.
_WRITE_CUE = re.compile(
    r"\b(add|adds|added|adding|create|creates|created|insert|inserts|append|appends|log|logs|logged|save|saves|"
    r"store|stores|stored\s+to|record|records|update|updates|updated|upsert|upserts|write|writes|push|pushes|sync|syncs|"
    r"send|sends|sent|post|posts|posted|notify|notifies|alert|alerts|message|tweet|tweets|toot|toots|publish|publishes|"
    r"upload|uploads|share|shares|deliver|delivers|file|files|assign|assigns|route|routes|move|moves|forward|forwards|"
    r"text|texts|put|puts|drop|drops|into|to|onto|on|via|through|as\s+(?:a|an)|becomes?|become|flows?\s+into|lands?\s+(?:on|in))\b[^.;]{0,30}$",
    _F,
)
_READ_CUE = re.compile(
    r"\b(read|reads|fetch|fetches|get|gets|pull|pulls|list|lists|query|queries|search|searches|look\s+up|looks\s+up|"
    r"check|checks|find|finds|retrieve|retrieves|monitor|monitors|watch|watches|from|load|loads|poll|polls|scan|scans|"
    r"sweeps?|stored\s+in|reads\s+all|pulls\s+in|using|with|in)\b[^.;]{0,30}$",
    _F,
)

_REFERENCE_AFTER = re.compile(
    r"^\s*(?:customer\s+|account\s+|admin\s+)?(?:page|dashboard|link|url|urls|profile|ids?|docs|documentation|api\s+key|settings|app\s+store)\b",
    _F,
)
# A verb acting on a service named just after it ("writes the score back to HubSpot").
_ACTION_CUE = re.compile(
    r"\b(add|adds|added|create|creates|insert|inserts|append|appends|log|logs|logged|save|saves|store|stores|record|records|"
    r"update|updates|upsert|write|writes|push|pushes|sync|syncs|send|sends|sent|post|posts|notify|publish|publishes|upload|"
    r"uploads|share|shares|deliver|delivers|file|files|assign|assigns|route|routes|move|moves|forward|forwards|text|"
    r"becomes?|flows?|read|reads|fetch|fetches|get|gets|pull|pulls|list|lists|query|queries|search|searches|check|checks|"
    r"find|finds|retrieve|retrieves|monitor|monitors|watch|watches|load|loads|poll|polls|scan|scans|reply|replies|respond|responds|returns?)\b[^.;]{0,60}$",
    _F,
)
_WRITE_AFTER = re.compile(
    r"^\s*(?:alerts?|messages?|notifications?|posts?|pings?|updates?|drafts?|toots?|tweets?)\b", _F
)

# -- detectors -------------------------------------------------------------------------------


def _indexes(kind: str, clause: str, values: list[str]) -> list[str]:
    """The placeholders (URL1, EMAIL2) of `clause` that stand for a value read from the text
    (a user who writes "URL9" has not given a URL)."""
    return [i for i in re.findall(rf"{kind}(\d+)", clause) if 1 <= int(i) <= len(values)]


def _ai(clause: str, ctx: Context) -> list[Found]:
    found: list[Found] = []
    for pattern, kind in (
        (_TRANSLATE, StepKind.AI_TRANSLATE),
        (_EXTRACT, StepKind.AI_EXTRACT),
        (_CLASSIFY, StepKind.AI_CLASSIFY),
        (_SUMMARISE, StepKind.AI_SUMMARISE),
    ):
        match = pattern.search(clause)
        if match:
            found.append((match.start(), _ai_step(kind, clause, ctx)))
    if not found:
        generate = _GENERATE.search(clause)
        noun_draft = (
            generate is not None
            and generate.group(0).lower().startswith("draft")
            and re.search(
                r"\b(?:a|an|the|as|ready-to-send)\s+(?:[\w-]+\s+){0,2}$",
                clause[: generate.start()],
                _F,
            )
        )
        if generate and not noun_draft and not _WRITE_BACK.search(clause[generate.start() :][:60]):
            found.append((generate.start(), _ai_step(StepKind.AI_GENERATE, clause, ctx)))
    if not found:
        provider = _AI_PROVIDER.search(clause)
        noun = _SUMMARY_NOUN.search(clause)
        if noun and (provider or ctx.ai_steps == 0) and _OUTPUT_VERB.search(clause):
            found.append((noun.start(), _ai_step(StepKind.AI_SUMMARISE, clause, ctx)))
        elif provider and ctx.ai_steps == 0:
            found.append((provider.start(), _ai_step(StepKind.AI_GENERATE, clause, ctx)))
    if found and _CONVERSATION.search(ctx.text) and not ctx.conversation:
        ctx.conversation = True
        found[0][1].params["memory"] = "conversation"
    ctx.ai_steps += len(found)
    return found


def _ai_step(kind: StepKind, clause: str, ctx: Context) -> Step:
    step = Step(kind=kind, words=squash(clause))
    if kind is StepKind.AI_TRANSLATE:
        language = _LANGUAGE.search(clause) or _LANGUAGE.search(ctx.text)
        step.params["language"] = language.group(1).capitalize() if language else "English"
        if not language:
            ctx.notes.append(
                "No language was named for the translation: it translates into English"
            )
    provider = _AI_PROVIDER.search(clause)
    if provider and provider.group(1).lower() not in ("ai", "a.i."):
        step.params["model_words"] = provider.group(1)
    return step


def _github(clause: str, ctx: Context) -> list[Found]:
    if not ctx.github:
        return []
    found: list[Found] = []
    other_tracker = re.search(r"\b(jira|linear|trello|asana|clickup|zendesk)\b", clause, _F)
    create = _GITHUB_CREATE.search(clause)
    if create and not other_tracker:
        found.append(
            (create.start(), Step(kind=StepKind.GITHUB_CREATE_ISSUE, words=squash(clause)))
        )
    comment = _GITHUB_COMMENT.search(clause)
    if comment:
        found.append(
            (comment.start(), Step(kind=StepKind.GITHUB_ADD_COMMENT, words=squash(clause)))
        )
    listing = _GITHUB_LIST.search(clause)
    if listing and not create and not comment:
        step = Step(kind=StepKind.GITHUB_LIST_ISSUES, words=squash(clause))
        if re.search(r"\bclosed\b", clause, _F):
            step.params["state"] = "closed"
        label = re.search(r"\blabell?ed\s+[\"'\u201c]?([\w -]+?)[\"'\u201d]?(?:\s|$|,)", clause, _F)
        if label:
            step.params["labels"] = [label.group(1).strip()]
        found.append((listing.start(), step))
    return found


def _slack(clause: str, ctx: Context, mentions: list[Mention]) -> list[Found]:
    found: list[Found] = []
    lowered = clause.lower()
    channels = [c for c in ctx.entities.channels if c in lowered or f"{c[1:]} channel" in lowered]
    for mention in mentions:
        if mention.service.key != "slack":
            continue
        before, after = clause[: mention.start], clause[mention.end :]
        if _SLACK_READ_AFTER.search(after) or _SLACK_READ_BEFORE.search(before):
            step = Step(kind=StepKind.SERVICE, service="slack", words=squash(clause))
            if channels:
                step.params["channel"] = channels[0]
            found.append((mention.start, step))
        else:
            found.append((mention.start, _slack_step(clause, channels)))
    if not found and channels:
        position = clause.lower().find(channels[0][1:])
        found.append((max(position - 1, 0), _slack_step(clause, channels)))
    return found


def _slack_step(clause: str, channels: list[str]) -> Step:
    step = Step(kind=StepKind.SLACK, words=squash(clause))
    if channels:
        step.params["channel"] = channels[0]
    return step


_TO_INBOX = re.compile(r"\b(?:to|into|in)\s+(?:your|my|our|the|their|his|her)\s+inbox\b", _F)


def _email(clause: str, ctx: Context, mentions: list[Mention]) -> list[Found]:
    to_inbox = _TO_INBOX.search(clause)
    if to_inbox:
        return [(to_inbox.start(), Step(kind=StepKind.EMAIL, words=squash(clause)))]
    source = _EMAIL_SOURCE.search(clause)
    if source and not _EMAIL_OUT.search(clause):
        return [
            (source.start(), Step(kind=StepKind.SERVICE, service="gmail_api", words=squash(clause)))
        ]
    addresses = _indexes("EMAIL", clause, ctx.entities.emails)
    out = _EMAIL_OUT.search(clause)
    if out is None and not (
        addresses and _OUTPUT_VERB.search(clause) and not _APPROVAL.search(clause)
    ):
        return []
    step = Step(kind=StepKind.EMAIL, words=squash(clause))
    if addresses:
        step.params["to"] = [ctx.entities.emails[int(i) - 1] for i in addresses]
    position = out.start() if out is not None else clause.find("EMAIL")
    return [(position, step)]


def _services(clause: str, ctx: Context, mentions: list[Mention]) -> list[Found]:
    found: list[Found] = []
    for mention in mentions:
        service = mention.service
        if service.key in NATIVE:
            continue
        before, after = clause[: mention.start], clause[mention.end :]
        acted_on = _ACTION_CUE.search(before)
        if _REFERENCE_AFTER.search(after) and not acted_on:
            continue  # "a link to the Stripe customer page": named, not used
        if service.key == ctx.trigger_source and not acted_on:
            continue  # the events come from it: the trigger is that service
        write_cue = _WRITE_CUE.search(before)
        read_cue = _READ_CUE.search(before)
        if service.write is None:
            write = False
        elif service.read is None:
            write = True
        elif write_cue and read_cue:
            write = write_cue.start() > read_cue.start()
        else:
            write = bool(write_cue) or not read_cue
        if service.write is not None and _WRITE_AFTER.search(after):
            write = True
        step = Step(kind=StepKind.SERVICE, service=service.key, write=write, words=squash(clause))
        found.append((mention.start, step))
    return found


def _fetch(clause: str, ctx: Context, mentions: list[Mention]) -> list[Found]:
    urls = [int(i) for i in _indexes("URL", clause, ctx.entities.urls)]
    verb = _FETCH_VERB.search(clause)
    outgoing = _WEBHOOK_OUT.search(clause)
    found: list[Found] = []
    if outgoing and int(outgoing.group(1)[3:]) in urls:
        index = int(outgoing.group(1)[3:])
        found.append(
            (
                outgoing.start(),
                Step(
                    kind=StepKind.WEBHOOK_OUT,
                    url=ctx.entities.urls[index - 1],
                    words=squash(clause),
                ),
            )
        )
        urls = [u for u in urls if u != index]
    readers = [m for m in mentions if m.service.key not in NATIVE and m.service.read is not None]
    if urls:
        for index in urls:
            position = clause.find(f"URL{index}")
            found.append(
                (
                    verb.start() if verb and verb.start() < position else position,
                    Step(
                        kind=StepKind.FETCH, url=ctx.entities.urls[index - 1], words=squash(clause)
                    ),
                )
            )
    elif verb and not readers and _FETCH_OBJECT.search(clause):
        obj = _FETCH_OBJECT.search(clause)
        assert obj is not None
        if not re.match(r"(?:status|data|results|links?)$", obj.group(0), _F) or re.search(
            r"\bapi\b", clause, _F
        ):
            found.append((verb.start(), Step(kind=StepKind.FETCH, words=squash(clause))))
    return found


def _approval(clause: str, ctx: Context) -> list[Found]:
    match = _APPROVAL.search(clause)
    if not match:
        return []
    step = Step(kind=StepKind.APPROVAL, words=squash(clause))
    approver = _APPROVER.search(clause)
    if approver:
        step.params["approver"] = approver.group(1).lower()
    addresses = _indexes("EMAIL", clause, ctx.entities.emails)
    if addresses:
        step.params["notify"] = {
            "channel": "email",
            "target": ctx.entities.emails[int(addresses[0]) - 1],
        }
    elif re.search(r"\bslack\b", clause, _F) or any(
        c in clause.lower() for c in ctx.entities.channels
    ):
        channel = next((c for c in ctx.entities.channels if c in clause.lower()), None)
        step.params["notify"] = {"channel": "slack", "target": channel or "#approvals"}
    if re.search(
        r"\b(first|beforehand|before\s+(?:it|anything|that|posting|sending|publishing|the\s+\w+\s+(?:is|are)\s+(?:sent|posted|published)))\b",
        clause,
        _F,
    ):
        step.params["position"] = "first"
    return [(match.start(), step)]


def _memory(clause: str, ctx: Context) -> list[Found]:
    found: list[Found] = []
    dedupe = _DEDUPE.search(clause)
    if dedupe:
        found.append((dedupe.start(), Step(kind=StepKind.DEDUPE, words=squash(clause))))
        return found
    remember = _REMEMBER.search(clause)
    if remember and not _CONVERSATION.search(clause):
        found.append((remember.start(), Step(kind=StepKind.REMEMBER, words=squash(clause))))
    return found


def _wait(clause: str, ctx: Context) -> list[Found]:
    match = _WAIT.search(clause)
    if not match:
        return []
    groups = match.groups()
    seconds: float = 86_400
    pairs = [(groups[0], groups[1]), (groups[2], groups[3]), (groups[4], groups[5])]
    for amount, unit in pairs:
        if amount and unit:
            value = number(amount)
            seconds = (value if value else 1) * unit_seconds(unit)
            break
    else:
        word = (groups[6] or ("retry" if "retr" in match.group(0).lower() else "day")).lower()
        if word == "retry":
            ctx.notes.append("A retry waits 60 seconds before checking again")
        seconds = {"day": 86_400, "week": 604_800, "retry": 60}.get(word, 300)
    step = Step(kind=StepKind.WAIT, words=squash(clause), params={"seconds": int(seconds)})
    return [(match.start(), step)]


_MESSAGE_WORDS = re.compile(
    r"\b(channel|message|alert|notification|announcement|instructions|reminder)s?\b", _F
)


def _notify(clause: str, ctx: Context) -> list[Found]:
    match = _NOTIFY.search(clause)
    if not match:
        # "sends a link ... and pins instructions in the team channel": a message somewhere.
        verb = _OUTPUT_VERB.search(clause)
        if (
            verb is None
            or not _MESSAGE_WORDS.search(clause)
            or (
                re.search(r"\bpins?\b", clause, _F) is None
                and not re.search(r"\bchannel\b", clause, _F)
            )
        ):
            return []
        match = verb
    return [
        (match.start(), Step(kind=StepKind.SLACK, words=squash(clause), params={"generic": True}))
    ]


Detector = Callable[[str, Context], list[Found]]
MentionDetector = Callable[[str, Context, list[Mention]], list[Found]]
_PLAIN: tuple[Detector, ...] = (_github, _ai, _approval, _memory, _wait)
_WITH_MENTIONS: tuple[MentionDetector, ...] = (_slack, _email, _services, _fetch)


def find_actions(clause: str, ctx: Context) -> list[Step]:
    """The steps `clause` asks for, in text order (see the module doc)."""
    mentions = find_services(clause)
    found: list[Found] = []
    for detector in _PLAIN:
        found.extend(detector(clause, ctx))
    for mention_detector in _WITH_MENTIONS:
        found.extend(mention_detector(clause, ctx, mentions))
    if not any(
        step.kind in OUTPUT_KINDS or (step.kind is StepKind.SERVICE and step.write)
        for _, step in found
    ):
        found.extend(_notify(clause, ctx))
    found.sort(key=lambda f: f[0])
    return _prune([step for _, step in found])


def _prune(steps: list[Step]) -> list[Step]:
    """Drop what another step already covers."""
    kinds = {s.kind for s in steps}
    kept: list[Step] = []
    for step in steps:
        if step.kind is StepKind.FETCH and StepKind.GITHUB_LIST_ISSUES in kinds and not step.url:
            continue
        if (
            step.kind is StepKind.SERVICE
            and step.service == "gmail_api"
            and StepKind.EMAIL in kinds
        ):
            continue
        if (
            step.kind is StepKind.SERVICE
            and step.service == "rss"
            and any(s.kind is StepKind.FETCH and s.url for s in steps)
        ):
            continue
        duplicate = any(
            k.kind == step.kind
            and k.service == step.service
            and k.write == step.write
            and k.url == step.url
            and k.params.get("channel") == step.params.get("channel")
            and k.params.get("to") == step.params.get("to")
            for k in kept
        )
        if duplicate:
            continue
        if (
            step.kind in AI_KINDS
            and any(k.kind in AI_KINDS for k in kept)
            and step.kind is StepKind.AI_GENERATE
        ):
            continue
        kept.append(step)
    return kept


def ai_provider_named(text: str) -> bool:
    return bool(_AI_PROVIDER.search(text))


def conversation_memory(text: str) -> bool:
    return bool(_CONVERSATION.search(text))


def service_name(key: str | None) -> str:
    return BY_KEY[key].name if key in BY_KEY else "the service"
