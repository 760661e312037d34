"""Deployments: pin a workflow revision, make its state machine, wire its triggers
(CONTRACT.md sections 5 and 6).

Deploying compiles the revision and creates its (content-addressed) state machine, records
version 1, and creates the triggers: those the request lists, and one per enabled WEBHOOK or
SCHEDULE node of the revision. A redeploy pins the workflow's current revision as a new version;
a rollback points the deployment back at an earlier version. Node triggers follow the revision
that runs. Deleting removes the deployment's triggers (schedules first), its versions and its
state machines.

Failures midway undo what was done, so a refused deploy leaves no deployment, trigger or
schedule behind (and no workflow, when the request brought its own definition).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from flowlane.errors import Conflict, FlowlaneError, ValidationFailed
from flowlane.models.common import error_items
from flowlane.models.deployment import (
    DeploymentCreate,
    DeploymentDeleted,
    DeploymentPublic,
    DeploymentResponse,
    DeploymentUpdate,
    DeploymentVersion,
)
from flowlane.models.trigger import TriggerCreate, TriggerCreated, TriggerType, parse_config
from flowlane.models.workflow import NodeData, NodeType, WorkflowCreate, WorkflowData
from flowlane.observability import logger
from flowlane.runtime.triggers import TriggerService
from flowlane.store.deployments import DeploymentItem, new_deployment_id
from flowlane.store.triggers import TriggerItem, now_iso

NODE_TRIGGER_TYPES = {"WEBHOOK": TriggerType.WEBHOOK, "SCHEDULE": TriggerType.SCHEDULE}


class DeploymentService:
    def __init__(self, services: Any) -> None:
        self.services = services
        self.repo = services.deployments
        self.triggers = TriggerService(services)

    # -- deploy ------------------------------------------------------------------------------

    def deploy(self, owner: str, request: DeploymentCreate, base_url: str) -> DeploymentResponse:
        created_workflow: WorkflowData | None = None
        if request.workflow_definition is not None:
            created_workflow = self._save_definition(owner, request)
            workflow = created_workflow
        else:
            assert request.workflow_id is not None  # the model requires one of the two
            workflow = self.services.workflows.get(owner, request.workflow_id)
        try:
            return self._deploy(owner, workflow, request, base_url)
        except BaseException:
            if created_workflow is not None:
                self._forget_workflow(owner, created_workflow.id)
            raise

    def _deploy(
        self, owner: str, workflow: WorkflowData, request: DeploymentCreate, base_url: str
    ) -> DeploymentResponse:
        deployment_id = new_deployment_id()
        # Every listed trigger is checked before anything is written.
        listed = [
            self.triggers.prepare(
                owner,
                trigger.model_copy(update={"workflow_id": workflow.id}),
                workflow,
                loc=("body", "triggers", i),
                deployment_id=deployment_id,
            )
            for i, trigger in enumerate(request.triggers)
        ]
        machine_arn = self._machine(owner, workflow)
        stamp = now_iso()
        deployment = DeploymentItem(
            deployment_id=deployment_id,
            workflow_id=workflow.id,
            name=request.name or workflow.name,
            description=request.description or "",
            version=1,
            latest_version=1,
            revision=workflow.revision,
            state_machine_arn=machine_arn,
            created_at=stamp,
            updated_at=stamp,
        )
        first = DeploymentVersion(
            version=1,
            revision=workflow.revision,
            action="deploy",
            state_machine_arn=machine_arn,
            created_at=stamp,
        )
        self.repo.create(owner, deployment, first)
        made: list[TriggerItem] = []
        try:
            for trigger in [*listed, *self._node_triggers(owner, workflow, deployment_id, listed)]:
                made.append(self.triggers.create(owner, trigger, active=workflow.active))
        except BaseException:
            logger.warning("deploy of %s failed midway; undoing it", workflow.id)
            self._undo(owner, deployment, made)
            raise
        return self._response(
            owner,
            deployment,
            base_url,
            created=[self.triggers.created(t, base_url) for t in made],
            message=f"deployed revision {workflow.revision} as version 1",
        )

    def _save_definition(self, owner: str, request: DeploymentCreate) -> WorkflowData:
        definition = dict(request.workflow_definition or {})
        if request.name:
            definition["name"] = request.name
        if request.description is not None:
            definition["description"] = request.description
        try:
            create = WorkflowCreate.model_validate(definition)
        except ValidationError as exc:
            raise ValidationFailed(
                "workflow_definition is not a valid workflow",
                error_items(exc.errors(), ["body", "workflow_definition"]),
            ) from exc
        created: WorkflowData = self.services.workflows.create(owner, create)
        return created

    def _forget_workflow(self, owner: str, workflow_id: str) -> None:
        try:
            self.services.workflows.delete(owner, workflow_id)
        except FlowlaneError:
            logger.exception("could not remove workflow %s after a failed deploy", workflow_id)

    def _machine(self, owner: str, workflow: WorkflowData) -> str:
        """Compile (400 when the workflow is not valid), keep the revision, create its machine."""
        from flowlane.runtime.launcher import ExecutionLauncher

        launcher = ExecutionLauncher(self.services)
        compiled = launcher.compile(owner, workflow)
        self.services.workflows.snapshot(owner, workflow)
        return launcher.ensure_machines(compiled)

    def _node_triggers(
        self,
        owner: str,
        workflow: WorkflowData,
        deployment_id: str,
        listed: list[TriggerItem],
        existing: list[TriggerItem] | None = None,
    ) -> list[TriggerItem]:
        """One trigger per enabled WEBHOOK or SCHEDULE node that no other trigger serves."""
        served = {t.node_id for t in [*listed, *(existing or [])] if t.node_id}
        result: list[TriggerItem] = []
        for node in workflow.nodes:
            if node.id in served:
                continue
            request = node_trigger_request(node, workflow.settings.timezone)
            if request is None:
                continue
            result.append(
                self.triggers.prepare(
                    owner,
                    request,
                    workflow,
                    loc=("workflow", "nodes", node.id, "parameters"),
                    deployment_id=deployment_id,
                    origin="node",
                )
            )
        return result

    def _undo(self, owner: str, deployment: DeploymentItem, made: list[TriggerItem]) -> None:
        for trigger in reversed(made):
            try:
                self.triggers.delete(owner, trigger)
            except FlowlaneError:
                logger.exception("could not remove trigger %s", trigger.trigger_id)
        try:
            self.repo.delete(owner, deployment)
        except FlowlaneError:
            logger.exception("could not remove deployment %s", deployment.deployment_id)

    # -- read --------------------------------------------------------------------------------

    def get(self, owner: str, deployment_id: str, base_url: str) -> DeploymentResponse:
        deployment = self.repo.get(owner, deployment_id)
        return self._response(owner, deployment, base_url)

    def page(
        self, owner: str, base_url: str, *, workflow_id: str | None, limit: int, offset: int
    ) -> tuple[list[DeploymentPublic], int]:
        deployments = [
            d for d in self.repo.all(owner) if workflow_id is None or d.workflow_id == workflow_id
        ]
        window = deployments[offset : offset + limit]
        triggers = self.services.triggers.all(owner)
        return [d.public(self._webhook_url(d, triggers, base_url)) for d in window], len(
            deployments
        )

    def _webhook_url(
        self, deployment: DeploymentItem, triggers: list[TriggerItem], base_url: str
    ) -> str | None:
        """The URL of the deployment's first webhook trigger (else the workflow's)."""
        hooks = [
            t
            for t in triggers
            if t.workflow_id == deployment.workflow_id and t.type is TriggerType.WEBHOOK
        ]
        hooks.sort(key=lambda t: (t.deployment_id != deployment.deployment_id, t.created_at))
        return TriggerService.url(hooks[0], base_url) if hooks else None

    def _response(
        self,
        owner: str,
        deployment: DeploymentItem,
        base_url: str,
        *,
        created: list[TriggerCreated] | None = None,
        message: str = "",
    ) -> DeploymentResponse:
        triggers = self.services.triggers.all(owner, deployment.workflow_id)
        public = deployment.public(self._webhook_url(deployment, triggers, base_url))
        return DeploymentResponse(
            **public.model_dump(),
            versions=self.repo.versions(owner, deployment.deployment_id),
            triggers=created or [],
            message=message,
        )

    # -- update: redeploy or roll back -------------------------------------------------------

    def update(
        self, owner: str, deployment_id: str, request: DeploymentUpdate, base_url: str
    ) -> DeploymentResponse:
        current = self.repo.get(owner, deployment_id)
        versions = self.repo.versions(owner, deployment_id)
        stamp = now_iso()
        changes: dict[str, Any] = {"updated_at": stamp}
        if request.name is not None:
            changes["name"] = request.name
        if request.description is not None:
            changes["description"] = request.description
        new_version: DeploymentVersion | None = None
        if request.rollback_to_version is not None:
            target = next((v for v in versions if v.version == request.rollback_to_version), None)
            if target is None:
                message = (
                    f"version {request.rollback_to_version} does not exist; this deployment has "
                    f"versions 1 to {current.latest_version}"
                )
                raise ValidationFailed(
                    "there is no such version to roll back to",
                    [{"loc": ["body", "rollback_to_version"], "msg": message}],
                )
            workflow = self.services.workflows.get_revision(
                owner, current.workflow_id, target.revision
            )
            # The older revision's machine may have been removed meanwhile: make sure it exists.
            machine_arn = self._machine(owner, workflow)
            changes.update(version=target.version, revision=target.revision)
            message = f"rolled back to version {target.version} (revision {target.revision})"
        else:
            workflow = self.services.workflows.get(owner, current.workflow_id)
            machine_arn = self._machine(owner, workflow)
            version = current.latest_version + 1
            new_version = DeploymentVersion(
                version=version,
                revision=workflow.revision,
                action="redeploy",
                state_machine_arn=machine_arn,
                created_at=stamp,
            )
            changes.update(version=version, latest_version=version, revision=workflow.revision)
            message = f"deployed revision {workflow.revision} as version {version}"
        changes["state_machine_arn"] = machine_arn
        updated = current.model_copy(update=changes)
        stale, fresh = self._plan_node_triggers(owner, updated, workflow)
        self.repo.move(owner, current, updated, new_version)
        created = self._apply_node_triggers(owner, workflow.id, stale, fresh)
        return self._response(
            owner,
            updated,
            base_url,
            created=[self.triggers.created(t, base_url) for t in created],
            message=message,
        )

    def _plan_node_triggers(
        self, owner: str, deployment: DeploymentItem, workflow: WorkflowData
    ) -> tuple[list[TriggerItem], list[TriggerItem]]:
        """Node triggers follow the revision that runs: a node gone or changed loses its
        trigger, a new one gains one; an unchanged one keeps its path, secret and schedule.
        Answers (to delete, to create), checked and built without writing anything, so a
        refused change (a bad schedule, a webhook path someone else took) moves nothing."""
        mine = [
            t
            for t in self.services.triggers.all(owner, workflow.id)
            if t.deployment_id == deployment.deployment_id
        ]
        wanted = {n.id: node_trigger_request(n, workflow.settings.timezone) for n in workflow.nodes}
        kept: list[TriggerItem] = []
        stale: list[TriggerItem] = []
        for trigger in (t for t in mine if t.origin == "node"):
            request = wanted.get(trigger.node_id or "")
            if request is not None and _same_config(trigger, request):
                kept.append(trigger)
            else:
                stale.append(trigger)
        others = [t for t in mine if t.origin != "node"]
        fresh = self._node_triggers(owner, workflow, deployment.deployment_id, others, kept)
        freed = {t.webhook_path for t in stale}
        for trigger in fresh:
            path = trigger.webhook_path
            if path is not None and path not in freed and self.services.triggers.path_taken(path):
                raise Conflict(
                    f"the webhook path {path!r} is taken; choose another",
                    {"path": path, "node_id": trigger.node_id},
                )
        return stale, fresh

    def _apply_node_triggers(
        self, owner: str, workflow_id: str, stale: list[TriggerItem], fresh: list[TriggerItem]
    ) -> list[TriggerItem]:
        active = self.services.workflows.get(owner, workflow_id).active
        for trigger in stale:
            self.triggers.delete(owner, trigger)
        return [self.triggers.create(owner, t, active=active) for t in fresh]

    # -- delete ------------------------------------------------------------------------------

    def delete(self, owner: str, deployment_id: str) -> DeploymentDeleted:
        deployment = self.repo.get(owner, deployment_id)
        removed = 0
        for trigger in self.services.triggers.all(owner, deployment.workflow_id):
            if trigger.deployment_id == deployment_id:
                self.triggers.delete(owner, trigger)
                removed += 1
        versions = self.repo.delete(owner, deployment)
        machines = {v.state_machine_arn for v in versions} | {deployment.state_machine_arn}
        deleted = sum(self._delete_machine(arn) for arn in sorted(machines))
        return DeploymentDeleted(
            message=f"deployment {deployment_id} deleted",
            deployment_id=deployment_id,
            removed_triggers=removed,
            removed_state_machines=deleted,
        )

    def _delete_machine(self, arn: str) -> bool:
        """Delete a version's state machine, unless an execution still runs on it: Step Functions
        would terminate that execution at its next transition (the machine is shared with manual
        runs of the same revision). A kept machine costs nothing and is reused if the revision
        runs again; the launcher recreates a deleted one on demand."""
        from flowlane.runtime.launcher import forget_machine

        sfn = self.services.clients.stepfunctions
        try:
            running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)
            if running.get("executions"):
                logger.info("state machine kept: an execution runs on it", extra={"arn": arn})
                return False
            forget_machine(arn)
            sfn.delete_state_machine(stateMachineArn=arn)
        except sfn.exceptions.StateMachineDoesNotExist:
            return False
        except Exception as exc:
            # The deployment is gone; an undeleted machine only costs its definition.
            logger.warning("could not delete state machine %s: %s", arn, exc)
            return False
        return True

    def delete_for_workflow(self, owner: str, workflow_id: str) -> None:
        """Before a workflow is deleted: its deployment, then every trigger it still has."""
        deployment = self.repo.for_workflow(owner, workflow_id)
        if deployment is not None:
            self.delete(owner, deployment.deployment_id)
        for trigger in self.services.triggers.all(owner, workflow_id):
            self.triggers.delete(owner, trigger)

    def set_active(self, owner: str, workflow_id: str, active: bool) -> None:
        self.triggers.set_active(owner, workflow_id, active)


def node_trigger_request(node: NodeData, default_timezone: str | None) -> TriggerCreate | None:
    """The trigger an enabled WEBHOOK or SCHEDULE node asks for, from its parameters (a
    schedule without a time zone of its own takes the workflow's)."""
    if node.type is not NodeType.TRIGGER or node.disabled:
        return None
    kind = NODE_TRIGGER_TYPES.get((node.subtype or "").upper())
    if kind is None:
        return None
    params = node.parameters
    if kind is TriggerType.WEBHOOK:
        config: dict[str, Any] = {
            key: params[key] for key in ("path", "method", "response_mode") if params.get(key)
        }
    else:
        config = {"expression": params.get("expression")}
        timezone = params.get("timezone") or default_timezone
        if timezone:
            config["timezone"] = timezone
    return TriggerCreate(type=kind, config=config, node_id=node.id)


def _same_config(trigger: TriggerItem, request: TriggerCreate) -> bool:
    """Whether a node trigger still serves its node as the new revision has it."""
    if trigger.type is not request.type:
        return False
    try:
        wanted = parse_config(request.type, dict(request.config)).model_dump()
    except ValidationError:
        return False  # the new revision's parameters are refused: deploying says why
    mine = parse_config(trigger.type, trigger.config).model_dump()
    if trigger.type is TriggerType.WEBHOOK and wanted.get("path") is None:
        wanted["path"] = mine["path"]  # a generated path stays while the node wants none
    return bool(wanted == mine)
