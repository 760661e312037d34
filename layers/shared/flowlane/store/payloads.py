"""S3 offload for values too large for a DynamoDB item (400 KB cap)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowlane.errors import UpstreamError


@contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        raise UpstreamError(f"S3 failed to {action}", {"service": "s3", "aws_code": code}) from exc


class PayloadStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        with _s3_errors("store a payload"):
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
            )

    def get(self, key: str) -> bytes:
        with _s3_errors("read a payload"):
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = response["Body"].read()
        return data

    def delete_prefix(self, prefix: str) -> None:
        with _s3_errors("delete payloads"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def delete_quietly(self, key: str) -> None:
        """Best-effort cleanup after a failed write; an orphaned object is harmless."""
        with suppress(ClientError, BotoCoreError):
            self._client.delete_object(Bucket=self.bucket, Key=key)
