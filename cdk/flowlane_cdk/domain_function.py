"""One construct for every Lambda in functions/ (DESIGN.md "Examples": no per-function copies).

A function is a folder with a thin handler; what differs between them is data (`FunctionSpec`):
memory, timeout, whether it needs the AI layer. Everything else is the same for all: Python
3.12 on arm64, the shared layer, its own role (no managed policy: only its own log group, plus
the grants the stack adds), its own log group with a retention, JSON logs at INFO, and the
Powertools settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from flowlane_cdk.layers import ROOT, Layers
from flowlane_cdk.log_groups import log_group
from flowlane_cdk.nag import suppress
from flowlane_cdk.settings import StageSettings

FUNCTIONS_DIR = ROOT / "functions"


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the folder under functions/
    description: str
    memory_mb: int = 1024  # arm64 CPU scales with memory; 1 GB keeps cold starts short
    timeout_seconds: int = 29  # API Gateway cuts a request at ~30 s
    ai: bool = False  # attach the AI layer (LLM SDKs, LangGraph)

    @property
    def folder(self) -> Path:
        return FUNCTIONS_DIR / self.name

    @property
    def construct_id(self) -> str:
        return "".join(part.title() for part in self.name.split("_")) + "Function"


# The functions of DESIGN.md "Shape". Timeouts follow what each one waits for.
FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("workflows", "Flowlane API: /workflows, /node-templates, validate, test, asl"),
    FunctionSpec("executions", "Flowlane API: execute, /executions, /approvals"),
    FunctionSpec("runtime", "Flowlane API: /workflow/deployments, /triggers"),
    FunctionSpec("webhooks", "Flowlane API: the public /webhooks/{path} (each trigger's secret)"),
    FunctionSpec(
        "agent", "Flowlane API: sessions, chat and generation streams, generate, refine, query",
        ai=True,
    ),
    FunctionSpec("docs", "Flowlane API: /docs and /openapi.json of the whole API", memory_mb=512),
    # Generations with repair rounds take minutes with a slow model (DESIGN.md decision 6).
    FunctionSpec(
        "agent_worker", "Flowlane: long agent jobs (generations, query tasks), invoked async",
        timeout_seconds=600, ai=True,
    ),
    # A node's Task waits up to its node timeout plus a margin, at most Lambda's 15 minutes.
    FunctionSpec(
        "node_runner", "Flowlane: runs one node for a compiled state machine",
        timeout_seconds=900, ai=True,
    ),
    FunctionSpec(
        "execution_events", "Flowlane: Step Functions status changes -> execution records",
        memory_mb=512, timeout_seconds=60,
    ),
    # The schedule-start machine's Task times out at 120 s.
    FunctionSpec(
        "schedule_start", "Flowlane: starts the run of a scheduled trigger",
        memory_mb=512, timeout_seconds=90,
    ),
)  # fmt: skip


class DomainFunction(Construct):
    """A function from functions/<name>: its code, layers, role, log group and environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        layers: Layers,
        settings: StageSettings,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        name = f"{settings.prefix}-{spec.name.replace('_', '-')}"
        self.log_group = log_group(self, "Logs", f"/aws/lambda/{name}", settings)
        # Its own role with only its log group: the managed AWSLambdaBasicExecutionRole would
        # let it write to every log group of the account.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: its log group and the grants of its capability",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                # The group's ARN ends in ":*", which covers its streams and nothing else.
                resources=[self.log_group.log_group_arn],
            )
        )
        fn_layers = [layers.shared, layers.ai] if spec.ai else [layers.shared]
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=name,
            description=spec.description,
            # The handler folder only: the package and its dependencies come from the layers.
            code=lambda_.Code.from_asset(str(spec.folder), exclude=["__pycache__", "*.pyc"]),
            handler="handler.handler",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=spec.memory_mb,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            layers=fn_layers,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE if settings.tracing else lambda_.Tracing.DISABLED,
            environment={
                "FLOWLANE_RUNTIME": "aws",
                "FLOWLANE_STAGE": settings.stage,
                "FLOWLANE_TRACING": "true" if settings.tracing else "false",
                "POWERTOOLS_SERVICE_NAME": "flowlane",
                "POWERTOOLS_METRICS_NAMESPACE": "Flowlane",
                **environment,
            },
        )
        suppress(
            self.function,
            "AwsSolutions-L1",
            "Python 3.12 is the runtime Flowlane targets (DESIGN.md): the layers are built for "
            "cp312 wheels and the tests run the same major version; a runtime bump is a "
            "deliberate change of the layers too.",
        )
        if settings.tracing:
            suppress(
                self.role,
                "AwsSolutions-IAM5",
                "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
                "permissions; CDK adds them with Resource '*' when tracing is active.",
                applies_to=["Resource::*"],
            )

    def add_environment(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self.function.add_environment(key, value)

    def grant(self, statement: iam.PolicyStatement) -> None:
        self.role.add_to_policy(statement)
