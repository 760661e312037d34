"""Triggers, the webhook paths they own, and their event log.

| pk | sk | what |
|---|---|---|
| `USER#<owner>` | `TRIGGER#<trigger id>` | the trigger (its secret too: never served) |
| `WEBHOOK#<path>` | `WEBHOOK` | which trigger owns a path (paths are one public namespace) |
| `USER#<owner>#TRIGGER#<trigger id>` | `EVENT#<event id>` | one firing; TTL 90 days |

A webhook trigger and its path claim are written (and deleted) in one transaction, so a path is
never owned by a missing trigger nor taken twice. The path item is the one item outside a user's
partition: the URL carries no user, so the look-up cannot be keyed by one.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from flowlane.errors import Conflict, NotFound, ValidationFailed
from flowlane.models.trigger import TriggerEvent, TriggerType
from flowlane.store.dynamo import ConditionFailed, DynamoTable
from flowlane.store.keys import user_pk
from flowlane.store.schema import PK, SK, TTL_ATTRIBUTE

TRIGGER_SK_PREFIX = "TRIGGER#"
EVENT_SK_PREFIX = "EVENT#"
EVENT_RETENTION_SECONDS = 90 * 86_400


def trigger_sk(trigger_id: str) -> str:
    return f"{TRIGGER_SK_PREFIX}{trigger_id}"


def webhook_key(path: str) -> dict[str, str]:
    return {PK: f"WEBHOOK#{path}", SK: "WEBHOOK"}


def events_pk(owner: str, trigger_id: str) -> str:
    return f"{user_pk(owner)}#TRIGGER#{trigger_id}"


def new_trigger_id() -> str:
    # A valid EventBridge Scheduler schedule name as it is (the schedule is named after it).
    return f"trg_{secrets.token_hex(12)}"


def new_event_id(now: datetime | None = None) -> str:
    """Time-sortable, so the log reads newest first by key."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}-{secrets.token_hex(3)}"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


class TriggerItem(BaseModel):
    """The trigger as stored."""

    trigger_id: str
    workflow_id: str
    type: TriggerType
    config: dict[str, Any]
    node_id: str | None = None
    deployment_id: str | None = None
    # "api": created by POST /triggers or listed in a deployment request; "node": derived from
    # a WEBHOOK or SCHEDULE node of the deployed revision (kept in step with it on redeploy).
    origin: str = "api"
    secret: str | None = None
    schedule_arn: str | None = None
    created_at: str

    @property
    def webhook_path(self) -> str | None:
        path = self.config.get("path") if self.type is TriggerType.WEBHOOK else None
        return str(path) if path else None


