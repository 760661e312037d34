"""Data, engine and scheduler resources: the properties docs/operations.md promises."""

from __future__ import annotations

import json

from flowlane.runtime.schedule_start import definition
from flowlane.store import schema
from tests.infrastructure.conftest import Synthesised, grants

STATES = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"


def test_table_matches_the_schema_the_embedded_runtime_uses(dev: Synthesised) -> None:
    (table,) = dev.of_type("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    request = schema.create_table_request("flowlane-dev")
    assert props["TableName"] == "flowlane-dev"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == request["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        request["AttributeDefinitions"], key=str
    )
    (index,) = props["GlobalSecondaryIndexes"]
    (expected,) = request["GlobalSecondaryIndexes"]
    assert index["IndexName"] == expected["IndexName"] == "gsi1"
    assert index["KeySchema"] == expected["KeySchema"]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    # dev may be torn down with its data; any other stage keeps and protects it.
    assert props["DeletionProtectionEnabled"] is False
    assert table["DeletionPolicy"] == "Delete"


def test_table_and_bucket_are_kept_and_protected_outside_dev(prod: Synthesised) -> None:
    (table,) = prod.of_type("AWS::DynamoDB::Table").values()
    assert table["Properties"]["TableName"] == "flowlane-prod"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    for bucket in prod.of_type("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    assert not prod.of_type("Custom::S3AutoDeleteObjects")


def _bucket_policy(synth: Synthesised, bucket_id: str) -> list[dict]:
    for policy in synth.of_type("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            statements: list[dict] = policy["Properties"]["PolicyDocument"]["Statement"]
            return statements
    raise AssertionError(f"no policy for {bucket_id}")


def test_payload_bucket_is_private_encrypted_tls_only_with_a_lifecycle(dev: Synthesised) -> None:
    bucket_id = dev.logical_id(dev.stack.data.payloads)
    props = dev.resources[bucket_id]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": dev.logical_id(dev.stack.data.access_logs)
    }
    denies = [s for s in _bucket_policy(dev, bucket_id) if s["Effect"] == "Deny"]
    assert any(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*"
        for s in denies
    )


def test_state_machine_role_invokes_the_node_runner_and_starts_child_machines(
    dev: Synthesised,
) -> None:
    role_id = dev.logical_id(dev.stack.engine.role)
    trust = dev.resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    runner = dev.logical_id(dev.stack.functions["node_runner"].function)
    found = {(a, r) for a, r, _ in grants(dev, role_id) if not a.startswith("logs:")}
    assert found == {
        ("lambda:InvokeFunction", f"<{runner}.Arn>"),
        ("lambda:InvokeFunction", f"<{runner}.Arn>:*"),
        ("states:StartExecution", f"{STATES}:stateMachine:flowlane-dev-*"),
        ("states:DescribeExecution", f"{STATES}:execution:flowlane-dev-*:*"),
        ("states:StopExecution", f"{STATES}:execution:flowlane-dev-*:*"),
        *{
            (a, "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/"
             "StepFunctionsGetEventsForStepFunctionsExecutionRule")
            for a in ("events:PutTargets", "events:PutRule", "events:DescribeRule")
        },
    }  # fmt: skip


def test_status_changes_of_the_stage_machines_reach_execution_events(dev: Synthesised) -> None:
    (rule,) = dev.of_type("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert set(pattern["detail"]["status"]) == {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
    (prefix,) = pattern["detail"]["stateMachineArn"]
    from tests.infrastructure.conftest import render

    assert render(prefix["prefix"]) == f"{STATES}:stateMachine:flowlane-dev-"
    (target,) = rule["Properties"]["Targets"]
    events_fn = dev.logical_id(dev.stack.functions["execution_events"].function)
    assert target["Arn"] == {"Fn::GetAtt": [events_fn, "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.dead_letters), "Arn"]
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8


def test_schedule_start_machine_runs_the_runtime_definition_and_is_outside_the_prefix(
    dev: Synthesised,
) -> None:
    machine_id = dev.logical_id(dev.stack.schedules.machine)
    props = dev.resources[machine_id]["Properties"]
    name = props["StateMachineName"]
    assert name == "flowlane-dev_schedule-start"
    assert not name.startswith("flowlane-dev-")
    function = dev.logical_id(dev.stack.functions["schedule_start"].function)
    assert props["DefinitionSubstitutions"] == {
        "ScheduleStartFunction": {"Fn::GetAtt": [function, "Arn"]}
    }
    assert json.loads(props["DefinitionString"]) == definition("${ScheduleStartFunction}")
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}
    role = props["RoleArn"]["Fn::GetAtt"][0]
    assert {(a, r) for a, r, _ in grants(dev, role) if a.startswith("lambda:")} == {
        ("lambda:InvokeFunction", f"<{function}.Arn>")
    }


def test_scheduler_role_may_start_the_schedule_start_machine_only(dev: Synthesised) -> None:
    (group,) = dev.of_type("AWS::Scheduler::ScheduleGroup").values()
    assert group["Properties"]["Name"] == "flowlane-dev"
    role_id = dev.logical_id(dev.stack.schedules.role)
    trust = dev.resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    conditions = trust["Condition"]["StringEquals"]
    assert conditions["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    from tests.infrastructure.conftest import render

    assert render(conditions["aws:SourceArn"]) == (
        "arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule-group/flowlane-dev"
    )
    machine = dev.logical_id(dev.stack.schedules.machine)
    assert grants(dev, role_id) == {("states:StartExecution", f"<{machine}>", "")}


def test_llm_keys_secret_starts_empty(dev: Synthesised) -> None:
    (secret,) = dev.of_type("AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["Name"] == "flowlane-dev/llm-keys"
    assert json.loads(secret["Properties"]["SecretString"]) == {}


def test_dead_letter_queue_is_encrypted_and_tls_only(dev: Synthesised) -> None:
    queue_id = dev.logical_id(dev.stack.dead_letters)
    assert dev.resources[queue_id]["Properties"]["SqsManagedSseEnabled"] is True
    (policy,) = dev.of_type("AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_access_logs_arrive_through_the_bucket_policy_with_acls_off(dev: Synthesised) -> None:
    logs_id = dev.logical_id(dev.stack.data.access_logs)
    props = dev.resources[logs_id]["Properties"]
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in props
    (delivery,) = [
        s
        for s in _bucket_policy(dev, logs_id)
        if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.data.payloads), "Arn"]
    }
