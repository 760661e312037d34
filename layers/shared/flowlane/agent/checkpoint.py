"""LangGraph checkpoints on Flowlane's one DynamoDB table (docs/data-model.md, "Agent checkpoints").

Why not `langgraph-checkpoint-aws` (1.2.6, `langgraph_checkpoint_aws.checkpoint.dynamodb`): its
`DynamoDBSaver` takes a table name and builds its own boto3 client (no injected client), hard-codes
the key attributes `PK`/`SK` (ours are `pk`/`sk`: on moto with our table its first `put` fails with
"Missing the key pk in the item", and AWS answers the same), hard-codes the partition keys
`CHECKPOINT_<thread>`, `WRITES_<thread>#<ns>#<id>` and `CHUNK_...` (no owner, so tenancy would rest
on every caller mangling thread ids, against DESIGN.md decision 8, and a thread's writes are spread
over one partition per checkpoint), writes its TTL to an attribute named `ttl` (ours is
`expires_at`) and never filters expired items on read (moto never expires them; DynamoDB up to 48 h
late). None of that is configurable, so it cannot use our table; this small saver does.

Layout, all under one partition per (owner, thread), so one query reads or deletes a thread:

- `pk = USER#<owner>#THREAD#<thread_id>`
- `sk = CKPT#<ns>#<checkpoint_id>`: one checkpoint (the whole `Checkpoint`, channel values
  included, and its metadata, each as `serde.dumps_typed` type + DynamoDB binary). Checkpoint ids
  are uuid6, time-ordered, so a namespace's checkpoints sort oldest to newest.
- `sk = WRITE#<ns>#<checkpoint_id>#<task_id>#<idx>`: one pending write of a task.

Every item carries `expires_at` (epoch seconds, `ttl_seconds` after it was written); reads ignore
items past it. An item over `MAX_ITEM_BYTES` is refused with `CheckpointTooLarge` (a `ValueError`),
not offloaded: the agent's state is a conversation and a draft, far below it.

This module imports LangGraph; `flowlane.agent` does not import this module (DESIGN.md decision 7).
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from flowlane.store.dynamo import ConditionFailed, DynamoTable, Item
from flowlane.store.keys import user_pk
from flowlane.store.schema import PK, SK, TTL_ATTRIBUTE

# DynamoDB caps an item at 400 KB (names and values); keep room for the keys and attributes.
MAX_ITEM_BYTES = 350_000
DEFAULT_TTL_SECONDS = 7 * 86400
_OVERHEAD_BYTES = 1_024

_T = TypeVar("_T")


class CheckpointTooLarge(ValueError):
    """A checkpoint or pending write would not fit in one DynamoDB item."""


def thread_pk(owner: str, thread_id: str) -> str:
    return f"{user_pk(owner)}#THREAD#{thread_id}"


def checkpoint_sk(checkpoint_ns: str, checkpoint_id: str) -> str:
    return f"CKPT#{checkpoint_ns}#{checkpoint_id}"


def write_sk(checkpoint_ns: str, checkpoint_id: str, task_id: str, idx: int) -> str:
    return f"WRITE#{checkpoint_ns}#{checkpoint_id}#{task_id}#{idx}"


def _ns_prefix(checkpoint_ns: str) -> str:
    return f"CKPT#{checkpoint_ns}#"


def _ns_upper(checkpoint_ns: str) -> str:
    # Just above every `CKPT#<ns>#...` key ("$" follows "#"): a descending query below it
    # starts at the namespace's newest checkpoint.
    return f"CKPT#{checkpoint_ns}$"


class DynamoCheckpointSaver(BaseCheckpointSaver[int]):
    """A LangGraph checkpointer scoped to one owner: another owner's threads are unreachable.

    Channel versions are LangGraph's default integers (`BaseCheckpointSaver.get_next_version`).
    """

    def __init__(
        self,
        table: DynamoTable,
        owner: str,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        serde: SerializerProtocol | None = None,
    ) -> None:
        if not owner or "#" in owner:
            raise ValueError("owner must be a non-empty id without '#'")
        super().__init__(serde=serde)
        self.table = table
        self.owner = owner
        self.ttl_seconds = ttl_seconds

    # -- reading ---------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id, checkpoint_ns = self._thread(config)
        pk = thread_pk(self.owner, thread_id)
        now = time.time()
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            item = self.table.get({PK: pk, SK: checkpoint_sk(checkpoint_ns, checkpoint_id)})
            if item is None or _expired(item, now):
                return None
            return self._tuple(item, now)
        for item in self._newest_first(pk, checkpoint_ns, below=None):
            if not _expired(item, now):
                return self._tuple(item, now)
        return None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """A thread's checkpoints, newest first. `config` must name the thread: checkpoints
        are kept per owner and thread, so there is no listing across threads."""
        if config is None or not config.get("configurable", {}).get("thread_id"):
            raise ValueError("DynamoCheckpointSaver.list needs a config with a thread_id")
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns: str | None = configurable.get("checkpoint_ns")
        only_id = get_checkpoint_id(config)
        before_id = get_checkpoint_id(before) if before else None
        pk = thread_pk(self.owner, thread_id)
        now = time.time()

        items: Iterator[Item]
        if checkpoint_ns is None:
            # Every namespace, newest first across them (as LangGraph's SQL savers order).
            every = self.table.query(PK, pk, sk_name=SK, sk_prefix="CKPT#", consistent=True)
            items = iter(sorted(every, key=lambda i: str(i["checkpoint_id"]), reverse=True))
        else:
            below = checkpoint_sk(checkpoint_ns, before_id) if before_id else None
            items = self._newest_first(pk, checkpoint_ns, below=below)

        remaining = limit
        for item in items:
            if remaining is not None and remaining <= 0:
                return
            if _expired(item, now):
                continue
            if only_id and item["checkpoint_id"] != only_id:
                continue
            if before_id and str(item["checkpoint_id"]) >= before_id:
                continue
            if filter:
                metadata = self._metadata(item)
                if not all(metadata.get(k) == v for k, v in filter.items()):
                    continue
            if remaining is not None:
                remaining -= 1
            yield self._tuple(item, now)

    def _newest_first(self, pk: str, checkpoint_ns: str, *, below: str | None) -> Iterator[Item]:
        """One namespace's checkpoints, newest first (older than the `below` key if given)."""
        prefix = _ns_prefix(checkpoint_ns)
        for item in self.table.query_desc(
            PK, pk, sk_name=SK, below=below or _ns_upper(checkpoint_ns)
        ):
            if not str(item[SK]).startswith(prefix):
                return  # past the namespace: the rest of the partition sorts below it
            if item.get("checkpoint_ns") == checkpoint_ns:  # not a namespace that contains "#"
                yield item

    def _pending_writes(
        self, pk: str, checkpoint_ns: str, checkpoint_id: str, now: float
    ) -> builtins.list[PendingWrite]:
        prefix = f"WRITE#{checkpoint_ns}#{checkpoint_id}#"
        rows = [
            item
            for item in self.table.query(PK, pk, sk_name=SK, sk_prefix=prefix, consistent=True)
            if not _expired(item, now)
            and item.get("checkpoint_ns") == checkpoint_ns
            and item.get("checkpoint_id") == checkpoint_id
        ]
        rows.sort(
            key=lambda r: writes_sort_key(
                str(r.get("task_path", "")), str(r["task_id"]), int(r["idx"])
            )
        )
        return [
            (
                str(r["task_id"]),
                str(r["channel"]),
                self.serde.loads_typed((str(r["type"]), bytes(r["value"]))),
            )
            for r in rows
        ]

    def _metadata(self, item: Item) -> CheckpointMetadata:
        metadata: CheckpointMetadata = self.serde.loads_typed(
            (str(item["metadata_type"]), bytes(item["metadata"]))
        )
        return metadata

    def _tuple(self, item: Item, now: float) -> CheckpointTuple:
        thread_id = str(item["thread_id"])
        checkpoint_ns = str(item["checkpoint_ns"])
        checkpoint_id = str(item["checkpoint_id"])
        checkpoint: Checkpoint = self.serde.loads_typed(
            (str(item["type"]), bytes(item["checkpoint"]))
        )
        parent_id = item.get("parent_checkpoint_id")
        return CheckpointTuple(
            config=_config(thread_id, checkpoint_ns, checkpoint_id),
            checkpoint=checkpoint,
            metadata=self._metadata(item),
            parent_config=_config(thread_id, checkpoint_ns, str(parent_id)) if parent_id else None,
            pending_writes=self._pending_writes(item[PK], checkpoint_ns, checkpoint_id, now),
        )

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id, checkpoint_ns = self._thread(config)
        checkpoint_id = checkpoint["id"]
        type_, payload = self.serde.dumps_typed(checkpoint)
        metadata_type, metadata_payload = self.serde.dumps_typed(
            get_serializable_checkpoint_metadata(config, metadata)
        )
        _check_size("checkpoint", checkpoint_id, len(payload) + len(metadata_payload))
        self.table.put(
            {
                PK: thread_pk(self.owner, thread_id),
                SK: checkpoint_sk(checkpoint_ns, checkpoint_id),
                "entity": "agent_checkpoint",
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint_id,
                "parent_checkpoint_id": get_checkpoint_id(config),  # None: left out
                "type": type_,
                "checkpoint": payload,
                "metadata_type": metadata_type,
                "metadata": metadata_payload,
                TTL_ATTRIBUTE: self._expires_at(),
            }
        )
        return _config(thread_id, checkpoint_ns, checkpoint_id)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes against a checkpoint. As in LangGraph's own savers, a regular
        write already stored is kept (a retried task does not replace it) and a special one
        (error, interrupt, resume, scheduled; negative index) is replaced."""
        thread_id, checkpoint_ns = self._thread(config)
        checkpoint_id = str(config["configurable"]["checkpoint_id"])
        pk = thread_pk(self.owner, thread_id)
        expires_at = self._expires_at()
        for position, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, position)
            type_, payload = self.serde.dumps_typed(value)
            _check_size("pending write", f"{task_id}/{channel}", len(payload))
            item = {
                PK: pk,
                SK: write_sk(checkpoint_ns, checkpoint_id, task_id, idx),
                "entity": "agent_checkpoint_write",
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint_id,
                "task_id": task_id,
                "task_path": task_path,
                "idx": idx,
                "channel": channel,
                "type": type_,
                "value": payload,
                TTL_ATTRIBUTE: expires_at,
            }
            if idx < 0:
                self.table.put(item)
                continue
            try:
                # Keep a stored write unless it has expired (moto and late TTL leave it there).
                self.table.put(
                    item,
                    condition="attribute_not_exists(#sk) OR #exp <= :now",
                    names={"#sk": SK, "#exp": TTL_ATTRIBUTE},
                    values={":now": int(time.time())},
                )
            except ConditionFailed:
                continue

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and pending write of this owner's thread (expired ones too)."""
        pk = thread_pk(self.owner, str(thread_id))
        keys = [
            {PK: item[PK], SK: item[SK]}
            for item in self.table.query(PK, pk, projection=[PK, SK], consistent=True)
        ]
        for key in keys:
            self.table.delete(key)

    # -- async: the graph runs sync; these run the sync calls off the event loop -------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await _off_loop(partial(self.get_tuple, config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        found = await _off_loop(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for checkpoint_tuple in found:
            yield checkpoint_tuple

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await _off_loop(partial(self.put, config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await _off_loop(partial(self.put_writes, config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await _off_loop(partial(self.delete_thread, thread_id))

    # -- helpers ---------------------------------------------------------------------------

    def _thread(self, config: RunnableConfig) -> tuple[str, str]:
        configurable = config.get("configurable") or {}
        thread_id = configurable.get("thread_id")
        if thread_id is None or thread_id == "":
            raise ValueError("a checkpoint config needs configurable.thread_id")
        return str(thread_id), str(configurable.get("checkpoint_ns") or "")

    def _expires_at(self) -> int:
        return int(time.time()) + self.ttl_seconds


def _config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def _expired(item: Item, now: float) -> bool:
    expires_at = item.get(TTL_ATTRIBUTE)
    return expires_at is not None and float(expires_at) <= now


def _check_size(what: str, name: str, size: int) -> None:
    if size + _OVERHEAD_BYTES > MAX_ITEM_BYTES:
        raise CheckpointTooLarge(
            f"the {what} {name} serialises to {size} bytes; a checkpoint item is limited to "
            f"{MAX_ITEM_BYTES} bytes (DynamoDB caps items at 400 KB) and is not offloaded"
        )


async def _off_loop(call: Callable[[], _T]) -> _T:
    result: _T = await asyncio.get_running_loop().run_in_executor(None, call)
    return result
