"""Settings, one pydantic-settings class per concern, read once at cold start.

Logic never reads `os.environ`: it receives one of these objects. Every field is documented
in README.md ("Configuration").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class AwsSettings(BaseSettings):
    """Where boto3 clients point: AWS, an endpoint (LocalStack, moto server) or moto in process."""

    model_config = SettingsConfigDict(extra="ignore")

    region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    # "embedded" is set by `flowlane dev`, `flowlane run` and the tests: moto in process.
    runtime: Literal["aws", "embedded"] = Field(default="aws", validation_alias="FLOWLANE_RUNTIME")


class StoreSettings(BaseSettings):
    """The DynamoDB table and the S3 bucket for large values."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    table_name: str = "flowlane"
    payload_bucket: str = "flowlane-payloads"
    # DynamoDB items are capped at 400 KB; larger documents go to S3 behind a reference.
    offload_threshold_bytes: int = Field(default=300_000, ge=1_000, le=380_000)


class ApiSettings(BaseSettings):
    """HTTP behaviour shared by every domain app."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    # cognito: only claims from the API Gateway JWT authorizer.
    # dev: only HS256 tokens signed with dev_jwt_secret (`flowlane dev`).
    # auto: the authorizer's claims when the request has them, else a dev token when a dev secret
    #   is configured (never on AWS: the CDK app sets no secret, and API Gateway's authorizer
    #   guards every protected route before the function runs).
    auth_mode: Literal["auto", "cognito", "dev"] = "auto"
    dev_jwt_secret: str | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    stage: str = "dev"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Accept "a,b" from the environment as well as a list.
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value


class LocalSettings(BaseSettings):
    """The embedded runtime of `flowlane dev` and `flowlane run`."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    state_dir: Path = Path(".flowlane")
    # How often the embedded runtime writes its state to disk when something changed;
    # a crash loses at most this much.
    snapshot_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    function_prefix: str = "flowlane-"
    # How often the dev server's scheduler looks for due schedules (moto's Scheduler never fires).
    scheduler_interval_seconds: float = Field(default=1.0, gt=0, le=60)


