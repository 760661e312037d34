"""LLM provider keys from one Secrets Manager secret (FLOWLANE_LLM_KEYS_SECRET): the real boto3
client against moto, a clock the tests move for the re-read, and the paths that use the keys
(node services, the agent's provider choice, the AI_AGENT node through the OpenAI SDK)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from flowlane import config
from flowlane.agent.drafting import chat_model
from flowlane.agent.service import AgentService
from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.runtime.aws import add_after_call_listener, remove_after_call_listener
from flowlane.runtime.llm_keys import LlmKeySource
from flowlane.runtime.node_services import RuntimeNodeServices
from flowlane.runtime.services import Services
from tests.fakes.llm_server import FakeLLM, Reply
from tests.integration.test_ai_nodes import key_sent, run_agent

SECRET = "flowlane/dev/llm-keys"
OPENAI_KEY = "sk-from-the-secret-openai"
ANTHROPIC_KEY = "sk-ant-from-the-secret"
TTL = 300.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingFactory:
    """The client factory LlmKeySource calls once per read: counts the reads."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.services.clients.secretsmanager


class FailingClient:
    """A Secrets Manager client whose every read fails with `error` (moto cannot deny)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_secret_value(self, **_: Any) -> Any:
        raise self.error


def no_keys(**overrides: Any) -> IntegrationSettings:
    """Settings without keys, whatever the developer's shell holds (OPENAI_API_KEY...)."""
    values: dict[str, Any] = {"openai_api_key": None, "anthropic_api_key": None}
    values.update(overrides)
    return IntegrationSettings(**values)


def put_secret(services: Services, value: Any, *, name: str = SECRET) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    created = services.clients.secretsmanager.create_secret(Name=name, SecretString=text)
    return str(created["ARN"])


def update_secret(services: Services, value: Any, *, name: str = SECRET) -> None:
    services.clients.secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(value))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reads(services: Services) -> CountingFactory:
    return CountingFactory(services)


@pytest.fixture
def source(reads: CountingFactory, clock: Clock) -> LlmKeySource:
    return LlmKeySource(reads, SECRET, ttl_seconds=TTL, clock=clock)


@pytest.fixture
def secret_reads() -> Iterator[list[str]]:
    """GetSecretValue calls any embedded client made (moto), through the after-call hook."""
    seen: list[str] = []

    def listener(service: str, operation: str) -> None:
        if service == "secretsmanager" and operation == "GetSecretValue":
            seen.append(operation)

    add_after_call_listener(listener)
    yield seen
    remove_after_call_listener(listener)


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "flowlane"]


# -- LlmKeySource.apply ------------------------------------------------------------------------


def test_the_secrets_keys_fill_settings_that_have_none(
    services: Services, source: LlmKeySource
) -> None:
    put_secret(services, {"openai_api_key": OPENAI_KEY, "anthropic_api_key": ANTHROPIC_KEY})
    settings = no_keys(openai_model="gpt-kept")

    applied = source.apply(settings)

    assert (applied.openai_api_key, applied.anthropic_api_key) == (OPENAI_KEY, ANTHROPIC_KEY)
    assert applied.openai_model == "gpt-kept"  # everything else is the settings' own
    # The settings given are not changed: they are shared (integration_settings() is cached).
    assert (settings.openai_api_key, settings.anthropic_api_key) == (None, None)


def test_a_key_set_in_the_environment_wins_over_the_secrets(
    services: Services, source: LlmKeySource
) -> None:
    put_secret(services, {"openai_api_key": OPENAI_KEY, "anthropic_api_key": ANTHROPIC_KEY})

    applied = source.apply(no_keys(openai_api_key="sk-from-the-environment"))

    assert applied.openai_api_key == "sk-from-the-environment"
    assert applied.anthropic_api_key == ANTHROPIC_KEY


def test_the_secret_is_found_by_its_arn(services: Services, clock: Clock) -> None:
    arn = put_secret(services, {"anthropic_api_key": ANTHROPIC_KEY})
    by_arn = LlmKeySource(lambda: services.clients.secretsmanager, arn, clock=clock)

    assert by_arn.apply(no_keys()).anthropic_api_key == ANTHROPIC_KEY


def test_blank_and_non_string_keys_are_ignored(services: Services, source: LlmKeySource) -> None:
    put_secret(
        services, {"openai_api_key": "   ", "anthropic_api_key": 42, "other": "sk-unrelated"}
    )

    applied = source.apply(no_keys())

    assert (applied.openai_api_key, applied.anthropic_api_key) == (None, None)


def test_the_empty_secret_the_deployment_creates_gives_no_keys_and_no_error(
    services: Services, source: LlmKeySource, caplog: pytest.LogCaptureFixture
) -> None:
    put_secret(services, "{}")

    applied = source.apply(no_keys())

    assert (applied.openai_api_key, applied.anthropic_api_key) == (None, None)
    assert errors_logged(caplog) == []


