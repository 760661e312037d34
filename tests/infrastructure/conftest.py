"""The CDK app synthesised once per session, with bundling skipped (no pip, no Docker, no AWS).

`dev` is the stage most tests read; `prod` is synthesised too for what differs outside dev
(deletion protection, retained data, MFA and e-mail settings).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cdk"))
# jsii prints a banner about Node 20's support window on every start.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

if shutil.which("node") is None:  # pragma: no cover - the CDK runs on Node.js
    pytest.skip("the CDK needs Node.js (node not on PATH)", allow_module_level=True)


@dataclass
class Synthesised:
    stack: Any  # flowlane_cdk.stack.FlowlaneStack
    template: dict[str, Any]
    template_path: Path
    errors: list[str]  # unsuppressed cdk-nag findings (and any other error annotation)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def logical_id(self, construct: Any) -> str:
        """The logical id of an L2 construct's main resource."""
        return str(self.stack.resolve(construct.node.default_child.logical_id))


def synthesise(
    outdir: Path, *, account: str | None = None, region: str | None = None, **context: Any
) -> Synthesised:
    from app import build_app

    app = build_app(
        {"aws:cdk:bundling-stacks": [], **context}, str(outdir), account=account, region=region
    )
    assembly = app.synth()
    (artifact,) = assembly.stacks
    stack = app.node.find_child(artifact.stack_name)
    errors = [
        f"{m.id}: {m.entry.data}" for m in artifact.messages if m.entry.type == "aws:cdk:error"
    ]
    return Synthesised(stack, artifact.template, Path(artifact.template_full_path), errors)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesised:
    return synthesise(tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesised:
    # With an account and region, as `make deploy` synthesises (the CLI resolves them): ARNs
    # render with literals where the dev stack has pseudo parameters.
    return synthesise(
        tmp_path_factory.mktemp("cdk-prod"),
        account="123456789012",
        region="eu-west-1",
        stage="prod",
        mfa_required="true",
        email_sender="alerts@example.org",
        alarm_email="ops@example.org",
        tracing="true",
    )


def render(value: Any) -> str:
    """A template value as text, the way cdk-nag shows it: `<Logical.Arn>`, `<AWS::Region>`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"<{arg}>"
        if key == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(render(p) for p in parts)
    raise AssertionError(f"cannot render {value!r}")


Grant = tuple[str, str, str]  # (action, resource, condition as sorted JSON or "")


def grants(synth: Synthesised, role_logical_id: str) -> set[Grant]:
    """Every (action, resource, condition) the role's inline policies allow, one per pair."""
    import json

    found: set[Grant] = set()
    for policy in synth.of_type("AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} not in roles:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            resources = statement["Resource"]
            condition = statement.get("Condition")
            for action in actions if isinstance(actions, list) else [actions]:
                for resource in resources if isinstance(resources, list) else [resources]:
                    found.add(
                        (
                            action,
                            render(resource),
                            json.dumps(condition, sort_keys=True) if condition else "",
                        )
                    )
    return found
