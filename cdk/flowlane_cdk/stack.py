"""The Flowlane stack: one construct per capability, composed here.

Data (table, payload bucket) -> Layers -> one DomainFunction per functions/ folder -> Engine
(the role and log group of workflow machines, the status-change rule) -> Schedules (group,
schedule-start machine, scheduler role) -> Permissions (each function's grants, statement by
statement) -> Api (Cognito, HTTP API, routes) -> Observability (alarms, dashboard).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from flowlane_cdk.api import Api
from flowlane_cdk.data import Data
from flowlane_cdk.domain_function import FUNCTIONS, DomainFunction
from flowlane_cdk.engine import Engine
from flowlane_cdk.layers import Layers
from flowlane_cdk.nag import suppress
from flowlane_cdk.observability import Observability
from flowlane_cdk.permissions import grant_permissions
from flowlane_cdk.scheduler import Schedules
from flowlane_cdk.settings import StageSettings


class FlowlaneStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StageSettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.data = Data(self, "Data", settings=settings)
        self.layers = Layers(self, "Layers", stage=settings.stage)

        # The LLM keys (openai_api_key, anthropic_api_key) as one JSON secret, read by the
        # functions on first use; created empty, filled by the operator (README).
        self.llm_keys = secretsmanager.Secret(
            self,
            "LlmKeys",
            secret_name=f"{settings.prefix}/llm-keys",
            description="Flowlane: LLM provider API keys as JSON "
            '{"openai_api_key": "...", "anthropic_api_key": "..."}',
            # "{}" is not a secret: no provider key until the operator puts one.
            secret_string_value=cdk.SecretValue.unsafe_plain_text("{}"),
            removal_policy=settings.removal_policy,
        )
        suppress(
            self.llm_keys,
            "AwsSolutions-SMG4",
            "The secret holds third-party API keys (OpenAI, Anthropic) that only their "
            "provider's console can rotate; there is no rotation Lambda to write for them.",
        )

        # Events the status rule could not deliver, and agent jobs that failed all retries.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{settings.prefix}-dead-letters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        suppress(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the status rule's target and of the "
            "agent worker's asynchronous invocations.",
        )

        environment = {
            "FLOWLANE_TABLE_NAME": self.data.table.table_name,
            "FLOWLANE_PAYLOAD_BUCKET": self.data.payloads.bucket_name,
            "FLOWLANE_STATE_MACHINE_PREFIX": f"{settings.prefix}-",
            "FLOWLANE_CREDENTIALS_PREFIX": f"{settings.prefix}/credentials/",
        }
        self.functions = {
            spec.name: DomainFunction(
                self,
                spec.construct_id,
                spec=spec,
                layers=self.layers,
                settings=settings,
                environment=environment,
            )
            for spec in FUNCTIONS
        }
        self.engine = Engine(
            self,
            "Engine",
            settings=settings,
            node_runner=self.functions["node_runner"],
            execution_events=self.functions["execution_events"],
            dead_letters=self.dead_letters,
        )
        self.schedules = Schedules(
            self, "Schedules", settings=settings, schedule_start=self.functions["schedule_start"]
        )
        # Lambda retries a failed async job twice; after that it is a dead letter, not lost.
        self.functions["agent_worker"].function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=cdk.Duration.hours(1),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        grant_permissions(self)
        self.api = Api(self, "Api", settings=settings, functions=self.functions)
        self.observability = Observability(
            self,
            "Observability",
            settings=settings,
            api=self.api,
            data=self.data,
            functions=self.functions,
            schedule_start_machine=self.schedules.machine,
            dead_letters=self.dead_letters,
        )

        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="The API's base URL")
        cdk.CfnOutput(self, "UserPoolId", value=self.api.user_pool.user_pool_id)
        cdk.CfnOutput(self, "UserPoolClientId", value=self.api.client.user_pool_client_id)
        cdk.CfnOutput(self, "TableName", value=self.data.table.table_name)
        cdk.CfnOutput(self, "LlmKeysSecret", value=self.llm_keys.secret_name)
        cdk.CfnOutput(self, "AlarmTopic", value=self.observability.topic.topic_arn)

    @property
    def credentials_arn(self) -> str:
        """Every stored credential of the stage (FLOWLANE_CREDENTIALS_PREFIX)."""
        return self.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.settings.prefix}/credentials/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    @property
    def email_identity_arns(self) -> list[str]:
        """The sender's SES identities: the address, and its domain (either may be verified)."""
        sender = self.settings.email_sender or ""
        return [
            self.format_arn(service="ses", resource="identity", resource_name=name)
            for name in (sender, sender.rpartition("@")[2])
        ]
