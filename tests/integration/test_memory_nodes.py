"""MEMORY/KEY_VALUE and MEMORY/CONVERSATION on the real DynamoDB store (moto): every operation,
both scopes, tenancy, appends that race."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from flowlane.models.workflow import NodeData
from flowlane.nodes.base import NodeContext, NodeError
from flowlane.nodes.memory import (
    ConversationMemory,
    ConversationParameters,
    KeyValueMemory,
    KeyValueParameters,
)
from flowlane.runtime.node_services import RuntimeNodeServices
from flowlane.runtime.services import Services
from flowlane.store.dynamo import DynamoTable, Item
from flowlane.store.memory import MAX_STORED_MESSAGES, MAX_VALUE_BYTES, MemoryStore


def kv(
    node_services: RuntimeNodeServices,
    parameters: dict[str, Any],
    *,
    owner: str = "alice",
    workflow_id: str = "wf-1",
) -> Any:
    node = NodeData(id="kv", type="MEMORY", subtype="KEY_VALUE", parameters=parameters)
    ctx = NodeContext(
        node=node,
        input=None,
        scope={"input": None},
        services=node_services,
        owner=owner,
        workflow_id=workflow_id,
        execution_id="ex-1",
    )
    return KeyValueMemory().run(ctx, KeyValueParameters.model_validate(parameters)).output


def conversation(
    node_services: RuntimeNodeServices,
    parameters: dict[str, Any],
    *,
    owner: str = "alice",
    workflow_id: str = "wf-1",
) -> list[Any]:
    node = NodeData(id="conv", type="MEMORY", subtype="CONVERSATION", parameters=parameters)
    ctx = NodeContext(
        node=node,
        input=None,
        scope={"input": None},
        services=node_services,
        owner=owner,
        workflow_id=workflow_id,
        execution_id="ex-1",
    )
    output = ConversationMemory().run(ctx, ConversationParameters.model_validate(parameters))
    messages: list[Any] = output.output["messages"]
    return messages


# -- key/value -----------------------------------------------------------------------------------


def test_set_get_delete_round_trip(node_services: RuntimeNodeServices) -> None:
    value = {"count": 3, "ratio": 0.25, "tags": ["a", "b"], "nested": {"ok": True, "none": None}}

    assert kv(node_services, {"operation": "get", "key": "state"}) == {
        "key": "state",
        "value": None,
    }
    assert kv(node_services, {"operation": "set", "key": "state", "value": value}) == {
        "key": "state",
        "value": value,
    }
    # Numbers and nesting come back exactly (no Decimal, no float drift).
    got = kv(node_services, {"key": "state"})["value"]
    assert got == value
    assert isinstance(got["count"], int)
    assert isinstance(got["ratio"], float)

    assert kv(node_services, {"operation": "set", "key": "state", "value": "replaced"})[
        "value"
    ] == ("replaced")
    assert kv(node_services, {"key": "state"})["value"] == "replaced"

    assert kv(node_services, {"operation": "delete", "key": "state"}) == {
        "key": "state",
        "value": None,
    }
    assert kv(node_services, {"key": "state"})["value"] is None
    # Deleting what is not there is not an error.
    assert kv(node_services, {"operation": "delete", "key": "state"})["value"] is None


def test_append_creates_then_extends_a_list(node_services: RuntimeNodeServices) -> None:
    first = kv(node_services, {"operation": "append", "key": "seen", "value": "a"})
    assert first == {"key": "seen", "value": ["a"]}
    second = kv(node_services, {"operation": "append", "key": "seen", "value": ["b", "c"]})
    # A list value is one element, not spread.
    assert second["value"] == ["a", ["b", "c"]]
    assert kv(node_services, {"key": "seen"})["value"] == ["a", ["b", "c"]]


def test_append_to_a_non_list_fails_clearly(node_services: RuntimeNodeServices) -> None:
    kv(node_services, {"operation": "set", "key": "count", "value": 3})

    with pytest.raises(NodeError) as caught:
        kv(node_services, {"operation": "append", "key": "count", "value": 4})

    assert caught.value.code == "VALIDATION_ERROR"
    assert "holds a number, not a list" in caught.value.message
    assert kv(node_services, {"key": "count"})["value"] == 3


def test_workflow_scope_is_per_workflow_user_scope_is_shared(
    node_services: RuntimeNodeServices,
) -> None:
    kv(node_services, {"operation": "set", "key": "k", "value": "wf1"}, workflow_id="wf-1")
    kv(
        node_services,
        {"operation": "set", "key": "k", "value": "mine", "scope": "user"},
        workflow_id="wf-1",
    )

    assert kv(node_services, {"key": "k"}, workflow_id="wf-2")["value"] is None
    assert kv(node_services, {"key": "k", "scope": "user"}, workflow_id="wf-2")["value"] == "mine"
    # The same key in the two scopes are two values.
    assert kv(node_services, {"key": "k"}, workflow_id="wf-1")["value"] == "wf1"


def test_bob_cannot_read_or_delete_alices_memory(node_services: RuntimeNodeServices) -> None:
    for scope in ("workflow", "user"):
        kv(node_services, {"operation": "set", "key": "secret", "value": scope, "scope": scope})
    conversation(node_services, {"operation": "append", "conversation_id": "c", "message": "hi"})

    for scope in ("workflow", "user"):
        # Same workflow id, same key: bob's partition has nothing.
        assert kv(node_services, {"key": "secret", "scope": scope}, owner="bob")["value"] is None
        kv(node_services, {"operation": "delete", "key": "secret", "scope": scope}, owner="bob")
        kv(node_services, {"operation": "append", "key": "secret", "scope": scope}, owner="bob")
    assert conversation(node_services, {"conversation_id": "c"}, owner="bob") == []

    for scope in ("workflow", "user"):
        assert kv(node_services, {"key": "secret", "scope": scope})["value"] == scope
    assert conversation(node_services, {"conversation_id": "c"}) == [
        {"role": "user", "content": "hi"}
    ]


def test_items_live_under_the_owners_partition(
    node_services: RuntimeNodeServices, services: Services
) -> None:
    kv(node_services, {"operation": "set", "key": "k", "value": 1})
    kv(node_services, {"operation": "set", "key": "k", "value": 2, "scope": "user"})
    conversation(node_services, {"operation": "append", "conversation_id": "c", "message": "m"})

    keys = sorted(item["sk"] for item in services.table.query("pk", "USER#alice"))

    assert keys == [
        "MEMORY#USER#KV#k",
        "MEMORY#WF#wf-1#CONV#c",
        "MEMORY#WF#wf-1#KV#k",
    ]


def test_a_value_too_large_for_an_item_is_refused(node_services: RuntimeNodeServices) -> None:
    with pytest.raises(NodeError) as caught:
        kv(node_services, {"operation": "set", "key": "big", "value": "x" * (MAX_VALUE_BYTES + 1)})

    assert caught.value.code == "VALIDATION_ERROR"
    assert str(MAX_VALUE_BYTES) in caught.value.message
    assert kv(node_services, {"key": "big"})["value"] is None


def test_key_is_required(node_services: RuntimeNodeServices) -> None:
    with pytest.raises(ValidationError):
        KeyValueParameters.model_validate({"operation": "get", "key": ""})


# -- conversations -------------------------------------------------------------------------------


def test_conversation_append_and_read(node_services: RuntimeNodeServices) -> None:
    after_first = conversation(
        node_services, {"operation": "append", "conversation_id": "support", "message": "Hello"}
    )
    assert after_first == [{"role": "user", "content": "Hello"}]

    conversation(
        node_services,
        {
            "operation": "append",
            "conversation_id": "support",
            "message": {"role": "assistant", "content": "Hi, how can I help?"},
        },
    )
    conversation(
        node_services,
        {
            "operation": "append",
            "conversation_id": "support",
            "message": ["My order is late", {"role": "assistant", "content": "Let me check."}],
        },
    )

    everything = conversation(node_services, {"conversation_id": "support"})
    assert everything == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": "My order is late"},
        {"role": "assistant", "content": "Let me check."},
    ]
    last_two = conversation(node_services, {"conversation_id": "support", "max_messages": 2})
    assert last_two == everything[-2:]
    assert conversation(node_services, {"conversation_id": "other"}) == []


def test_conversation_defaults_to_the_workflow_or_the_users_default(
    node_services: RuntimeNodeServices,
) -> None:
    conversation(node_services, {"operation": "append", "message": "in wf-1"})
    conversation(node_services, {"operation": "append", "message": "for me", "scope": "user"})

    assert conversation(node_services, {"conversation_id": "wf-1"}) == [
        {"role": "user", "content": "in wf-1"}
    ]
    assert conversation(node_services, {}, workflow_id="wf-2") == []
    assert conversation(
        node_services, {"scope": "user", "conversation_id": "default"}, workflow_id="wf-2"
    ) == [{"role": "user", "content": "for me"}]


def test_append_needs_a_message_and_a_valid_role() -> None:
    with pytest.raises(ValidationError, match="needs a message"):
        ConversationParameters.model_validate({"operation": "append"})
    with pytest.raises(ValidationError):
        ConversationParameters.model_validate(
            {"operation": "append", "message": {"role": "wizard", "content": "x"}}
        )
    with pytest.raises(ValidationError):
        ConversationParameters.model_validate({"max_messages": 0})


def test_a_conversation_keeps_only_the_newest_messages(node_services: RuntimeNodeServices) -> None:
    conversation(
        node_services,
        {
            "operation": "append",
            "conversation_id": "long",
            "message": [f"m{i}" for i in range(MAX_STORED_MESSAGES + 5)],
        },
    )

    kept = conversation(
        node_services, {"conversation_id": "long", "max_messages": MAX_STORED_MESSAGES}
    )

    assert len(kept) == MAX_STORED_MESSAGES
    assert kept[0]["content"] == "m5"
    assert kept[-1]["content"] == f"m{MAX_STORED_MESSAGES + 4}"


# -- racing writers ------------------------------------------------------------------------------


class RacingTable(DynamoTable):
    """Runs another writer between this writer's read and its write, once: the write that follows
    is then based on a stale read and must not overwrite the other writer's append."""

    def __init__(self, inner: DynamoTable, interloper: Any) -> None:
        super().__init__(inner._client, inner.name)
        self._interloper = interloper
        self.reads = 0

    def get(self, key: Any, *, consistent: bool = True) -> Item | None:
        item = super().get(key, consistent=consistent)
        self.reads += 1
        if self.reads == 1:
            self._interloper()
        return item


