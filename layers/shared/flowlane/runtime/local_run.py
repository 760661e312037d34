"""`flowlane run`: one workflow, compiled and executed on the embedded runtime, start to end.

The same path as `POST /workflows/{id}/execute` on `flowlane dev`: the document is saved as a
workflow, compiled into a state machine that moto runs for real, and the node runner runs each
node. Nothing persists: the runtime lives for the command. An approval cannot wait for a
person here, so `--approvals` decides them (approve by default, as a dry run does).
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

from flowlane.models.execution import ExecutionRecord
from flowlane.models.workflow import WorkflowCreate

CLI_USER = "cli"
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}

Decision = Literal["approve", "reject", "wait"]


class RunTimedOut(RuntimeError):
    pass


def run_document(
    document: dict[str, Any],
    trigger_data: Any,
    *,
    approvals: Decision = "approve",
    timeout_seconds: float | None = None,
    poll_seconds: float = 0.05,
) -> ExecutionRecord:
    """Execute a workflow document on a fresh embedded runtime and return its record."""
    from flowlane.config import LocalSettings, StoreSettings, aws_settings
    from flowlane.observability import log_to_stderr
    from flowlane.runtime.embedded import EmbeddedRuntime
    from flowlane.runtime.execution_control import decide_approval, read_execution
    from flowlane.runtime.launcher import ExecutionLauncher
    from flowlane.runtime.services import Services

    body = WorkflowCreate.model_validate(document)
    # Handlers invoked in process read their settings as on Lambda: they must reach this moto.
    os.environ["FLOWLANE_RUNTIME"] = "embedded"
    # CloudWatch metrics (EMF) would print to stdout, which holds the record.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    log_to_stderr()
    aws_settings.cache_clear()
    with EmbeddedRuntime(
        state_dir=None, store=StoreSettings(), local=LocalSettings(), region=aws_settings().region
    ) as runtime:
        services = Services(aws=runtime.aws, store=runtime.store, clients=runtime.clients)
        workflow = services.workflows.create(CLI_USER, body)
        execution = ExecutionLauncher(services).execute(CLI_USER, workflow.id, trigger_data)
        limit = timeout_seconds if timeout_seconds is not None else workflow.settings.timeout + 30
        deadline = time.monotonic() + limit
        decided: set[str] = set()
        while True:
            record = read_execution(services, CLI_USER, execution.execution_id)
            if record.status.value in FINAL:
                return record
            if record.status.value == "WAITING" and approvals != "wait":
                for approval in services.approvals.pending_for_execution(
                    CLI_USER, execution.execution_id
                ):
                    if approval.approval_id in decided:
                        continue
                    decided.add(approval.approval_id)
                    decide_approval(
                        services,
                        CLI_USER,
                        approval.approval_id,
                        decision="approved" if approvals == "approve" else "rejected",
                        comment="decided by flowlane run --approvals",
                        decided_by=CLI_USER,
                    )
            if time.monotonic() > deadline:
                raise RunTimedOut(
                    f"execution {execution.execution_id} still {record.status.value} "
                    f"after {limit:g} s"
                )
            time.sleep(poll_seconds)
