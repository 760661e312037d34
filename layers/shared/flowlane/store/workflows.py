"""Workflows, keyed under their owner.

One item per workflow: the list attributes (name, active, tags, updated_at, revision) sit beside
the document so a list reads a projection, and the document itself is a JSON string, or an S3
reference when it is too large for an item. Updates are conditional on `revision`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from flowlane.errors import Conflict, NotFound, UpstreamError, ValidationFailed
from flowlane.models.common import error_items
from flowlane.models.workflow import WorkflowCreate, WorkflowData
from flowlane.observability import logger
from flowlane.store import keys
from flowlane.store.dynamo import ConditionFailed, DynamoTable, Item
from flowlane.store.payloads import PayloadStore
from flowlane.store.schema import PK, SK

_LIST_ATTRIBUTES = ("id", "active", "tags", "updated_at")
_UNCONDITIONAL_UPDATE_ATTEMPTS = 3


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class WorkflowPage:
    workflows: list[WorkflowData]
    total_count: int
    has_more: bool
    next_cursor: str | None


def _encode_cursor(updated_at: int, workflow_id: str) -> str:
    raw = json.dumps([updated_at, workflow_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, workflow_id = json.loads(raw)
        if not isinstance(updated_at, int) or not isinstance(workflow_id, str):
            raise TypeError
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationFailed(
            "cursor is not valid", [{"loc": ["query", "cursor"], "msg": "not a cursor we issued"}]
        ) from exc
    return updated_at, workflow_id


def _order_key(entry: Item) -> tuple[int, str]:
    # Newest first, then by id so equal timestamps keep a stable order across pages.
    return (-int(entry["updated_at"]), str(entry["id"]))


def _validation_failed(exc: ValidationError) -> ValidationFailed:
    return ValidationFailed("the workflow is not valid", error_items(exc.errors(), ["body"]))


class WorkflowRepository:
    def __init__(
        self,
        table: DynamoTable,
        payloads: PayloadStore,
        *,
        offload_threshold_bytes: int = 300_000,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._table = table
        self._payloads = payloads
        self._threshold = offload_threshold_bytes
        self._clock = clock

    # -- reads -------------------------------------------------------------------------------

    def get(self, owner: str, workflow_id: str) -> WorkflowData:
        item = self._table.get({PK: keys.user_pk(owner), SK: keys.workflow_sk(workflow_id)})
        if item is None:
            raise NotFound(f"workflow {workflow_id!r} not found")
        return self._document(item)

    def list(
        self,
        owner: str,
        *,
        active_only: bool = True,
        tags: Sequence[str] = (),
        limit: int = 50,
        offset: int | None = None,
        cursor: str | None = None,
    ) -> WorkflowPage:
        entries = [
            entry
            for entry in self._table.query(
                PK,
                keys.user_pk(owner),
                sk_name=SK,
                sk_prefix=keys.WORKFLOW_SK_PREFIX,
                projection=_LIST_ATTRIBUTES,
            )
            if (not active_only or entry.get("active", True))
            and all(tag in entry.get("tags", []) for tag in tags)
        ]
        entries.sort(key=_order_key)
        start = offset or 0
        if cursor is not None:
            after = _decode_cursor(cursor)
            after_key = (-after[0], after[1])
            start = next(
                (i for i, entry in enumerate(entries) if _order_key(entry) > after_key),
                len(entries),
            )
        window = entries[start : start + limit]
        has_more = start + limit < len(entries)
        next_cursor = (
            _encode_cursor(int(window[-1]["updated_at"]), str(window[-1]["id"]))
            if has_more and window
            else None
        )
        items = self._table.batch_get(
            [{PK: keys.user_pk(owner), SK: keys.workflow_sk(str(e["id"]))} for e in window]
        )
        by_id = {item["id"]: item for item in items}
        # A workflow deleted between the query and the batch read is simply left out.
        workflows = [self._document(by_id[e["id"]]) for e in window if e["id"] in by_id]
        return WorkflowPage(workflows, len(entries), has_more, next_cursor)

    # -- writes ------------------------------------------------------------------------------

    def create(self, owner: str, request: WorkflowCreate) -> WorkflowData:
        stamp = self._clock()
        fields = request.model_dump(exclude={"id", "user_id", "session_id"})
        workflow = WorkflowData.model_validate(
            {
                **fields,
                "id": request.id or uuid.uuid4().hex,
                "created_at": stamp,
                "updated_at": stamp,
                "revision": 1,
            }
        )
        try:
            self._write(owner, workflow, expected=None)
        except ConditionFailed as exc:
            raise Conflict(
                f"a workflow with id {workflow.id!r} already exists",
                {"workflow_id": workflow.id},
            ) from exc
        return workflow

    def update(
        self,
        owner: str,
        workflow_id: str,
        changes: dict[str, Any],
        *,
        expected_revision: int | None = None,
    ) -> WorkflowData:
        """Apply `changes` to the stored document.

        With `expected_revision` (the caller's If-Match) a stale revision is a 409 that names the
        current one. Without it, a lost race is retried on the fresh document, so neither
        concurrent change is lost.
        """
        attempts = 1 if expected_revision is not None else _UNCONDITIONAL_UPDATE_ATTEMPTS
        for _ in range(attempts):
            current = self.get(owner, workflow_id)
            if expected_revision is not None and current.revision != expected_revision:
                raise self._stale(workflow_id, current.revision, expected_revision)
            before = current.model_dump()
            merged = {**before, **changes}
            if merged == before:
                return current  # nothing changed, so no new revision
            merged.update(
                updated_at=max(self._clock(), current.updated_at + 1),
                revision=current.revision + 1,
            )
            try:
                updated = WorkflowData.model_validate(merged)
            except ValidationError as exc:
                raise _validation_failed(exc) from exc
            try:
                self._write(owner, updated, expected=current.revision)
            except ConditionFailed:
                continue
            return updated
        latest = self.get(owner, workflow_id)
        raise self._stale(
            workflow_id,
            latest.revision,
            expected_revision if expected_revision is not None else latest.revision - 1,
        )

    def delete(self, owner: str, workflow_id: str) -> None:
        key = {PK: keys.user_pk(owner), SK: keys.workflow_sk(workflow_id)}
        try:
            old = self._table.delete(key, condition="attribute_exists(pk)")
        except ConditionFailed as exc:
            raise NotFound(f"workflow {workflow_id!r} not found") from exc
        if old and old.get("doc_ref"):
            # The item is gone, so the delete has happened; left-over objects are unreachable
            # and harmless, so a failure here is logged rather than failing the request.
            try:
                self._payloads.delete_prefix(self._payload_prefix(owner, workflow_id))
            except UpstreamError:
                logger.exception("could not remove a deleted workflow's documents from S3")

    # -- pinned revisions ----------------------------------------------------------------------

    def snapshot(self, owner: str, workflow: WorkflowData) -> None:
        """Keep this revision as it is: executions (and deployments) run a pinned revision while
        the workflow itself moves on. Idempotent: a revision never changes once written."""
        document = workflow.model_dump_json()
        item: dict[str, Any] = {
            PK: keys.user_pk(owner),
            SK: keys.workflow_revision_sk(workflow.id, workflow.revision),
            "entity": "workflow_revision",
            "id": workflow.id,
            "revision": workflow.revision,
        }
        if len(document.encode()) > self._threshold:
            ref = f"{self._payload_prefix(owner, workflow.id)}r{workflow.revision}.json"
            self._payloads.put(ref, document.encode())
            item["doc_ref"] = ref
        else:
            item["doc"] = document
        with suppress(ConditionFailed):  # already kept: revisions are immutable
            self._table.put(item, condition="attribute_not_exists(#pk)", names={"#pk": PK})

    def get_revision(self, owner: str, workflow_id: str, revision: int) -> WorkflowData:
        item = self._table.get(
            {PK: keys.user_pk(owner), SK: keys.workflow_revision_sk(workflow_id, revision)}
        )
        if item is None:
            raise NotFound(f"workflow {workflow_id!r} has no saved revision {revision}")
        return self._document(item)

    # -- item mapping ------------------------------------------------------------------------

    @staticmethod
    def _stale(workflow_id: str, current: int, expected: int) -> Conflict:
        return Conflict(
            f"workflow {workflow_id!r} changed since revision {expected}; it is now at "
            f"revision {current}",
            {
                "workflow_id": workflow_id,
                "current_revision": current,
                "expected_revision": expected,
            },
        )

    @staticmethod
    def _payload_prefix(owner: str, workflow_id: str) -> str:
        return f"workflows/{owner}/{workflow_id}/"

    def _write(self, owner: str, workflow: WorkflowData, *, expected: int | None) -> None:
        """Put the item: a new one when `expected` is None, else over revision `expected`."""
        document = workflow.model_dump_json()
        item: dict[str, Any] = {
            PK: keys.user_pk(owner),
            SK: keys.workflow_sk(workflow.id),
            "entity": "workflow",
            "id": workflow.id,
            "name": workflow.name,
            "active": workflow.active,
            "tags": workflow.tags,
            "created_at": workflow.created_at,
            "updated_at": workflow.updated_at,
            "revision": workflow.revision,
        }
        offloaded: str | None = None
        if len(document.encode()) > self._threshold:
            # Written first and keyed by revision, so a failed item write leaves at most an
            # unreferenced object, never an item pointing at nothing.
            offloaded = f"{self._payload_prefix(owner, workflow.id)}r{workflow.revision}.json"
            self._payloads.put(offloaded, document.encode())
            item["doc_ref"] = offloaded
        else:
            item["doc"] = document
        if expected is None:
            condition, names, values = "attribute_not_exists(#pk)", {"#pk": PK}, None
        else:
            condition, names = "#revision = :expected", {"#revision": "revision"}
            values = {":expected": expected}
        try:
            self._table.put(item, condition=condition, names=names, values=values)
        except Exception:
            if offloaded:
                self._payloads.delete_quietly(offloaded)
            raise

    def _document(self, item: Item) -> WorkflowData:
        raw = self._payloads.get(item["doc_ref"]) if item.get("doc_ref") else item["doc"]
        return WorkflowData.model_validate_json(raw)