def test_concurrent_conversation_appends_are_not_lost(services: Services) -> None:
    other = MemoryStore(services.table, "alice", "wf-1")
    table = RacingTable(
        services.table,
        lambda: other.append_messages("workflow", "c", [{"role": "user", "content": "other"}]),
    )
    mine = MemoryStore(table, "alice", "wf-1")

    mine.append_messages("workflow", "c", [{"role": "user", "content": "mine"}])

    assert table.reads == 2  # the first write lost the race and was retried on a fresh read
    assert other.read_messages("workflow", "c", 10) == [
        {"role": "user", "content": "other"},
        {"role": "user", "content": "mine"},
    ]


def test_concurrent_key_value_appends_are_not_lost(services: Services) -> None:
    other = MemoryStore(services.table, "alice", "wf-1")
    other.append("user", "log", 1)
    table = RacingTable(services.table, lambda: other.append("user", "log", 2))
    mine = MemoryStore(table, "alice", "wf-1")

    assert mine.append("user", "log", 3) == [1, 2, 3]
    assert other.get("user", "log") == [1, 2, 3]


def test_a_set_racing_an_append_is_seen_by_the_append(services: Services) -> None:
    other = MemoryStore(services.table, "alice", "wf-1")
    other.set("workflow", "log", ["a"])
    table = RacingTable(services.table, lambda: other.set("workflow", "log", ["reset"]))
    mine = MemoryStore(table, "alice", "wf-1")

    assert mine.append("workflow", "log", "b") == ["reset", "b"]
