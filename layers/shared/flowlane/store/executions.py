"""Executions and their node runs in DynamoDB, large values in S3 (CONTRACT.md section 4).

| pk | sk | what |
|---|---|---|
| `USER#<owner>` | `EXECUTION#<id>` | the execution: workflow and revision, trigger, status |
| `USER#<owner>#EXECUTION#<id>` | `RUN#<iteration>#<node id>` | one node run |

A node run's partition holds every run of the execution, so one query reads them all. The
iteration is the item indexes of the LOOPs around the node (`0.3`), `-` outside loops. Inputs and
outputs are JSON strings; one larger than the inline limit goes to the payload bucket at
`executions/<owner>/<id>/...` and the item keeps its key (`input_ref`, `output_ref`).

A node run is claimed before it runs: the claim is a conditional write on the attempt number, so
the same (execution, node, iteration, attempt) delivered twice runs once (DESIGN.md decision 1).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from flowlane.errors import Conflict, NotFound
from flowlane.models.execution import ExecutionStatus, NodeRun, NodeRunError, TriggerInfo
from flowlane.store.dynamo import ConditionFailed, DynamoTable, Item
from flowlane.store.keys import user_pk
from flowlane.store.payloads import PayloadStore

EXECUTION_SK_PREFIX = "EXECUTION#"
RUN_SK_PREFIX = "RUN#"
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
            raise Conflict(f"execution {execution.execution_id} already exists") from None

    def get(self, owner: str, execution_id: str) -> ExecutionItem:
        item = self.table.get({"pk": user_pk(owner), "sk": execution_sk(execution_id)})
        if item is None:
            raise NotFound(f"no execution {execution_id}")
        return ExecutionItem.model_validate_json(self._load(item, "doc"))

    def _execution_item(self, owner: str, execution: ExecutionItem) -> dict[str, Any]:
        doc = execution.model_dump_json()
        item: dict[str, Any] = {
            "pk": user_pk(owner),
            "sk": execution_sk(execution.execution_id),
            "entity": "execution",
            "execution_id": execution.execution_id,
            "workflow_id": execution.workflow_id,
            "status": execution.status.value,
            "started_at": execution.started_at,
            "gsi1pk": f"{user_pk(owner)}#WORKFLOW#{execution.workflow_id}",
            "gsi1sk": f"{EXECUTION_SK_PREFIX}{execution.started_at}#{execution.execution_id}",
        }
        self._store(
            item,
            "doc",
            doc,
            f"executions/{quote(owner, safe='')}/{execution.execution_id}/execution.json",
        )
        return item

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

    def _stored_run(self, item: Item) -> StoredRun:
        run = NodeRun(
            node_id=item["node_id"],
            status=item["status"],
            input=json.loads(self._load(item, "input")) if _has(item, "input") else None,
            output=json.loads(self._load(item, "output")) if _has(item, "output") else None,
            error=NodeRunError.model_validate_json(item["error"]) if item.get("error") else None,
            attempts=int(item.get("attempts") or item.get("attempt") or 0),
            port=item.get("port"),
            started_at=item.get("started_at"),
            ended_at=item.get("ended_at"),
            iteration=[int(i) for i in item.get("iteration", [])],
            disabled=bool(item.get("disabled", False)),
        )
        control = json.loads(item["control"]) if item.get("control") else {}
        return StoredRun(run, int(item.get("attempt", 0)), control, int(item.get("claimed_at", 0)))

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
