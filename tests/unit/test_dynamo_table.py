"""DynamoTable's batch read: throttled keys are asked for again, with a limit."""

from __future__ import annotations

from typing import Any

import pytest

from flowlane.errors import UpstreamError
from flowlane.store import dynamo
from flowlane.store.dynamo import DynamoTable, serialise


class ThrottlingClient:
    """Answers batch_get_item like DynamoDB under throttling: the first `throttled` calls
    return every key as unprocessed."""

    def __init__(self, throttled: int) -> None:
        self.throttled = throttled
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        ((table, request),) = RequestItems.items()
        if self.calls <= self.throttled:
            return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}
        return {"Responses": {table: [{**key, "n": {"N": "1"}} for key in request["Keys"]]}}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", slept.append)
    return slept


def test_unprocessed_keys_are_retried_with_backoff(sleeps: list[float]) -> None:
    client = ThrottlingClient(throttled=2)

    items = DynamoTable(client, "t").batch_get([{"pk": "a", "sk": "1"}, {"pk": "a", "sk": "2"}])

    assert sorted(i["sk"] for i in items) == ["1", "2"]
    assert client.calls == 3
    assert sleeps == [0.1, 0.2]


def test_a_batch_read_that_stays_throttled_is_an_upstream_error(sleeps: list[float]) -> None:
    client = ThrottlingClient(throttled=1_000)

    with pytest.raises(UpstreamError, match="throttling"):
        DynamoTable(client, "t").batch_get([{"pk": "a", "sk": "1"}])

    assert client.calls == 11
    assert max(sleeps) == 1.0


def test_serialise_keeps_floats_exact_and_drops_none() -> None:
    assert serialise({"f": 0.1, "n": None, "s": "x"}) == {"f": {"N": "0.1"}, "s": {"S": "x"}}
