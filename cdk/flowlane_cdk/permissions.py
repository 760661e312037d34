"""Each function's grants, statement by statement: what its code calls and nothing more.

Worked out from the call sites (docs/infrastructure.md, "Permissions" has the table with the
routes that need each action). Notably: only the functions that start runs may create state
machines and pass the machine role; only `runtime` and `workflows` (switching a workflow off
and on, deleting one) touch schedules and pass the scheduler role; `execution_events` calls no
Step Functions API; `docs` gets nothing. Wildcards are prefixes the code writes under (payload
keys, machine names, schedule and secret names), each suppression saying which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aws_cdk import aws_iam as iam
from cdk_nag import RegexAppliesTo

from flowlane.store import schema
from flowlane_cdk.engine import LOG_DELIVERY_REASON, log_delivery_statement
from flowlane_cdk.nag import arn_finding, suppress

if TYPE_CHECKING:
    from flowlane_cdk.stack import FlowlaneStack

# DynamoDB actions by need. Transactions use only Put and Delete, which DynamoDB authorises as
# PutItem and DeleteItem; nothing scans, batch-writes or uses PartiQL.
READ = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
WRITE = ("dynamodb:PutItem", "dynamodb:DeleteItem")
HEALTH = ("dynamodb:DescribeTable",)  # GET /health on every HTTP function


@dataclass(frozen=True)
class Needs:
    """What one function's code calls (see the module docstring)."""

    table: tuple[str, ...] = ()
    index: bool = False  # queries gsi1
    objects_read: tuple[str, ...] = ()  # payload prefixes it reads
    objects_write: tuple[str, ...] = ()  # ... writes
    objects_delete: tuple[str, ...] = ()  # ... deletes
    lists: tuple[str, ...] = ()  # prefixes it lists (to delete what is under them)
    starts_runs: bool = False  # compiles, creates machines, starts executions
    stops_runs: bool = False
    answers_tasks: bool = False  # SendTaskSuccess (approvals)
    removes_machines: bool = False  # ListExecutions + DeleteStateMachine
    writes_schedules: bool = False
    deletes_schedules: bool = False
    reads_credentials: bool = False  # nodes' stored credentials
    reads_llm_keys: bool = False
    sends_email: bool = False
    invokes_worker: bool = False
    extra: tuple[str, ...] = field(default=())  # other DynamoDB actions (UpdateItem)


EX, WF = "executions", "workflows"
NEEDS: dict[str, Needs] = {
    # /workflows CRUD, validate, test (runs nodes for real), asl; DELETE removes the
    # deployment, triggers and machines; PUT with `active` re-puts the schedules.
    "workflows": Needs(
        table=HEALTH + READ + WRITE,
        objects_read=(WF,), objects_write=(WF,), objects_delete=(WF,), lists=(WF,),
        removes_machines=True, writes_schedules=True, deletes_schedules=True,
        reads_credentials=True, reads_llm_keys=True, sends_email=True,
    ),
    "executions": Needs(
        table=HEALTH + READ + WRITE, index=True,
        objects_read=(WF, EX), objects_write=(WF, EX), objects_delete=(EX,), lists=(EX,),
        starts_runs=True, stops_runs=True, answers_tasks=True,
    ),
    "runtime": Needs(
        table=HEALTH + READ + WRITE,
        objects_read=(WF, EX), objects_write=(WF, EX), objects_delete=(WF, EX), lists=(WF, EX),
        starts_runs=True, removes_machines=True, writes_schedules=True, deletes_schedules=True,
    ),
    # Powertools idempotency updates its record (UpdateItem).
    "webhooks": Needs(
        table=HEALTH + READ + WRITE, extra=("dynamodb:UpdateItem",),
        objects_read=(WF, EX), objects_write=(WF, EX), objects_delete=(EX,), lists=(EX,),
        starts_runs=True,
    ),
    "schedule_start": Needs(
        table=READ + WRITE,
        objects_read=(WF, EX), objects_write=(WF, EX), objects_delete=(EX,), lists=(EX,),
        starts_runs=True,
    ),
    "node_runner": Needs(
        table=READ + WRITE,
        objects_read=(WF, EX), objects_write=(EX,), objects_delete=(EX,),
        answers_tasks=True, reads_credentials=True, reads_llm_keys=True, sends_email=True,
    ),
    "execution_events": Needs(
        table=("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"),
        objects_read=(WF, EX), objects_write=(EX,), objects_delete=(EX,),
    ),
    # Sessions are updated in place (UpdateItem); the query tools list executions (gsi1) and
    # may execute a workflow.
    "agent": Needs(
        table=HEALTH + READ + WRITE, extra=("dynamodb:UpdateItem",), index=True,
        objects_read=(WF, EX), objects_write=(WF, EX), objects_delete=(WF, EX), lists=(EX,),
        starts_runs=True, reads_llm_keys=True, invokes_worker=True,
    ),
    "agent_worker": Needs(
        table=READ + WRITE, extra=("dynamodb:UpdateItem",), index=True,
        objects_read=(WF, EX), objects_write=(WF, EX), objects_delete=(WF, EX), lists=(EX,),
        starts_runs=True, reads_llm_keys=True,
    ),
    "docs": Needs(),
}  # fmt: skip


