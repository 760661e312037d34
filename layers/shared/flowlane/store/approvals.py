"""Approvals awaited by APPROVAL nodes (CONTRACT.md section 5, `GET|POST /approvals`).

| pk | sk | what |
|---|---|---|
| `USER#<owner>#EXECUTION#<id>` | `APPROVAL#<approval id>` | the approval, beside the node runs |
| `USER#<owner>` | `APPROVAL#<approval id>` | a look-up: which execution holds it |

The approval item is also on `gsi1` (`USER#<owner>#APPROVAL`, `<status>#<created_at>#<id>`), so a
user's approvals, or those of one status, are one query. The approval id is derived from
(execution, node, iteration), so a redelivered node records the same approval once. A decision is
a conditional write from `pending`: the first one wins, a second is a 409.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flowlane.errors import Conflict, NotFound, ValidationFailed
from flowlane.models.execution import ApprovalPublic, ApprovalStatus, Decision
from flowlane.store.dynamo import ConditionFailed, DynamoTable, Item
from flowlane.store.executions import APPROVAL_SK_PREFIX, iteration_key, runs_pk
from flowlane.store.keys import user_pk
from flowlane.store.schema import GSI1, GSI1_PK, GSI1_SK, PK, SK

_WRITE_ATTEMPTS = 8


class ApprovalItem(ApprovalPublic):
    """The approval as stored: with the Step Functions task token, which is never served."""

    task_token: str

    @classmethod
    def pending(
        cls,
        *,
        execution_id: str,
        workflow_id: str,
        node_id: str,
        iteration: list[int],
        task_token: str,
        message: str = "",
        timeout_seconds: int = 86_400,
        created_at: datetime | None = None,
    ) -> ApprovalItem:
        """A new pending approval, its id derived and its expiry computed."""
        created = created_at or datetime.now(UTC)
        return cls(
            approval_id=approval_id_for(execution_id, node_id, iteration),
            execution_id=execution_id,
            workflow_id=workflow_id,
            node_id=node_id,
            iteration=list(iteration),
            message=message,
            timeout_seconds=timeout_seconds,
            task_token=task_token,
            created_at=_iso(created),
            expires_at=_iso(created + timedelta(seconds=timeout_seconds)),
        )

    def public(self) -> ApprovalPublic:
        return ApprovalPublic.model_validate(self.model_dump(exclude={"task_token"}))


@dataclass(frozen=True)
class ApprovalPage:
    approvals: list[ApprovalItem]
    total_count: int
    has_more: bool
    next_cursor: str | None


def approval_id_for(execution_id: str, node_id: str, iteration: list[int]) -> str:
    """Deterministic: the same node of the same execution and loop iteration, the same id."""
    raw = f"{execution_id}\x00{node_id}\x00{iteration_key(iteration)}".encode()
    return "apr-" + hashlib.sha256(raw).hexdigest()[:24]


def approvals_gsi_pk(owner: str) -> str:
    return f"{user_pk(owner)}#APPROVAL"


def _sk(approval_id: str) -> str:
    return f"{APPROVAL_SK_PREFIX}{approval_id}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _iso(datetime.now(UTC))


class ApprovalRepository:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    # -- writes ------------------------------------------------------------------------------

    def put_pending(self, owner: str, item: ApprovalItem) -> ApprovalItem:
        """Record a pending approval; when it already exists (a redelivery), the stored one."""
        # The look-up first: it is idempotent, and an approval is never findable without it.
        self.table.put(
            {
                PK: user_pk(owner),
                SK: _sk(item.approval_id),
                "entity": "approval_lookup",
                "execution_id": item.execution_id,
            }
        )
        try:
            self.table.put(self._item(owner, item), condition="attribute_not_exists(pk)")
        except ConditionFailed:
            return self._get(owner, item.execution_id, item.approval_id)
        return item

    def decide(
        self,
        owner: str,
        approval_id: str,
        *,
        decision: Decision,
        comment: str | None,
        decided_by: str,
    ) -> ApprovalItem:
        """pending -> `decision`. The same decision again while it has not reached Step
        Functions answers the stored approval, so the caller can retry sending it; anything
        else on a decided (timed out, cancelled) approval is a 409."""
        for _ in range(_WRITE_ATTEMPTS):
            current = self.get(owner, approval_id)
            if current.status is not ApprovalStatus.PENDING:
                if current.decision == decision and not current.sent:
                    return current
                raise Conflict(
                    f"approval {approval_id} is already {current.status.value}",
                    {"approval_id": approval_id, "status": current.status.value},
                )
            decided = current.model_copy(
                update={
                    "status": ApprovalStatus(decision),
                    "decision": decision,
                    "comment": comment,
                    "decided_by": decided_by,
                    "decided_at": _now(),
                }
            )
            try:
                self._replace(owner, decided, ApprovalStatus.PENDING)
            except ConditionFailed:
                continue
            return decided
        raise Conflict(f"approval {approval_id} kept changing; try again")

    def mark_sent(self, owner: str, approval_id: str) -> ApprovalItem:
        current = self.get(owner, approval_id)
        if current.sent:
            return current
        sent = current.model_copy(update={"sent": True})
        try:
            self._replace(owner, sent, current.status)
        except ConditionFailed:
            raise Conflict(f"approval {approval_id} changed while being sent") from None
        return sent

    def time_out(self, owner: str, approval_id: str) -> bool:
        """pending -> timed_out; False when it had been decided (or closed) first. A decision
        that never reached Step Functions (`sent` false) did not take effect, so it times out
        too: that is what the workflow did."""
        current = self.get(owner, approval_id)
        if current.status is ApprovalStatus.PENDING:
            return self._close(owner, current, ApprovalStatus.TIMED_OUT)
        if current.decision is None or current.sent or current.status.value != current.decision:
            return False
        try:
            self._replace(
                owner,
                current.model_copy(update={"status": ApprovalStatus.TIMED_OUT}),
                current.status,
            )
        except ConditionFailed:
            return False
        return True

    def cancel_for_execution(self, owner: str, execution_id: str) -> int:
        """Every pending approval of the execution -> cancelled; how many were."""
        return sum(
            self._close(owner, item, ApprovalStatus.CANCELLED)
            for item in self.pending_for_execution(owner, execution_id)
        )

    # -- reads -------------------------------------------------------------------------------

    def get(self, owner: str, approval_id: str) -> ApprovalItem:
        lookup = self.table.get({PK: user_pk(owner), SK: _sk(approval_id)})
        if lookup is None:
            raise NotFound(f"no approval {approval_id}")
        return self._get(owner, str(lookup["execution_id"]), approval_id)

    def pending_for_execution(self, owner: str, execution_id: str) -> list[ApprovalItem]:
        return [
            approval
            for approval in (
                self._approval(item)
                for item in self.table.query(
                    PK,
                    runs_pk(owner, execution_id),
                    sk_name=SK,
                    sk_prefix=APPROVAL_SK_PREFIX,
                    consistent=True,
                )
            )
            if approval.status is ApprovalStatus.PENDING
        ]

    def list(
        self,
        owner: str,
        *,
        status: ApprovalStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ApprovalPage:
        """Newest first (`created_at`, then id). A user's approvals are read from gsi1 (one
        status's by its sort-key prefix) and paged in memory, as workflows are: they number in
        the hundreds, and `total_count` is then exact."""
        entries = list(
            self.table.query(
                GSI1_PK,
                approvals_gsi_pk(owner),
                sk_name=GSI1_SK,
                sk_prefix=f"{status.value}#" if status is not None else None,
                index=GSI1,
            )
        )
        entries.sort(key=_order_key, reverse=True)
        start = 0
        if cursor is not None:
            after = _decode_cursor(cursor)
            start = next((i for i, e in enumerate(entries) if _order_key(e) < after), len(entries))
        window = entries[start : start + limit]
        has_more = start + limit < len(entries)
        next_cursor = _encode_cursor(_order_key(window[-1])) if has_more and window else None
        return ApprovalPage(
            [self._approval(e) for e in window], len(entries), has_more, next_cursor
        )

    # -- item mapping ------------------------------------------------------------------------

    def _get(self, owner: str, execution_id: str, approval_id: str) -> ApprovalItem:
        item = self.table.get({PK: runs_pk(owner, execution_id), SK: _sk(approval_id)})
        if item is None:
            raise NotFound(f"no approval {approval_id}")
        return self._approval(item)

    def _close(self, owner: str, item: ApprovalItem, status: ApprovalStatus) -> bool:
        if item.status is not ApprovalStatus.PENDING:
            return False
        try:
            self._replace(owner, item.model_copy(update={"status": status}), ApprovalStatus.PENDING)
        except ConditionFailed:
            return False
        return True

    def _replace(self, owner: str, item: ApprovalItem, expected: ApprovalStatus) -> None:
        """Rewrite the approval while its stored status is still `expected`."""
        condition = "#status = :expected"
        values: dict[str, Any] = {":expected": expected.value}
        if not item.sent:
            # Never undo a send: once SendTaskSuccess is recorded the item is settled.
            condition += " AND (attribute_not_exists(sent) OR sent = :false)"
            values[":false"] = False
        self.table.put(
            self._item(owner, item),
            condition=condition,
            names={"#status": "status"},
            values=values,
        )

    @staticmethod
    def _item(owner: str, item: ApprovalItem) -> dict[str, Any]:
        return {
            PK: runs_pk(owner, item.execution_id),
            SK: _sk(item.approval_id),
            "entity": "approval",
            "approval_id": item.approval_id,
            "execution_id": item.execution_id,
            "status": item.status.value,
            "created_at": item.created_at,
            "sent": item.sent,
            "doc": item.model_dump_json(),
            GSI1_PK: approvals_gsi_pk(owner),
            GSI1_SK: f"{item.status.value}#{item.created_at}#{item.approval_id}",
        }

    @staticmethod
    def _approval(item: Item) -> ApprovalItem:
        return ApprovalItem.model_validate_json(item["doc"])


def _order_key(entry: Item) -> tuple[str, str]:
    # ISO-8601 UTC times sort as text; the id keeps equal times in a stable order across pages.
    return (str(entry["created_at"]), str(entry["approval_id"]))


def _encode_cursor(position: tuple[str, str]) -> str:
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        created_at, approval_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if not isinstance(created_at, str) or not isinstance(approval_id, str):
            raise TypeError("not one of our cursors")
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationFailed(
            "cursor is not valid",
            [{"loc": ["query", "cursor"], "msg": "not a cursor issued for this list"}],
        ) from exc
    return created_at, approval_id
