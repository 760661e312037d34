"""S3 offload for values too large for a DynamoDB item (400 KB cap)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


class PayloadMissing(UpstreamError):
    """The object a record pointed at is gone: the record was rewritten (and its old object
    removed) between reading the record and reading the object. Readers re-read the record."""


class PayloadStore:
    """Large values in S3. The client may be given as a factory: most requests never offload,
    and creating an S3 client costs tens of milliseconds of a cold start."""

    def __init__(
        self, client: Any, bucket: str, *, client_factory: Callable[[], Any] | None = None
    ) -> None:
        self._given = client
        self._factory = client_factory
        self.bucket = bucket

    @property
    def _client(self) -> Any:
        if self._given is None and self._factory is not None:
            self._given = self._factory()
        return self._given

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        with _s3_errors("store a payload"):
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
            )

    def get(self, key: str) -> bytes:
        try:
            with _s3_errors("read a payload"):
                response = self._client.get_object(Bucket=self.bucket, Key=key)
                data: bytes = response["Body"].read()
        except UpstreamError as exc:
            if exc.details.get("aws_code") in ("NoSuchKey", "404"):
                raise PayloadMissing("S3 has no payload at the key", exc.details) from exc
            raise
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
