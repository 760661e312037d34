"""Observability: alarms (to an SNS topic, optionally e-mailed) and one dashboard.

What pages is what points at the platform, not at a user's workflow: API 5xx, function errors
and throttles, a burst of failed executions, schedule starts that failed, dead letters, table
throttling. The node runner is the exception to "function errors": it raises `NodeRetry` and
`NodeFailed` by design (Step Functions' Retry and Catch act on them), so its alarm counts
`NodeRunnerFaults`, the failures that were not a node's own outcome.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from flowlane_cdk.api import Api
from flowlane_cdk.data import Data
from flowlane_cdk.domain_function import DomainFunction
from flowlane_cdk.nag import suppress
from flowlane_cdk.settings import StageSettings

NAMESPACE = "Flowlane"  # flowlane.observability.METRICS_NAMESPACE
DIMENSIONS = {"service": "flowlane"}  # Powertools adds the service as a dimension
FIVE_MINUTES = cdk.Duration.minutes(5)


def flowlane_metric(name: str, label: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=DIMENSIONS,
        statistic="Sum",
        period=FIVE_MINUTES,
        label=label,
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        api: Api,
        data: Data,
        functions: dict[str, DomainFunction],
        schedule_start_machine: sfn.StateMachine,
        dead_letters: sqs.Queue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Alarms", topic_name=f"{settings.prefix}-alarms", enforce_ssl=True
        )
        suppress(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry only the alarm's name and state. CloudWatch cannot "
            "publish to a topic under the AWS managed SNS key; a customer key would cost a "
            "key per stage for no data worth protecting.",
        )
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        notify = actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        def alarm(name: str, metric: cloudwatch.IMetric, threshold: float, what: str) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                alarm_name=f"{settings.prefix}-{name}",
                alarm_description=what,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(notify)
            created.add_ok_action(notify)
            self.alarms[name] = created

        alarm(
            "api-5xx",
            api.http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            5,
            "The HTTP API answered 5xx at least 5 times in 5 minutes",
        )
        for name, fn in functions.items():
            slug = name.replace("_", "-")
            if name == "node_runner":
                alarm(
                    f"{slug}-faults",
                    flowlane_metric("NodeRunnerFaults", "node runner faults"),
                    1,
                    "The node runner failed for a reason other than a node's own outcome",
                )
            else:
                alarm(
                    f"{slug}-errors",
                    fn.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    1,
                    f"The {name} function raised an error",
                )
            alarm(
                f"{slug}-throttles",
                fn.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"Lambda throttled the {name} function",
            )
        alarm(
            "executions-failed",
            flowlane_metric("ExecutionsFailed", "executions failed or timed out"),
            settings.failed_executions_threshold,
            f"At least {settings.failed_executions_threshold} workflow executions failed or "
            "timed out in 5 minutes",
        )
        alarm(
            "schedule-starts-failed",
            schedule_start_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
            1,
            "A scheduled run could not be started (the schedule-start machine failed)",
        )
        alarm(
            "dead-letters",
            dead_letters.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            1,
            "Events or agent jobs ended in the dead-letter queue",
        )
        alarm(
            "table-throttles",
            cloudwatch.MathExpression(
                expression="r + w",
                using_metrics={
                    "r": data.table.metric(
                        "ReadThrottleEvents", period=FIVE_MINUTES, statistic="Sum"
                    ),
                    "w": data.table.metric(
                        "WriteThrottleEvents", period=FIVE_MINUTES, statistic="Sum"
                    ),
                },
                label="table throttle events",
                period=FIVE_MINUTES,
            ),
            1,
            "DynamoDB throttled reads or writes of the table",
        )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{settings.prefix}-overview"
        )
        fns = list(functions.values())
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.http_api.metric_count(period=FIVE_MINUTES),
                    api.http_api.metric_client_error(period=FIVE_MINUTES),
                    api.http_api.metric_server_error(period=FIVE_MINUTES),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency p90 (ms)",
                left=[api.http_api.metric_latency(period=FIVE_MINUTES, statistic="p90")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function invocations",
                left=[f.function.metric_invocations(period=FIVE_MINUTES) for f in fns],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function errors and throttles",
                left=[f.function.metric_errors(period=FIVE_MINUTES) for f in fns]
                + [f.function.metric_throttles(period=FIVE_MINUTES) for f in fns],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function duration p90 (ms)",
                left=[
                    f.function.metric_duration(period=FIVE_MINUTES, statistic="p90") for f in fns
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    flowlane_metric("ExecutionsFailed", "failed or timed out"),
                    flowlane_metric("ExecutionsClosedByEvents", "closed by status events"),
                    flowlane_metric("NodeRunnerFaults", "node runner faults"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Table and dead letters",
                left=[
                    data.table.metric_consumed_read_capacity_units(period=FIVE_MINUTES),
                    data.table.metric_consumed_write_capacity_units(period=FIVE_MINUTES),
                ],
                right=[
                    dead_letters.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)
                ],
                width=12,
            ),
        )
