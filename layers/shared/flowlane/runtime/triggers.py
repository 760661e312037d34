"""Triggers: create, delete, fire, and the event log (CONTRACT.md sections 5 and 6).

A trigger is live while its workflow is `active`. What it runs is the workflow's deployment when
it has one (the revision that deployment pins), else the workflow's latest revision. Every
firing, started or not, is one entry in the trigger's event log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from flowlane.errors import Conflict, FlowlaneError, ValidationFailed
from flowlane.models.common import error_items
from flowlane.models.trigger import (
    ScheduleConfig,
    TriggerCreate,
    TriggerCreated,
    TriggerEvent,
    TriggerEventListResponse,
    TriggerEventStatus,
    TriggerPublic,
    TriggerType,
    WebhookConfig,
    parse_config,
)
from flowlane.models.workflow import NodeType, WorkflowData
from flowlane.observability import logger
from flowlane.runtime.schedules import ScheduleGateway
from flowlane.store.executions import ExecutionItem, execution_sk
from flowlane.store.keys import user_pk
from flowlane.store.schema import PK, SK
from flowlane.store.triggers import TriggerItem, iso, new_event_id, new_trigger_id, now_iso

WEBHOOK_ROUTE = "/api/v1/webhooks/"


def webhook_url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}{WEBHOOK_ROUTE}{path}"


class TriggerService:
    def __init__(self, services: Any) -> None:
        self.services = services
        self.repo = services.triggers

    # -- create ------------------------------------------------------------------------------

    def prepare(
        self,
        owner: str,
        request: TriggerCreate,
        workflow: WorkflowData,
        *,
        loc: tuple[str | int, ...] = ("body",),
        deployment_id: str | None = None,
        origin: str = "api",
    ) -> TriggerItem:
        """Check a request against the workflow and build the trigger (nothing written), so a
        deployment can check every trigger it lists before it writes anything."""
        try:
            config = parse_config(request.type, dict(request.config))
        except ValidationError as exc:
            raise ValidationFailed(
                f"the {request.type.value} trigger's config is not valid",
                error_items(exc.errors(), [*loc, "config"]),
            ) from exc
        if isinstance(config, ScheduleConfig):
            check_schedule(config, [*loc, "config"])
            # Stored as Scheduler reads it: a schedule without a time zone runs in UTC.
            config.timezone = config.timezone or "UTC"
        if request.node_id is not None:
            triggers = {n.id for n in workflow.nodes if n.type is NodeType.TRIGGER}
            if request.node_id not in triggers:
                message = f"'{request.node_id}' is not a TRIGGER node of workflow {workflow.id}"
                raise ValidationFailed(
                    "node_id is not a trigger of the workflow",
                    [{"loc": [*loc, "node_id"], "msg": message}],
                )
        stored: dict[str, Any] = config.model_dump(mode="json")
        secret: str | None = None
        if isinstance(config, WebhookConfig):
            if config.path is None:
                stored["path"] = _generated_path()
            if config.require_signature:
                from flowlane.runtime.webhook_signature import new_secret

                secret = new_secret()
        return TriggerItem(
            trigger_id=new_trigger_id(),
            workflow_id=workflow.id,
            type=request.type,
            config=stored,
            node_id=request.node_id,
            deployment_id=deployment_id,
            origin=origin,
            secret=secret,
            created_at=now_iso(),
        )

    def create(self, owner: str, trigger: TriggerItem, *, active: bool) -> TriggerItem:
        """Write a prepared trigger; a schedule also becomes an EventBridge Scheduler schedule
        (enabled while the workflow is active). If the schedule cannot be made, the trigger is
        removed again: no trigger without its schedule."""
        self.repo.create(owner, trigger)
        if trigger.type is not TriggerType.SCHEDULE:
            return trigger
        try:
            arn = self._put_schedule(owner, trigger, enabled=active)
            updated: TriggerItem = self.repo.set_schedule_arn(owner, trigger, arn)
            return updated
        except BaseException:
            logger.warning("schedule not created; removing trigger %s", trigger.trigger_id)
            self._delete_quietly(owner, trigger)
            raise

    def create_from_request(
        self, owner: str, request: TriggerCreate, base_url: str
    ) -> TriggerCreated:
        if request.workflow_id is None:
            message = "workflow_id is required"
            raise ValidationFailed(
                "the trigger names no workflow", [{"loc": ["body", "workflow_id"], "msg": message}]
            )
        workflow = self.services.workflows.get(owner, request.workflow_id)
        trigger = self.create(owner, self.prepare(owner, request, workflow), active=workflow.active)
        return self.created(trigger, base_url)

    def created(self, trigger: TriggerItem, base_url: str) -> TriggerCreated:
        return TriggerCreated(
            trigger=self.public(trigger),
            webhook_url=self.url(trigger, base_url),
            secret=trigger.secret,
        )

    # -- read --------------------------------------------------------------------------------

    @staticmethod
    def url(trigger: TriggerItem, base_url: str) -> str | None:
        path = trigger.webhook_path
        return webhook_url(base_url, path) if path else None

    @staticmethod
    def public(trigger: TriggerItem) -> TriggerPublic:
        return TriggerPublic(
            trigger_id=trigger.trigger_id,
            workflow_id=trigger.workflow_id,
            type=trigger.type,
            config=trigger.config,
            node_id=trigger.node_id,
            deployment_id=trigger.deployment_id,
            has_secret=trigger.secret is not None,
            webhook_path=trigger.webhook_path,
            created_at=trigger.created_at,
            next_runs=_next_runs(trigger) if trigger.type is TriggerType.SCHEDULE else None,
        )

    def events(
        self, owner: str, trigger_id: str, *, limit: int, cursor: str | None
    ) -> TriggerEventListResponse:
        self.repo.get(owner, trigger_id)  # 404 for a trigger that is not the caller's
        events, next_cursor = self.repo.events(owner, trigger_id, limit=limit, cursor=cursor)
        ids = [e.execution_id for e in events if e.execution_id]
        statuses: dict[str, str] = {}
        if ids:
            for item in self.services.table.batch_get(
                [{PK: user_pk(owner), SK: execution_sk(i)} for i in dict.fromkeys(ids)]
            ):
                statuses[str(item["execution_id"])] = str(item["status"])
        for event in events:
            if event.execution_id:
                # The execution's status now: the outcome of that firing, once it has ended.
                event.outcome = statuses.get(event.execution_id, "DELETED")
            elif event.error:
                event.outcome = str(event.error.get("code", "FAILED"))
        return TriggerEventListResponse(
            events=events, has_more=next_cursor is not None, next_cursor=next_cursor
        )

    # -- delete ------------------------------------------------------------------------------

    def delete(self, owner: str, trigger: TriggerItem) -> None:
        """Schedule first: once it is gone nothing fires, whatever happens next."""
        if trigger.type is TriggerType.SCHEDULE:
            ScheduleGateway(self.services).delete(trigger.trigger_id)
        self.repo.delete(owner, trigger)
        self.repo.delete_events(owner, trigger.trigger_id)

    def _delete_quietly(self, owner: str, trigger: TriggerItem) -> None:
        try:
            self.repo.delete(owner, trigger)
        except FlowlaneError:
            logger.exception("could not remove trigger %s", trigger.trigger_id)

    # -- workflow state ----------------------------------------------------------------------

    def set_active(self, owner: str, workflow_id: str, active: bool) -> None:
        """A workflow switched on or off: its schedules follow (Scheduler stops firing a
        disabled one, and `flowlane dev` does not catch it up)."""
        for trigger in self.repo.all(owner, workflow_id):
            if trigger.type is TriggerType.SCHEDULE:
                self._put_schedule(owner, trigger, enabled=active)

    def _put_schedule(self, owner: str, trigger: TriggerItem, *, enabled: bool) -> str:
        """Create or replace a schedule trigger's EventBridge schedule; its ARN."""
        return ScheduleGateway(self.services).put(
            owner,
            trigger_id=trigger.trigger_id,
            workflow_id=trigger.workflow_id,
            expression=str(trigger.config["expression"]),
            timezone=trigger.config.get("timezone"),
            enabled=enabled,
        )

    # -- fire --------------------------------------------------------------------------------

    def fire(
        self,
        owner: str,
        trigger: TriggerItem,
        data: Any,
        *,
        idempotency_key: str | None = None,
        source_ip: str | None = None,
        scheduled_time: str | None = None,
        catch_up: bool = False,
        missed: int | None = None,
    ) -> ExecutionItem:
        """Start a run from this trigger and log the firing, whatever its outcome."""
        moment = datetime.now(UTC)
        event = TriggerEvent(
            event_id=new_event_id(moment),
            trigger_id=trigger.trigger_id,
            fired_at=iso(moment),
            status=TriggerEventStatus.STARTED,
            source_ip=source_ip,
            scheduled_time=scheduled_time,
            catch_up=catch_up,
            missed_occurrences=missed,
        )
        from flowlane.runtime.launcher import ExecutionLauncher, StartInProgress

        try:
            workflow = self.services.workflows.get(owner, trigger.workflow_id)
            if not workflow.active:
                event.status = TriggerEventStatus.SKIPPED
                raise Conflict(
                    f"workflow {workflow.id!r} is not active; activate it to run its triggers",
                    {"workflow_id": workflow.id},
                )
            pinned = self.pinned(owner, workflow)
            execution, started = ExecutionLauncher(self.services).start(
                owner,
                workflow.id,
                data,
                idempotency_key=idempotency_key,
                trigger_node=trigger_node(trigger, pinned),
                trigger_type=trigger.type.value,
                workflow=pinned,
            )
        except StartInProgress:
            raise  # the same firing, delivered twice at once: the first one logs it
        except FlowlaneError as exc:
            if event.status is TriggerEventStatus.STARTED:
                event.status = TriggerEventStatus.FAILED
            event.error = {"code": exc.code, "message": exc.message}
            self._log(owner, event)
            raise
        if started:  # a repeated delivery of the same firing is not a second event
            event.execution_id = execution.execution_id
            self._log(owner, event)
        return execution

    def pinned(self, owner: str, workflow: WorkflowData) -> WorkflowData:
        """What runs: the deployment's pinned revision, else the latest."""
        deployment = self.services.deployments.for_workflow(owner, workflow.id)
        if deployment is None or deployment.revision == workflow.revision:
            return workflow
        pinned: WorkflowData = self.services.workflows.get_revision(
            owner, workflow.id, deployment.revision
        )
        return pinned

    def _log(self, owner: str, event: TriggerEvent) -> None:
        # The firing has happened (or was refused) whatever the log says: a log write that
        # fails is an error in our logs, not a second failure for the caller.
        try:
            self.repo.add_event(owner, event)
        except FlowlaneError:
            logger.exception("could not log a trigger event", extra={"event": event.model_dump()})


