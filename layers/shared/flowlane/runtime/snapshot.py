"""The embedded runtime's state on disk, under `.flowlane/state/`.

moto keeps everything in memory. This writes what users create (DynamoDB items, S3 objects,
Secrets Manager secrets, EventBridge Scheduler groups and schedules) to one JSON file per
service, read back at start. Reads go through the same boto3 API the application uses, so it
does not depend on moto's internals. Each file is written to a temporary name, flushed and
renamed, so a crash mid-write leaves the previous file.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from flowlane.runtime.aws import AwsClients

SERVICES = ("dynamodb", "s3", "secretsmanager", "scheduler")
_FORMAT = 1
_READ_PREFIXES = ("Get", "List", "Describe", "Scan", "Query", "Head", "BatchGet", "TransactGet")
# EventBridge Scheduler: the group that always exists, and what `create_schedule` accepts
# (ClientToken aside), as `get_schedule` answers it.
_DEFAULT_SCHEDULE_GROUP = "default"
_SCHEDULE_FIELDS = (
    "Name",
    "GroupName",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "State",
    "Description",
    "StartDate",
    "EndDate",
    "FlexibleTimeWindow",
    "Target",
    "ActionAfterCompletion",
    "KmsKeyArn",
)
_SCHEDULE_DATES = ("StartDate", "EndDate")


def is_write(operation: str) -> bool:
    return not operation.startswith(_READ_PREFIXES)


def _encode(value: Any) -> Any:
    """DynamoDB-typed JSON with bytes (B, BS) as base64."""
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class StateSnapshot:
    def __init__(
        self, clients: AwsClients, state_dir: Path, *, tables: list[str], buckets: list[str]
    ) -> None:
        self.clients = clients
        self.dir = state_dir / "state"
        self.tables = tables
        self.buckets = buckets

    def _file(self, service: str) -> Path:
        return self.dir / f"{service}.json"

    # -- save --------------------------------------------------------------------------------

    def save(self, services: tuple[str, ...] | list[str] = SERVICES) -> None:
        dumpers: dict[str, Callable[[], Any]] = {
            "dynamodb": self._dump_dynamodb,
            "s3": self._dump_s3,
            "secretsmanager": self._dump_secrets,
            "scheduler": self._dump_scheduler,
        }
        for service in services:
            payload = {"format": _FORMAT, "data": dumpers[service]()}
            write_atomically(self._file(service), json.dumps(_encode(payload)).encode())

    def _dump_dynamodb(self) -> dict[str, list[dict[str, Any]]]:
        client = self.clients.client("dynamodb")
        dump: dict[str, list[dict[str, Any]]] = {}
        for table in self.tables:
            items: list[dict[str, Any]] = []
            for page in client.get_paginator("scan").paginate(TableName=table):
                items.extend(page.get("Items", []))
            dump[table] = items
        return dump

    def _dump_s3(self) -> dict[str, list[dict[str, Any]]]:
        client = self.clients.client("s3")
        dump: dict[str, list[dict[str, Any]]] = {}
        for bucket in self.buckets:
            objects: list[dict[str, Any]] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for entry in page.get("Contents", []):
                    obj = client.get_object(Bucket=bucket, Key=entry["Key"])
                    objects.append(
                        {
                            "key": entry["Key"],
                            "body": obj["Body"].read(),
                            "content_type": obj.get("ContentType", "binary/octet-stream"),
                        }
                    )
            dump[bucket] = objects
        return dump

    def _dump_secrets(self) -> list[dict[str, Any]]:
        client = self.clients.client("secretsmanager")
        secrets: list[dict[str, Any]] = []
        for page in client.get_paginator("list_secrets").paginate():
            for entry in page.get("SecretList", []):
                value = client.get_secret_value(SecretId=entry["ARN"])
                secrets.append(
                    {
                        "name": entry["Name"],
                        "description": entry.get("Description", ""),
                        "string": value.get("SecretString"),
                        "binary": value.get("SecretBinary"),
                        "tags": entry.get("Tags", []),
                    }
                )
        return secrets

    def _dump_scheduler(self) -> dict[str, list[dict[str, Any]]]:
        client = self.clients.client("scheduler")
        groups: list[dict[str, Any]] = []
        schedules: list[dict[str, Any]] = []
        for page in client.get_paginator("list_schedule_groups").paginate():
            for group in page.get("ScheduleGroups", []):
                if group["Name"] != _DEFAULT_SCHEDULE_GROUP:
                    tags = client.list_tags_for_resource(ResourceArn=group["Arn"])
                    groups.append({"Name": group["Name"], "Tags": tags.get("Tags", [])})
                schedules.extend(self._dump_schedules(client, group["Name"]))
        return {"groups": groups, "schedules": schedules}

    @staticmethod
    def _dump_schedules(client: Any, group: str) -> list[dict[str, Any]]:
        schedules: list[dict[str, Any]] = []
        for page in client.get_paginator("list_schedules").paginate(GroupName=group):
            for entry in page.get("Schedules", []):
                try:
                    detail = client.get_schedule(GroupName=group, Name=entry["Name"])
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                        continue  # deleted while this snapshot was taken: the next one says so
                    raise
                record = {key: detail[key] for key in _SCHEDULE_FIELDS if detail.get(key)}
                for key in _SCHEDULE_DATES:
                    if key in record:
                        record[key] = record[key].astimezone(UTC).isoformat()
                schedules.append(record)
        return schedules

    # -- restore -----------------------------------------------------------------------------

    def restore(self) -> dict[str, int]:
        """Load every service file that exists; answer how many records each restored."""
        counts: dict[str, int] = {}
        for service, loader in (
            ("dynamodb", self._load_dynamodb),
            ("s3", self._load_s3),
            ("secretsmanager", self._load_secrets),
            ("scheduler", self._load_scheduler),
        ):
            path = self._file(service)
            if path.exists():
                payload = _decode(json.loads(path.read_bytes()))
                counts[service] = loader(payload["data"])
        return counts

    def _load_dynamodb(self, data: dict[str, list[dict[str, Any]]]) -> int:
        client = self.clients.client("dynamodb")
        count = 0
        for table, items in data.items():
            if table not in self.tables:
                continue
            for start in range(0, len(items), 25):
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                request: dict[str, Any] = {table: batch}
                while request:
                    response = client.batch_write_item(RequestItems=request)
                    request = response.get("UnprocessedItems") or {}
            count += len(items)
        return count

    def _load_s3(self, data: dict[str, list[dict[str, Any]]]) -> int:
        client = self.clients.client("s3")
        count = 0
        for bucket, objects in data.items():
            if bucket not in self.buckets:
                continue
            for obj in objects:
                client.put_object(
                    Bucket=bucket, Key=obj["key"], Body=obj["body"], ContentType=obj["content_type"]
                )
                count += 1
        return count

    def _load_secrets(self, data: list[dict[str, Any]]) -> int:
        client = self.clients.client("secretsmanager")
        for secret in data:
            kwargs: dict[str, Any] = {"Name": secret["name"], "Description": secret["description"]}
            if secret.get("string") is not None:
                kwargs["SecretString"] = secret["string"]
            else:
                kwargs["SecretBinary"] = secret["binary"]
            if secret.get("tags"):
                kwargs["Tags"] = secret["tags"]
            client.create_secret(**kwargs)
        return len(data)

    def _load_scheduler(self, data: dict[str, list[dict[str, Any]]]) -> int:
        client = self.clients.client("scheduler")
        for group in data.get("groups", []):
            kwargs: dict[str, Any] = {"Name": group["Name"]}
            if group.get("Tags"):
                kwargs["Tags"] = group["Tags"]
            client.create_schedule_group(**kwargs)
        schedules = data.get("schedules", [])
        for record in schedules:
            request = dict(record)
            for key in _SCHEDULE_DATES:
                if key in request:
                    request[key] = datetime.fromisoformat(request[key])
            # moto, as AWS, refuses to create a recurring schedule whose StartDate is more than
            # 5 minutes ago, which a restored one's usually is; moto's update does not check,
            # so the date is put back by one. (A schedule's CreationDate becomes now: the dev
            # scheduler keeps the one it first saw.)
            start = request.pop("StartDate", None)
            client.create_schedule(**request)
            if start is not None:
                client.update_schedule(**request, StartDate=start)
        return len(schedules)
