"""Log groups: every one named, with the stage's retention, kept outside dev."""

from __future__ import annotations

from aws_cdk import aws_logs as logs
from constructs import Construct

from flowlane_cdk.settings import StageSettings


def log_group(
    scope: Construct, construct_id: str, name: str, settings: StageSettings
) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=retention(settings.log_retention_days),
        removal_policy=settings.removal_policy,
    )


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch retention for `days`: the nearest allowed value at or above it."""
    for name, value in sorted(_RETENTION_DAYS.items(), key=lambda item: item[1]):
        if value >= days:
            return logs.RetentionDays[name]
    return logs.RetentionDays.TEN_YEARS


_RETENTION_DAYS = {
    "ONE_DAY": 1, "THREE_DAYS": 3, "FIVE_DAYS": 5, "ONE_WEEK": 7, "TWO_WEEKS": 14,
    "ONE_MONTH": 30, "TWO_MONTHS": 60, "THREE_MONTHS": 90, "FOUR_MONTHS": 120,
    "FIVE_MONTHS": 150, "SIX_MONTHS": 180, "ONE_YEAR": 365, "THIRTEEN_MONTHS": 400,
    "EIGHTEEN_MONTHS": 545, "TWO_YEARS": 731, "THREE_YEARS": 1096, "FIVE_YEARS": 1827,
    "SIX_YEARS": 2192, "SEVEN_YEARS": 2557, "EIGHT_YEARS": 2922, "NINE_YEARS": 3288,
    "TEN_YEARS": 3653,
}  # fmt: skip
