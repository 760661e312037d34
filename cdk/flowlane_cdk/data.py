"""Data: the one DynamoDB table and the payload bucket (docs/data-model.md).

The table's keys, index and TTL attribute come from `flowlane.store.schema`, the module the
embedded runtime creates its table from, so local and AWS cannot drift.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from flowlane.store import schema
from flowlane_cdk.nag import suppress
from flowlane_cdk.settings import StageSettings

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}


def _attribute(request: dict[str, Any], name: str) -> dynamodb.Attribute:
    types = {d["AttributeName"]: d["AttributeType"] for d in request["AttributeDefinitions"]}
    return dynamodb.Attribute(name=name, type=_TYPES[types[name]])


def _keys(request: dict[str, Any], key_schema: list[dict[str, str]]) -> dict[str, Any]:
    roles = {k["KeyType"]: k["AttributeName"] for k in key_schema}
    keys = {"partition_key": _attribute(request, roles["HASH"])}
    if "RANGE" in roles:
        keys["sort_key"] = _attribute(request, roles["RANGE"])
    return keys


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, construct_id)
        keep = settings.removal_policy
        request = schema.create_table_request(settings.prefix)

        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=request["TableName"],
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            **_keys(request, request["KeySchema"]),
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=not settings.is_dev,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=keep,
        )
        for index in request["GlobalSecondaryIndexes"]:
            self.table.add_global_secondary_index(
                index_name=index["IndexName"],
                **_keys(request, index["KeySchema"]),
                projection_type=dynamodb.ProjectionType[index["Projection"]["ProjectionType"]],
            )

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # ACLs off: the log delivery service writes through the bucket policy.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
            removal_policy=keep,
            auto_delete_objects=settings.is_dev,
        )
        suppress(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket is the payload bucket's server access log destination; logging its "
            "own access would log into itself.",
        )

        self.payloads = s3.Bucket(
            self,
            "Payloads",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # Records point at objects; a version kept for a while makes an overwrite or a
            # delete recoverable alongside the table's point-in-time recovery.
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="payloads/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                ),
            ],
            removal_policy=keep,
            auto_delete_objects=settings.is_dev,
        )
