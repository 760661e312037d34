"""Scheduler: the schedule group, the schedule-start machine and the role Scheduler assumes.

Every schedule trigger becomes an EventBridge Scheduler schedule in the stage's group that
starts the schedule-start machine (`flowlane.runtime.schedule_start`), whose one Task fires the
trigger: it looks up the trigger, skips it when its workflow is inactive, and starts the run.
The scheduler role may start that machine and nothing else.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from flowlane.runtime.schedule_start import definition
from flowlane_cdk.domain_function import DomainFunction
from flowlane_cdk.engine import LOG_DELIVERY_REASON, log_delivery_statement
from flowlane_cdk.log_groups import log_group
from flowlane_cdk.nag import suppress
from flowlane_cdk.settings import StageSettings


class Schedules(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        schedule_start: DomainFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.group_name = settings.prefix
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=self.group_name)
        self.group_arn = stack.format_arn(
            service="scheduler", resource="schedule-group", resource_name=self.group_name
        )
        self.schedules_arn = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{self.group_name}/*"
        )

        function_arn = schedule_start.function.function_arn
        role = iam.Role(
            self,
            "MachineRole",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"{settings.prefix}: the schedule-start machine",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function_arn])
        )
        role.add_to_policy(log_delivery_statement())
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                resources=["*"],
            )
        )
        suppress(
            role,
            "AwsSolutions-IAM5",
            LOG_DELIVERY_REASON + " X-Ray's trace and sampling actions support none either.",
            applies_to=["Resource::*"],
        )
        machine_logs = log_group(
            self,
            "MachineLogs",
            f"/aws/vendedlogs/states/{settings.prefix}-schedule-start",
            settings,
        )
        self.machine = sfn.StateMachine(
            self,
            "Machine",
            # Outside the `flowlane-<stage>-` prefix of workflow machines (a stage name has no
            # underscore), so their roles and the status rule never cover it.
            state_machine_name=f"{settings.prefix}_schedule-start",
            definition_body=sfn.DefinitionBody.from_string(
                json.dumps(definition("${ScheduleStartFunction}"))
            ),
            definition_substitutions={"ScheduleStartFunction": function_arn},
            role=role,
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(destination=machine_logs, level=sfn.LogLevel.ALL),
            tracing_enabled=True,
        )

        # The role EventBridge Scheduler assumes for Flowlane's schedules (and only those).
        self.role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                # Scheduler names the schedule group as the source (Scheduler user guide,
                # "Set up the execution role"): schedules of other groups cannot use it.
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": self.group_arn,
                    }
                },
            ),
            description=f"{settings.prefix}: EventBridge Scheduler starting scheduled runs",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[self.machine.state_machine_arn],
            )
        )
