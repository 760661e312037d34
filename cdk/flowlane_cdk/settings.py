"""What a deployment may choose, read once from CDK context (`-c key=value` or cdk.json).

Everything has a default that is secure and cheap; `stage` separates deployments in one account
(names are `flowlane-<stage>-...`). A stage named `dev` may be torn down with its data; any other
stage keeps the table and bucket on `make destroy` and protects the table from deletion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from constructs import Node

_STAGE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SettingsError(ValueError):
    """A context value that cannot be deployed; the message says which and why."""


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise SettingsError(f"context {name!r} must be true or false, not {value!r}")


def _number(value: Any, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"context {name!r} must be a number, not {value!r}") from exc
    if not low <= number <= high:
        raise SettingsError(f"context {name!r} must be between {low:g} and {high:g}")
    return number


@dataclass(frozen=True)
class StageSettings:
    stage: str = "dev"
    # Browser origins allowed by CORS. Tokens travel in the Authorization header (no cookies),
    # so "*" exposes nothing a token does not already grant.
    cors_origins: tuple[str, ...] = ("*",)
    # The HTTP API's default route throttle (requests per second, and the burst above it).
    throttle_rate: float = 50.0
    throttle_burst: int = 100
    # Where alarms are e-mailed (an SNS subscription to confirm); none: the topic only.
    alarm_email: str | None = None
    # How long function, API and state machine logs are kept.
    log_retention_days: int = 30
    # Require TOTP for every Cognito user. Off by default: scripted clients sign in with a
    # password; users may still turn TOTP on for themselves.
    mfa_required: bool = False
    # X-Ray tracing for functions and the schedule-start machine (~0.1 s more cold start).
    tracing: bool = False
    # Executions failing within 5 minutes before the alarm fires (users' workflows fail for
    # their own reasons; a burst is what points at the platform).
    failed_executions_threshold: int = 10
    # The SES-verified address EMAIL nodes and approval notices are sent from; none: the
    # functions get no SES permission and e-mail nodes fail with a clear AccessDenied.
    email_sender: str | None = None
    # The API's public URL when it has a custom domain, for webhook URLs (else the request's).
    public_base_url: str | None = None

    def __post_init__(self) -> None:
        if not _STAGE.match(self.stage):
            raise SettingsError(
                "context 'stage' must be 1-12 lowercase letters or digits, starting with a letter"
            )
        if self.alarm_email is not None and not _EMAIL.match(self.alarm_email):
            raise SettingsError(
                f"context 'alarm_email' is not an e-mail address: {self.alarm_email}"
            )
        if self.email_sender is not None and not _EMAIL.match(self.email_sender):
            raise SettingsError(
                f"context 'email_sender' is not an e-mail address: {self.email_sender}"
            )
        if self.public_base_url is not None and not self.public_base_url.startswith("https://"):
            raise SettingsError("context 'public_base_url' must be an https:// URL")
        if not self.cors_origins:
            raise SettingsError("context 'cors_origins' must name at least one origin (or *)")

    @property
    def is_dev(self) -> bool:
        return self.stage == "dev"

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        """What `make destroy` does to stateful resources: dev is disposable, the rest is kept."""
        return cdk.RemovalPolicy.DESTROY if self.is_dev else cdk.RemovalPolicy.RETAIN

    @property
    def prefix(self) -> str:
        """Every named resource of the stage starts with this."""
        return f"flowlane-{self.stage}"

    @classmethod
    def from_context(cls, node: Node) -> StageSettings:
        def get(name: str) -> Any:
            return node.try_get_context(name)

        values: dict[str, Any] = {}
        if get("stage") is not None:
            values["stage"] = str(get("stage"))
        if get("cors_origins") is not None:
            raw = get("cors_origins")
            items = raw if isinstance(raw, list) else str(raw).split(",")
            values["cors_origins"] = tuple(str(o).strip() for o in items if str(o).strip())
        if get("throttle_rate") is not None:
            values["throttle_rate"] = _number(get("throttle_rate"), "throttle_rate", 1, 10_000)
        if get("throttle_burst") is not None:
            values["throttle_burst"] = int(
                _number(get("throttle_burst"), "throttle_burst", 1, 5_000)
            )
        if get("alarm_email"):
            values["alarm_email"] = str(get("alarm_email"))
        if get("log_retention_days") is not None:
            values["log_retention_days"] = int(
                _number(get("log_retention_days"), "log_retention_days", 1, 3653)
            )
        if get("mfa_required") is not None:
            values["mfa_required"] = _flag(get("mfa_required"), "mfa_required")
        if get("tracing") is not None:
            values["tracing"] = _flag(get("tracing"), "tracing")
        if get("failed_executions_threshold") is not None:
            values["failed_executions_threshold"] = int(
                _number(get("failed_executions_threshold"), "failed_executions_threshold", 1, 1e6)
            )
        for name in ("email_sender", "public_base_url"):
            if get(name):
                values[name] = str(get(name)).strip()
        return cls(**values)