# -- reading once, and again after the TTL -------------------------------------------------------


def test_the_secret_is_read_once_then_again_after_the_ttl(
    services: Services, source: LlmKeySource, reads: CountingFactory, clock: Clock
) -> None:
    # Given the secret holds a first key, read once
    put_secret(services, {"openai_api_key": "sk-first"})
    assert source.apply(no_keys()).openai_api_key == "sk-first"

    # When the operator puts a new key, a warm function keeps the one it read until the TTL...
    update_secret(services, {"openai_api_key": "sk-second"})
    clock.advance(TTL - 1)
    for _ in range(3):
        assert source.apply(no_keys()).openai_api_key == "sk-first"
    assert reads.calls == 1

    # ...then reads the secret again, once.
    clock.advance(1)
    assert source.apply(no_keys()).openai_api_key == "sk-second"
    assert source.apply(no_keys()).openai_api_key == "sk-second"
    assert reads.calls == 2


def test_a_key_put_after_a_failed_read_arrives_after_the_ttl_not_on_every_call(
    services: Services,
    source: LlmKeySource,
    reads: CountingFactory,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given no secret yet: the read fails, is logged and gives no keys
    assert source.apply(no_keys()).openai_api_key is None
    assert len(errors_logged(caplog)) == 1

    # When the secret appears, the failed read is not retried on every call...
    put_secret(services, {"openai_api_key": OPENAI_KEY})
    clock.advance(TTL / 2)
    assert source.apply(no_keys()).openai_api_key is None
    assert reads.calls == 1

    # ...but once the TTL has passed.
    clock.advance(TTL / 2)
    assert source.apply(no_keys()).openai_api_key == OPENAI_KEY
    assert reads.calls == 2


def test_a_failed_re_read_keeps_the_keys_the_last_good_read_gave(
    services: Services, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # Given keys read once
    put_secret(services, {"openai_api_key": OPENAI_KEY})
    client: Any = services.clients.secretsmanager
    source = LlmKeySource(lambda: client, SECRET, ttl_seconds=TTL, clock=clock)
    assert source.apply(no_keys()).openai_api_key == OPENAI_KEY

    # When Secrets Manager cannot be reached at the next read
    client = FailingClient(
        EndpointConnectionError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com")
    )
    clock.advance(TTL)

    # Then the outage is logged, and AI nodes keep working with the keys already read
    assert source.apply(no_keys()).openai_api_key == OPENAI_KEY
    assert len(errors_logged(caplog)) == 1


def test_keys_are_trimmed(services: Services, source: LlmKeySource) -> None:
    put_secret(services, {"openai_api_key": f"  {OPENAI_KEY}\n"})

    assert source.apply(no_keys()).openai_api_key == OPENAI_KEY


# -- what cannot be read is logged and gives no keys -----------------------------------------------


@pytest.mark.parametrize(
    ("secret_string", "message"),
    [
        (None, "could not read the LLM keys secret"),  # no such secret
        ("sk-a-bare-key-not-json", "the LLM keys secret is not a JSON object"),
        ('["sk-in-a-list"]', "the LLM keys secret is not a JSON object"),
        ('"sk-a-json-string"', "the LLM keys secret is not a JSON object"),
        ("null", "the LLM keys secret is not a JSON object"),
    ],
)
def test_an_unreadable_secret_is_logged_and_gives_no_keys(
    services: Services,
    source: LlmKeySource,
    caplog: pytest.LogCaptureFixture,
    secret_string: str | None,
    message: str,
) -> None:
    if secret_string is not None:
        put_secret(services, secret_string)

    applied = source.apply(no_keys(anthropic_api_key="sk-env"))

    assert (applied.openai_api_key, applied.anthropic_api_key) == (None, "sk-env")
    [logged] = errors_logged(caplog)
    assert logged.getMessage() == message
    assert logged.secret_id == SECRET  # type: ignore[attr-defined]
    # The log names the secret, never what it holds.
    assert "sk-" not in json.dumps({k: str(v) for k, v in vars(logged).items()})


def test_a_missing_secret_is_logged_with_its_aws_code(
    source: LlmKeySource, caplog: pytest.LogCaptureFixture
) -> None:
    source.apply(no_keys())

    [logged] = errors_logged(caplog)
    assert logged.aws_code == "ResourceNotFoundException"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
                "GetSecretValue",
            ),
            "AccessDeniedException",
        ),
        (
            EndpointConnectionError(endpoint_url="https://secretsmanager.invalid"),
            "EndpointConnectionError",
        ),
    ],
)
def test_a_denied_or_unreachable_secret_is_logged_and_gives_no_keys(
    clock: Clock, caplog: pytest.LogCaptureFixture, error: Exception, code: str
) -> None:
    source = LlmKeySource(lambda: FailingClient(error), SECRET, clock=clock)

    applied = source.apply(no_keys())

    assert (applied.openai_api_key, applied.anthropic_api_key) == (None, None)
    [logged] = errors_logged(caplog)
    assert logged.getMessage() == "could not read the LLM keys secret"
    assert (logged.secret_id, logged.aws_code) == (SECRET, code)  # type: ignore[attr-defined]


