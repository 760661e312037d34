"""Functions: every folder in functions/ deployed the same way, each with only what it needs."""

from __future__ import annotations

import json

import pytest

from flowlane_cdk.domain_function import FUNCTIONS, FUNCTIONS_DIR
from flowlane_cdk.permissions import NEEDS
from tests.infrastructure.conftest import Synthesised, grants

LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
STATES = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"


def _function(synth: Synthesised, name: str) -> dict:
    fn = synth.stack.functions[name]
    return synth.resources[synth.logical_id(fn.function)]


def _role_id(synth: Synthesised, name: str) -> str:
    return synth.logical_id(synth.stack.functions[name].role)


def _ids(synth: Synthesised) -> dict[str, str]:
    """Logical ids of what grants point at."""
    stack = synth.stack
    return {
        "table": synth.logical_id(stack.data.table),
        "bucket": synth.logical_id(stack.data.payloads),
        "machine_role": synth.logical_id(stack.engine.role),
        "scheduler_role": synth.logical_id(stack.schedules.role),
        "llm_keys": synth.logical_id(stack.llm_keys),
    }


def test_every_functions_folder_is_deployed_once(dev: Synthesised) -> None:
    folders = sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "handler.py").is_file())
    assert sorted(spec.name for spec in FUNCTIONS) == folders
    names = sorted(
        r["Properties"]["FunctionName"]
        for r in dev.of_type("AWS::Lambda::Function").values()
        if "FunctionName" in r["Properties"]
    )
    assert names == sorted(f"flowlane-dev-{f.replace('_', '-')}" for f in folders)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_function_runtime_architecture_layers_and_settings(dev: Synthesised, spec) -> None:
    props = _function(dev, spec.name)["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["Timeout"] == spec.timeout_seconds
    assert props["MemorySize"] == spec.memory_mb
    shared = {"Ref": dev.logical_id(dev.stack.layers.shared)}
    ai = {"Ref": dev.logical_id(dev.stack.layers.ai)}
    # The two layers share no file (the AI layer holds only what the shared one lacks), so
    # their order does not matter.
    expected = [shared, ai] if spec.ai else [shared]
    assert sorted(props["Layers"], key=str) == sorted(expected, key=str)
    env = props["Environment"]["Variables"]
    assert env["FLOWLANE_RUNTIME"] == "aws"
    assert env["FLOWLANE_STAGE"] == "dev"
    assert env["POWERTOOLS_SERVICE_NAME"] == "flowlane"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Flowlane"
    # Never a dev secret or an endpoint override on AWS.
    assert not {"FLOWLANE_DEV_JWT_SECRET", "AWS_ENDPOINT_URL"} & set(env)
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["LogGroup"] == {
        "Ref": dev.logical_id(dev.stack.functions[spec.name].log_group)
    }


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_function_role_has_no_managed_policy_and_writes_only_its_own_logs(
    dev: Synthesised, spec
) -> None:
    role = dev.resources[_role_id(dev, spec.name)]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    logs_id = dev.logical_id(dev.stack.functions[spec.name].log_group)
    log_grants = {g for g in grants(dev, _role_id(dev, spec.name)) if g[0] in (
        "logs:CreateLogStream", "logs:PutLogEvents")}  # fmt: skip
    assert log_grants == {
        ("logs:CreateLogStream", f"<{logs_id}.Arn>", ""),
        ("logs:PutLogEvents", f"<{logs_id}.Arn>", ""),
    }


def test_node_runner_grants_statement_by_statement(dev: Synthesised, prod: Synthesised) -> None:
    ids = _ids(dev)
    logs_id = dev.logical_id(dev.stack.functions["node_runner"].log_group)
    bucket, table = f"<{ids['bucket']}.Arn>", f"<{ids['table']}.Arn>"
    expected = {
        ("logs:CreateLogStream", f"<{logs_id}.Arn>", ""),
        ("logs:PutLogEvents", f"<{logs_id}.Arn>", ""),
        *{(a, table, "") for a in (
            "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem",
            "dynamodb:PutItem", "dynamodb:DeleteItem")},
        ("s3:GetObject", f"{bucket}/executions/*", ""),
        ("s3:GetObject", f"{bucket}/workflows/*", ""),
        ("s3:PutObject", f"{bucket}/executions/*", ""),
        ("s3:DeleteObject", f"{bucket}/executions/*", ""),
        # Approvals whose outcome is known at once answer their own task token.
        ("states:SendTaskSuccess", "*", ""),
        (
            "secretsmanager:GetSecretValue",
            "arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:"
            "flowlane-dev/credentials/*",
            "",
        ),
        ("secretsmanager:GetSecretValue", f"<{ids['llm_keys']}>", ""),
    }  # fmt: skip
    assert grants(dev, _role_id(dev, "node_runner")) == expected

    # With an e-mail sender (prod), it may send as that address or its domain, nothing else.
    ses = {g for g in grants(prod, _role_id(prod, "node_runner")) if g[0].startswith("ses:")}
    assert ses == {
        ("ses:SendEmail", "arn:aws:ses:eu-west-1:123456789012:identity/alerts@example.org", ""),
        ("ses:SendEmail", "arn:aws:ses:eu-west-1:123456789012:identity/example.org", ""),
    }  # fmt: skip
    env = _function(prod, "node_runner")["Properties"]["Environment"]["Variables"]
    assert env["FLOWLANE_EMAIL_SENDER"] == "alerts@example.org"


def test_webhooks_grants_statement_by_statement(dev: Synthesised) -> None:
    ids = _ids(dev)
    logs_id = dev.logical_id(dev.stack.functions["webhooks"].log_group)
    bucket, table = f"<{ids['bucket']}.Arn>", f"<{ids['table']}.Arn>"
    expected = {
        ("logs:CreateLogStream", f"<{logs_id}.Arn>", ""),
        ("logs:PutLogEvents", f"<{logs_id}.Arn>", ""),
        # Health, trigger look-up, the Powertools idempotency record (UpdateItem), the run.
        *{(a, table, "") for a in (
            "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query",
            "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
            "dynamodb:UpdateItem")},
        ("s3:GetObject", f"{bucket}/executions/*", ""),
        ("s3:GetObject", f"{bucket}/workflows/*", ""),
        ("s3:PutObject", f"{bucket}/executions/*", ""),
        ("s3:PutObject", f"{bucket}/workflows/*", ""),
        ("s3:DeleteObject", f"{bucket}/executions/*", ""),
        ("s3:ListBucket", bucket, json.dumps({"StringLike": {"s3:prefix": ["executions/*"]}})),
        *{(a, f"{STATES}:stateMachine:flowlane-dev-*", "") for a in (
            "states:DescribeStateMachine", "states:CreateStateMachine",
            "states:StartExecution")},
        (
            "iam:PassRole",
            f"<{ids['machine_role']}.Arn>",
            json.dumps({"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}}),
        ),
        *{(a, "*", "") for a in LOG_DELIVERY},
    }  # fmt: skip
    assert grants(dev, _role_id(dev, "webhooks")) == expected


def test_docs_function_may_only_log(dev: Synthesised) -> None:
    assert {g[0] for g in grants(dev, _role_id(dev, "docs"))} == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_execution_events_calls_no_step_functions_api(dev: Synthesised) -> None:
    actions = {g[0] for g in grants(dev, _role_id(dev, "execution_events"))}
    assert actions == {
        "logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:GetItem", "dynamodb:PutItem",
        "dynamodb:Query", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_only_schedule_owners_touch_schedules_and_only_starters_pass_the_machine_role(
    dev: Synthesised, name: str
) -> None:
    ids = _ids(dev)
    found = grants(dev, _role_id(dev, name))
    actions = {g[0] for g in found}
    schedules = {a for a in actions if a.startswith("scheduler:")}
    if name in ("runtime", "workflows"):
        assert schedules == {
            "scheduler:GetScheduleGroup", "scheduler:CreateSchedule",
            "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
        }  # fmt: skip
        assert (
            "iam:PassRole",
            f"<{ids['scheduler_role']}.Arn>",
            json.dumps({"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}),
        ) in found
    else:
        assert not schedules
    passes = {g for g in found if g[0] == "iam:PassRole"}
    starts = "states:CreateStateMachine" in actions
    assert starts == (name in ("executions", "runtime", "webhooks", "schedule_start", "agent",
                               "agent_worker"))  # fmt: skip
    if starts:
        assert (
            "iam:PassRole",
            f"<{ids['machine_role']}.Arn>",
            json.dumps({"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}}),
        ) in passes
    # No function may pass any other role, nor pass one without naming the service.
    assert all(g[1] in (f"<{ids['machine_role']}.Arn>", f"<{ids['scheduler_role']}.Arn>")
               and g[2] for g in passes)  # fmt: skip
    # Nothing scans, batch-writes, or gets a DynamoDB or S3 wildcard action.
    assert not {a for a in actions if a.endswith(":*") or a in (
        "dynamodb:Scan", "dynamodb:BatchWriteItem", "s3:DeleteBucket")}  # fmt: skip


def test_agent_invokes_only_its_worker_and_knows_its_name(dev: Synthesised) -> None:
    worker = dev.logical_id(dev.stack.functions["agent_worker"].function)
    invokes = {g for g in grants(dev, _role_id(dev, "agent")) if g[0] == "lambda:InvokeFunction"}
    assert invokes == {("lambda:InvokeFunction", f"<{worker}.Arn>", "")}
    env = _function(dev, "agent")["Properties"]["Environment"]["Variables"]
    assert env["FLOWLANE_AGENT_WORKER_FUNCTION"] == {"Ref": worker}
    for name in NEEDS:
        if name != "agent":
            assert not {g for g in grants(dev, _role_id(dev, name)) if g[0].startswith("lambda:")}


def test_agent_worker_failures_end_in_the_dead_letter_queue(dev: Synthesised) -> None:
    (config,) = dev.of_type("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {
        "Ref": dev.logical_id(dev.stack.functions["agent_worker"].function)
    }
    assert props["MaximumRetryAttempts"] == 2
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.dead_letters), "Arn"]
    }


def test_wiring_environment(dev: Synthesised) -> None:
    ids = _ids(dev)
    runner = dev.logical_id(dev.stack.functions["node_runner"].function)
    for name in ("executions", "runtime", "webhooks", "schedule_start", "agent", "agent_worker"):
        env = _function(dev, name)["Properties"]["Environment"]["Variables"]
        assert env["FLOWLANE_NODE_RUNNER_ARN"] == {"Fn::GetAtt": [runner, "Arn"]}
        assert env["FLOWLANE_STATE_MACHINE_ROLE_ARN"] == {
            "Fn::GetAtt": [ids["machine_role"], "Arn"]
        }
        assert env["FLOWLANE_STATE_MACHINE_PREFIX"] == "flowlane-dev-"
        # CloudFormation's ARN of a log group ends in ":*" already, which is what Step
        # Functions' logging destination must end with (once: ":*:*" is refused).
        assert env["FLOWLANE_STATE_MACHINE_LOG_GROUP_ARN"] == {
            "Fn::GetAtt": [dev.logical_id(dev.stack.engine.log_group), "Arn"]
        }
    for name in ("runtime", "workflows"):
        env = _function(dev, name)["Properties"]["Environment"]["Variables"]
        assert env["FLOWLANE_SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": [ids["scheduler_role"], "Arn"]}
        assert env["FLOWLANE_SCHEDULE_STARTER_ARN"] == {
            "Ref": dev.logical_id(dev.stack.schedules.machine)
        }
        assert env["FLOWLANE_SCHEDULE_GROUP_NAME"] == "flowlane-dev"
    for name in ("workflows", "executions", "runtime", "webhooks", "agent"):
        env = _function(dev, name)["Properties"]["Environment"]["Variables"]
        assert env["FLOWLANE_AUTH_MODE"] == "cognito"
    for name in ("workflows", "node_runner", "agent", "agent_worker"):
        env = _function(dev, name)["Properties"]["Environment"]["Variables"]
        assert env["FLOWLANE_LLM_KEYS_SECRET"] == {"Ref": ids["llm_keys"]}
        assert "FLOWLANE_OPENAI_API_KEY" not in env  # keys live in the secret, not here
