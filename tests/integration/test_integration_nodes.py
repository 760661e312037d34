"""HTTP_REQUEST, the EXTERNAL_ACTION subtypes and HTTP_TOOL, run for real against a local fake
of Slack and GitHub (tests/fakes/services_server.py), with credentials in Secrets Manager and
email in SES on the embedded runtime (moto).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from moto.ses.models import ses_backends
from pydantic import ValidationError

from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.models.workflow import NodeData
from flowlane.nodes import http as http_module
from flowlane.nodes.base import Node, NodeContext, NodeError, NodeResult
from flowlane.nodes.external_action import EmailNode, GithubNode, SlackNode, WebhookNode
from flowlane.nodes.http import HttpRequestNode
from flowlane.nodes.tool import HttpToolNode
from flowlane.runtime.embedded import ACCOUNT_ID, EmbeddedRuntime
from flowlane.runtime.node_services import RuntimeNodeServices
from flowlane.runtime.services import Services
from flowlane.store.credentials import CredentialStore, env_variable
from tests.fakes.services_server import FakeServices, GithubRepo

PREFIX = "flowlane/credentials/"
SENDER = "flowlane@example.com"


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    with FakeServices() as server:
        yield server


@pytest.fixture
def integrations(fake: FakeServices) -> IntegrationSettings:
    return IntegrationSettings(
        slack_base_url=fake.slack_base_url,
        github_base_url=fake.github_base_url,
        email_sender=SENDER,
        credentials_prefix=PREFIX,
    )


@pytest.fixture
def node_services(services: Services, integrations: IntegrationSettings) -> RuntimeNodeServices:
    """The real node services on moto, pointed at the fake; private network allowed so nodes
    reach 127.0.0.1."""
    return RuntimeNodeServices(
        services, engine=EngineSettings(allow_private_network=True), integrations=integrations
    )


@pytest.fixture
def vault(runtime: EmbeddedRuntime) -> CredentialStore:
    """alice's credentials, in moto's Secrets Manager."""
    return CredentialStore(runtime.clients.secretsmanager, PREFIX, "alice")


class EnvironmentCredentials(RuntimeNodeServices):
    """RuntimeNodeServices with the environment fallback wired in (what node_services.py does
    once it passes `environ`)."""

    def __init__(self, base: RuntimeNodeServices, services: Services, environ: Mapping[str, str]):
        super().__init__(services, engine=base.engine, integrations=base.integrations)
        self._clients = services.clients
        self._environ = environ

    def credentials(self, owner: str) -> CredentialStore:
        return CredentialStore(
            self._clients.secretsmanager,
            self.integrations.credentials_prefix,
            owner,
            environ=self._environ,
        )


def run(
    node: Node[Any],
    services: Any,
    params: dict[str, Any],
    *,
    credentials: dict[str, str] | None = None,
    input: Any = None,
) -> NodeResult:
    data = NodeData(id="n1", type=node.type, subtype=node.subtype, credentials=credentials or {})
    ctx = NodeContext(
        node=data,
        input=input,
        scope={"input": input},
        services=services,
        owner="alice",
        workflow_id="wf",
        execution_id="ex",
    )
    return node.run(ctx, node.parameters_model.model_validate(params))


def fails(
    node: Node[Any], services: Any, params: dict[str, Any], code: str, **kwargs: Any
) -> NodeError:
    with pytest.raises(NodeError) as caught:
        run(node, services, params, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def sent_emails() -> list[Any]:
    return list(ses_backends[ACCOUNT_ID]["us-east-1"].sent_messages)


# -- ACTION / HTTP_REQUEST ---------------------------------------------------------------------


def test_http_get_parses_json_and_sends_query_and_headers(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    result = run(
        HttpRequestNode(),
        node_services,
        {
            "url": f"{fake.url}/echo?fixed=1",
            "headers": {"X-Trace": "abc", "X-Count": 3},
            "query": {"q": "flow lane", "tags": ["a", "b"], "debug": True, "skip": None},
        },
    )

    assert result.port == "main"
    output = result.output
    assert output["status_code"] == 200
    assert output["headers"]["content-type"].startswith("application/json")
    assert output["body"]["method"] == "GET"
    assert output["body"]["query"] == {
        "fixed": "1",
        "q": "flow lane",
        "tags": ["a", "b"],
        "debug": "true",
    }
    seen = fake.last("/echo").headers
    assert seen["x-trace"] == "abc"
    assert seen["x-count"] == "3"
    assert seen["user-agent"].startswith("Flowlane/")


def test_http_post_sends_an_object_as_json_and_a_text_as_text(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    run(
        HttpRequestNode(),
        node_services,
        {"method": "post", "url": f"{fake.url}/echo", "body": {"name": "Ada", "n": [1, 2]}},
    )
    sent = fake.last("/echo")
    assert sent.method == "POST"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json == {"name": "Ada", "n": [1, 2]}

    run(
        HttpRequestNode(), node_services, {"method": "PUT", "url": f"{fake.url}/echo", "body": "hi"}
    )
    sent = fake.last("/echo")
    assert sent.headers["content-type"] == "text/plain; charset=utf-8"
    assert sent.body == b"hi"


def test_http_text_response_is_returned_as_text(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    output = run(HttpRequestNode(), node_services, {"url": f"{fake.url}/text"}).output

    assert output["body"] == "héllo wörld"


def test_http_500_fails_the_node_with_status_and_excerpt(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    error = fails(
        HttpRequestNode(), node_services, {"url": f"{fake.url}/status/500"}, "UPSTREAM_ERROR"
    )

    assert error.details["status"] == 500
    assert error.details["body"].startswith('{"error": "status 500"')
    assert len(error.details["body"]) <= http_module.EXCERPT_CHARS
    assert "500" in error.message


def test_http_500_is_an_output_without_fail_on_status(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    output = run(
        HttpRequestNode(),
        node_services,
        {"url": f"{fake.url}/status/503", "fail_on_status": False},
    ).output

    assert output["status_code"] == 503
    assert output["body"]["error"] == "status 503"


def test_http_timeout_fails_with_timeout(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    error = fails(
        HttpRequestNode(),
        node_services,
        {"url": f"{fake.url}/slow?seconds=3", "timeout_seconds": 1},
        "TIMEOUT",
    )

    assert error.details["timeout_seconds"] == 1


def test_http_node_time_limit_is_the_request_timeout_plus_a_margin() -> None:
    node = HttpRequestNode()
    params = node.parameters_model.model_validate({"url": "https://x.test", "timeout_seconds": 42})

    assert node.timeout_seconds(params, EngineSettings()) == 42 + http_module.TIMEOUT_MARGIN_SECONDS


def test_http_connection_refused_is_an_upstream_error(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    port = fake.port
    fake.stop()

    error = fails(
        HttpRequestNode(), node_services, {"url": f"http://127.0.0.1:{port}/"}, "UPSTREAM_ERROR"
    )

    assert "status" not in error.details


@pytest.mark.parametrize("chunked", [False, True])
def test_http_response_over_the_cap_is_refused(
    fake: FakeServices,
    node_services: RuntimeNodeServices,
    monkeypatch: pytest.MonkeyPatch,
    chunked: bool,
) -> None:
    monkeypatch.setattr(http_module, "MAX_RESPONSE_BYTES", 100_000)
    url = f"{fake.url}/big?bytes=100000"
    # Exactly at the cap is fine...
    assert len(run(HttpRequestNode(), node_services, {"url": url}).output["body"]) == 100_000

    # ...one byte more is not, declared (Content-Length) or streamed (chunked).
    url = f"{fake.url}/big?bytes=300001" + ("&chunked=1" if chunked else "")
    error = fails(HttpRequestNode(), node_services, {"url": url}, "UPSTREAM_ERROR")
    assert "larger than" in error.message


def test_http_refuses_loopback_when_private_network_is_not_allowed(
    fake: FakeServices, services: Services, integrations: IntegrationSettings
) -> None:
    strict = RuntimeNodeServices(
        services, engine=EngineSettings(allow_private_network=False), integrations=integrations
    )

    error = fails(HttpRequestNode(), strict, {"url": f"{fake.url}/echo"}, "EGRESS_DENIED")

    assert error.details["address"] == "127.0.0.1"
    assert fake.requests == []


def test_http_refuses_a_url_that_is_not_http(node_services: RuntimeNodeServices) -> None:
    error = fails(
        HttpRequestNode(), node_services, {"url": "file:///etc/passwd"}, "VALIDATION_ERROR"
    )

    assert error.details["parameter"] == "url"


def test_http_parameters_are_validated() -> None:
    model = HttpRequestNode.parameters_model
    with pytest.raises(ValidationError, match="url"):
        model.model_validate({"method": "GET"})
    with pytest.raises(ValidationError, match="method"):
        model.model_validate({"url": "https://x.test", "method": "TRACE"})
    with pytest.raises(ValidationError, match="less than or equal to 300"):
        model.model_validate({"url": "https://x.test", "timeout_seconds": 301})
    with pytest.raises(ValidationError, match="line breaks"):
        model.model_validate({"url": "https://x.test", "headers": {"X-A": "1\r\nEvil: yes"}})


def test_http_bearer_credential_from_secrets_manager_is_applied_and_kept_out_of_the_output(
    fake: FakeServices, node_services: RuntimeNodeServices, vault: CredentialStore
) -> None:
    vault.put("weather-api", {"token": "tok-secret-123"})

    output = run(
        HttpRequestNode(),
        node_services,
        {"url": f"{fake.url}/echo", "headers": {"Authorization": "Bearer user-set"}},
        credentials={"http": "weather-api"},
    ).output

    # The credential wins over the node's own header of the same name.
    assert fake.last("/echo").headers["authorization"] == "Bearer tok-secret-123"
    # The echo service sent it back; the output does not carry it.
    assert output["body"]["headers"]["authorization"] == "Bearer [REDACTED]"
    assert "tok-secret-123" not in json.dumps(output)


def test_http_basic_and_header_credentials(
    fake: FakeServices, node_services: RuntimeNodeServices, vault: CredentialStore
) -> None:
    vault.put("basic", {"username": "ada", "password": "s3cret-pass"})
    vault.put("api-key", {"headers": {"X-Api-Key": "key-0123456789"}})

    output = run(
        HttpRequestNode(), node_services, {"url": f"{fake.url}/echo"}, credentials={"x": "basic"}
    ).output
    expected = base64.b64encode(b"ada:s3cret-pass").decode()
    assert fake.last("/echo").headers["authorization"] == f"Basic {expected}"
    assert expected not in json.dumps(output)

    run(
        HttpRequestNode(),
        node_services,
        {"url": f"{fake.url}/echo"},
        credentials={"http": "api-key"},
    )
    assert fake.last("/echo").headers["x-api-key"] == "key-0123456789"


def test_http_credential_headers_are_not_sent_to_another_origin_on_redirect(
    fake: FakeServices, node_services: RuntimeNodeServices, vault: CredentialStore
) -> None:
    vault.put("api-key", {"headers": {"X-Api-Key": "key-0123456789"}, "token": "tok-abcdef"})
    elsewhere = f"http://localhost:{fake.port}/echo"  # same server, another origin

    output = run(
        HttpRequestNode(),
        node_services,
        {"url": f"{fake.url}/redirect?to={elsewhere}", "headers": {"X-Mine": "kept"}},
        credentials={"http": "api-key"},
    ).output

    first, second = fake.requests
    assert first.headers["x-api-key"] == "key-0123456789"
    assert first.headers["authorization"] == "Bearer tok-abcdef"
    assert second.headers["host"] == f"localhost:{fake.port}"
    assert "x-api-key" not in second.headers
    assert "authorization" not in second.headers
    assert second.headers["x-mine"] == "kept"
    assert output["status_code"] == 200


def test_http_missing_credential_fails_with_credential_not_found(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    error = fails(
        HttpRequestNode(),
        node_services,
        {"url": f"{fake.url}/echo"},
        "CREDENTIAL_NOT_FOUND",
        credentials={"http": "nope"},
    )

    assert error.details == {"name": "nope"}
    assert fake.requests == []


def test_http_credential_of_an_unusable_shape_is_refused_without_its_value(
    fake: FakeServices, node_services: RuntimeNodeServices, vault: CredentialStore
) -> None:
    vault.put("odd", {"apikey": "value-never-shown"})

    error = fails(
        HttpRequestNode(),
        node_services,
        {"url": f"{fake.url}/echo"},
        "VALIDATION_ERROR",
        credentials={"http": "odd"},
    )

    assert "value-never-shown" not in error.message


# -- credentials -------------------------------------------------------------------------------


def test_credential_store_round_trip(runtime: EmbeddedRuntime, vault: CredentialStore) -> None:
    vault.put("slack", "xoxb-1")
    vault.put("github", {"token": "ghp-1"})
    vault.put("slack", "xoxb-2")  # replaces

    assert vault.get("slack") == "xoxb-2"
    assert vault.get("github") == {"token": "ghp-1"}
    assert vault.list_names() == ["github", "slack"]
    secret = runtime.clients.secretsmanager.describe_secret(SecretId=f"{PREFIX}alice/slack")
    assert secret["Name"] == "flowlane/credentials/alice/slack"

    vault.delete("slack")
    with pytest.raises(NodeError) as caught:
        vault.get("slack")
    assert caught.value.code == "CREDENTIAL_NOT_FOUND"
    assert vault.list_names() == ["github"]


def test_credentials_are_per_owner(runtime: EmbeddedRuntime, vault: CredentialStore) -> None:
    vault.put("shared-name", "alice-value")
    bob = CredentialStore(runtime.clients.secretsmanager, PREFIX, "bob")

    with pytest.raises(NodeError, match="no credential named 'shared-name'"):
        bob.get("shared-name")
    assert bob.list_names() == []


def test_credential_names_are_validated(vault: CredentialStore) -> None:
    with pytest.raises(NodeError) as caught:
        vault.get("../bob/slack")
    assert caught.value.code == "VALIDATION_ERROR"
    from flowlane.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        vault.put("has space", "x")


def test_credential_from_the_environment_when_not_stored(
    runtime: EmbeddedRuntime, vault: CredentialStore
) -> None:
    environ = {"FLOWLANE_CREDENTIAL_MY_API_KEY": '{"token": "from-env"}'}
    local = CredentialStore(runtime.clients.secretsmanager, PREFIX, "alice", environ=environ)

    assert env_variable("my-api.key") == "FLOWLANE_CREDENTIAL_MY_API_KEY"
    assert local.get("my-api.key") == {"token": "from-env"}
    assert local.get("my_api_key") == {"token": "from-env"}
    # A stored credential wins over the environment.
    vault.put("my-api.key", "stored")
    assert local.get("my-api.key") == "stored"
    # Without an injected environment there is no fallback.
    with pytest.raises(NodeError, match="no credential named"):
        vault.get("my_api_key")


# -- EXTERNAL_ACTION / SLACK -------------------------------------------------------------------


def test_slack_posts_a_message(
    fake: FakeServices, node_services: RuntimeNodeServices, vault: CredentialStore
) -> None:
    vault.put("team-bot", "xoxb-test-token")

    output = run(
        SlackNode(),
        node_services,
        {"channel": "#general", "text": "Deploy done", "thread_ts": "1700000000.000100"},
        credentials={"slack": "team-bot"},
    ).output

    assert output["ok"] is True
    assert output["message"]["text"] == "Deploy done"
    sent = fake.last("/slack/api/chat.postMessage")
    assert sent.headers["authorization"] == "Bearer xoxb-test-token"
    assert sent.headers["content-type"] == "application/json; charset=utf-8"
    assert sent.json == {
        "channel": "#general",
        "text": "Deploy done",
        "thread_ts": "1700000000.000100",
    }


def test_slack_ok_false_is_an_upstream_error(
    fake: FakeServices, node_services: RuntimeNodeServices, vault: CredentialStore
) -> None:
    vault.put("team-bot", {"bot_token": "xoxb-test-token"})

    error = fails(
        SlackNode(),
        node_services,
        {"channel": "#nowhere", "text": "hi"},
        "UPSTREAM_ERROR",
        credentials={"slack": "team-bot"},
    )

    assert error.details == {"service": "slack", "status": 200, "error": "channel_not_found"}
    assert "channel_not_found" in error.message


def test_slack_token_from_the_environment_under_the_default_name(
    fake: FakeServices,
    node_services: RuntimeNodeServices,
    services: Services,
) -> None:
    local = EnvironmentCredentials(
        node_services, services, {"FLOWLANE_CREDENTIAL_SLACK": "xoxb-test-token"}
    )

    output = run(SlackNode(), local, {"channel": "C0123456789", "blocks": [{"type": "divider"}]})

    assert output.output["ok"] is True
    assert fake.last("/slack").json["blocks"] == [{"type": "divider"}]


def test_slack_without_a_credential_fails_with_credential_not_found(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    error = fails(
        SlackNode(), node_services, {"channel": "#general", "text": "hi"}, "CREDENTIAL_NOT_FOUND"
    )

    assert error.details == {"name": "slack"}
    assert fake.requests == []


def test_slack_parameters_name_the_missing_field() -> None:
    with pytest.raises(ValidationError, match="post_message needs `channel`, `text`"):
        SlackNode.parameters_model.model_validate({"operation": "post_message"})


# -- EXTERNAL_ACTION / EMAIL -------------------------------------------------------------------


def test_email_is_sent_with_ses(
    runtime: EmbeddedRuntime, node_services: RuntimeNodeServices
) -> None:
    runtime.clients.ses.verify_email_identity(EmailAddress=SENDER)
    before = len(sent_emails())

    output = run(
        EmailNode(),
        node_services,
        {
            "to": "ada@example.com, bob@example.org",
            "subject": "Weekly\r\nreport",
            "body": "All good",
        },
    ).output

    messages = sent_emails()
    assert len(messages) == before + 1
    message = messages[-1]
    assert output == {"message_id": message.id}
    assert message.source == SENDER
    assert message.destinations["ToAddresses"] == ["ada@example.com", "bob@example.org"]
    assert message.subject == "Weekly report"
    assert message.body == "All good"


def test_email_to_an_invalid_address_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="invalid email address 'not-an-address'"):
        EmailNode.parameters_model.model_validate(
            {"to": ["ok@example.com", "not-an-address"], "subject": "s"}
        )
    with pytest.raises(ValidationError, match=r"invalid email address 'a\.\.b@example\.com'"):
        EmailNode.parameters_model.model_validate({"to": "a..b@example.com", "subject": "s"})
    with pytest.raises(ValidationError, match="at least one recipient"):
        EmailNode.parameters_model.model_validate({"to": " , ", "subject": "s"})


def test_email_from_an_unverified_sender_is_an_upstream_error(
    services: Services, integrations: IntegrationSettings
) -> None:
    unverified = RuntimeNodeServices(
        services,
        engine=EngineSettings(allow_private_network=True),
        integrations=integrations.model_copy(update={"email_sender": "nobody@unverified.example"}),
    )

    error = fails(
        EmailNode(), unverified, {"to": "ada@example.com", "subject": "s"}, "UPSTREAM_ERROR"
    )

    assert error.details["service"] == "ses"


# -- EXTERNAL_ACTION / GITHUB ------------------------------------------------------------------


@pytest.fixture
def github_token(vault: CredentialStore) -> dict[str, str]:
    vault.put("gh", {"token": "ghp_test_token"})
    return {"github": "gh"}


def test_github_create_list_and_comment(
    fake: FakeServices, node_services: RuntimeNodeServices, github_token: dict[str, str]
) -> None:
    repo = {"owner": "acme", "repo": "widgets"}
    created = run(
        GithubNode(),
        node_services,
        {
            **repo,
            "title": "Broken build",
            "body": "CI red",
            "labels": ["bug"],
            "assignees": ["octocat"],
        },
        credentials=github_token,
    ).output
    sent = fake.last("/github")
    assert sent.path == "/github/repos/acme/widgets/issues"
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["authorization"] == "Bearer ghp_test_token"
    assert sent.json == {
        "title": "Broken build",
        "body": "CI red",
        "labels": ["bug"],
        "assignees": ["octocat"],
    }
    assert created["number"] == 1
    run(GithubNode(), node_services, {**repo, "title": "Docs typo"}, credentials=github_token)

    listed = run(
        GithubNode(),
        node_services,
        {**repo, "operation": "list_issues", "labels": ["bug"], "per_page": 10},
        credentials=github_token,
    ).output
    assert [i["title"] for i in listed] == ["Broken build"]
    assert fake.last("/github").query == {"state": ["open"], "per_page": ["10"], "labels": ["bug"]}

    comment = run(
        GithubNode(),
        node_services,
        {**repo, "operation": "add_comment", "issue_number": 1, "body": "On it"},
        credentials=github_token,
    ).output
    assert comment["body"] == "On it"
    assert fake.last("/github").path == "/github/repos/acme/widgets/issues/1/comments"


def test_github_unknown_repository_is_a_404_upstream_error(
    node_services: RuntimeNodeServices, github_token: dict[str, str]
) -> None:
    error = fails(
        GithubNode(),
        node_services,
        {"owner": "acme", "repo": "missing", "operation": "list_issues"},
        "UPSTREAM_ERROR",
        credentials=github_token,
    )

    assert error.details["status"] == 404
    assert error.details["message"] == "Not Found"
    assert error.message == "GitHub answered 404: Not Found"


def test_github_validation_failure_is_a_422_upstream_error(
    fake: FakeServices, node_services: RuntimeNodeServices, github_token: dict[str, str]
) -> None:
    fake.github_repos[("acme", "widgets")] = GithubRepo(collaborators={"octocat"})

    error = fails(
        GithubNode(),
        node_services,
        {"owner": "acme", "repo": "widgets", "title": "x", "assignees": ["stranger"]},
        "UPSTREAM_ERROR",
        credentials=github_token,
    )

    assert error.details["status"] == 422
    assert error.details["message"] == "Validation Failed"
    assert error.details["errors"][0]["field"] == "assignees"
    assert "assignees: invalid" in error.message


def test_github_bad_token_is_a_401_upstream_error(
    node_services: RuntimeNodeServices, vault: CredentialStore
) -> None:
    vault.put("github", "ghp_wrong")  # the default name, used when the node names none

    error = fails(
        GithubNode(),
        node_services,
        {"owner": "acme", "repo": "widgets", "operation": "list_issues"},
        "UPSTREAM_ERROR",
    )

    assert error.details["status"] == 401
    assert error.details["message"] == "Bad credentials"


def test_github_parameters_name_the_missing_fields() -> None:
    model = GithubNode.parameters_model
    with pytest.raises(ValidationError, match="add_comment needs `issue_number`, `body`"):
        model.model_validate({"owner": "acme", "repo": "widgets", "operation": "add_comment"})
    with pytest.raises(ValidationError, match="create_issue needs `title`"):
        model.model_validate({"owner": "acme", "repo": "widgets"})
    with pytest.raises(ValidationError, match="per_page"):
        model.model_validate(
            {"owner": "a", "repo": "b", "operation": "list_issues", "per_page": 101}
        )
    with pytest.raises(ValidationError, match="repo"):
        model.model_validate({"owner": "a", "repo": "..", "operation": "list_issues"})


# -- EXTERNAL_ACTION / WEBHOOK -----------------------------------------------------------------


def test_webhook_posts_json(fake: FakeServices, node_services: RuntimeNodeServices) -> None:
    output = run(
        WebhookNode(),
        node_services,
        {"url": f"{fake.url}/echo", "body": {"event": "done"}, "headers": {"X-Sig": "1"}},
    ).output

    assert output["status_code"] == 200
    assert output["body"]["method"] == "POST"
    assert output["body"]["body"] == {"event": "done"}
    sent = fake.last("/echo")
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-sig"] == "1"

    run(WebhookNode(), node_services, {"url": f"{fake.url}/echo", "body": "plain"})
    assert fake.last("/echo").json == "plain"  # a JSON string, not raw text


def test_webhook_error_status_fails_the_node(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    error = fails(
        WebhookNode(),
        node_services,
        {"url": f"{fake.url}/status/502?text=1"},
        "UPSTREAM_ERROR",
    )

    assert error.details["status"] == 502
    assert error.details["body"] == "something broke"


# -- TOOL / HTTP_TOOL --------------------------------------------------------------------------


def test_http_tool_get_sends_scalar_arguments_as_query(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    output = run(
        HttpToolNode(),
        node_services,
        {"name": "get_weather", "url": f"{fake.url}/echo"},
        input={"city": "Paris", "days": 3, "metric": True, "nested": {"no": 1}},
    ).output

    assert output["body"]["query"] == {"city": "Paris", "days": "3", "metric": "true"}
    assert fake.last("/echo").body == b""


def test_http_tool_post_sends_arguments_as_json_body(
    fake: FakeServices, node_services: RuntimeNodeServices
) -> None:
    arguments = {"title": "Hello", "tags": ["x"]}

    output = run(
        HttpToolNode(),
        node_services,
        {"name": "create-note", "method": "POST", "url": f"{fake.url}/echo"},
        input=arguments,
    ).output

    assert output["body"]["body"] == arguments
    assert fake.last("/echo").headers["content-type"] == "application/json"


def test_http_tool_parameters() -> None:
    model = HttpToolNode.parameters_model
    params = model.model_validate({"name": "get_weather", "url": "https://x.test"})
    assert params.model_dump()["input_schema"] == {"type": "object", "properties": {}}
    assert HttpToolNode.attachable_as == ("ai_tool",)
    with pytest.raises(ValidationError, match="name"):
        model.model_validate({"name": "get weather!", "url": "https://x.test"})
    with pytest.raises(ValidationError, match="must describe an object"):
        model.model_validate(
            {"name": "t", "url": "https://x.test", "input_schema": {"type": "string"}}
        )
