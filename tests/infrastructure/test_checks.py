"""What checks the stack: cdk-nag (no unsuppressed finding, every suppression reasoned),
cfn-lint, the alarms, and the settings a deployment may pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from flowlane_cdk.domain_function import FUNCTIONS
from flowlane_cdk.settings import SettingsError, StageSettings
from tests.infrastructure.conftest import ROOT, Synthesised, synthesise

# The console script pip installed beside this interpreter (what `make synth` runs).
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))


def test_no_unsuppressed_cdk_nag_finding(dev: Synthesised, prod: Synthesised) -> None:
    assert dev.errors == []
    assert prod.errors == []


def test_every_suppression_says_why(dev: Synthesised) -> None:
    suppressions = [
        rule
        for resource in dev.resources.values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert suppressions
    for rule in suppressions:
        assert rule["id"].startswith("AwsSolutions-")
        assert len(rule["reason"]) >= 40, rule


def test_cdk_nag_does_find_what_is_not_suppressed(tmp_path) -> None:
    """The check can fail: an unencrypted, unlogged bucket and a wildcard grant are reported."""
    from app import build_app

    app = build_app({"aws:cdk:bundling-stacks": []}, str(tmp_path))
    stack = app.node.find_child("flowlane-dev")
    s3.CfnBucket(stack, "CarelessBucket")
    careless = iam.Role(stack, "CarelessRole", assumed_by=iam.AccountRootPrincipal())
    careless.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    (artifact,) = app.synth().stacks
    errors = [m.entry.data for m in artifact.messages if m.entry.type == "aws:cdk:error"]
    assert any("AwsSolutions-S1" in str(e) for e in errors)
    assert any("AwsSolutions-IAM5" in str(e) and "Action::s3:*" in str(e) for e in errors)


def test_cfn_lint_passes_on_the_synthesised_templates(dev: Synthesised, prod: Synthesised) -> None:
    result = subprocess.run(
        [CFN_LINT, "--config-file", str(ROOT / ".cfnlintrc.yaml"), "--",
         str(dev.template_path), str(prod.template_path)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_reports_a_broken_template(tmp_path) -> None:
    broken = tmp_path / "broken.template.json"
    broken.write_text(
        '{"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "X"}}}}'
    )
    result = subprocess.run(
        [CFN_LINT, "--", str(broken)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "E" in result.stdout


def _metric(alarm: dict) -> tuple[str, str]:
    """(namespace, metric name) of an alarm on one metric, in either template form."""
    if "MetricName" in alarm:
        return alarm["Namespace"], alarm["MetricName"]
    (query,) = alarm["Metrics"]
    metric = query["MetricStat"]["Metric"]
    return metric["Namespace"], metric["MetricName"]


def test_alarms_page_on_the_platform_not_on_a_users_workflow(dev: Synthesised) -> None:
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in dev.of_type("AWS::CloudWatch::Alarm").values()
    }
    expected = {"flowlane-dev-api-5xx", "flowlane-dev-executions-failed",
                "flowlane-dev-schedule-starts-failed", "flowlane-dev-dead-letters",
                "flowlane-dev-table-throttles", "flowlane-dev-node-runner-faults"}  # fmt: skip
    for spec in FUNCTIONS:
        slug = spec.name.replace("_", "-")
        expected.add(f"flowlane-dev-{slug}-throttles")
        if spec.name != "node_runner":
            expected.add(f"flowlane-dev-{slug}-errors")
    assert set(alarms) == expected
    topic = {"Ref": dev.logical_id(dev.stack.observability.topic)}
    for props in alarms.values():
        assert props["AlarmActions"] == [topic]
    # NodeRetry and NodeFailed are a node's outcome, raised by design: the node runner's alarm
    # counts its own faults, not Lambda's Errors.
    faults = alarms["flowlane-dev-node-runner-faults"]
    assert _metric(faults) == ("Flowlane", "NodeRunnerFaults")
    failed = alarms["flowlane-dev-executions-failed"]
    assert _metric(failed) == ("Flowlane", "ExecutionsFailed")
    assert failed["Threshold"] == 10
    assert _metric(alarms["flowlane-dev-api-5xx"]) == ("AWS/ApiGateway", "5xx")
    runner = dev.logical_id(dev.stack.functions["node_runner"].function)
    throttles = alarms["flowlane-dev-node-runner-throttles"]
    assert _metric(throttles) == ("AWS/Lambda", "Throttles")
    assert throttles["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": runner}}]
    assert len(dev.of_type("AWS::CloudWatch::Dashboard")) == 1


def test_alarm_email_subscribes_to_the_topic(dev: Synthesised, prod: Synthesised) -> None:
    assert not dev.of_type("AWS::SNS::Subscription")
    (subscription,) = prod.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.org"


def test_tracing_is_a_setting(dev: Synthesised, prod: Synthesised) -> None:
    for synth, mode, flag in ((dev, None, "false"), (prod, "Active", "true")):
        for fn in synth.of_type("AWS::Lambda::Function").values():
            props = fn["Properties"]
            if "FunctionName" not in props:
                continue  # the bucket auto-delete provider (dev only)
            assert props.get("TracingConfig", {}).get("Mode") == mode
            assert props["Environment"]["Variables"]["FLOWLANE_TRACING"] == flag


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"stage": "Prod!"}, "stage"),
        ({"stage": "a-b"}, "stage"),
        ({"alarm_email": "nobody"}, "alarm_email"),
        ({"email_sender": "x@"}, "email_sender"),
        ({"throttle_rate": "fast"}, "throttle_rate"),
        ({"throttle_rate": "0"}, "throttle_rate"),
        ({"mfa_required": "maybe"}, "mfa_required"),
        ({"public_base_url": "http://api.example.com"}, "public_base_url"),
        ({"cors_origins": ","}, "cors_origins"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(context, message) -> None:
    app = cdk.App(context=context)
    with pytest.raises(SettingsError, match=message):
        StageSettings.from_context(app.node)


def test_settings_from_context() -> None:
    context = {
        "stage": "qa",
        "cors_origins": "https://a.example, https://b.example",
        "log_retention_days": "45",
        "throttle_burst": 7,
    }
    app = cdk.App(context=context)
    settings = StageSettings.from_context(app.node)
    assert settings.prefix == "flowlane-qa"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert (settings.log_retention_days, settings.throttle_burst) == (45, 7)
    assert not settings.is_dev


def test_app_refuses_a_bad_stage_with_exit_code_2(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "cdk" / "app.py"), "--stage", "BAD", "--no-bundling",
         "--outdir", str(tmp_path)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    assert "stage" in result.stderr


def test_another_stage_gets_its_own_names(tmp_path) -> None:
    qa = synthesise(tmp_path, stage="qa")
    names = {
        r["Properties"].get("FunctionName") for r in qa.of_type("AWS::Lambda::Function").values()
    }
    assert "flowlane-qa-node-runner" in names
    assert not any(str(n).startswith("flowlane-dev") for n in names)
