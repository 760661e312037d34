"""Engine: what compiled workflows run with on AWS (docs/operations.md, "Executions on AWS").

The functions create one state machine per workflow revision at run time (content-addressed
names under `flowlane-<stage>-`), so the stack deploys what those machines need rather than the
machines: the role they run as, the log group they log to, and the EventBridge rule that tells
`execution_events` when one ends by a path the machine itself does not record (a stop, a
timeout, a runtime error).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from cdk_nag import RegexAppliesTo
from constructs import Construct

from flowlane_cdk.domain_function import DomainFunction
from flowlane_cdk.log_groups import log_group
from flowlane_cdk.nag import arn_finding, suppress
from flowlane_cdk.settings import StageSettings

# The rule Step Functions manages for `.sync` integrations (child machines of split workflows).
SYNC_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
# The CloudWatch Logs vended-delivery actions Step Functions logging needs; they support no
# resource-level permissions (Step Functions developer guide, "Logging using CloudWatch Logs").
LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]
LOG_DELIVERY_REASON = (
    "The CloudWatch Logs vended-delivery actions Step Functions logging needs support no "
    "resource-level permissions (Step Functions developer guide, logging to CloudWatch Logs)."
)


def log_delivery_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=LOG_DELIVERY_ACTIONS, resources=["*"])


class Engine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        node_runner: DomainFunction,
        execution_events: DomainFunction,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.machine_prefix = f"{settings.prefix}-"
        # Every workflow machine of the stage, and its executions (child machines included).
        self.machines_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=f"{self.machine_prefix}*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.machine_prefix}*:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

        self.log_group = log_group(
            self, "MachineLogs", f"/aws/vendedlogs/states/{settings.prefix}-workflows", settings
        )

        # The role every workflow machine runs as (FLOWLANE_STATE_MACHINE_ROLE_ARN).
        self.role = iam.Role(
            self,
            "MachineRole",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"{settings.prefix}: the role Flowlane's workflow state machines run as",
        )
        node_runner_arn = node_runner.function.function_arn
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[node_runner_arn, f"{node_runner_arn}:*"],
            )
        )
        # Workflows too large for one definition run as a parent starting child machines with
        # `states:startExecution.sync:2`, which polls through Step Functions' managed rule.
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.machines_arn])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[self.executions_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(service="events", resource="rule", resource_name=SYNC_RULE)
                ],
            )
        )
        self.role.add_to_policy(log_delivery_statement())
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "Workflow machines are created at run time with content-addressed names under the "
            "stage's prefix; the grants are scoped to that prefix (machines and their "
            "executions) and to the node runner's versions. " + LOG_DELIVERY_REASON,
            applies_to=[
                RegexAppliesTo(regex=r"/^Resource::<NodeRunnerFunction[A-Za-z0-9]+\.Arn>:\*$/g"),
                arn_finding("states", f"stateMachine:{self.machine_prefix}*"),
                arn_finding("states", f"execution:{self.machine_prefix}*:*"),
                "Resource::*",
            ],
        )

        # Ends the machines do not record themselves reach execution_events.
        self.status_rule = events.Rule(
            self,
            "StatusChanges",
            description=f"{settings.prefix}: workflow executions that ended -> execution_events",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [
                        {
                            "prefix": stack.format_arn(
                                service="states",
                                resource="stateMachine",
                                resource_name=self.machine_prefix,
                                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                            )
                        }
                    ],
                },
            ),
        )
        self.status_rule.add_target(
            targets.LambdaFunction(
                execution_events.function,
                retry_attempts=8,
                max_event_age=cdk.Duration.hours(6),
                dead_letter_queue=dead_letters,
            )
        )