class EngineSettings(BaseSettings):
    """How nodes run: expression bounds, time limits, the egress policy."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    # CONTRACT.md section 3: loopback, private and link-local addresses are refused unless this
    # is set; cloud metadata addresses are refused always.
    allow_private_network: bool = False
    # A runaway expression (an endless recursion, a huge range) is stopped after this long...
    expression_timeout_ms: int = Field(default=1_000, ge=10, le=30_000)
    # ...and a result larger than this (as JSON) is refused.
    expression_max_bytes: int = Field(default=1_048_576, ge=1_024)
    # A node that sets no time limit of its own (HTTP and approvals do) gets this one.
    node_timeout_seconds: float = Field(default=120.0, gt=0, le=900)
    # Values larger than this (as JSON) are stored in S3 behind a reference in node runs.
    max_inline_value_bytes: int = Field(default=300_000, ge=1_000, le=380_000)


class ExecutionSettings(BaseSettings):
    """Where compiled workflows run: the node runner and the state machines (set by the CDK
    app on AWS; the embedded runtime derives them)."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    # The node runner Lambda's ARN, the Resource of every Task the compiler emits.
    node_runner_arn: str | None = None
    # The role Step Functions assumes to invoke the node runner and start child machines.
    state_machine_role_arn: str | None = None
    # State machine names are `{state_machine_prefix}{workflow id}-{definition hash}`; the CDK
    # app sets `flowlane-<stage>-` so stages sharing an account keep apart.
    state_machine_prefix: str = Field(default="flowlane-", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    # The CloudWatch log group (its ARN, ending in `:*`) new machines log errors to; unset:
    # no logging configuration (the embedded runtime).
    state_machine_log_group_arn: str | None = None


class RuntimeSettings(BaseSettings):
    """Triggers: schedules (EventBridge Scheduler) and webhooks (CONTRACT.md section 6)."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    stage: str = "dev"
    # One schedule group per deployment stage; `flowlane-{stage}` unless set.
    schedule_group_name: str | None = None
    # The role EventBridge Scheduler assumes to start the schedule-start state machine.
    scheduler_role_arn: str | None = None
    # The schedule-start state machine every schedule targets (set by the CDK app).
    schedule_starter_arn: str | None = None
    # Where webhook URLs point (the API's public URL); the request's own base URL when unset.
    public_base_url: str | None = None
    # A signed webhook call older than this is refused (replay protection).
    webhook_signature_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    # `response_mode: last_node` waits this long for the result (API Gateway cuts at ~29 s).
    webhook_response_timeout_seconds: float = Field(default=25.0, gt=0, le=28)
    webhook_max_body_bytes: int = Field(default=1_048_576, ge=1_024, le=6_000_000)

    @property
    def schedule_group(self) -> str:
        return self.schedule_group_name or f"flowlane-{self.stage}"


class IntegrationSettings(BaseSettings):
    """Where external services are: base URLs are settings so tests point them at local servers."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    slack_base_url: str = "https://slack.com/api"
    github_base_url: str = "https://api.github.com"
    # The sender of EMAIL nodes (an SES-verified identity on AWS).
    email_sender: str = "flowlane@example.com"
    # Secrets Manager names are `{credentials_prefix}{owner}/{name}`.
    credentials_prefix: str = "flowlane/credentials/"
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("FLOWLANE_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("FLOWLANE_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FLOWLANE_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FLOWLANE_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
    )
    anthropic_model: str = "claude-sonnet-4-6"
    # A Secrets Manager secret (name or ARN) holding {"openai_api_key", "anthropic_api_key"},
    # read on first use (the CDK app sets it); keys set above win over the secret's.
    llm_keys_secret: str | None = None
    # auto: openai when its key is set, else anthropic when its key is set, else offline.
    default_llm_provider: Literal["auto", "openai", "anthropic", "offline"] = "auto"
    llm_timeout_seconds: float = Field(default=60.0, gt=0, le=600)


class AgentSettings(BaseSettings):
    """The agent (CONTRACT.md section 5, "Agent"): sessions, streams, generation."""

    model_config = SettingsConfigDict(env_prefix="FLOWLANE_AGENT_", extra="ignore")

    # Which model drafts workflows: auto = openai when its key is set, else anthropic when its
    # key is set, else the offline planner. Keys, models and base URLs are the integration
    # settings' (FLOWLANE_OPENAI_API_KEY, ...), shared with AI nodes.
    provider: Literal["auto", "openai", "anthropic", "offline"] = "auto"
    # A session (and its messages, events and checkpoints) lives this long after its last use.
    session_ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)
    # Validate-and-repair rounds after the first draft (the "at most 3").
    max_repair_rounds: int = Field(default=3, ge=0, le=5)
    # How long one SSE response streams before it ends and lets the client reconnect with
    # Last-Event-ID. API Gateway cuts a request at about 29 s (DESIGN.md decision 6).
    stream_budget_seconds: float = Field(default=25.0, gt=0, le=900)
    # How often a stream looks for new events.
    stream_poll_seconds: float = Field(default=0.2, gt=0, le=5)
    # The function long generations and async queries run in; unset on the embedded runtime
    # means `{function_prefix}agent-worker`.
    worker_function: str | None = None
    # Model calls one query turn may make before it stops (its tool loop).
    max_turn_steps: int = Field(default=6, ge=1, le=20)


@lru_cache(maxsize=1)
def aws_settings() -> AwsSettings:
    return AwsSettings()


@lru_cache(maxsize=1)
def store_settings() -> StoreSettings:
    return StoreSettings()


@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    return ApiSettings()


@lru_cache(maxsize=1)
def local_settings() -> LocalSettings:
    return LocalSettings()


@lru_cache(maxsize=1)
def engine_settings() -> EngineSettings:
    return EngineSettings()


@lru_cache(maxsize=1)
def integration_settings() -> IntegrationSettings:
    return IntegrationSettings()


@lru_cache(maxsize=1)
def execution_settings() -> ExecutionSettings:
    return ExecutionSettings()


@lru_cache(maxsize=1)
def runtime_settings() -> RuntimeSettings:
    return RuntimeSettings()


@lru_cache(maxsize=1)
def agent_settings() -> AgentSettings:
    return AgentSettings()
