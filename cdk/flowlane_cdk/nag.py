"""cdk-nag suppressions, each with its reason, next to the resource it excuses.

The stack runs the AwsSolutions pack (cdk_nag.AwsSolutionsChecks) on every synth; a finding
without a suppression fails `make synth` and the infrastructure tests.
"""

from __future__ import annotations

import re

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

# cdk-nag refuses short reasons; ours say why the rule does not apply, not just that it does not.
_MIN_REASON = 40


def arn_finding(service: str, resource: str) -> RegexAppliesTo:
    """The IAM5 finding of an ARN built with `Stack.format_arn`, whichever way it renders: with
    the pseudo parameters (an environment-agnostic synth) or with the partition, region and
    account the CLI resolved (`make deploy`)."""
    head = (
        r"^Resource::arn:(<AWS::Partition>|aws[a-z-]*):"
        + re.escape(service)
        + r":(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):"
    )
    body = re.escape(resource).replace("/", r"\/")
    return RegexAppliesTo(regex=f"/{head}{body}$/g")


def suppress(
    construct: IConstruct,
    rule: str,
    reason: str,
    *,
    applies_to: list[str | RegexAppliesTo] | None = None,
    children: bool = True,
) -> None:
    """Suppress `rule` on `construct` (and its children) for `reason`, optionally only for the
    findings `applies_to` names (an IAM5 wildcard, a managed policy)."""
    if len(reason) < _MIN_REASON:
        raise ValueError(f"the reason for suppressing {rule} must say why: {reason!r}")
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)],
        apply_to_children=children,
    )
