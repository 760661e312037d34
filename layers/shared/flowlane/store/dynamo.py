"""A thin, typed wrapper over the low-level DynamoDB client.

It serialises plain Python values, pages through queries and maps AWS failures to
`UpstreamError` in one place, so repositories read like the access patterns they implement.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from flowlane.errors import UpstreamError

Item = dict[str, Any]
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ConditionFailed(Exception):
    """A conditional write did not apply; the repository decides what that means."""


def _to_attr(value: Any) -> Any:
    if isinstance(value, float):
        value = Decimal(str(value))
    return _serializer.serialize(value)


def serialise(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _to_attr(value) for key, value in item.items() if value is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def deserialise(item: Mapping[str, Any]) -> Item:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Map an AWS failure to `UpstreamError`, a failed condition to `ConditionFailed`."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(code) from exc
        if code == "TransactionCanceledException":
            reasons = exc.response.get("CancellationReasons", [])
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise ConditionFailed(code) from exc
        raise UpstreamError(
            f"DynamoDB failed to {action}", {"service": "dynamodb", "aws_code": code}
        ) from exc
    except BotoCoreError as exc:
        raise UpstreamError(
            f"DynamoDB failed to {action}", {"service": "dynamodb", "reason": type(exc).__name__}
        ) from exc


class DynamoTable:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.name = table_name

    def describe(self) -> dict[str, Any]:
        with aws_errors("describe the table"):
            response: dict[str, Any] = self._client.describe_table(TableName=self.name)
        return response

    def get(self, key: Mapping[str, str], *, consistent: bool = True) -> Item | None:
        with aws_errors("read an item"):
            response = self._client.get_item(
                TableName=self.name, Key=serialise(key), ConsistentRead=consistent
            )
        raw = response.get("Item")
        return deserialise(raw) if raw else None

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": serialise(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if values:
            kwargs["ExpressionAttributeValues"] = serialise(values)
        with aws_errors("write an item"):
            self._client.put_item(**kwargs)

    def update(
        self,
        key: Mapping[str, str],
        *,
        set_values: Mapping[str, Any] | None = None,
        add: Mapping[str, Any] | None = None,
        condition: str | None = "attribute_exists(pk)",
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Item:
        """SET the given attributes and ADD to counters (numbers) or sets, in one atomic write;
        the item as it is after the write. The default condition refuses to create an item
        that is not there (ConditionFailed): an update of a missing item would make a headless
        one.
        `names`/`values` are the condition's placeholders."""
        condition_names, condition_values = names, values
        names = dict(condition_names or {})
        values = dict(condition_values or {})
        clauses: list[str] = []
        setting = {k: v for k, v in (set_values or {}).items() if v is not None}
        # None removes the attribute (serialise drops None values, as put does).
        removing = [k for k, v in (set_values or {}).items() if v is None]
        for i, (name, value) in enumerate(setting.items()):
            names[f"#s{i}"] = name
            values[f":s{i}"] = value
        if setting:
            clauses.append("SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(setting))))
        for i, name in enumerate(removing):
            names[f"#r{i}"] = name
        if removing:
            clauses.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(removing))))
        for i, (name, amount) in enumerate((add or {}).items()):
            names[f"#a{i}"] = name
            values[f":a{i}"] = amount
        if add:
            clauses.append("ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(add))))
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialise(key),
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = serialise(values)
        if condition:
            kwargs["ConditionExpression"] = condition
        with aws_errors("update an item"):
            response = self._client.update_item(**kwargs)
        return deserialise(response.get("Attributes", {}))

    def delete(self, key: Mapping[str, str], *, condition: str | None = None) -> Item | None:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialise(key),
            "ReturnValues": "ALL_OLD",
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        with aws_errors("delete an item"):
            response = self._client.delete_item(**kwargs)
        raw = response.get("Attributes")
        return deserialise(raw) if raw else None

    def query(
        self,
        pk_name: str,
        pk_value: str,
        *,
        sk_name: str | None = None,
        sk_prefix: str | None = None,
        projection: Sequence[str] | None = None,
        index: str | None = None,
        consistent: bool = False,
    ) -> Iterator[Item]:
        """Every item under one partition key (optionally a sort-key prefix), page by page."""
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": pk_value}
        condition = "#pk = :pk"
        if sk_prefix is not None and sk_name is not None:
            names["#sk"] = sk_name
            values[":sk"] = sk_prefix
            condition += " AND begins_with(#sk, :sk)"
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": serialise(values),
        }
        if projection:
            for i, attr in enumerate(projection):
                names[f"#p{i}"] = attr
            kwargs["ProjectionExpression"] = ", ".join(f"#p{i}" for i in range(len(projection)))
        kwargs["ExpressionAttributeNames"] = names
        if index:
            kwargs["IndexName"] = index
        elif consistent:
            kwargs["ConsistentRead"] = True
        yield from self._pages(kwargs)

    def query_desc(
        self, pk_name: str, pk_value: str, *, sk_name: str, below: str | None = None
    ) -> Iterator[Item]:
        """The items under one partition key, highest sort key first (only those below `below`
        when given: the next page after a cursor), page by page, strongly consistent."""
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": pk_value}
        condition = "#pk = :pk"
        if below is not None:
            names["#sk"] = sk_name
            values[":below"] = below
            condition += " AND #sk < :below"
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialise(values),
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        yield from self._pages(kwargs)

    def _pages(self, kwargs: dict[str, Any]) -> Iterator[Item]:
        """Every item a query answers, following LastEvaluatedKey."""
        while True:
            with aws_errors("query items"):
                response = self._client.query(**kwargs)
            for raw in response.get("Items", []):
                yield deserialise(raw)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def transact(self, operations: Sequence[Mapping[str, Any]]) -> None:
        """All or nothing (at most 100 operations). Each operation is one of
        `{"put": item, "condition": ..., "names": ..., "values": ...}` or
        `{"delete": key, "condition": ...}`; a failed condition raises `ConditionFailed`."""
        actions: list[dict[str, Any]] = []
        for operation in operations:
            if "put" in operation:
                kind, body = "Put", {"Item": serialise(operation["put"])}
            else:
                kind, body = "Delete", {"Key": serialise(operation["delete"])}
            action: dict[str, Any] = {"TableName": self.name, **body}
            if operation.get("condition"):
                action["ConditionExpression"] = operation["condition"]
            if operation.get("names"):
                action["ExpressionAttributeNames"] = dict(operation["names"])
            if operation.get("values"):
                action["ExpressionAttributeValues"] = serialise(operation["values"])
            actions.append({kind: action})
        with aws_errors("write items together"):
            self._client.transact_write_items(TransactItems=actions)

    def batch_get(self, keys: Sequence[Mapping[str, str]]) -> list[Item]:
        """Items for the keys, in no particular order (missing keys are absent)."""
        found: list[Item] = []
        pending = [serialise(k) for k in keys]
        attempts = 0
        while pending:
            chunk, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.name: {"Keys": chunk, "ConsistentRead": True}}
            while request:
                with aws_errors("read items"):
                    response = self._client.batch_get_item(RequestItems=request)
                found.extend(
                    deserialise(r) for r in response.get("Responses", {}).get(self.name, [])
                )
                request = response.get("UnprocessedKeys") or {}
                if request:
                    attempts += 1
                    if attempts > 10:
                        raise UpstreamError(
                            "DynamoDB kept throttling a batch read", {"service": "dynamodb"}
                        )
                    # Unprocessed keys mean throttling: back off before asking again.
                    time.sleep(min(0.05 * 2**attempts, 1.0))
        return found
