"""EXTERNAL_ACTION: Slack, email, GitHub and outgoing webhooks (CONTRACT.md section 3).

Every HTTP call goes through `flowlane.nodes.http.perform_request`, so the egress policy, the
time limits, the response size cap and the error mapping are the same as HTTP_REQUEST's. Base URLs
(Slack, GitHub) and the email sender are settings (`IntegrationSettings`), so tests point them at
local servers.

Credentials are stored values looked up by name (`flowlane.store.credentials`); a node names them
in `credentials`:

- SLACK: `{"slack": NAME}`; the value is a bot token string, `{"token": ...}` or
  `{"bot_token": ...}`.
- GITHUB: `{"github": NAME}`; the value is a token string or `{"token": ...}`.
- WEBHOOK: optional, `{"webhook": NAME}` or `{"http": NAME}`, applied like HTTP_REQUEST's.

When SLACK or GITHUB names no credential under its key, the node's only credential is used, else
the credential named `slack` / `github` (so `FLOWLANE_CREDENTIAL_SLACK` works locally without any
setup). EMAIL needs none: SES sends as `IntegrationSettings.email_sender`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, JsonValue, field_validator, model_validator

from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node, NodeContext, NodeError, NodeParameters, NodeResult
from flowlane.nodes.http import (
    MIN_REDACTED_LENGTH,
    TIMEOUT_MARGIN_SECONDS,
    AppliedCredential,
    Headers,
    TimeoutSeconds,
    credential_name,
    node_http_credential,
    perform_request,
)
from flowlane.nodes.registry import register

if TYPE_CHECKING:
    from flowlane.config import EngineSettings

# Slack and GitHub answer in well under a second; this bounds a hung connection.
API_TIMEOUT_SECONDS = 30.0
# SES accepts at most 50 recipients per message.
MAX_RECIPIENTS = 50
GITHUB_API_VERSION = "2022-11-28"


def _api_credential(ctx: NodeContext, service: str, keys: tuple[str, ...]) -> AppliedCredential:
    """The bearer token of the credential the node names for `service` (see the module doc)."""
    name = credential_name(ctx.node, (service,)) or service
    value = ctx.services.credentials(ctx.owner).get(name)
    token: Any = value
    if isinstance(value, Mapping):
        token = next((value[k] for k in keys if isinstance(value.get(k), str)), None)
    if not isinstance(token, str) or not token.strip() or not token.isascii():
        wanted = " or ".join(f'{{"{k}": ...}}' for k in keys)
        raise NodeError(
            "VALIDATION_ERROR",
            f"credential {name!r} is not usable for {service}: expected a token string or {wanted}",
            {"name": name},
        )
    token = token.strip()
    return AppliedCredential(
        name=name,
        headers={"Authorization": f"Bearer {token}"},
        secrets=(token,) if len(token) >= MIN_REDACTED_LENGTH else (),
    )


def _needs(operation: str, missing: list[str]) -> None:
    if missing:
        fields = ", ".join(f"`{m}`" for m in missing)
        raise ValueError(f"operation {operation} needs {fields}")


# -- SLACK ---------------------------------------------------------------------------------------


class SlackParameters(NodeParameters):
    operation: Annotated[Literal["post_message"], Field(description="What to do")] = "post_message"
    channel: Annotated[str, Field(description="Channel id or name, e.g. C0123 or #general")] = ""
    text: Annotated[str, Field(description="Message text (mrkdwn); the fallback with blocks")] = ""
    blocks: Annotated[
        list[dict[str, JsonValue]] | None, Field(description="Block Kit blocks (optional)")
    ] = None
    thread_ts: Annotated[str | None, Field(description="Reply in this thread (optional)")] = None

    @model_validator(mode="after")
    def _required_fields(self) -> SlackParameters:
        if self.operation == "post_message":
            missing = [] if self.channel.strip() else ["channel"]
            if not self.text.strip() and not self.blocks:
                missing.append("text")
            _needs(self.operation, missing)
        return self


@register
class SlackNode(Node[SlackParameters]):
    type = NodeType.EXTERNAL_ACTION
    subtype = "SLACK"
    title = "Slack"
    description = "Post a message to a Slack channel with a bot token; outputs Slack's response."
    parameters_model = SlackParameters

    def timeout_seconds(self, parameters: SlackParameters, settings: EngineSettings) -> float:
        return API_TIMEOUT_SECONDS + TIMEOUT_MARGIN_SECONDS

    def run(self, ctx: NodeContext, params: SlackParameters) -> NodeResult:
        credential = _api_credential(ctx, "slack", ("token", "bot_token"))
        payload: dict[str, Any] = {"channel": params.channel.strip(), "text": params.text}
        if params.blocks:
            payload["blocks"] = params.blocks
        if params.thread_ts:
            payload["thread_ts"] = params.thread_ts
        base = ctx.services.integrations.slack_base_url.rstrip("/")
        response = perform_request(
            ctx,
            method="POST",
            url=f"{base}/chat.postMessage",
            # Without the charset Slack answers ok with a `missing_charset` warning.
            headers={"Content-Type": "application/json; charset=utf-8"},
            body=payload,
            timeout=API_TIMEOUT_SECONDS,
            fail_on_status=False,
            credential=credential,
            service="slack",
        )
        status, body = response["status_code"], response["body"]
        # Slack reports most failures as 200 with {"ok": false, "error": "channel_not_found"}.
        if status >= 400 or not isinstance(body, dict) or body.get("ok") is not True:
            error = body.get("error") if isinstance(body, dict) else None
            error = str(error) if error else f"HTTP {status}"
            raise NodeError(
                "UPSTREAM_ERROR",
                f"Slack refused the message: {error}",
                {"service": "slack", "status": status, "error": error},
            )
        return NodeResult(body)


# -- EMAIL ---------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"^(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64})@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}))$"
)


def _valid_address(address: str) -> bool:
    match = _EMAIL.match(address)
    if match is None or len(address) > 254:
        return False
    local = match.group("local")
    return not (local.startswith(".") or local.endswith(".") or ".." in local)


def _split_recipients(value: object) -> object:
    # "a@x.com, b@y.com" is a natural thing to write, or for an expression to build.
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    if isinstance(value, list):
        result: list[object] = []
        for item in value:
            item = item.strip() if isinstance(item, str) else item
            if item != "" and item not in result:
                result.append(item)
        return result
    return value


class EmailParameters(NodeParameters):
    to: Annotated[
        list[str],
        BeforeValidator(_split_recipients),
        Field(description="Recipient address, or a list (or a comma-separated text) of them"),
    ]
    subject: Annotated[str, Field(min_length=1, max_length=998, description="Subject line")]
    body: Annotated[str, Field(description="Plain-text body")] = ""

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one recipient address is required")
        if len(value) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients per message")
        invalid = [a for a in value if not _valid_address(a)]
        if invalid:
            listed = ", ".join(repr(a) for a in invalid[:5])
            raise ValueError(f"invalid email address {listed} (expected name@example.com)")
        return value

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # A line break in a subject is a header injection attempt or an expression's accident.
        line = " ".join(value.split())
        if not line:
            raise ValueError("the subject must not be blank")
        return line


@register
class EmailNode(Node[EmailParameters]):
    type = NodeType.EXTERNAL_ACTION
    subtype = "EMAIL"
    title = "Email"
    description = "Send a plain-text email with Amazon SES; outputs {message_id}."
    parameters_model = EmailParameters

    def run(self, ctx: NodeContext, params: EmailParameters) -> NodeResult:
        message_id = ctx.services.send_email(
            sender=ctx.services.integrations.email_sender,
            to=params.to,
            subject=params.subject,
            body=params.body,
        )
        return NodeResult({"message_id": message_id})


# -- GITHUB --------------------------------------------------------------------------------------

_GITHUB_OWNER = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
_GITHUB_REPO = r"^[A-Za-z0-9._-]{1,100}$"


class GithubParameters(NodeParameters):
    operation: Annotated[
        Literal["create_issue", "list_issues", "add_comment"], Field(description="What to do")
    ] = "create_issue"
    owner: Annotated[str, Field(pattern=_GITHUB_OWNER, description="User or organisation")]
    repo: Annotated[str, Field(pattern=_GITHUB_REPO, description="Repository name")]
    title: Annotated[str | None, Field(description="create_issue: the title")] = None
    body: Annotated[str | None, Field(description="create_issue, add_comment: the text")] = None
    labels: Annotated[list[str], Field(description="create_issue, list_issues: labels")] = Field(
        default_factory=list
    )
    assignees: Annotated[list[str], Field(description="create_issue: logins")] = Field(
        default_factory=list
    )
    state: Annotated[
        Literal["open", "closed", "all"], Field(description="list_issues: which issues")
    ] = "open"
    per_page: Annotated[int, Field(ge=1, le=100, description="list_issues: how many")] = 30
    issue_number: Annotated[int | None, Field(ge=1, description="add_comment: the issue")] = None

    @field_validator("repo")
    @classmethod
    def _not_dots(cls, value: str) -> str:
        # Allowed by the pattern, but would walk up the URL path.
        if value in (".", ".."):
            raise ValueError("repo must be a repository name")
        return value

    @model_validator(mode="after")
    def _required_fields(self) -> GithubParameters:
        missing: list[str] = []
        if self.operation == "create_issue" and not (self.title or "").strip():
            missing.append("title")
        if self.operation == "add_comment":
            if self.issue_number is None:
                missing.append("issue_number")
            if not (self.body or "").strip():
                missing.append("body")
        _needs(self.operation, missing)
        return self


@register
class GithubNode(Node[GithubParameters]):
    type = NodeType.EXTERNAL_ACTION
    subtype = "GITHUB"
    title = "GitHub"
    description = "Create an issue, list issues or comment on one; outputs GitHub's response."
    parameters_model = GithubParameters

    def timeout_seconds(self, parameters: GithubParameters, settings: EngineSettings) -> float:
        return API_TIMEOUT_SECONDS + TIMEOUT_MARGIN_SECONDS

    def run(self, ctx: NodeContext, params: GithubParameters) -> NodeResult:
        credential = _api_credential(ctx, "github", ("token",))
        base = ctx.services.integrations.github_base_url.rstrip("/")
        repo_url = f"{base}/repos/{params.owner}/{params.repo}"
        method, url = "POST", f"{repo_url}/issues"
        query: dict[str, Any] | None = None
        payload: dict[str, Any] | None = None
        if params.operation == "create_issue":
            payload = {"title": params.title}
            if params.body:
                payload["body"] = params.body
            if params.labels:
                payload["labels"] = params.labels
            if params.assignees:
                payload["assignees"] = params.assignees
        elif params.operation == "list_issues":
            method = "GET"
            query = {"state": params.state, "per_page": params.per_page}
            if params.labels:
                query["labels"] = ",".join(params.labels)
        else:  # add_comment
            url = f"{repo_url}/issues/{params.issue_number}/comments"
            payload = {"body": params.body}
        response = perform_request(
            ctx,
            method=method,
            url=url,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": GITHUB_API_VERSION,
            },
            query=query,
            body=payload,
            timeout=API_TIMEOUT_SECONDS,
            fail_on_status=False,
            credential=credential,
            service="github",
        )
        status, body = response["status_code"], response["body"]
        if status >= 400:
            raise _github_error(status, body)
        return NodeResult(body)


def _github_error(status: int, body: Any) -> NodeError:
    # GitHub's errors: {"message": "Validation Failed", "errors": [{"field": ..., "code": ...}],
    # "documentation_url": ...}.
    message = body.get("message") if isinstance(body, dict) else None
    message = str(message) if message else (str(body)[:200] if body else f"HTTP {status}")
    details: dict[str, Any] = {"service": "github", "status": status, "message": message}
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        details["errors"] = body["errors"][:10]
        described = [
            str(e.get("message") or f"{e.get('field')}: {e.get('code')}")
            for e in body["errors"][:3]
            if isinstance(e, dict)
        ]
        if described:
            message = f"{message} ({'; '.join(described)})"
    return NodeError("UPSTREAM_ERROR", f"GitHub answered {status}: {message}", details)


# -- WEBHOOK -------------------------------------------------------------------------------------


class WebhookParameters(NodeParameters):
    url: Annotated[str, Field(min_length=1, description="An absolute http:// or https:// URL")]
    body: Annotated[JsonValue, Field(description="Sent as JSON")] = Field(default_factory=dict)
    headers: Headers = Field(default_factory=dict)
    timeout_seconds: TimeoutSeconds = 30
    fail_on_status: Annotated[
        bool, Field(description="Fail the node when the status is 400 or more")
    ] = True


@register
class WebhookNode(Node[WebhookParameters]):
    type = NodeType.EXTERNAL_ACTION
    subtype = "WEBHOOK"
    title = "Outgoing webhook"
    description = "POST a JSON body to a URL; outputs {status_code, headers, body}."
    parameters_model = WebhookParameters

    def timeout_seconds(self, parameters: WebhookParameters, settings: EngineSettings) -> float:
        return parameters.timeout_seconds + TIMEOUT_MARGIN_SECONDS

    def run(self, ctx: NodeContext, params: WebhookParameters) -> NodeResult:
        output = perform_request(
            ctx,
            method="POST",
            url=params.url,
            headers=params.headers,
            body=params.body,
            json_body=True,
            timeout=params.timeout_seconds,
            fail_on_status=params.fail_on_status,
            credential=node_http_credential(ctx, ("webhook", "http")),
        )
        return NodeResult(output)
