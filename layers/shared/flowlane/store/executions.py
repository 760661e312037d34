"""Executions and their node runs in DynamoDB, large values in S3 (CONTRACT.md section 4).

| pk | sk | what |
|---|---|---|
| `USER#<owner>` | `EXECUTION#<id>` | the execution: workflow and revision, trigger, status |
| `USER#<owner>#EXECUTION#<id>` | `RUN#<iteration>#<node id>` | one node run |
| `USER#<owner>` | `IDEMPOTENCY#<workflow id>#<sha256(key)>` | what an `Idempotency-Key` started |

Executions are listed newest first: all of a user's by `sk` descending (ids are time-sortable,
`new_execution_id`), one workflow's on `gsi1` (`USER#<owner>#WORKFLOW#<id>`,
`EXECUTION#<started_at>#<id>`). The list attributes (status, trigger, mode, times) sit beside the
document, so a list never reads S3. Every rewrite of an execution is conditional on the `rev`
read (a fresh random token per write) and, for status changes, on the status still being
RUNNING or WAITING: a final status is written once and never overwritten.

A node run's partition holds every run of the execution, so one query reads them all. The
iteration is the item indexes of the LOOPs around the node (`0.3`), `-` outside loops. Inputs and
outputs are JSON strings; one larger than the inline limit goes to the payload bucket at
`executions/<owner>/<id>/...` and the item keeps its key (`input_ref`, `output_ref`).

A node run is claimed before it runs: the claim is a conditional write on the attempt number, so
the same (execution, node, iteration, attempt) delivered twice runs once (DESIGN.md decision 1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from flowlane.errors import Conflict, NotFound, ValidationFailed
from flowlane.models.execution import (
    FINAL_EXECUTION_STATUSES,
    ExecutionStatus,
    ExecutionSummary,
    NodeRun,
    NodeRunError,
    NodeRunStatus,
    TriggerInfo,
)
from flowlane.store.dynamo import (
    ConditionFailed,
    DynamoTable,
    Item,
    aws_errors,
    deserialise,
    serialise,
)
from flowlane.store.keys import user_pk
from flowlane.store.payloads import PayloadMissing, PayloadStore
from flowlane.store.schema import GSI1, GSI1_PK, GSI1_SK, PK, SK, TTL_ATTRIBUTE

EXECUTION_SK_PREFIX = "EXECUTION#"
RUN_SK_PREFIX = "RUN#"
IDEMPOTENCY_SK_PREFIX = "IDEMPOTENCY#"
# Approval items share the run partition; `flowlane.store.approvals` owns them.
APPROVAL_SK_PREFIX = "APPROVAL#"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
_OPEN_STATUSES = (ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
_OPEN_RUN_STATUSES = (NodeRunStatus.RUNNING.value, NodeRunStatus.WAITING.value)
# A conditional rewrite lost to a concurrent writer is retried on the fresh item this many times.
_WRITE_ATTEMPTS = 8
# Items read per request when a status filter applies (see `list`).
_FILTERED_READ = 200
# Values are offloaded one by one above the limit, and the largest ones until the item fits
# comfortably under DynamoDB's 400 KB.
ITEM_BUDGET = 350_000


def execution_sk(execution_id: str) -> str:
    return f"{EXECUTION_SK_PREFIX}{execution_id}"


def runs_pk(owner: str, execution_id: str) -> str:
    return f"{user_pk(owner)}#{EXECUTION_SK_PREFIX}{execution_id}"


def iteration_key(iteration: list[int] | tuple[int, ...]) -> str:
    return ".".join(str(i) for i in iteration) if iteration else "-"


def run_sk(node_id: str, iteration: list[int] | tuple[int, ...]) -> str:
    return f"{RUN_SK_PREFIX}{iteration_key(iteration)}#{node_id}"


def workflow_executions_pk(owner: str, workflow_id: str) -> str:
    return f"{user_pk(owner)}#WORKFLOW#{workflow_id}"


def idempotency_sk(workflow_id: str, key: str) -> str:
    # Hashed: a client's key may be long or hold characters we would rather not put in a key.
    return f"{IDEMPOTENCY_SK_PREFIX}{workflow_id}#{hashlib.sha256(key.encode()).hexdigest()}"


def new_execution_id() -> str:
    """Time-sortable (so listing a user's executions by id is newest first) and a valid Step
    Functions execution name: `20261121T101500123-a1b2c3d4`."""
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}-{secrets.token_hex(4)}"


def payload_prefix(owner: str, execution_id: str) -> str:
    return f"executions/{quote(owner, safe='')}/{execution_id}/"


class ExecutionItem(BaseModel):
    """The execution as stored: what the node runner needs to find the workflow and the start."""

    execution_id: str
    workflow_id: str
    revision: int
    status: ExecutionStatus = ExecutionStatus.RUNNING
    mode: str = "live"
    trigger: TriggerInfo = Field(default_factory=TriggerInfo)
    input: Any = None
    output: Any = None
    error: NodeRunError | None = None
    started_at: str
    ended_at: str | None = None
    # The state machine that runs it and the Step Functions execution (set once started).
    state_machine_arn: str | None = None
    sfn_execution_arn: str | None = None
    session_id: str | None = None
    idempotency_key: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_EXECUTION_STATUSES


@dataclass(frozen=True)
class ExecutionPage:
    executions: list[ExecutionSummary]
    total_count: int
    has_more: bool
    next_cursor: str | None
    # 1-based: 1 without a cursor, else one more than the page that issued the cursor.
    page: int


@dataclass
class StoredRun:
    """A node run with the bookkeeping the runner needs (attempt claims, control data)."""

    run: NodeRun
    attempt: int
    control: dict[str, Any]
    claimed_at: int

    @property
    def final(self) -> bool:
        return self.run.status.value in ("SUCCEEDED", "FAILED", "CANCELLED")


class ExecutionRepository:
    def __init__(self, table: DynamoTable, payloads: PayloadStore, *, inline_limit: int) -> None:
        self.table = table
        self.payloads = payloads
        self.inline_limit = inline_limit

    # -- executions ----------------------------------------------------------------------------

    def create(self, owner: str, execution: ExecutionItem) -> None:
        item = self._execution_item(owner, execution)
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            self._drop_new_doc(item, None)
            raise Conflict(f"execution {execution.execution_id} already exists") from None

    def get(self, owner: str, execution_id: str) -> ExecutionItem:
        return self._read(owner, execution_id)[1]

    def set_status(self, owner: str, execution_id: str, status: ExecutionStatus) -> bool:
        """RUNNING <-> WAITING (an approval is awaited, or no longer). False, and no change,
        when the execution has already ended."""
        if status not in _OPEN_STATUSES:
            raise ValueError(f"set_status moves between RUNNING and WAITING, not to {status}")
        for _ in range(_WRITE_ATTEMPTS):
            item, current = self._read(owner, execution_id)
            if current.final:
                return False
            if current.status == status:
                return True
            try:
                self._replace(owner, current.model_copy(update={"status": status}), item)
            except ConditionFailed:
                continue
            return True
        raise self._busy(execution_id)

    def finish(
        self,
        owner: str,
        execution_id: str,
        *,
        status: ExecutionStatus,
        output: Any = None,
        error: NodeRunError | None = None,
        ended_at: str,
    ) -> bool:
        """Write the final status, once: False (and no change) when it has already ended."""
        if status not in FINAL_EXECUTION_STATUSES:
            raise ValueError(f"{status} is not a final status")
        changes = {"status": status, "output": output, "error": error, "ended_at": ended_at}
        for _ in range(_WRITE_ATTEMPTS):
            item, current = self._read(owner, execution_id)
            if current.final:
                return False
            try:
                self._replace(owner, current.model_copy(update=changes), item)
            except ConditionFailed:
                continue
            return True
        raise self._busy(execution_id)

    def update(self, owner: str, execution: ExecutionItem) -> None:
        """Rewrite the execution (e.g. to add `sfn_execution_arn` after StartExecution), without a
        revision check. One guard: a final status already stored is kept with its output, error
        and end time, since the machine may finish before the starter writes back."""
        for _ in range(_WRITE_ATTEMPTS):
            try:
                item, current = self._read(owner, execution.execution_id)
            except NotFound:
                try:
                    self.create(owner, execution)
                except Conflict:
                    continue  # created in between: rewrite it as an update
                return
            wanted = execution
            if current.final and not execution.final:
                wanted = execution.model_copy(
                    update={
                        "status": current.status,
                        "output": current.output,
                        "error": current.error,
                        "ended_at": current.ended_at,
                    }
                )
            try:
                self._replace(owner, wanted, item, require_open=False)
            except ConditionFailed:
                continue
            return
        raise self._busy(execution.execution_id)

    def delete(self, owner: str, execution_id: str) -> None:
        """The execution, its node runs and approvals, its idempotency record, and its values
        in S3. The execution item goes last, so a retry after a failure finds what is left."""
        key = {PK: user_pk(owner), SK: execution_sk(execution_id)}
        execution = self._read(owner, execution_id)[1]
        for entry in self.table.query(
            PK, runs_pk(owner, execution_id), projection=(PK, SK), consistent=True
        ):
            self.table.delete({PK: entry[PK], SK: entry[SK]})
            if str(entry[SK]).startswith(APPROVAL_SK_PREFIX):
                # The approval's look-up item under the user (same sort key).
                self.table.delete({PK: user_pk(owner), SK: entry[SK]})
        if execution.idempotency_key is not None:
            idempotency = {
                PK: user_pk(owner),
                SK: idempotency_sk(execution.workflow_id, execution.idempotency_key),
            }
            record = self.table.get(idempotency)
            # Only while it names this execution: a reused key belongs to another one.
            if record is not None and record.get("execution_id") == execution_id:
                self.table.delete(idempotency)
        self.payloads.delete_prefix(payload_prefix(owner, execution_id))
        self.table.delete(key)

    # -- idempotency -----------------------------------------------------------------------

    def claim_idempotency_key(
        self, owner: str, workflow_id: str, key: str, execution_id: str
    ) -> str:
        """`execution_id` when the key was free (now it is ours), else the execution it already
        started. Records live 24 h; moto never expires items, so an expired one counts as free."""
        sk = idempotency_sk(workflow_id, key)
        for _ in range(_WRITE_ATTEMPTS):
            now = int(time.time())
            try:
                self.table.put(
                    {
                        PK: user_pk(owner),
                        SK: sk,
                        "entity": "idempotency",
                        "workflow_id": workflow_id,
                        "execution_id": execution_id,
                        "created_at": now,
                        TTL_ATTRIBUTE: now + IDEMPOTENCY_TTL_SECONDS,
                    },
                    condition="attribute_not_exists(pk) OR #expires < :now",
                    names={"#expires": TTL_ATTRIBUTE},
                    values={":now": now},
                )
            except ConditionFailed:
                stored = self.table.get({PK: user_pk(owner), SK: sk})
                if stored is not None and int(stored.get(TTL_ATTRIBUTE, 0)) >= now:
                    return str(stored["execution_id"])
                continue  # released or expired in between: claim it again
            return execution_id
        raise Conflict(f"the idempotency key of workflow {workflow_id} kept changing")

    def release_idempotency_key(self, owner: str, workflow_id: str, key: str) -> None:
        self.table.delete({PK: user_pk(owner), SK: idempotency_sk(workflow_id, key)})

    # -- item mapping --------------------------------------------------------------------------

    def _read(self, owner: str, execution_id: str) -> tuple[Item, ExecutionItem]:
        key = {PK: user_pk(owner), SK: execution_sk(execution_id)}
        for _ in range(_WRITE_ATTEMPTS):
            item = self.table.get(key)
            if item is None:
                raise NotFound(f"no execution {execution_id}")
            try:
                return item, self._execution(item)
            except PayloadMissing:
                # A writer replaced the item and removed the document we were pointed at
                # between our two reads; the item now names the new one.
                continue
        raise self._busy(execution_id)

    def _execution(self, item: Item) -> ExecutionItem:
        return ExecutionItem.model_validate_json(self._load(item, "doc"))

    def _summary(self, item: Item) -> ExecutionSummary:
        if "trigger" not in item:  # written before the list attributes existed
            doc = self._execution(item)
            return ExecutionSummary.model_validate(doc.model_dump())
        return ExecutionSummary(
            execution_id=item["execution_id"],
            workflow_id=item["workflow_id"],
            status=item["status"],
            trigger=TriggerInfo.model_validate_json(item["trigger"]),
            started_at=item["started_at"],
            ended_at=item.get("ended_at"),
            mode=item.get("mode", "live"),
        )

    def _replace(
        self, owner: str, execution: ExecutionItem, current: Item, *, require_open: bool = True
    ) -> None:
        """Rewrite the item over the one read (`rev`), and only while the stored execution is
        open when `require_open`. ConditionFailed when either no longer holds."""
        item = self._execution_item(owner, execution)
        condition = "attribute_exists(pk) AND "
        names = {"#rev": "rev"}
        values: dict[str, Any] = {}
        if current.get("rev") is None:
            condition += "attribute_not_exists(#rev)"
        else:
            condition += "#rev = :rev"
            values[":rev"] = current["rev"]
        if require_open:
            condition += " AND #status IN (:running, :waiting)"
            names["#status"] = "status"
            values.update({":running": "RUNNING", ":waiting": "WAITING"})
        try:
            self.table.put(item, condition=condition, names=names, values=values)
        except Exception:
            self._drop_new_doc(item, current)
            raise
        old_ref = current.get("doc_ref")
        if old_ref and old_ref != item.get("doc_ref"):
            # The item no longer points at it; a failure leaves an unreachable object.
            self.payloads.delete_quietly(str(old_ref))

    def _drop_new_doc(self, item: Item, current: Item | None) -> None:
        ref = item.get("doc_ref")
        if ref and (current is None or current.get("doc_ref") != ref):
            self.payloads.delete_quietly(str(ref))

    def _execution_item(self, owner: str, execution: ExecutionItem) -> dict[str, Any]:
        doc = execution.model_dump_json()
        rev = secrets.token_hex(8)
        item: dict[str, Any] = {
            "pk": user_pk(owner),
            "sk": execution_sk(execution.execution_id),
            "entity": "execution",
            "execution_id": execution.execution_id,
            "workflow_id": execution.workflow_id,
            "status": execution.status.value,
            "started_at": execution.started_at,
            "ended_at": execution.ended_at,
            "mode": execution.mode,
            "trigger": execution.trigger.model_dump_json(),
            "rev": rev,
            "gsi1pk": workflow_executions_pk(owner, execution.workflow_id),
            "gsi1sk": f"{EXECUTION_SK_PREFIX}{execution.started_at}#{execution.execution_id}",
        }
        # Keyed by rev: a rewrite never overwrites the object the stored item points at.
        self._store(
            item, "doc", doc, f"{payload_prefix(owner, execution.execution_id)}execution-{rev}.json"
        )
        return item

    @staticmethod
    def _busy(execution_id: str) -> Conflict:
        return Conflict(f"execution {execution_id} kept changing; try again")

    # -- node runs -----------------------------------------------------------------------------

    def claim(
        self,
        owner: str,
        execution_id: str,
        node_id: str,
        iteration: list[int],
        attempt: int,
        *,
        stale_after_ms: int,
        started_at: str,
    ) -> StoredRun | None:
        """Mark the node run as RUNNING for this attempt. None when it is ours to run; else the
        stored run (finished, or running elsewhere and not yet stale)."""
        now = int(time.time() * 1000)
        item = {
            "pk": runs_pk(owner, execution_id),
            "sk": run_sk(node_id, iteration),
            "node_id": node_id,
            "iteration": iteration,
            "status": "RUNNING",
            "attempt": attempt,
            "claimed_at": now,
            "started_at": started_at,
        }
        try:
            self.table.put(
                item,
                condition=(
                    "attribute_not_exists(pk) OR attempt < :attempt OR "
                    "(attempt = :attempt AND #status = :running AND claimed_at < :stale)"
                ),
                names={"#status": "status"},
                values={":attempt": attempt, ":running": "RUNNING", ":stale": now - stale_after_ms},
            )
        except ConditionFailed:
            existing = self.get_run(owner, execution_id, node_id, iteration)
            if existing is None:  # deleted in between: cannot happen while the execution lives
                raise Conflict(f"node run {node_id} vanished while being claimed") from None
            return existing
        return None

    def put_run(
        self,
        owner: str,
        execution_id: str,
        run: NodeRun,
        *,
        attempt: int,
        control: dict[str, Any] | None = None,
    ) -> None:
        item: dict[str, Any] = {
            "pk": runs_pk(owner, execution_id),
            "sk": run_sk(run.node_id, run.iteration),
            "node_id": run.node_id,
            "iteration": run.iteration,
            "status": run.status.value,
            "attempt": attempt,
            "attempts": run.attempts,
            "claimed_at": int(time.time() * 1000),
            "disabled": run.disabled,
        }
        for name in ("port", "started_at", "ended_at"):
            if getattr(run, name) is not None:
                item[name] = getattr(run, name)
        if run.error is not None:
            item["error"] = run.error.model_dump_json(exclude_none=True)
        if control:
            item["control"] = json.dumps(control)
        base = (
            f"executions/{quote(owner, safe='')}/{execution_id}/runs/"
            f"{iteration_key(run.iteration)}/{quote(run.node_id, safe='')}/a{attempt}"
        )
        values = {"input": json.dumps(run.input), "output": json.dumps(run.output)}
        total = sum(len(v) for v in values.values())
        for name, text in sorted(values.items(), key=lambda kv: -len(kv[1])):
            # The largest first: offload until what stays inline fits the item budget.
            if len(text) > self.inline_limit or total > ITEM_BUDGET:
                self._store(item, name, text, f"{base}/{name}.json", force=True)
                total -= len(text)
            else:
                item[name] = text
        self.table.put(item)

    def get_run(
        self, owner: str, execution_id: str, node_id: str, iteration: list[int]
    ) -> StoredRun | None:
        item = self.table.get(
            {"pk": runs_pk(owner, execution_id), "sk": run_sk(node_id, iteration)}
        )
        return self._stored_run(item) if item else None

    def get_runs(
        self, owner: str, execution_id: str, wanted: list[tuple[str, list[int]]]
    ) -> dict[tuple[str, str], StoredRun]:
        """Runs by (node id, iteration key); absent when the node did not run there."""
        keys = [
            {"pk": runs_pk(owner, execution_id), "sk": run_sk(node_id, iteration)}
            for node_id, iteration in dict.fromkeys((n, tuple(i)) for n, i in wanted)
        ]
        found: dict[tuple[str, str], StoredRun] = {}
        for item in self.table.batch_get(keys) if keys else []:
            stored = self._stored_run(item)
            found[(stored.run.node_id, iteration_key(stored.run.iteration))] = stored
        return found

    def list_runs(self, owner: str, execution_id: str) -> list[StoredRun]:
        items = self.table.query(
            "pk",
            runs_pk(owner, execution_id),
            sk_name="sk",
            sk_prefix=RUN_SK_PREFIX,
            consistent=True,
        )
        runs = [self._stored_run(item) for item in items]
        runs.sort(key=lambda r: (r.run.started_at or "", r.run.iteration, r.run.node_id))
        return runs

    def mark_runs_cancelled(self, owner: str, execution_id: str, ended_at: str) -> int:
        """Every RUNNING or WAITING node run becomes CANCELLED; how many did. A run the node
        runner rewrote in between keeps the runner's write."""
        changed = 0
        for item in self.table.query(
            PK, runs_pk(owner, execution_id), sk_name=SK, sk_prefix=RUN_SK_PREFIX, consistent=True
        ):
            if item.get("status") not in _OPEN_RUN_STATUSES:
                continue
            condition = "#status = :old"
            values: dict[str, Any] = {":old": item["status"]}
            if "claimed_at" in item:
                condition += " AND claimed_at = :claimed"
                values[":claimed"] = item["claimed_at"]
            try:
                self.table.put(
                    {**item, "status": NodeRunStatus.CANCELLED.value, "ended_at": ended_at},
                    condition=condition,
                    names={"#status": "status"},
                    values=values,
                )
            except ConditionFailed:
                continue
            changed += 1
        return changed

    def _stored_run(self, item: Item) -> StoredRun:
        run = NodeRun(
            node_id=item["node_id"],
            status=item["status"],
            input=json.loads(self._load(item, "input")) if _has(item, "input") else None,
            output=json.loads(self._load(item, "output")) if _has(item, "output") else None,
            error=NodeRunError.model_validate_json(item["error"]) if item.get("error") else None,
            # 0 is a real value (a disabled node was never tried); a claim has no `attempts`.
            attempts=int(item["attempts"] if "attempts" in item else item.get("attempt", 0)),
            port=item.get("port"),
            started_at=item.get("started_at"),
            ended_at=item.get("ended_at"),
            iteration=[int(i) for i in item.get("iteration", [])],
            disabled=bool(item.get("disabled", False)),
        )
        control = json.loads(item["control"]) if item.get("control") else {}
        return StoredRun(run, int(item.get("attempt", 0)), control, int(item.get("claimed_at", 0)))

    # -- listing (last in the class: the method's name would shadow the builtin above) -------

    def list(
        self,
        owner: str,
        *,
        workflow_id: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """Newest first, `limit` at a time, from DynamoDB pages (no full read): by workflow on
        gsi1, else the user's partition by id (time-sortable). A status filter is a
        FilterExpression, so pages are read until `limit` items match or the end."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if workflow_id is not None:
            partition = workflow_executions_pk(owner, workflow_id)
            pk_name, sk_name = GSI1_PK, GSI1_SK
            key_names: tuple[str, ...] = (PK, SK, GSI1_PK, GSI1_SK)
        else:
            partition = user_pk(owner)
            pk_name, sk_name, key_names = PK, SK, (PK, SK)
        start, page = _decode_cursor(cursor, key_names, pk_name, partition, sk_name)
        request: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": pk_name, "#sk": sk_name},
            "ExpressionAttributeValues": {":pk": partition, ":prefix": EXECUTION_SK_PREFIX},
        }
        if workflow_id is not None:
            request["IndexName"] = GSI1
        else:
            request["ConsistentRead"] = True
        if status is not None:
            request["FilterExpression"] = "#status = :status"
            request["ExpressionAttributeNames"]["#status"] = "status"
            request["ExpressionAttributeValues"][":status"] = status.value
        found: list[Item] = []
        # One more than the page: whether it exists is `has_more`, exactly. The cursor is the
        # key of the last item served (not DynamoDB's LastEvaluatedKey), so reading past the
        # page is harmless: with a filter, whose Limit counts items read before filtering,
        # pages are read in larger steps rather than a few items per request.
        while len(found) <= limit:
            wanted = limit + 1 - len(found)
            response = _query(
                self.table,
                request,
                ScanIndexForward=False,
                Limit=max(wanted, _FILTERED_READ) if status is not None else wanted,
                ExclusiveStartKey=start,
            )
            found.extend(deserialise(raw) for raw in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        window = found[:limit]
        has_more = len(found) > limit
        next_cursor = (
            _encode_cursor({k: window[-1][k] for k in key_names}, page + 1) if has_more else None
        )
        total = 0
        start = None
        while True:
            response = _query(self.table, request, Select="COUNT", ExclusiveStartKey=start)
            total += int(response.get("Count", 0))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        return ExecutionPage(
            [self._summary(item) for item in window], total, has_more, next_cursor, page
        )

    # -- large values --------------------------------------------------------------------------

    def _store(
        self, item: dict[str, Any], name: str, text: str, key: str, *, force: bool = False
    ) -> None:
        if force or len(text) > self.inline_limit:
            self.payloads.put(key, text.encode())
            item[f"{name}_ref"] = key
        else:
            item[name] = text

    def _load(self, item: Item, name: str) -> str:
        ref = item.get(f"{name}_ref")
        if ref:
            return self.payloads.get(str(ref)).decode()
        return str(item[name])


def _has(item: Item, name: str) -> bool:
    return name in item or f"{name}_ref" in item


def _query(table: DynamoTable, request: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """One Query page. DynamoTable.query reads whole partitions; a list page needs the raw
    knobs (ScanIndexForward, Limit, ExclusiveStartKey, FilterExpression, Select), so this goes
    to the table's client directly, with the same error mapping."""
    kwargs: dict[str, Any] = {"TableName": table.name, **request}
    kwargs["ExpressionAttributeValues"] = serialise(request["ExpressionAttributeValues"])
    kwargs.update({k: v for k, v in extra.items() if v is not None})
    if "ExclusiveStartKey" in kwargs:
        kwargs["ExclusiveStartKey"] = serialise(kwargs["ExclusiveStartKey"])
    with aws_errors("list executions"):
        response: dict[str, Any] = table._client.query(**kwargs)
    if response.get("LastEvaluatedKey"):
        response["LastEvaluatedKey"] = deserialise(response["LastEvaluatedKey"])
    return response


def _encode_cursor(key: Mapping[str, Any], page: int) -> str:
    raw = json.dumps({"k": dict(key), "p": page}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(
    cursor: str | None,
    key_names: tuple[str, ...],
    pk_name: str,
    partition: str,
    sk_name: str,
) -> tuple[dict[str, str] | None, int]:
    """The start key and page number a cursor carries; a cursor we did not issue for this list
    (another user's partition, another workflow, garbage) is a 400, never an AWS error."""
    if cursor is None:
        return None, 1
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key, page = decoded["k"], decoded["p"]
        if (
            not isinstance(key, dict)
            or set(key) != set(key_names)
            or not all(isinstance(v, str) for v in key.values())
            or key[pk_name] != partition
            or not key[sk_name].startswith(EXECUTION_SK_PREFIX)
            or not isinstance(page, int)
            or page < 1
        ):
            raise ValueError("not one of our cursors")
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed(
            "cursor is not valid",
            [{"loc": ["query", "cursor"], "msg": "not a cursor issued for this list"}],
        ) from exc
    return key, page