class TriggerRepository:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    # -- triggers ----------------------------------------------------------------------------

    def create(self, owner: str, trigger: TriggerItem) -> None:
        """Write the trigger and, for a webhook, claim its path; a taken path is a 409."""
        item = {
            PK: user_pk(owner),
            SK: trigger_sk(trigger.trigger_id),
            "entity": "trigger",
            **trigger.model_dump(mode="json"),
        }
        operations: list[dict[str, Any]] = [
            {"put": item, "condition": "attribute_not_exists(#pk)", "names": {"#pk": PK}}
        ]
        path = trigger.webhook_path
        if path is not None:
            operations.append(
                {
                    "put": {
                        **webhook_key(path),
                        "entity": "webhook_path",
                        "owner": owner,
                        "trigger_id": trigger.trigger_id,
                        "workflow_id": trigger.workflow_id,
                    },
                    "condition": "attribute_not_exists(#pk)",
                    "names": {"#pk": PK},
                }
            )
        try:
            self._table.transact(operations)
        except ConditionFailed as exc:
            if path is not None and self.path_taken(path):
                raise Conflict(
                    f"the webhook path {path!r} is taken; choose another",
                    {"path": path, "field": "config.path"},
                ) from exc
            raise Conflict(f"trigger {trigger.trigger_id!r} already exists") from exc

    def get(self, owner: str, trigger_id: str) -> TriggerItem:
        item = self._table.get({PK: user_pk(owner), SK: trigger_sk(trigger_id)})
        if item is None:
            raise NotFound(f"trigger {trigger_id!r} not found")
        return TriggerItem.model_validate(item)

    def all(self, owner: str, workflow_id: str | None = None) -> list[TriggerItem]:
        """The user's triggers (of one workflow), oldest first."""
        found = [
            TriggerItem.model_validate(item)
            for item in self._table.query(
                PK, user_pk(owner), sk_name=SK, sk_prefix=TRIGGER_SK_PREFIX, consistent=True
            )
        ]
        if workflow_id is not None:
            found = [t for t in found if t.workflow_id == workflow_id]
        return sorted(found, key=lambda t: (t.created_at, t.trigger_id))

    def set_schedule_arn(self, owner: str, trigger: TriggerItem, arn: str) -> TriggerItem:
        updated = trigger.model_copy(update={"schedule_arn": arn})
        self._table.put(
            {
                PK: user_pk(owner),
                SK: trigger_sk(trigger.trigger_id),
                "entity": "trigger",
                **updated.model_dump(mode="json"),
            },
            condition="attribute_exists(#pk)",
            names={"#pk": PK},
        )
        return updated

    def delete(self, owner: str, trigger: TriggerItem) -> None:
        """Remove the trigger and its path claim together; an absent trigger is a 404."""
        operations: list[dict[str, Any]] = [
            {
                "delete": {PK: user_pk(owner), SK: trigger_sk(trigger.trigger_id)},
                "condition": "attribute_exists(#pk)",
                "names": {"#pk": PK},
            }
        ]
        path = trigger.webhook_path
        if path is not None:
            operations.append(
                {
                    "delete": webhook_key(path),
                    # Only our own claim: never release a path another trigger has taken since.
                    "condition": "attribute_not_exists(#pk) OR trigger_id = :id",
                    "names": {"#pk": PK},
                    "values": {":id": trigger.trigger_id},
                }
            )
        try:
            self._table.transact(operations)
        except ConditionFailed as exc:
            raise NotFound(f"trigger {trigger.trigger_id!r} not found") from exc

    # -- webhook paths -----------------------------------------------------------------------

    def by_path(self, path: str) -> tuple[str, TriggerItem] | None:
        """(owner, trigger) owning a webhook path, or None."""
        claim = self._table.get(webhook_key(path))
        if claim is None:
            return None
        owner = str(claim["owner"])
        try:
            return owner, self.get(owner, str(claim["trigger_id"]))
        except NotFound:
            return None

    def path_taken(self, path: str) -> bool:
        return self._table.get(webhook_key(path)) is not None

    # -- the event log -----------------------------------------------------------------------

    def add_event(self, owner: str, event: TriggerEvent) -> None:
        self._table.put(
            {
                PK: events_pk(owner, event.trigger_id),
                SK: f"{EVENT_SK_PREFIX}{event.event_id}",
                "entity": "trigger_event",
                TTL_ATTRIBUTE: int(time.time()) + EVENT_RETENTION_SECONDS,
                **event.model_dump(mode="json", exclude={"outcome"}),
            }
        )

    def events(
        self, owner: str, trigger_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[TriggerEvent], str | None]:
        """Newest first, `limit` at a time; the cursor of the next page or None."""
        after = _decode_cursor(cursor) if cursor else None
        now = int(time.time())
        page: list[TriggerEvent] = []
        has_more = False
        for item in self._table.query_desc(
            PK, events_pk(owner, trigger_id), sk_name=SK, below=after
        ):
            if int(item.get(TTL_ATTRIBUTE, now + 1)) <= now:
                continue  # expired: DynamoDB TTL deletes late (and moto never does)
            if len(page) == limit:
                has_more = True
                break
            page.append(TriggerEvent.model_validate(item))
        next_cursor = _encode_cursor(page[-1].event_id) if has_more and page else None
        return page, next_cursor

    def delete_events(self, owner: str, trigger_id: str) -> None:
        for item in self._table.query(
            PK, events_pk(owner, trigger_id), sk_name=SK, projection=(PK, SK)
        ):
            self._table.delete({PK: item[PK], SK: item[SK]})


def _encode_cursor(event_id: str) -> str:
    raw = json.dumps([event_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        (event_id,) = json.loads(raw)
        if not isinstance(event_id, str):
            raise TypeError
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationFailed(
            "cursor is not valid", [{"loc": ["query", "cursor"], "msg": "not a cursor we issued"}]
        ) from exc
    return f"{EVENT_SK_PREFIX}{event_id}"