# -- RuntimeNodeServices ---------------------------------------------------------------------------


def node_services_with_secret(services: Services, **overrides: Any) -> RuntimeNodeServices:
    return RuntimeNodeServices(
        services,
        engine=EngineSettings(allow_private_network=True),
        integrations=no_keys(llm_keys_secret=SECRET, **overrides),
    )


def test_node_services_give_the_secrets_key_and_read_it_once(
    services: Services, secret_reads: list[str]
) -> None:
    put_secret(services, {"openai_api_key": OPENAI_KEY})
    node_services = node_services_with_secret(services)
    assert secret_reads == []  # nothing is read before the settings are needed

    for _ in range(3):
        assert node_services.integrations.openai_api_key == OPENAI_KEY

    assert secret_reads == ["GetSecretValue"]


def test_without_the_setting_no_secret_is_read(services: Services, secret_reads: list[str]) -> None:
    put_secret(services, {"openai_api_key": OPENAI_KEY})
    node_services = RuntimeNodeServices(services, integrations=no_keys())

    assert node_services.integrations.openai_api_key is None
    assert secret_reads == []


def test_the_environment_variable_switches_it_on_for_the_services_and_the_agent(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "FLOWLANE_OPENAI_API_KEY",
        "OPENAI_API_KEY",
        "FLOWLANE_ANTHROPIC_API_KEY",
        "ANTHROPIC_API_KEY",
        "FLOWLANE_AGENT_PROVIDER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLOWLANE_LLM_KEYS_SECRET", SECRET)
    # The embedded runtime read (and cached) the settings before this test set the variable;
    # a function reads them at cold start, after its environment is set.
    config.integration_settings.cache_clear()
    put_secret(services, {"anthropic_api_key": ANTHROPIC_KEY})

    integrations = services.node_services.integrations

    assert integrations.llm_keys_secret == SECRET
    assert (integrations.openai_api_key, integrations.anthropic_api_key) == (None, ANTHROPIC_KEY)
    # The agent takes its provider from the same node services.
    provider, _ = AgentService(services).chat_provider()
    assert provider is not None
    assert provider.name == "anthropic"


# -- the agent's provider choice ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "provider", "model"),
    [
        ({"openai_api_key": OPENAI_KEY, "anthropic_api_key": ANTHROPIC_KEY}, "openai", "gpt-t"),
        ({"anthropic_api_key": ANTHROPIC_KEY}, "anthropic", "claude-t"),
    ],
)
def test_the_agent_chooses_the_provider_whose_key_the_secret_holds(
    services: Services, keys: dict[str, str], provider: str, model: str
) -> None:
    put_secret(services, keys)
    node_services = node_services_with_secret(
        services, openai_model="gpt-t", anthropic_model="claude-t"
    )

    chosen, chosen_model = chat_model("auto", node_services.integrations)

    assert chosen is not None  # no model is called: the provider is only built
    assert (chosen.name, chosen_model) == (provider, model)


def test_with_the_empty_secret_the_agent_is_offline(services: Services) -> None:
    put_secret(services, "{}")

    assert chat_model("auto", node_services_with_secret(services).integrations) == (None, None)


# -- the AI_AGENT node ---------------------------------------------------------------------------


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def ai_node_services(services: Services, llm: FakeLLM, **overrides: Any) -> RuntimeNodeServices:
    return node_services_with_secret(
        services,
        openai_base_url=llm.openai_base_url,
        anthropic_base_url=llm.anthropic_base_url,
        openai_model="gpt-test",
        anthropic_model="claude-test",
        default_llm_provider="auto",
        llm_timeout_seconds=10,
        **overrides,
    )


@pytest.mark.parametrize("requested", ["openai", "auto"])
def test_the_ai_node_sends_the_secrets_key(
    services: Services, llm: FakeLLM, requested: str
) -> None:
    put_secret(services, {"openai_api_key": OPENAI_KEY})
    llm.script(Reply.with_text("hello"))

    output = run_agent(ai_node_services(services, llm), {"provider": requested, "prompt": "hi"})

    assert output["provider"] == "openai"
    [request] = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_the_ai_node_sends_the_environments_key_over_the_secrets(
    services: Services, llm: FakeLLM
) -> None:
    put_secret(services, {"openai_api_key": OPENAI_KEY, "anthropic_api_key": ANTHROPIC_KEY})
    llm.script(Reply.with_text("hello"))
    node_services = ai_node_services(services, llm, anthropic_api_key="sk-ant-from-env")

    run_agent(node_services, {"provider": "anthropic", "prompt": "hi"})

    assert key_sent(llm.requests[0]) == "sk-ant-from-env"
