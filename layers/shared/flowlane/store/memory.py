"""Durable memory for MEMORY nodes and AI agents, on the one DynamoDB table.

`MemoryStore` implements the `flowlane.nodes.base.Memory` protocol for one owner and one workflow.
Every item sits under the owner's partition (DESIGN.md decision 8), so a store built for alice can
only ever address alice's items, whatever key or conversation id a workflow asks for:

| scope    | pk            | sk                                               |
|----------|---------------|--------------------------------------------------|
| workflow | `USER#<owner>` | `MEMORY#WF#<workflow_id>#KV#<key>`               |
| user     | `USER#<owner>` | `MEMORY#USER#KV#<key>`                           |
| workflow | `USER#<owner>` | `MEMORY#WF#<workflow_id>#CONV#<conversation_id>` |
| user     | `USER#<owner>` | `MEMORY#USER#CONV#<conversation_id>`             |

Decisions:
- Values are stored as JSON strings (like workflow documents), so numbers and nesting round-trip
  exactly instead of going through DynamoDB's Decimal types. A value larger than
  `MAX_VALUE_BYTES` (350 KB as JSON; an item is capped at 400 KB) is refused with
  VALIDATION_ERROR rather than offloaded: memory is meant for state, not for documents.
- A conversation is one item holding a list of messages (each a JSON string), trimmed to the last
  `MAX_STORED_MESSAGES` and, oldest first, to `MAX_VALUE_BYTES`.
- Read-modify-write operations (conversation appends, key/value `append`) are optimistic: every
  write stores a fresh random `rev`, and an append is a PutItem conditional on the `rev` it read
  (or on the item not existing yet), retried on a lost race. Concurrent appends are therefore
  never lost. A plain `set` overwrites unconditionally (last writer wins, as a user expects of
  "set") but still changes `rev`, so an append racing with it retries on the new value.
  (`DynamoTable` offers no UpdateItem, and a list_append could not keep the size cap anyway.)
- DynamoDB failures surface as the node error UPSTREAM_ERROR (service dynamodb): memory is only
  used from nodes, and a node fails with a NodeError.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flowlane.errors import UpstreamError
from flowlane.nodes.base import NodeError, upstream_error
from flowlane.store import keys
from flowlane.store.dynamo import ConditionFailed, DynamoTable, Item
from flowlane.store.schema import PK, SK

SCOPES = ("workflow", "user")
# As JSON text. A DynamoDB item is capped at 400 KB; the rest is room for keys and attributes.
MAX_VALUE_BYTES = 350_000
# A conversation keeps at most this many messages; agents read far fewer (max_messages).
MAX_STORED_MESSAGES = 200
# DynamoDB caps a sort key at 1024 bytes; the prefix takes at most ~100 of them.
MAX_KEY_BYTES = 512
# Attempts of an optimistic append before giving up on a hot item.
_APPEND_ATTEMPTS = 8

_KV_ENTITY = "memory_kv"
_CONVERSATION_ENTITY = "memory_conversation"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def scope_prefix(scope: str, workflow_id: str) -> str:
    """The sort-key prefix of every memory item of one scope."""
    if scope == "workflow":
        return f"MEMORY#WF#{workflow_id}#"
    if scope == "user":
        return "MEMORY#USER#"
    raise NodeError(
        "VALIDATION_ERROR",
        f"memory scope must be one of {', '.join(SCOPES)}, not {scope!r}",
        {"scope": scope},
    )


def _checked_name(what: str, name: str) -> str:
    if not isinstance(name, str) or not name:
        raise NodeError("VALIDATION_ERROR", f"the memory {what} must be a non-empty string")
    if len(name.encode("utf-8")) > MAX_KEY_BYTES:
        raise NodeError(
            "VALIDATION_ERROR",
            f"the memory {what} is longer than {MAX_KEY_BYTES} bytes",
            {what.replace(" ", "_"): name[:100]},
        )
    return name


def kv_sk(scope: str, workflow_id: str, key: str) -> str:
    return f"{scope_prefix(scope, workflow_id)}KV#{_checked_name('key', key)}"


def conversation_sk(scope: str, workflow_id: str, conversation_id: str) -> str:
    name = _checked_name("conversation id", conversation_id)
    return f"{scope_prefix(scope, workflow_id)}CONV#{name}"


def encode_value(value: Any, what: str = "value") -> str:
    """The value as compact JSON; VALIDATION_ERROR if it is not JSON or is too large."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NodeError("VALIDATION_ERROR", f"the memory {what} is not JSON: {exc}") from None
    size = len(text.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise NodeError(
            "VALIDATION_ERROR",
            f"the memory {what} is {size} bytes as JSON; the limit is {MAX_VALUE_BYTES} bytes",
            {"size_bytes": size, "limit_bytes": MAX_VALUE_BYTES},
        )
    return text


@contextmanager
def _dynamo_errors() -> Iterator[None]:
    try:
        yield
    except UpstreamError as exc:
        raise upstream_error("dynamodb", None, f"memory store: {exc.message}") from exc


class MemoryStore:
    """Key/value and conversation memory of one owner, for one workflow (and the owner's
    workflow-independent `user` scope)."""

    def __init__(self, table: DynamoTable, owner: str, workflow_id: str) -> None:
        if not owner:
            # The owner is the tenancy boundary: an empty one would share a partition.
            raise ValueError("MemoryStore needs an owner")
        self._table = table
        self._pk = keys.user_pk(owner)
        self._workflow_id = workflow_id

    # -- key/value -------------------------------------------------------------------------

    def _kv_key(self, scope: str, key: str) -> dict[str, str]:
        return {PK: self._pk, SK: kv_sk(scope, self._workflow_id, key)}

    def _read(self, item_key: dict[str, str]) -> Item | None:
        with _dynamo_errors():
            return self._table.get(item_key, consistent=True)

    def get(self, scope: str, key: str) -> Any:
        """The stored value, or None when the key is not set."""
        item = self._read(self._kv_key(scope, key))
        return None if item is None else json.loads(item["value"])

    def set(self, scope: str, key: str, value: Any) -> None:
        item_key = self._kv_key(scope, key)
        self._put_kv(item_key, key, encode_value(value), condition_rev=None, must_be_new=False)

    def delete(self, scope: str, key: str) -> None:
        with _dynamo_errors():
            self._table.delete(self._kv_key(scope, key))

    def append(self, scope: str, key: str, value: Any) -> list[Any]:
        """Append `value` (as one element) to the list stored at `key`, creating the list; the
        list after the append. VALIDATION_ERROR if the key holds something other than a list."""
        item_key = self._kv_key(scope, key)
        for attempt in range(_APPEND_ATTEMPTS):
            item = self._read(item_key)
            if item is None:
                current: list[Any] = []
            else:
                stored = json.loads(item["value"])
                if not isinstance(stored, list):
                    raise NodeError(
                        "VALIDATION_ERROR",
                        f"memory key {key!r} holds a {_json_type(stored)}, not a list; "
                        "append needs a list (or no value yet)",
                        {"key": key},
                    )
                current = stored
            updated = [*current, value]
            try:
                self._put_kv(
                    item_key,
                    key,
                    encode_value(updated),
                    condition_rev=None if item is None else str(item["rev"]),
                    must_be_new=item is None,
                )
            except ConditionFailed:
                _backoff(attempt)
                continue
            return updated
        raise _hot_item(f"memory key {key!r}")

    def _put_kv(
        self,
        item_key: dict[str, str],
        key: str,
        encoded: str,
        *,
        condition_rev: str | None,
        must_be_new: bool,
    ) -> None:
        item = {
            **item_key,
            "entity": _KV_ENTITY,
            "key": key,
            "value": encoded,
            "rev": uuid.uuid4().hex,
            "updated_at": _now_ms(),
        }
        with _dynamo_errors():
            _conditional_put(self._table, item, condition_rev, must_be_new)

    # -- conversations ---------------------------------------------------------------------

    def _conversation_key(self, scope: str, conversation_id: str) -> dict[str, str]:
        return {PK: self._pk, SK: conversation_sk(scope, self._workflow_id, conversation_id)}

    def read_messages(self, scope: str, conversation_id: str, limit: int) -> list[Any]:
        """The last `limit` messages, oldest first."""
        item = self._read(self._conversation_key(scope, conversation_id))
        if item is None or limit <= 0:
            return []
        return [json.loads(m) for m in item.get("messages", [])[-limit:]]

    def append_messages(self, scope: str, conversation_id: str, messages: list[Any]) -> None:
        if not messages:
            return
        encoded = [encode_value(m, "message") for m in messages]
        item_key = self._conversation_key(scope, conversation_id)
        for attempt in range(_APPEND_ATTEMPTS):
            item = self._read(item_key)
            stored: list[str] = [] if item is None else list(item.get("messages", []))
            kept = _trim([*stored, *encoded])
            new_item = {
                **item_key,
                "entity": _CONVERSATION_ENTITY,
                "conversation_id": conversation_id,
                "messages": kept,
                "rev": uuid.uuid4().hex,
                "updated_at": _now_ms(),
            }
            try:
                with _dynamo_errors():
                    _conditional_put(
                        self._table,
                        new_item,
                        None if item is None else str(item["rev"]),
                        item is None,
                    )
            except ConditionFailed:
                _backoff(attempt)
                continue
            return
        raise _hot_item(f"conversation {conversation_id!r}")


def _conditional_put(
    table: DynamoTable, item: dict[str, Any], condition_rev: str | None, must_be_new: bool
) -> None:
    if must_be_new:
        table.put(item, condition="attribute_not_exists(#pk)", names={"#pk": PK})
    elif condition_rev is not None:
        table.put(
            item, condition="#rev = :rev", names={"#rev": "rev"}, values={":rev": condition_rev}
        )
    else:
        table.put(item)


def _trim(messages: list[str]) -> list[str]:
    """The newest messages that fit the count and size caps (each message already fits)."""
    kept = messages[-MAX_STORED_MESSAGES:]
    size = sum(len(m.encode("utf-8")) for m in kept)
    while size > MAX_VALUE_BYTES:
        size -= len(kept.pop(0).encode("utf-8"))
    return kept


def _backoff(attempt: int) -> None:
    # Jittered so that writers that collided once do not collide again in lock step.
    time.sleep(random.uniform(0, min(0.01 * 2**attempt, 0.2)))


def _hot_item(what: str) -> NodeError:
    return NodeError(
        "CONFLICT",
        f"{what} kept changing under concurrent writes; gave up after {_APPEND_ATTEMPTS} attempts",
    )


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null"
