"""The compiled state machine agrees with the reference interpreter (DESIGN.md decision 4).

Hypothesis draws workflows of every shape (chains, diamonds and MERGE joins, nested IF and
SWITCH, loops, graphs that are not series-parallel, failures under each `on_error`, retries);
each is executed twice: by the reference interpreter in process, and compiled into a state
machine that moto executes for real, invoking the node runner per node. Which nodes ran (per
loop iteration), their statuses, ports, inputs, outputs and attempts, and the execution's
status, output and error must agree (`tests.differential.assert_agree`; its one latitude: when
a node stops the execution, what ran on branches concurrent with it may differ).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flowlane.config import LocalSettings, StoreSettings
from flowlane.engine.interpreter import dry_run
from flowlane.models.execution import ExecutionRecord
from flowlane.models.workflow import WorkflowCreate, WorkflowData
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.execution_control import read_execution
from flowlane.runtime.launcher import ExecutionLauncher
from flowlane.runtime.services import Services
from tests.differential import assert_agree, test_nodes
from tests.strategies import SHAPES, cases

OWNER = "diff"
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}

# Each example creates a state machine and runs it on moto: a few per shape keeps the suite
# quick; derandomized, so CI sees the same examples every time.
EXAMPLES = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    # No shrinking: each example costs a state machine run; the failing one is printed whole.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    with (
        test_nodes(),
        EmbeddedRuntime(state_dir=None, store=StoreSettings(), local=LocalSettings()) as rt,
    ):
        yield Services(aws=rt.aws, store=rt.store, clients=rt.clients)


def run_compiled(services: Services, workflow: WorkflowData, data: Any) -> ExecutionRecord:
    document = {**workflow.model_dump(), "id": None}  # a fresh id per example
    saved = services.workflows.create(OWNER, WorkflowCreate.model_validate(document))
    execution = ExecutionLauncher(services).execute(OWNER, saved.id, data)
    deadline = time.monotonic() + 60
    while True:
        record = read_execution(services, OWNER, execution.execution_id)
        if record.status.value in FINAL:
            return record
        assert time.monotonic() < deadline, f"execution still {record.status}: {record}"
        time.sleep(0.05)


def check(services: Services, case: tuple[WorkflowData, dict[str, Any]]) -> None:
    workflow, data = case
    reference = dry_run(
        workflow, services.node_services, owner=OWNER, trigger_data=data, max_retry_wait=0
    )
    compiled = run_compiled(services, workflow, data)
    assert_agree(reference, compiled, workflow)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_compiled_machine_agrees_with_the_interpreter(services: Services, shape: str) -> None:
    @EXAMPLES
    @given(case=cases(SHAPES[shape](max_nodes=8)))
    def agree(case: tuple[WorkflowData, dict[str, Any]]) -> None:
        check(services, case)

    agree()


@settings(EXAMPLES, max_examples=12)
@given(case=cases(max_nodes=10), seed=st.integers(0, 3))
def test_mixed_shapes_agree(
    services: Services, case: tuple[WorkflowData, dict[str, Any]], seed: int
) -> None:
    check(services, case)
