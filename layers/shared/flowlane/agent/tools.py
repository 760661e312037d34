"""The agent's tools in a query turn, bound to one caller and one session
(`flowlane.agent.conversation.AgentTools`). Each answers a small JSON object for the model;
a failure is a FlowlaneError, which the turn reports to the model as the tool's error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowlane.errors import Conflict
from flowlane.models.workflow import WorkflowData

if TYPE_CHECKING:
    from flowlane.agent.service import AgentService, GenerationResult

# What a tool result shows of a long value, so one result never floods the model's context.
MAX_LISTED_RUNS = 50


class SessionTools:
    def __init__(self, agent: AgentService, owner: str, session_id: str) -> None:
        self.agent = agent
        self.owner = owner
        self.session_id = session_id
        self.services = agent.services

    # -- the session's workflow ---------------------------------------------------------------

    def _workflow(self) -> WorkflowData | None:
        session = self.agent.sessions.get(self.owner, self.session_id)
        if session.workflow_id is None:
            return None
        return self.services.workflows.get(self.owner, session.workflow_id)

    def _require_workflow(self) -> WorkflowData:
        workflow = self._workflow()
        if workflow is None:
            raise Conflict(
                "this session has no workflow yet: draft one first",
                {"session_id": self.session_id},
            )
        return workflow

    @staticmethod
    def _outline(workflow: WorkflowData) -> dict[str, Any]:
        return {
            "workflow_id": workflow.id,
            "name": workflow.name,
            "revision": workflow.revision,
            "nodes": [
                {"id": n.id, "type": n.type.value, "subtype": n.subtype, "name": n.name}
                for n in workflow.nodes
            ],
        }

    def current_workflow(self) -> dict[str, Any] | None:
        workflow = self._workflow()
        return self._outline(workflow) if workflow is not None else None

    # -- catalogue ----------------------------------------------------------------------------

    def search_catalogue(self, query: str) -> dict[str, Any]:
        from flowlane.agent.catalogue import search_catalogue

        return {
            "templates": [
                {
                    "id": hit.template.id,
                    "name": hit.template.name,
                    "description": hit.template.description,
                }
                for hit in search_catalogue(query, limit=8)
            ]
        }

    # -- drafting -----------------------------------------------------------------------------

    def _emitter(self) -> Any:
        return self.agent.session_emitter(self.owner, self.session_id)

    def _result(self, result: GenerationResult) -> dict[str, Any]:
        body: dict[str, Any] = {
            "valid": result.saved is not None,
            "errors": result.errors,
            "missing_info": result.missing_info,
            "suggestions": result.suggestions,
        }
        if result.saved is not None:
            body.update(self._outline(result.saved))
        return body

    def draft_workflow(self, description: str) -> dict[str, Any]:
        result = self.agent.run_generation(
            self.owner, description=description, emit=self._emitter()
        )
        if result.saved is not None:
            self.agent.sessions.set_workflow(self.owner, self.session_id, result.saved.id)
        return self._result(result)

    def refine_workflow(self, feedback: str) -> dict[str, Any]:
        workflow = self._require_workflow()
        result = self.agent.run_generation(
            self.owner, refine=workflow, feedback=feedback, emit=self._emitter()
        )
        return {**self._result(result), "changes": result.changes}

    # -- checking and running -----------------------------------------------------------------

    def validate_workflow(self) -> dict[str, Any]:
        from flowlane.engine.validation import validate_workflow

        report = validate_workflow(self._require_workflow())
        return {
            "valid": report.valid,
            "errors": [i.model_dump(exclude_none=True) for i in report.errors],
            "warnings": [i.model_dump(exclude_none=True) for i in report.warnings],
        }

    def dry_run_workflow(self, trigger_data: Any) -> dict[str, Any]:
        """A test run on the reference interpreter; Slack, email, GitHub, HTTP and AI steps
        answer with sample outputs, so testing from a chat never reaches the outside."""
        from flowlane.agent.checks import SealedServices
        from flowlane.agent.samples import sample_pins, sample_trigger_data
        from flowlane.engine.interpreter import dry_run

        workflow = self._require_workflow()
        record = dry_run(
            workflow,
            SealedServices(),
            owner=self.owner,
            trigger_data=trigger_data if trigger_data else sample_trigger_data(workflow),
            pin_data=sample_pins(workflow),
            max_retry_wait=0.0,
        )
        return {
            "status": record.status.value,
            "output": record.output,
            "error": record.error.model_dump(exclude_none=True) if record.error else None,
            "node_runs": [
                {"node_id": r.node_id, "status": r.status.value, "port": r.port}
                for r in record.node_runs[:MAX_LISTED_RUNS]
            ],
            "sample_outputs": "external and AI steps answered with sample data",
        }

    def execute_workflow(self, trigger_data: Any) -> dict[str, Any]:
        from flowlane.runtime.launcher import ExecutionLauncher

        workflow = self._require_workflow()
        execution = ExecutionLauncher(self.services).execute(
            self.owner, workflow.id, trigger_data or {}, session_id=self.session_id
        )
        return {"execution_id": execution.execution_id, "status": execution.status.value}

    def list_executions(self, limit: int) -> dict[str, Any]:
        workflow = self._require_workflow()
        page = self.services.executions.list(
            self.owner, workflow_id=workflow.id, limit=max(1, min(int(limit or 5), 20))
        )
        return {
            "executions": [
                {
                    "execution_id": e.execution_id,
                    "status": e.status.value,
                    "started_at": e.started_at,
                    "ended_at": e.ended_at,
                }
                for e in page.executions
            ],
            "total_count": page.total_count,
        }

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        from flowlane.runtime.execution_control import read_execution

        record = read_execution(self.services, self.owner, execution_id)
        return {
            "execution_id": record.execution_id,
            "workflow_id": record.workflow_id,
            "status": record.status.value,
            "error": record.error.model_dump(exclude_none=True) if record.error else None,
            "output": record.output,
            "node_runs": [
                {
                    "node_id": r.node_id,
                    "status": r.status.value,
                    "port": r.port,
                    "error": r.error.message if r.error else None,
                }
                for r in record.node_runs[:MAX_LISTED_RUNS]
            ],
        }
