"""Check a draft the way the agent promises: it validates, every node is reached from its
trigger, and it dry-runs on sample data.

The dry run is the reference interpreter (`engine.interpreter.dry_run`) with sample outputs
pinned on every node that would reach outside (Slack, email, GitHub, HTTP, an LLM, memory), so
checking a draft never posts a message or spends a token, while the pure nodes (SET, TRANSFORM,
IF, SWITCH, FILTER, MERGE, LOOP, ...) really run and their expressions are exercised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowlane.agent.samples import sample_pins, sample_trigger_data
from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.engine.interpreter import dry_run
from flowlane.engine.validation import validate_workflow
from flowlane.models.execution import ExecutionStatus
from flowlane.models.validation import ValidationIssue
from flowlane.models.workflow import WorkflowCreate, WorkflowData
from flowlane.nodes.base import NodeError

if TYPE_CHECKING:
    import httpx

    from flowlane.nodes.base import Credentials, Memory

# Warnings the agent does not accept in what it drafts: a node nothing leads to never runs,
# which is exactly the silent omission a user would not notice.
AGENT_ERRORS = frozenset({"UNREACHABLE_NODE"})
DRAFT_ID = "agent-draft"


@dataclass
class CheckReport:
    valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    issues: list[ValidationIssue] = field(default_factory=list)
    dry_run_status: str | None = None
    dry_run: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": self.errors,
            "warnings": self.warnings,
            "dry_run_status": self.dry_run_status,
        }


def describe(issue: ValidationIssue) -> str:
    where = f"node '{issue.node_id}'" if issue.node_id else "workflow"
    field_part = f" ({issue.field})" if issue.field else ""
    return f"{issue.code} at {where}{field_part}: {issue.message}"


def as_workflow_data(document: WorkflowCreate, *, workflow_id: str = DRAFT_ID) -> WorkflowData:
    now = int(time.time() * 1000)
    body = document.model_dump(exclude={"id", "user_id", "session_id"})
    return WorkflowData.model_validate(
        {**body, "id": document.id or workflow_id, "created_at": now, "updated_at": now}
    )


class SealedServices:
    """Node services for the agent's dry run that refuse every way out. Every node that
    would use them is pinned with a sample, so none should ask; if one does (a node kind the
    samples do not know yet), its step fails in the check instead of reaching a real service."""

    def __init__(self) -> None:
        self.engine = EngineSettings()
        self.integrations = IntegrationSettings(default_llm_provider="offline")

    @staticmethod
    def _refuse(what: str) -> NodeError:
        return NodeError(
            "EGRESS_DENIED",
            f"the agent's test run never reaches outside ({what}); this step needs a sample",
        )

    def http(self, timeout: float) -> httpx.Client:
        raise self._refuse("HTTP")

    def credentials(self, owner: str) -> Credentials:
        raise self._refuse("credentials")

    def memory(self, owner: str, workflow_id: str) -> Memory:
        raise self._refuse("memory")

    def send_email(self, sender: str, to: list[str], subject: str, body: str) -> str:
        raise self._refuse("email")


def check(document: WorkflowCreate, *, owner: str) -> CheckReport:
    """Validate, then (when valid) dry-run on sample data with sealed services."""
    report = validate_workflow(document)
    blocking = [*report.errors, *(w for w in report.warnings if w.code in AGENT_ERRORS)]
    warnings = [describe(w) for w in report.warnings if w.code not in AGENT_ERRORS]
    if blocking:
        return CheckReport(
            valid=False,
            errors=[describe(i) for i in blocking],
            warnings=warnings,
            issues=list(blocking),
        )
    workflow = as_workflow_data(document)
    record = dry_run(
        workflow,
        SealedServices(),
        owner=owner,
        trigger_data=sample_trigger_data(workflow),
        pin_data=sample_pins(workflow),
        max_retry_wait=0.0,
    )
    summary = {
        "status": record.status.value,
        "node_runs": [
            {"node_id": run.node_id, "status": run.status.value, "port": run.port}
            for run in record.node_runs
        ],
        "error": record.error.model_dump(exclude_none=True) if record.error else None,
    }
    if record.status is not ExecutionStatus.SUCCEEDED:
        failed = [
            f"dry run: node '{run.node_id}' failed: {run.error.code}: {run.error.message}"
            for run in record.node_runs
            if run.error is not None
        ]
        return CheckReport(
            valid=False,
            errors=failed or [f"dry run ended {record.status.value}"],
            warnings=warnings,
            dry_run_status=record.status.value,
            dry_run=summary,
        )
    # A node that failed under on_error=continue does not fail the run, but the agent should
    # not hand over a workflow whose sample run already fails a step.
    soft = [
        f"dry run: node '{run.node_id}' failed: {run.error.code}: {run.error.message}"
        for run in record.node_runs
        if run.error is not None
    ]
    return CheckReport(
        valid=not soft,
        errors=soft,
        warnings=warnings,
        dry_run_status=record.status.value,
        dry_run=summary,
    )