def _statements(stack: FlowlaneStack, needs: Needs) -> list[iam.PolicyStatement]:
    table = stack.data.table.table_arn
    bucket = stack.data.payloads.bucket_arn
    engine, schedules = stack.engine, stack.schedules
    out: list[iam.PolicyStatement] = []

    def allow(actions: list[str], resources: list[str], **kw: object) -> None:
        out.append(iam.PolicyStatement(actions=actions, resources=resources, **kw))  # type: ignore[arg-type]

    if needs.table:
        allow(list(needs.table + needs.extra), [table])
    if needs.index:
        allow(["dynamodb:Query"], [f"{table}/index/{schema.GSI1}"])
    for action, prefixes in (
        ("s3:GetObject", needs.objects_read),
        ("s3:PutObject", needs.objects_write),
        ("s3:DeleteObject", needs.objects_delete),
    ):
        if prefixes:
            allow([action], [f"{bucket}/{p}/*" for p in prefixes])
    if needs.lists:
        allow(
            ["s3:ListBucket"],
            [bucket],
            conditions={"StringLike": {"s3:prefix": [f"{p}/*" for p in needs.lists]}},
        )
    if needs.starts_runs:
        allow(
            ["states:DescribeStateMachine", "states:CreateStateMachine", "states:StartExecution"],
            [engine.machines_arn],
        )
        allow(
            ["iam:PassRole"],
            [engine.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}},
        )
        out.append(log_delivery_statement())  # new machines log to the engine's log group
    if needs.stops_runs:
        allow(["states:StopExecution"], [engine.executions_arn])
    if needs.answers_tasks:
        # SendTaskSuccess has no resource type (Service Authorization Reference): a task
        # token is not a resource.
        allow(["states:SendTaskSuccess"], ["*"])
    if needs.removes_machines:
        allow(["states:ListExecutions", "states:DeleteStateMachine"], [engine.machines_arn])
    if needs.writes_schedules:
        allow(["scheduler:GetScheduleGroup"], [schedules.group_arn])
        allow(["scheduler:CreateSchedule", "scheduler:UpdateSchedule"], [schedules.schedules_arn])
        allow(
            ["iam:PassRole"],
            [schedules.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        )
    if needs.deletes_schedules:
        allow(["scheduler:DeleteSchedule"], [schedules.schedules_arn])
    if needs.reads_credentials:
        allow(["secretsmanager:GetSecretValue"], [stack.credentials_arn])
    if needs.reads_llm_keys:
        allow(["secretsmanager:GetSecretValue"], [stack.llm_keys.secret_arn])
    if needs.sends_email and stack.settings.email_sender:
        allow(["ses:SendEmail"], stack.email_identity_arns)
    if needs.invokes_worker:
        allow(["lambda:InvokeFunction"], [stack.functions["agent_worker"].function.function_arn])
    return out


def _wildcard_reasons(stack: FlowlaneStack) -> list[tuple[str | RegexAppliesTo, str]]:
    prefix = stack.settings.prefix
    return [
        (
            RegexAppliesTo(
                regex=r"/^Resource::<DataPayloads[A-Za-z0-9]+\.Arn>\/(executions|workflows)\/\*$/g"
            ),
            "Payload objects are keyed by owner and record id under executions/ and workflows/ "
            "(docs/data-model.md); the grant is one prefix of the stage's own bucket.",
        ),
        (
            arn_finding("states", f"stateMachine:{prefix}-*"),
            "Workflow machines are created at run time with content-addressed names under the "
            "stage's prefix (flowlane.engine.compiler.machine_name).",
        ),
        (
            arn_finding("states", f"execution:{prefix}-*:*"),
            "Executions of the stage's workflow machines, named at run time.",
        ),
        (
            arn_finding("scheduler", f"schedule/{prefix}/*"),
            "Schedules are named by trigger id at run time, all in the stage's schedule group.",
        ),
        (
            arn_finding("secretsmanager", f"secret:{prefix}/credentials/*"),
            "Credentials are secrets named <prefix><owner>/<name> by their users; the trailing "
            "wildcard also matches the six characters Secrets Manager appends to an ARN.",
        ),
        (
            "Resource::*",
            "SendTaskSuccess has no resource type (a task token is not a resource). "
            + LOG_DELIVERY_REASON,
        ),
    ]


def grant_permissions(stack: FlowlaneStack) -> None:
    reasons = _wildcard_reasons(stack)
    for name, fn in stack.functions.items():
        statements = _statements(stack, NEEDS[name])
        for statement in statements:
            fn.grant(statement)
        for applies_to, reason in reasons:
            suppress(fn.role, "AwsSolutions-IAM5", reason, applies_to=[applies_to])
    _environment(stack)


def _environment(stack: FlowlaneStack) -> None:
    """What each function must be told about the others (docs/operations.md)."""
    fns = stack.functions
    runs = {
        "FLOWLANE_NODE_RUNNER_ARN": fns["node_runner"].function.function_arn,
        "FLOWLANE_STATE_MACHINE_ROLE_ARN": stack.engine.role.role_arn,
        # The log group's ARN attribute already ends in ":*", as Step Functions requires.
        "FLOWLANE_STATE_MACHINE_LOG_GROUP_ARN": stack.engine.log_group.log_group_arn,
    }
    schedules = {
        "FLOWLANE_SCHEDULER_ROLE_ARN": stack.schedules.role.role_arn,
        "FLOWLANE_SCHEDULE_STARTER_ARN": stack.schedules.machine.state_machine_arn,
        "FLOWLANE_SCHEDULE_GROUP_NAME": stack.schedules.group_name,
    }
    llm = {"FLOWLANE_LLM_KEYS_SECRET": stack.llm_keys.secret_arn}
    api = {"FLOWLANE_AUTH_MODE": "cognito"}
    for name, fn in fns.items():
        needs = NEEDS[name]
        if needs.starts_runs or name == "workflows":  # workflows: GET /asl names the runner
            fn.add_environment(runs)
        if needs.writes_schedules or needs.deletes_schedules:
            fn.add_environment(schedules)
        if needs.reads_llm_keys:
            fn.add_environment(llm)
        if needs.sends_email and stack.settings.email_sender:
            fn.add_environment({"FLOWLANE_EMAIL_SENDER": stack.settings.email_sender})
        if name in ("workflows", "executions", "runtime", "webhooks", "agent", "docs"):
            fn.add_environment(api)
    fns["agent"].add_environment(
        {"FLOWLANE_AGENT_WORKER_FUNCTION": fns["agent_worker"].function.function_name}
    )
    if stack.settings.public_base_url:
        fns["runtime"].add_environment({"FLOWLANE_PUBLIC_BASE_URL": stack.settings.public_base_url})
