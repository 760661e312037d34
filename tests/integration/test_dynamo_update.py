"""`DynamoTable.update`: one atomic write that sets, counts, collects and removes."""

from __future__ import annotations

import pytest

from flowlane.runtime.services import Services
from flowlane.store.dynamo import ConditionFailed

KEY = {"pk": "USER#alice", "sk": "THING#1"}


def test_update_sets_adds_and_removes_in_one_write(services: Services) -> None:
    table = services.table
    table.put({**KEY, "name": "a", "note": "drop me", "count": 1})

    after = table.update(
        KEY,
        set_values={"name": "b", "note": None},
        add={"count": 2, "tags": {"x"}},
    )
    again = table.update(KEY, add={"tags": {"y"}})

    assert after["name"] == "b"
    assert after["count"] == 3
    assert "note" not in after  # None removes, as put drops it
    assert again["tags"] == ["x", "y"]
    assert table.get(KEY) == again


def test_update_refuses_a_missing_item_and_a_failed_condition(services: Services) -> None:
    table = services.table
    with pytest.raises(ConditionFailed):
        table.update(KEY, set_values={"name": "ghost"})
    assert table.get(KEY) is None

    table.put({**KEY, "status": "done"})
    with pytest.raises(ConditionFailed):
        table.update(
            KEY,
            set_values={"status": "running"},
            condition="#s = :open",
            names={"#s": "status"},
            values={":open": "open"},
        )
    assert table.get(KEY) == {**KEY, "status": "done"}
