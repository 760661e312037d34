"""`Understanding` -> `Draft`: nodes with readable ids, parameters, expressions and edges.

The builder walks the steps in order, keeping the open ends of the flow (`tails`: node and output
port) and where the data is (`DataRef`). Every step attaches to all current tails, so:
- a condition's branches both lead on to the rest of the flow; a branch with no steps leaves
  from the IF's own port (`false` with no else), and a condition that ends the flow leaves its
  empty `false` port unconnected;
- an approval goes on from `approved`; a loop's body leads back to the LOOP and the flow goes on
  from `done`;
- a condition on "how many" first counts the items with an ACTION/SET node (`{count, items}`),
  so the IF tests `input.count` and later steps read `items`.
Ids are kebab-case and say what the node does (`fetch-issues`, `post-to-slack`); a repeat gets
`-2`.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from pydantic import JsonValue

from flowlane.agent.draft import Draft, DraftEdge, DraftNode
from flowlane.agent.offline import prompts
from flowlane.agent.offline.data_refs import (
    DataRef,
    Shape,
    Tail,
    item_data,
    manual_data,
    node_ref,
    template,
    webhook_data,
)
from flowlane.agent.offline.lexicon import sentence_case, slug
from flowlane.agent.offline.model import (
    AI_KINDS,
    ConditionSpec,
    Step,
    StepKind,
    TriggerKind,
    Understanding,
)
from flowlane.agent.offline.services import BY_KEY, Service
from flowlane.models.workflow import NodeType

PLACEHOLDER_URL = "https://api.example.com/data"
PLACEHOLDER_APPROVER = "manager@example.com"
_URL_ITEMS = frozenset({"url", "site", "website", "link", "page", "feed", "endpoint", "domain"})
_IF_STOP = frozenset(
    {
        "if",
        "only",
        "when",
        "whenever",
        "unless",
        "there",
        "are",
        "is",
        "the",
        "a",
        "an",
        "it",
        "its",
        "s",
        "we",
        "have",
        "they",
        "re",
    }
)
# Request bodies of services whose API wants a particular shape; TEXT is the message.
_WRITE_BODIES: dict[str, dict[str, JsonValue]] = {
    "discord": {"content": "TEXT"},
    "telegram": {"chat_id": "YOUR_CHAT_ID", "text": "TEXT"},
    "teams": {"text": "TEXT"},
    "whatsapp": {
        "messaging_product": "whatsapp",
        "to": "RECIPIENT_NUMBER",
        "type": "text",
        "text": {"body": "TEXT"},
    },
    "twilio": {"From": "YOUR_TWILIO_NUMBER", "To": "RECIPIENT_NUMBER", "Body": "TEXT"},
    "mastodon": {"status": "TEXT"},
    "twitter": {"text": "TEXT"},
    "notion": {
        "parent": {"database_id": "YOUR_DATABASE_ID"},
        "properties": {"Name": {"title": [{"text": {"content": "TEXT"}}]}},
    },
    "airtable": {"records": [{"fields": {"Name": "TEXT", "Details": "DATA"}}]},
    "google_sheets": {"values": [["TEXT", "DATA"]]},
    "linear": {
        "query": "mutation($input: IssueCreateInput!) { issueCreate(input: $input) { success } }",
        "variables": {"input": {"teamId": "YOUR_TEAM_ID", "title": "TEXT"}},
    },
    "monday": {
        "query": 'mutation { create_item (board_id: YOUR_BOARD_ID, item_name: "New item") { id } }'
    },
    "jira": {
        "fields": {
            "project": {"key": "YOUR_PROJECT"},
            "summary": "TEXT",
            "issuetype": {"name": "Task"},
        }
    },
}


def compose(understanding: Understanding) -> Draft:
    """The draft of what `understanding` describes (see the module doc). Deterministic."""
    return _Builder(understanding).build()


class _Builder:
    def __init__(self, u: Understanding) -> None:
        self.u = u
        self.nodes: list[DraftNode] = []
        self.edges: list[DraftEdge] = []
        self.missing: list[str] = []
        self.notes: list[str] = []
        self.http_node: str | None = None
        self.classified: DataRef | None = None
        self.remember_seen: tuple[str, str, str] | None = None  # (recall id, keep id, key)
        self.heading = u.title

    # -- plumbing ------------------------------------------------------------------------------

    def _id(self, hint: str) -> str:
        base = slug(hint, 40).strip("-") or "step"
        if not base[0].isalnum():
            base = f"n-{base}"
        taken = {n.id for n in self.nodes}
        candidate, n = base, 2
        while candidate in taken:
            candidate = f"{base}-{n}"
            n += 1
        return candidate

    def add(
        self,
        hint: str,
        name: str,
        node_type: NodeType,
        subtype: str,
        parameters: dict[str, JsonValue],
        tails: list[Tail],
        *,
        credentials: dict[str, str] | None = None,
        retry: int | None = None,
    ) -> str:
        node_id = self._id(hint)
        self.nodes.append(
            DraftNode(
                id=node_id,
                name=sentence_case(name)[:255] or node_id,
                type=node_type,
                subtype=subtype,
                parameters=parameters,
                credentials=credentials or {},
                retry_max_tries=retry,
            )
        )
        self.connect(tails, node_id)
        return node_id

    def connect(self, tails: list[Tail], target: str, kind: str = "main") -> None:
        for source, port in tails:
            edge = DraftEdge(source=source, target=target, port=port, kind=kind)
            if edge not in self.edges:
                self.edges.append(edge)

    def node(self, node_id: str) -> DraftNode:
        return next(n for n in self.nodes if n.id == node_id)

    # -- the whole -----------------------------------------------------------------------------

    def build(self) -> Draft:
        trigger_id, data = self.trigger()
        tails, _ = self.chain(self.u.steps, [(trigger_id, "main")], data)
        if self.remember_seen is not None:
            self.remember(tails)
        zone = self.u.trigger.timezone or "UTC"
        tags = [slug(s, 64) for s in self.u.services if s != "AI"][:5]
        return Draft(
            name=(self.u.title or "New workflow")[:255],
            description=self.u.description[:1000],
            timezone=zone,
            nodes=self.nodes,
            edges=self.edges,
            missing_info=list(dict.fromkeys([*self.u.missing_info, *self.missing])),
            suggestions=list(
                dict.fromkeys([*self.u.assumptions, *self.u.suggestions, *self.notes])
            ),
            tags=[t for t in tags if t],
        )

    def trigger(self) -> tuple[str, DataRef | None]:
        spec = self.u.trigger
        if spec.kind is TriggerKind.SCHEDULE:
            assert spec.expression is not None
            hint = spec.label.split(" at ")[0].split(" (")[0]
            node_id = self.add(
                hint,
                spec.label,
                NodeType.TRIGGER,
                "SCHEDULE",
                {"expression": spec.expression, "timezone": spec.timezone or "UTC"},
                [],
            )
            return node_id, None
        if spec.kind is TriggerKind.WEBHOOK:
            assert spec.path is not None
            node_id = self.add(
                spec.path,
                spec.label,
                NodeType.TRIGGER,
                "WEBHOOK",
                {"path": spec.path, "method": spec.method, "response_mode": "immediate"},
                [],
            )
            return node_id, webhook_data()
        return self.add("start", "Run now", NodeType.TRIGGER, "MANUAL", {}, []), manual_data()

    def chain(
        self, steps: list[Step], tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        # Outputs named together ("email and Slack alerts are sent") leave from the same place.
        together: tuple[str, list[Tail], list[Tail]] | None = None  # (words, tails before, ends)
        for step in steps:
            output = step.kind in (StepKind.SLACK, StepKind.EMAIL, StepKind.WEBHOOK_OUT) or (
                step.kind is StepKind.SERVICE and step.write
            )
            if output and together is not None and together[0] == step.words:
                ends, _ = self.step(step, together[1], data)
                tails = together[2] + ends
                together = (step.words, together[1], tails)
                continue
            before = tails
            tails, data = self.step(step, tails, data)
            together = (step.words, before, tails) if output else None
        return tails, data

    def step(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        kind = step.kind
        if kind is StepKind.CONDITION:
            return self.condition(step, tails, data)
        if kind is StepKind.LOOP:
            return self.loop(step, tails, data)
        if kind in AI_KINDS:
            return self.ai(step, tails, data)
        handler = {
            StepKind.FETCH: self.fetch,
            StepKind.GITHUB_LIST_ISSUES: self.github_list,
            StepKind.GITHUB_CREATE_ISSUE: self.github_create,
            StepKind.GITHUB_ADD_COMMENT: self.github_comment,
            StepKind.APPROVAL: self.approval,
            StepKind.REMEMBER: self.keep_value,
            StepKind.DEDUPE: self.dedupe,
            StepKind.SLACK: self.slack,
            StepKind.EMAIL: self.email,
            StepKind.WEBHOOK_OUT: self.webhook_out,
            StepKind.WAIT: self.wait,
            StepKind.SERVICE: self.service,
        }[kind]
        return handler(step, tails, data)

    # -- text helpers --------------------------------------------------------------------------

    def message(self, data: DataRef | None, tails: list[Tail]) -> str:
        """A message about the data: the AI text, a classification, or the data itself."""
        if data is None:
            return self.heading
        if data.shape == "text":
            return f"{self.heading}\n{template(data.expr(tails))}"
        if self.classified is not None and data.node == self.classified.node:
            value = data.expr(tails)
            return f"{self.heading}: {template(value + '.label')}\n{template(value + '.reason')}"
        if data.shape == "list":
            return f"{self.heading} ({template(data.count(tails))})\n{template(data.text(tails))}"
        return f"{self.heading}\n{template(data.text(tails))}"

    # -- sources -------------------------------------------------------------------------------

    def fetch(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        url = step.url
        if url is None and data is not None and data.origin == "item" and data.noun in _URL_ITEMS:
            url = template("item.url ? item.url : item")
        if url is None:
            url = PLACEHOLDER_URL
        host = (
            urlparse(url).hostname or ""
            if not url.startswith("{{")
            else data.noun
            if data
            else "item"
        )
        words = step.words.lower()
        what = next(
            (
                w
                for w in ("feed", "weather", "prices", "news", "status", "health", "page", "site")
                if w in words
            ),
            None,
        )
        verb = (
            "check"
            if re.search(r"\b(check|monitor|ping|health|status|up|down)\b", words)
            else "fetch"
        )
        hint = f"{verb} {what or _host_word(host) or 'data'}"
        params: dict[str, JsonValue] = {"method": "GET", "url": url, "timeout_seconds": 30}
        node_id = self.add(
            hint,
            f"{verb} {what or _host_word(host) or 'data'}",
            NodeType.ACTION,
            "HTTP_REQUEST",
            params,
            tails,
        )
        self.http_node = node_id
        shape: Shape = (
            "text" if re.search(r"\b(rss|feed|xml|html|page|website|site)\b", words) else "object"
        )
        noun = "feed items" if "feed" in words or "rss" in words else "data"
        return [(node_id, "main")], DataRef(node_id, "body", shape, noun)

    def github_list(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        state = str(step.params.get("state", "open"))
        params: dict[str, JsonValue] = {
            "operation": "list_issues",
            "owner": step.params.get("owner", "your-org"),
            "repo": step.params.get("repo", "your-repo"),
            "state": state,
            "per_page": 100,
        }
        if step.params.get("labels"):
            params["labels"] = step.params["labels"]
        node_id = self.add(
            f"fetch {state} issues" if state != "open" else "fetch issues",
            f"Fetch {state} issues",
            NodeType.EXTERNAL_ACTION,
            "GITHUB",
            params,
            tails,
            credentials={"github": "github-token"},
            retry=3,
        )
        return [(node_id, "main")], DataRef(node_id, "", "list", f"{state} issues", issues=True)

    def service(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        service = BY_KEY[step.service or "database"]
        endpoint = service.write if step.write else service.read
        if endpoint is None:
            endpoint = service.write or service.read
        assert endpoint is not None
        url = endpoint.url
        if service.key == "slack" and step.params.get("channel"):
            self.notes.append(
                f"Reading {step.params['channel']} needs its channel id in the URL, not its name"
            )
        params: dict[str, JsonValue] = {
            "method": endpoint.method,
            "url": url,
            "timeout_seconds": 30,
        }
        if service.headers:
            params["headers"] = dict(service.headers)
        credentials = (
            {"http": "slack-bot"}
            if service.key == "slack"
            else ({"http": service.credential} if service.credential else {})
        )
        if step.write:
            params["body"] = self.write_body(service, data, tails)
            verb = _write_verb(service)
            hint, name = f"{verb} {service.key}", f"{verb} {service.name}"
        else:
            if endpoint.method == "POST":
                params["body"] = {}
            hint, name = f"read {service.key}", f"Read from {service.name}"
        node_id = self.add(
            hint, name, NodeType.ACTION, "HTTP_REQUEST", params, tails, credentials=credentials
        )
        if step.write:
            return [(node_id, "main")], data
        self.http_node = node_id
        path = {
            "slack": "body.messages",
            "gmail_api": "body.messages",
            "airtable": "body.records",
            "notion": "body.results",
            "google_sheets": "body.values",
            "hubspot": "body.results",
            "reddit": "body.data.children",
        }.get(service.key, "body")
        shape: Shape = "list" if path != "body" else ("text" if service.key == "rss" else "object")
        return [(node_id, "main")], DataRef(node_id, path, shape, _plural(service.noun))

    def write_body(self, service: Service, data: DataRef | None, tails: list[Tail]) -> JsonValue:
        text = self.message(data, tails)
        raw = template(data.expr(tails)) if data is not None else text
        shape = _WRITE_BODIES.get(service.key)
        if shape is None:
            return {"data": raw, "text": text} if data is not None else {"text": text}

        def fill(value: JsonValue) -> JsonValue:
            if value == "TEXT":
                return text
            if value == "DATA":
                return raw
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        return fill(shape)

    # -- AI ------------------------------------------------------------------------------------

    def ai(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        kind = step.kind
        noun = data.noun if data is not None else "request"
        text = data.text(tails) if data is not None else None
        count = data.count(tails) if data is not None and data.shape == "list" else None
        params: dict[str, JsonValue] = {
            "system_prompt": prompts.SYSTEM_PROMPTS[kind],
            "prompt": prompts.prompt(step, noun, text, count),
            "max_tokens": prompts.MAX_TOKENS[kind],
            "temperature": 0 if kind in (StepKind.AI_CLASSIFY, StepKind.AI_EXTRACT) else 0.3,
        }
        if kind in (StepKind.AI_CLASSIFY, StepKind.AI_EXTRACT):
            params["output_format"] = "json"
        short = {
            StepKind.AI_SUMMARISE: ("summarise", "Summarise"),
            StepKind.AI_CLASSIFY: ("classify", "Classify"),
            StepKind.AI_EXTRACT: ("extract", "Extract fields from"),
            StepKind.AI_TRANSLATE: ("translate", "Translate"),
            StepKind.AI_GENERATE: ("write", "Write"),
        }[kind]
        object_word = _noun_word(noun)
        if kind is StepKind.AI_GENERATE:
            object_word = _generated_thing(step.words)
        node_id = self.add(
            f"{short[0]} {object_word}",
            f"{short[1]} {object_word}",
            NodeType.AI_AGENT,
            "CHAT",
            params,
            tails,
        )
        if step.params.get("memory") == "conversation":
            memory: dict[str, JsonValue] = {"operation": "read", "max_messages": 20}
            if self.u.trigger.kind is TriggerKind.WEBHOOK:
                memory["conversation_id"] = template("trigger.body.user_id")
                self.notes.append(
                    "The conversation memory is kept per trigger.body.user_id (the workflow's"
                    " own when "
                    "absent); point it at your chat's user or chat id"
                )
            memory_id = self.add(
                "chat memory", "Conversation memory", NodeType.MEMORY, "CONVERSATION", memory, []
            )
            self.connect([(memory_id, "main")], node_id, kind="ai_memory")
        if kind in (StepKind.AI_CLASSIFY, StepKind.AI_EXTRACT):
            ref = DataRef(node_id, "data", "object", noun)
            if kind is StepKind.AI_CLASSIFY:
                self.classified = ref
            return [(node_id, "main")], ref
        return [(node_id, "main")], DataRef(node_id, "text", "text", noun)

    # -- flow ----------------------------------------------------------------------------------

    def condition(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        spec = step.condition
        assert spec is not None
        if spec.subject == "label" and self.classified is None:
            spec = spec.model_copy(update={"subject": "text"})
        if spec.subject == "count":
            source = data or manual_data()
            noun = source.noun
            count_id = self.add(
                f"count {_noun_word(noun)}",
                f"Count {noun}",
                NodeType.ACTION,
                "SET",
                {
                    "values": {
                        "count": template(source.count(tails)),
                        "items": template(source.expr(tails)),
                    }
                },
                tails,
            )
            tails = [(count_id, "main")]
            data = DataRef(count_id, "items", "list", noun, issues=source.issues)
            left = template("input.count")
        else:
            left = self.subject(spec, data, tails)
        right: JsonValue = spec.value
        if spec.subject == "text" and isinstance(right, str):
            right = right.lower()
        condition: dict[str, JsonValue] = {"left": left, "op": spec.op}
        if spec.op not in ("is_empty", "is_not_empty", "is_true", "is_false"):
            condition["right"] = right
        words = [w for w in re.findall(r"[\w$]+", spec.words.lower()) if w not in _IF_STOP]
        if_id = self.add(
            " ".join(words[:5]) or "check",
            sentence_case(spec.words).rstrip("?") + "?",
            NodeType.FLOW,
            "IF",
            {"conditions": [condition], "combinator": "and"},
            tails,
        )
        then_tails, _ = self.chain(step.then, [(if_id, "true")], data)
        else_tails, _ = self.chain(step.otherwise, [(if_id, "false")], data)
        return then_tails + else_tails, data

    def subject(self, spec: ConditionSpec, data: DataRef | None, tails: list[Tail]) -> str:
        if spec.subject == "status":
            if self.http_node is None:
                return template(f"$lowercase({(data or manual_data()).text(tails)})")
            node = self.node(self.http_node)
            node.parameters["fail_on_status"] = False  # a down site must not fail the check
            return template(f"{node_ref(self.http_node)}.status_code")
        if spec.subject == "label" and self.classified is not None:
            return template(f"{self.classified.expr(tails)}.label")
        source = data or manual_data()
        if spec.subject == "field" and spec.field:
            if source.shape == "text":
                return template(f"$lowercase({source.text(tails)})")
            return template(f"{source.expr(tails)}.{spec.field}")
        return template(f"$lowercase({source.text(tails)})")

    def loop(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        item = str(step.params.get("item", "item"))
        if data is None:
            items = "input"
            self.missing.append(
                f"What list to go through for each {item} (the loop reads its input)"
            )
        elif data.shape == "text":
            items = data.expr(tails)
            self.notes.append(
                f"The loop goes through the {data.noun}: check that it is a list (a feed's XML"
                f" must be parsed first)"
            )
        else:
            items = data.expr(tails)
        loop_id = self.add(
            f"for each {item}",
            f"For each {item}",
            NodeType.FLOW,
            "LOOP",
            {"items": template(items), "max_concurrency": 1},
            tails,
        )
        body_tails, _ = self.chain(step.body, [(loop_id, "each")], item_data(item))
        self.connect([t for t in body_tails if t[0] != loop_id], loop_id)
        return [(loop_id, "done")], DataRef(loop_id, "", "list", f"{item} results")

    def approval(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        approver = str(step.params.get("approver", "approver"))
        notify = step.params.get("notify") or {"channel": "email", "target": PLACEHOLDER_APPROVER}
        if data is not None and data.shape == "list":
            message = (
                f"{template(data.count(tails))} {data.noun} are waiting. {self.heading}: go ahead?"
            )
        else:
            message = f"{self.heading}: go ahead?"
        params: dict[str, JsonValue] = {
            "message": message,
            "timeout_seconds": 86_400,
            "notify": notify,
        }
        hint = f"{approver} approves" if approver != "approver" else "ask for approval"
        node_id = self.add(
            hint,
            f"{approver.capitalize()} approves" if approver != "approver" else "Ask for approval",
            NodeType.HUMAN_IN_THE_LOOP,
            "APPROVAL",
            params,
            tails,
        )
        return [(node_id, "approved")], data

    def wait(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        seconds = int(step.params.get("seconds", 60))  # type: ignore[arg-type]
        label = _duration(seconds)
        node_id = self.add(
            f"wait {label}", f"Wait {label}", NodeType.FLOW, "WAIT", {"seconds": seconds}, tails
        )
        return [(node_id, "main")], data

    def dedupe(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        source = data or manual_data()
        noun = _noun_word(source.noun)
        key = f"seen-{slug(noun, 30) or 'items'}"
        recall = self.add(
            f"recall seen {noun}",
            f"Recall {noun} already seen",
            NodeType.MEMORY,
            "KEY_VALUE",
            {"operation": "get", "key": key, "scope": "workflow"},
            tails,
        )
        seen = f"({node_ref(recall)}.value ? {node_ref(recall)}.value : [])"
        keep_preds: list[Tail] = [(recall, "main")]
        items = source.expr(keep_preds)
        keep = self.add(
            f"keep new {noun}",
            f"Keep only new {noun}",
            NodeType.ACTION,
            "SET",
            {
                "values": {
                    "items": template(
                        f"[$filter({items}, function($v) {{ $not({_FINGERPRINT} in {seen}) }})]"
                    )
                }
            },
            keep_preds,
        )
        self.remember_seen = (recall, keep, key)
        return [(keep, "main")], DataRef(keep, "items", "list", source.noun, issues=source.issues)

    def remember(self, tails: list[Tail]) -> None:
        assert self.remember_seen is not None
        recall, keep, key = self.remember_seen
        value = (
            f"$append(({node_ref(recall)}.value ? {node_ref(recall)}.value : []), "
            f"$map({node_ref(keep)}.items, function($v) {{ {_FINGERPRINT} }}))"
        )
        self.add(
            "remember seen",
            "Remember what was handled",
            NodeType.MEMORY,
            "KEY_VALUE",
            {"operation": "set", "key": key, "value": template(value), "scope": "workflow"},
            tails,
        )

    def keep_value(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        source = data or manual_data()
        noun = _noun_word(source.noun)
        last = re.search(
            r"\b(last|previous|snapshot|state|counter|count|baseline)\b", step.words, re.IGNORECASE
        )
        params: dict[str, JsonValue] = {
            "operation": "set" if last else "append",
            "key": f"last-{slug(noun, 30)}" if last else f"{slug(noun, 30)}-history",
            "value": template(source.expr(tails)),
            "scope": "workflow",
        }
        node_id = self.add(
            f"remember {noun}", f"Remember the {noun}", NodeType.MEMORY, "KEY_VALUE", params, tails
        )
        return [(node_id, "main")], data

    # -- outputs -------------------------------------------------------------------------------

    def slack(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        channel = str(step.params.get("channel", "#general"))
        hint = "post to slack" if not self._has_subtype("SLACK") else f"post to {channel}"
        node_id = self.add(
            hint,
            f"Post to Slack {channel}",
            NodeType.EXTERNAL_ACTION,
            "SLACK",
            {"operation": "post_message", "channel": channel, "text": self.message(data, tails)},
            tails,
            credentials={"slack": "slack-bot"},
        )
        return [(node_id, "main")], data

    def email(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        to = step.params.get("to") or ["team@example.com"]
        assert isinstance(to, list)
        first = str(to[0])
        local = first.split("@")[0]
        hint = f"email {local}" if local not in ("team", "you", "me") else "send email"
        node_id = self.add(
            hint,
            f"Email {first}",
            NodeType.EXTERNAL_ACTION,
            "EMAIL",
            {
                "to": to,
                "subject": self.heading[:200] or "Workflow update",
                "body": self.message(data, tails),
            },
            tails,
        )
        return [(node_id, "main")], data

    def webhook_out(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        body: dict[str, JsonValue] = {"text": self.message(data, tails)}
        if data is not None:
            body["data"] = template(data.expr(tails))
        node_id = self.add(
            "post to webhook",
            "Post to webhook",
            NodeType.EXTERNAL_ACTION,
            "WEBHOOK",
            {"url": step.url or PLACEHOLDER_URL, "body": body},
            tails,
        )
        return [(node_id, "main")], data

    def github_create(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        if data is not None and data.shape == "text":
            title = template(f'$substring($substringBefore({data.expr(tails)}, "\\n"), 0, 120)')
        elif data is not None:
            title = template(f"$substring({data.text(tails)}, 0, 80)")
        else:
            title = self.heading
        params: dict[str, JsonValue] = {
            "operation": "create_issue",
            "owner": step.params.get("owner", "your-org"),
            "repo": step.params.get("repo", "your-repo"),
            "title": title,
            "body": self.message(data, tails),
        }
        node_id = self.add(
            "create issue",
            "Create GitHub issue",
            NodeType.EXTERNAL_ACTION,
            "GITHUB",
            params,
            tails,
            credentials={"github": "github-token"},
        )
        return [(node_id, "main")], data

    def github_comment(
        self, step: Step, tails: list[Tail], data: DataRef | None
    ) -> tuple[list[Tail], DataRef | None]:
        number: JsonValue = (
            template("trigger.body.issue.number") if self.u.trigger.source == "github" else 1
        )
        params: dict[str, JsonValue] = {
            "operation": "add_comment",
            "owner": step.params.get("owner", "your-org"),
            "repo": step.params.get("repo", "your-repo"),
            "issue_number": number,
            "body": self.message(data, tails),
        }
        node_id = self.add(
            "comment on issue",
            "Comment on the GitHub issue",
            NodeType.EXTERNAL_ACTION,
            "GITHUB",
            params,
            tails,
            credentials={"github": "github-token"},
        )
        return [(node_id, "main")], data

    def _has_subtype(self, subtype: str) -> bool:
        return any(n.subtype == subtype for n in self.nodes)


_FINGERPRINT = "($v.id ? $string($v.id) : ($v.url ? $v.url : ($v.link ? $v.link : $string($v))))"


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return f"{noun[:-1]}ies"
    return noun if noun.endswith("s") else f"{noun}s"


def _host_word(host: str) -> str:
    parts = [
        p
        for p in host.split(".")
        if p not in ("www", "api", "com", "org", "net", "io", "dev", "co", "app", "v1")
    ]
    return parts[0] if parts else ""


def _noun_word(noun: str) -> str:
    return noun.split(" ")[-1] if noun else "items"


def _generated_thing(words: str) -> str:
    match = re.search(
        r"\b(reply|replies|response|answer|post|caption|description|newsletter|article|email|message|draft|report|"
        r"quote|content|summary|welcome|analysis|research|score)\b",
        words,
        re.IGNORECASE,
    )
    return match.group(1).lower() if match else "answer"


def _write_verb(service: Service) -> str:
    if service.noun in ("message", "SMS", "toot", "post"):
        return "post to"
    return "add to"


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            value = seconds // size
            return f"{value} {unit}{'' if value == 1 else 's'}"
    return f"{seconds} seconds"
