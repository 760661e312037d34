"""Agent sessions, their messages and generation events, and async query tasks.

Keys (docs/data-model.md, "Agent sessions"):
- session `USER#<owner>` / `SESSION#<id>`: action, workflow, status of the latest generation,
  the event and message counters, `expires_at`;
- its messages and events under `USER#<owner>#SESSION#<id>` / `MSG#<seq>` and `EVENT#<seq>`
  (zero-padded, so a query returns them in order and `Last-Event-ID` is a key range);
- a task `USER#<owner>` / `TASK#<id>`.

Every item carries `expires_at` (DynamoDB TTL). DynamoDB deletes expired items up to 48 hours
late and moto never does, so every read filters on it: an expired session is a 404 at once.
Event sequence numbers come from an atomic counter on the session item, so two writers never
share one and a reader that saw N has seen every event up to N that was written before it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowlane.errors import NotFound
from flowlane.models.agent import (
    GenerationStatus,
    SessionAction,
    SessionMessage,
    TaskStatus,
)
from flowlane.store.dynamo import ConditionFailed, DynamoTable, Item
from flowlane.store.keys import user_pk
from flowlane.store.schema import PK, SK, TTL_ATTRIBUTE

SESSION_SK_PREFIX = "SESSION#"
TASK_SK_PREFIX = "TASK#"
MESSAGE_PREFIX = "MSG#"
EVENT_PREFIX = "EVENT#"
_SEQ_DIGITS = 9


def iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_children_pk(owner: str, session_id: str) -> str:
    return f"{user_pk(owner)}#SESSION#{session_id}"


def new_session_id() -> str:
    return f"ses_{secrets.token_hex(12)}"


def new_task_id() -> str:
    return f"tsk_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class SessionItem:
    session_id: str
    action: SessionAction
    workflow_id: str | None
    status: GenerationStatus
    created_at: str
    updated_at: str
    expires_at: int
    event_seq: int
    generation_start: int  # seq of the latest generation's first event (0: none yet)
    threads: tuple[str, ...]  # checkpoint threads of its generations (deleted with it)

    @classmethod
    def of(cls, item: Item) -> SessionItem:
        return cls(
            session_id=item["session_id"],
            action=SessionAction(item["action"]),
            workflow_id=item.get("workflow_id"),
            status=GenerationStatus(item.get("status", GenerationStatus.IDLE)),
            created_at=item["created_at"],
            updated_at=item["updated_at"],
            expires_at=int(item[TTL_ATTRIBUTE]),
            event_seq=int(item.get("event_seq", 0)),
            generation_start=int(item.get("generation_start", 0)),
            threads=tuple(sorted(item.get("threads", []))),
        )


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    type: str
    workflow_id: str | None
    data: dict[str, Any] | None
    at: str


@dataclass(frozen=True)
class TaskItem:
    task_id: str
    session_id: str
    status: TaskStatus
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: str
    updated_at: str


class SessionRepository:
    def __init__(self, table: DynamoTable, *, ttl_seconds: int, clock: Any = time.time) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _now(self) -> float:
        return float(self._clock())

    def _expiry(self) -> int:
        return int(self._now()) + self.ttl_seconds

    def _live(self, item: Item | None) -> bool:
        return item is not None and int(item.get(TTL_ATTRIBUTE, 0)) > int(self._now())

    # -- sessions ------------------------------------------------------------------------------

    def create(self, owner: str, action: SessionAction, workflow_id: str | None) -> SessionItem:
        now = iso(self._now())
        item: Item = {
            PK: user_pk(owner),
            SK: SESSION_SK_PREFIX + new_session_id(),
            "entity": "session",
            "action": action.value,
            "workflow_id": workflow_id,
            "status": GenerationStatus.IDLE.value,
            "created_at": now,
            "updated_at": now,
            "event_seq": 0,
            "message_seq": 0,
            "generation_start": 0,
            TTL_ATTRIBUTE: self._expiry(),
        }
        item["session_id"] = item[SK].removeprefix(SESSION_SK_PREFIX)
        self.table.put(item, condition="attribute_not_exists(pk)")
        return SessionItem.of(item)

    def get(self, owner: str, session_id: str) -> SessionItem:
        item = self.table.get({PK: user_pk(owner), SK: SESSION_SK_PREFIX + session_id})
        if item is None or not self._live(item):
            raise NotFound(f"no session {session_id} (sessions expire when unused)")
        return SessionItem.of(item)

    def _update(
        self, owner: str, session_id: str, values: dict[str, Any], add: dict[str, Any] | None = None
    ) -> Item:
        """Update a live session and extend its life; NotFound when it is gone or expired."""
        values = {**values, "updated_at": iso(self._now()), TTL_ATTRIBUTE: self._expiry()}
        try:
            return self.table.update(
                {PK: user_pk(owner), SK: SESSION_SK_PREFIX + session_id},
                set_values=values,
                add=add,
                condition="attribute_exists(pk) AND #expires > :now",
                names={"#expires": TTL_ATTRIBUTE},
                values={":now": int(self._now())},
            )
        except ConditionFailed:
            raise NotFound(f"no session {session_id} (sessions expire when unused)") from None

    def idle_seconds(self, session: SessionItem) -> float:
        """Seconds since the session was last written."""
        updated = datetime.fromisoformat(session.updated_at.replace("Z", "+00:00"))
        return self._now() - updated.timestamp()

    def touch(self, owner: str, session_id: str) -> SessionItem:
        return SessionItem.of(self._update(owner, session_id, {}))

    def set_workflow(self, owner: str, session_id: str, workflow_id: str) -> None:
        self._update(owner, session_id, {"workflow_id": workflow_id})

    def add_thread(self, owner: str, session_id: str, thread_id: str) -> None:
        self._update(owner, session_id, {}, add={"threads": {thread_id}})

    def set_status(self, owner: str, session_id: str, status: GenerationStatus) -> None:
        self._update(owner, session_id, {"status": status.value})

    def delete(self, owner: str, session_id: str) -> None:
        """The session and everything under it (messages, events). Children first, so a
        failure midway leaves a session that can be deleted again, never orphans."""
        self.get(owner, session_id)
        children = session_children_pk(owner, session_id)
        for entry in self.table.query(PK, children, projection=(PK, SK), consistent=True):
            self.table.delete({PK: entry[PK], SK: entry[SK]})
        self.table.delete({PK: user_pk(owner), SK: SESSION_SK_PREFIX + session_id})

    # -- messages ------------------------------------------------------------------------------

    def add_message(self, owner: str, session_id: str, role: str, content: str) -> SessionMessage:
        updated = self._update(owner, session_id, {}, add={"message_seq": 1})
        seq = int(updated["message_seq"])
        at = iso(self._now())
        self.table.put(
            {
                PK: session_children_pk(owner, session_id),
                SK: f"{MESSAGE_PREFIX}{seq:0{_SEQ_DIGITS}d}",
                "entity": "session_message",
                "role": role,
                "content": content,
                "at": at,
                TTL_ATTRIBUTE: self._expiry(),
            }
        )
        return SessionMessage(role=role, content=content, at=at)

    def messages(
        self, owner: str, session_id: str, *, last: int | None = None
    ) -> list[SessionMessage]:
        items = [
            item
            for item in self.table.query(
                PK,
                session_children_pk(owner, session_id),
                sk_name=SK,
                sk_prefix=MESSAGE_PREFIX,
                consistent=True,
            )
            if self._live(item)
        ]
        if last is not None:
            items = items[-last:] if last else []
        return [
            SessionMessage(role=item["role"], content=item["content"], at=item["at"])
            for item in items
        ]

    # -- generation events ---------------------------------------------------------------------

    def add_event(
        self,
        owner: str,
        session_id: str,
        event_type: str,
        *,
        workflow_id: str | None = None,
        data: dict[str, Any] | None = None,
        starts_generation: bool = False,
    ) -> int:
        """Append an event; its sequence number. `starts_generation` marks the first event of
        a generation, where a client that connects without Last-Event-ID starts reading."""
        updated = self._update(owner, session_id, {}, add={"event_seq": 1})
        seq = int(updated["event_seq"])
        if starts_generation:
            self._update(owner, session_id, {"generation_start": seq})
        self.table.put(
            {
                PK: session_children_pk(owner, session_id),
                SK: f"{EVENT_PREFIX}{seq:0{_SEQ_DIGITS}d}",
                "entity": "session_event",
                "type": event_type,
                "workflow_id": workflow_id,
                "data": json.dumps(data, separators=(",", ":")) if data is not None else None,
                "at": iso(self._now()),
                TTL_ATTRIBUTE: self._expiry(),
            }
        )
        return seq

    def events_after(self, owner: str, session_id: str, after: int) -> list[StoredEvent]:
        """Events with a sequence number above `after`, in order."""
        key = session_children_pk(owner, session_id)
        response_items = self.table.query(
            PK, key, sk_name=SK, sk_prefix=EVENT_PREFIX, consistent=True
        )
        events: list[StoredEvent] = []
        for item in response_items:
            seq = int(str(item[SK]).removeprefix(EVENT_PREFIX))
            if seq <= after or not self._live(item):
                continue
            events.append(
                StoredEvent(
                    seq=seq,
                    type=item["type"],
                    workflow_id=item.get("workflow_id"),
                    data=json.loads(item["data"]) if item.get("data") else None,
                    at=item["at"],
                )
            )
        return events

    # -- tasks ---------------------------------------------------------------------------------

    def create_task(self, owner: str, session_id: str) -> TaskItem:
        now = iso(self._now())
        task_id = new_task_id()
        self.table.put(
            {
                PK: user_pk(owner),
                SK: TASK_SK_PREFIX + task_id,
                "entity": "agent_task",
                "task_id": task_id,
                "session_id": session_id,
                "status": TaskStatus.PENDING.value,
                "created_at": now,
                "updated_at": now,
                TTL_ATTRIBUTE: self._expiry(),
            },
            condition="attribute_not_exists(pk)",
        )
        return self.get_task(owner, task_id)

    def get_task(self, owner: str, task_id: str) -> TaskItem:
        item = self.table.get({PK: user_pk(owner), SK: TASK_SK_PREFIX + task_id})
        if item is None or not self._live(item):
            raise NotFound(f"no task {task_id}")
        return TaskItem(
            task_id=item["task_id"],
            session_id=item["session_id"],
            status=TaskStatus(item["status"]),
            result=json.loads(item["result"]) if item.get("result") else None,
            error=json.loads(item["error"]) if item.get("error") else None,
            created_at=item["created_at"],
            updated_at=item["updated_at"],
        )

    def set_task(
        self,
        owner: str,
        task_id: str,
        status: TaskStatus,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Move a task on. A task that has ended stays as it ended (a repeated async delivery
        must not run it twice or overwrite its result)."""
        values: dict[str, Any] = {"status": status.value, "updated_at": iso(self._now())}
        if result is not None:
            values["result"] = json.dumps(result, separators=(",", ":"))
        if error is not None:
            values["error"] = json.dumps(error, separators=(",", ":"))
        try:
            self.table.update(
                {PK: user_pk(owner), SK: TASK_SK_PREFIX + task_id},
                set_values=values,
                condition="attribute_exists(pk) AND #status IN (:pending, :running)",
                names={"#status": "status"},
                values={":pending": TaskStatus.PENDING.value, ":running": TaskStatus.RUNNING.value},
            )
        except ConditionFailed:
            raise NotFound(f"no open task {task_id}") from None