def trigger_node(trigger: TriggerItem, workflow: WorkflowData) -> str | None:
    """The TRIGGER node a firing starts from: the one the trigger names, else the first of the
    trigger's kind, else the executor's default (the first MANUAL, else the first trigger)."""
    nodes = [n for n in workflow.nodes if n.type is NodeType.TRIGGER]
    if trigger.node_id is not None and any(n.id == trigger.node_id for n in nodes):
        return trigger.node_id
    same = [n for n in nodes if (n.subtype or "").upper() == trigger.type.value.upper()]
    return same[0].id if same else None


def check_schedule(config: ScheduleConfig, loc: list[str | int]) -> None:
    """An expression or time zone EventBridge Scheduler would refuse is a 400 at its field."""
    from flowlane.engine.schedule import ScheduleError, parse_schedule

    try:
        parse_schedule(config.expression, config.timezone)
    except ScheduleError as exc:
        raise ValidationFailed(
            f"the schedule's {exc.field} is not valid",
            [{"loc": [*loc, exc.field], "msg": exc.message}],
        ) from exc


def _next_runs(trigger: TriggerItem, count: int = 3) -> list[str] | None:
    from flowlane.engine.schedule import ScheduleError, parse_schedule

    created = datetime.fromisoformat(trigger.created_at.replace("Z", "+00:00"))
    try:
        schedule = parse_schedule(
            str(trigger.config["expression"]), trigger.config.get("timezone"), start=created
        )
    except ScheduleError:
        return None  # stored before a stricter parser; the trigger still shows
    return [
        moment.isoformat(timespec="seconds").replace("+00:00", "Z")
        for moment in schedule.upcoming(datetime.now(UTC), count)
    ]


def now_utc_iso() -> str:
    """Now as a scheduled time is written (`2026-11-21T09:00:00Z`)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _generated_path() -> str:
    import secrets

    return f"hook-{secrets.token_hex(10)}"
