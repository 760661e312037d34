"""The embedded runtime (DESIGN.md decision 5): moto in process, Step Functions executing state
machines for real, Lambda invocations dispatched to project handlers, state kept on disk."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from flowlane.config import LocalSettings, StoreSettings
from flowlane.models.workflow import WorkflowCreate
from flowlane.runtime.embedded import EmbeddedRuntime, StateDirInUse
from flowlane.runtime.lambdas import HandlerRegistry
from flowlane.store.dynamo import DynamoTable
from flowlane.store.payloads import PayloadStore
from flowlane.store.workflows import WorkflowRepository
from tests.conftest import workflow_body

ROLE = "arn:aws:iam::123456789012:role/flowlane-embedded-lambda"


def _repository(rt: EmbeddedRuntime) -> WorkflowRepository:
    return WorkflowRepository(
        DynamoTable(rt.clients.dynamodb, rt.store.table_name),
        PayloadStore(rt.clients.s3, rt.store.payload_bucket),
    )


def _run_to_end(rt: EmbeddedRuntime, definition: dict[str, Any], data: Any) -> dict[str, Any]:
    sfn = rt.clients.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"test-{time.time_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        name=f"run-{time.time_ns()}",
        input=json.dumps(data),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


class TestLambdaDispatch:
    @pytest.fixture
    def calls(self) -> list[Any]:
        return []

    @pytest.fixture
    def rt(self, calls: list[Any]) -> Any:
        registry = HandlerRegistry()

        def double(event: dict[str, Any], context: Any) -> dict[str, Any]:
            calls.append((event, context.function_name))
            return {"doubled": event["n"] * 2}

        def explode(event: dict[str, Any], context: Any) -> None:
            raise ValueError(f"cannot handle {event['n']}")

        registry.register("flowlane-double", double)
        registry.register("flowlane-explode", explode)
        with EmbeddedRuntime(
            state_dir=None, store=StoreSettings(), local=LocalSettings(), registry=registry
        ) as runtime:
            yield runtime

    def test_a_direct_invoke_runs_the_registered_handler(
        self, rt: EmbeddedRuntime, calls: list[Any]
    ) -> None:
        response = rt.clients.client("lambda").invoke(
            FunctionName="flowlane-double", Payload=json.dumps({"n": 21})
        )

        assert json.loads(response["Payload"].read()) == {"doubled": 42}
        assert "FunctionError" not in response
        assert calls == [({"n": 21}, "flowlane-double")]

    def test_a_raising_handler_is_a_function_error(self, rt: EmbeddedRuntime) -> None:
        response = rt.clients.client("lambda").invoke(
            FunctionName="flowlane-explode", Payload=json.dumps({"n": 1})
        )

        assert response["FunctionError"] == "Unhandled"
        payload = json.loads(response["Payload"].read())
        assert payload["errorType"] == "ValueError"
        assert payload["errorMessage"] == "cannot handle 1"

    def test_an_event_invoke_runs_in_the_background(
        self, rt: EmbeddedRuntime, calls: list[Any]
    ) -> None:
        response = rt.clients.client("lambda").invoke(
            FunctionName="flowlane-double", InvocationType="Event", Payload=json.dumps({"n": 2})
        )

        assert response["StatusCode"] == 202
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert calls == [({"n": 2}, "flowlane-double")]

    def test_a_state_machine_task_invokes_the_handler(self, rt: EmbeddedRuntime) -> None:
        definition = {
            "StartAt": "Double",
            "States": {
                "Double": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": rt.function_arn("flowlane-double"),
                        "Payload.$": "$",
                    },
                    "OutputPath": "$.Payload",
                    "TimeoutSeconds": 30,
                    "End": True,
                }
            },
        }

        result = _run_to_end(rt, definition, {"n": 5})

        assert result["status"] == "SUCCEEDED"
        assert json.loads(result["output"]) == {"doubled": 10}

    def test_a_failing_task_can_be_caught(self, rt: EmbeddedRuntime) -> None:
        definition = {
            "StartAt": "Explode",
            "States": {
                "Explode": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": rt.function_arn("flowlane-explode"),
                        "Payload.$": "$",
                    },
                    "TimeoutSeconds": 30,
                    "Catch": [
                        {
                            "ErrorEquals": ["States.ALL"],
                            "ResultPath": "$.error",
                            "Next": "Recovered",
                        }
                    ],
                    "End": True,
                },
                "Recovered": {"Type": "Pass", "End": True},
            },
        }

        result = _run_to_end(rt, definition, {"n": 3})

        assert result["status"] == "SUCCEEDED"
        error = json.loads(result["output"])["error"]
        assert "ValueError" in json.dumps(error)

    def test_an_unregistered_function_fails_clearly(self, rt: EmbeddedRuntime) -> None:
        lambda_client = rt.clients.client("lambda")
        lambda_client.create_function(
            FunctionName="flowlane-unknown",
            Runtime="python3.12",
            Role=ROLE,
            Handler="h.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )

        response = lambda_client.invoke(FunctionName="flowlane-unknown", Payload=b"{}")

        assert response["FunctionError"] == "Unhandled"
        assert "no handler is registered" in json.loads(response["Payload"].read())["errorMessage"]


def test_project_functions_are_discovered_and_created(runtime: EmbeddedRuntime) -> None:
    names = [
        f["FunctionName"] for f in runtime.clients.client("lambda").list_functions()["Functions"]
    ]

    assert "flowlane-workflows" in names
    response = runtime.clients.client("lambda").invoke(
        FunctionName="flowlane-workflows",
        Payload=json.dumps(
            {
                "version": "2.0",
                "routeKey": "GET /api/v1/health",
                "rawPath": "/api/v1/health",
                "rawQueryString": "",
                "headers": {"host": "localhost"},
                "requestContext": {
                    "http": {
                        "method": "GET",
                        "path": "/api/v1/health",
                        "protocol": "HTTP/1.1",
                        "sourceIp": "127.0.0.1",
                    },
                    "requestId": "r1",
                    "routeKey": "GET /api/v1/health",
                    "stage": "$default",
                },
                "isBase64Encoded": False,
            }
        ),
    )
    answer = json.loads(response["Payload"].read())
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["status"] == "healthy"


class TestPersistence:
    def _start(self, state_dir: Path, interval: float = 1.0) -> EmbeddedRuntime:
        local = LocalSettings(state_dir=state_dir, snapshot_interval_seconds=interval)
        return EmbeddedRuntime(state_dir=state_dir, store=StoreSettings(), local=local).start()

    def test_a_workflow_survives_a_restart(self, tmp_path: Path) -> None:
        rt = self._start(tmp_path)
        created = _repository(rt).create("alice", WorkflowCreate.model_validate(workflow_body()))
        rt.stop()

        rt = self._start(tmp_path)
        try:
            assert _repository(rt).get("alice", created.id) == created
            assert rt.restored["dynamodb"] == 1
        finally:
            rt.stop()

    def test_large_documents_secrets_and_binary_values_survive(self, tmp_path: Path) -> None:
        rt = self._start(tmp_path)
        big = _repository(rt).create(
            "alice", WorkflowCreate.model_validate(workflow_body(static_data={"b": "x" * 400_000}))
        )
        rt.clients.client("secretsmanager").create_secret(Name="slack", SecretString="xoxb-1")
        rt.clients.dynamodb.put_item(
            TableName=rt.store.table_name,
            Item={"pk": {"S": "T"}, "sk": {"S": "bin"}, "raw": {"B": b"\x00\xff"}},
        )
        rt.stop()

        rt = self._start(tmp_path)
        try:
            assert _repository(rt).get("alice", big.id) == big
            secret = rt.clients.client("secretsmanager").get_secret_value(SecretId="slack")
            assert secret["SecretString"] == "xoxb-1"
            item = rt.clients.dynamodb.get_item(
                TableName=rt.store.table_name, Key={"pk": {"S": "T"}, "sk": {"S": "bin"}}
            )["Item"]
            assert item["raw"]["B"] == b"\x00\xff"
        finally:
            rt.stop()

    def test_changes_reach_disk_within_the_interval_without_a_stop(self, tmp_path: Path) -> None:
        rt = self._start(tmp_path, interval=0.1)
        try:
            created = _repository(rt).create(
                "alice", WorkflowCreate.model_validate(workflow_body())
            )
            state_file = tmp_path / "state" / "dynamodb.json"
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if state_file.exists() and created.id in state_file.read_text():
                    break
                time.sleep(0.05)
            assert created.id in state_file.read_text()
        finally:
            rt.stop()

    def test_deletes_are_persisted_too(self, tmp_path: Path) -> None:
        rt = self._start(tmp_path)
        repo = _repository(rt)
        kept = repo.create("alice", WorkflowCreate.model_validate(workflow_body(name="kept")))
        gone = repo.create("alice", WorkflowCreate.model_validate(workflow_body(name="gone")))
        rt.flush()
        repo.delete("alice", gone.id)
        rt.stop()

        rt = self._start(tmp_path)
        try:
            page = _repository(rt).list("alice")
            assert [w.id for w in page.workflows] == [kept.id]
        finally:
            rt.stop()

    def test_two_runtimes_cannot_share_a_state_folder(self, tmp_path: Path) -> None:
        rt = self._start(tmp_path)
        try:
            with pytest.raises(StateDirInUse):
                EmbeddedRuntime(
                    state_dir=tmp_path, store=StoreSettings(), local=LocalSettings()
                ).start()
        finally:
            rt.stop()

    def test_snapshot_writes_do_not_block_requests(self, tmp_path: Path) -> None:
        rt = self._start(tmp_path, interval=0.05)
        try:
            repo = _repository(rt)
            errors: list[BaseException] = []

            def write(i: int) -> None:
                try:
                    repo.create("alice", WorkflowCreate.model_validate(workflow_body(name=f"{i}")))
                except BaseException as exc:  # collected for the assertion below
                    errors.append(exc)

            threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
        finally:
            rt.stop()
        rt = self._start(tmp_path)
        try:
            assert _repository(rt).list("alice", limit=100).total_count == 20
        finally:
            rt.stop()
