"""The embedded runtime (DESIGN.md decision 5, CONTRACT.md section 8).

moto in process, for real: Step Functions executes state machines, Lambda invocations run the
project's own handlers (`flowlane.runtime.lambdas`), and DynamoDB, S3, Secrets Manager, SES and
Scheduler answer the same boto3 calls as on AWS. The table and bucket are created at start and
the state under `.flowlane/` is restored; a background thread writes it back within
`snapshot_interval_seconds` of a change, so a crash loses at most that much.

moto has no EventBridge delivery of "Step Functions Execution Status Change" events, so a status
poller stands in for it: it watches Step Functions executions and, for each one that has ended,
invokes the execution-events function with the event AWS would have sent. Step Functions state
is not kept on disk, so executions restored as RUNNING or WAITING cannot resume: at start they
are closed as FAILED (INTERRUPTED).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import flowlane
from flowlane.config import (
    AwsSettings,
    IntegrationSettings,
    LocalSettings,
    StoreSettings,
    engine_settings,
    integration_settings,
)
from flowlane.models.execution import ExecutionStatus, NodeRunError
from flowlane.observability import logger
from flowlane.runtime.aws import AwsClients, add_after_call_listener, remove_after_call_listener
from flowlane.runtime.lambdas import HandlerRegistry, LambdaDispatcher
from flowlane.runtime.moto_fixes import SfnIntegrationFix
from flowlane.runtime.snapshot import SERVICES, StateSnapshot, is_write
from flowlane.store.approvals import ApprovalRepository
from flowlane.store.dynamo import DynamoTable, deserialise
from flowlane.store.executions import ExecutionRepository
from flowlane.store.keys import user_pk
from flowlane.store.payloads import PayloadStore
from flowlane.store.schema import TTL_ATTRIBUTE, create_table_request

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
LAMBDA_ROLE_NAME = "flowlane-embedded-lambda"
ACCOUNT_ID = "123456789012"  # moto's default account
EXECUTION_EVENTS_FUNCTION = "execution-events"
STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change"
# An ended execution whose report keeps failing is given up on after this many tries.
_REPORT_ATTEMPTS = 3
INTERRUPTED_MESSAGE = (
    "flowlane dev stopped while this execution ran; Step Functions state is not kept across "
    "restarts, so it cannot resume. Start it again."
)


def default_functions_dir() -> Path:
    """`functions/` of the checkout the package is installed from (editable installs)."""
    return Path(flowlane.__file__).resolve().parents[3] / "functions"


class StateDirInUse(RuntimeError):
    pass


class EmbeddedRuntime:
    def __init__(
        self,
        *,
        state_dir: Path | None,
        store: StoreSettings,
        local: LocalSettings,
        region: str = "us-east-1",
        registry: HandlerRegistry | None = None,
        integrations: IntegrationSettings | None = None,
        poll_interval: float = 0.25,
    ) -> None:
        self.state_dir = state_dir
        self.store = store
        self.local = local
        self.integrations = integrations or integration_settings()
        self.aws = AwsSettings(AWS_REGION=region, FLOWLANE_RUNTIME="embedded")
        self.registry = registry or HandlerRegistry.discover(
            default_functions_dir(), local.function_prefix
        )
        self.clients = AwsClients(self.aws)
        self._mock: Any = None
        self._dispatcher = LambdaDispatcher(self.registry)
        self._sfn_fix = SfnIntegrationFix()
        self._snapshot: StateSnapshot | None = None
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: TextIO | None = None
        self.restored: dict[str, int] = {}
        self.poll_interval = poll_interval
        self._poller: threading.Thread | None = None
        # The poller's memory (its thread only): report attempts per execution ARN, and the
        # ARNs reported (or given up on), which are never reported again.
        self._reported: dict[str, int] = {}
        self._done_reporting: set[str] = set()
        self.interrupted: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EmbeddedRuntime:
        from moto import mock_aws

        if self.state_dir is not None:
            self._take_state_dir(self.state_dir)
        self._mock = mock_aws(config=cast("DefaultConfig", MOTO_CONFIG))
        self._mock.start()
        try:
            self._dispatcher.install()
            self._sfn_fix.install()
            self._create_resources()
            if self.state_dir is not None:
                self._snapshot = StateSnapshot(
                    self.clients,
                    self.state_dir,
                    tables=[self.store.table_name],
                    buckets=[self.store.payload_bucket],
                )
                self.restored = self._snapshot.restore()
                add_after_call_listener(self._on_call)
                self.interrupted = self._close_interrupted()
                self._thread = threading.Thread(
                    target=self._snapshot_loop, name="flowlane-snapshot", daemon=True
                )
                self._thread.start()
            self._poller = threading.Thread(
                target=self._poll_loop, name="flowlane-status-poller", daemon=True
            )
            self._poller.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
            self._poller = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        remove_after_call_listener(self._on_call)
        if self._snapshot is not None and self._mock is not None:
            # Only what changed: after a failed restore, nothing on disk is overwritten.
            self._save()
        self._dispatcher.uninstall()
        self._sfn_fix.uninstall()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> EmbeddedRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def flush(self) -> None:
        """Write pending changes to disk now."""
        self._save()

    # -- resources ---------------------------------------------------------------------------

    def _create_resources(self) -> None:
        dynamodb = self.clients.client("dynamodb")
        dynamodb.create_table(**create_table_request(self.store.table_name))
        dynamodb.update_time_to_live(
            TableName=self.store.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
        s3 = self.clients.client("s3")
        if self.aws.region == "us-east-1":
            s3.create_bucket(Bucket=self.store.payload_bucket)
        else:
            s3.create_bucket(
                Bucket=self.store.payload_bucket,
                CreateBucketConfiguration={"LocationConstraint": self.aws.region},
            )
        # SES (and moto) refuse to send from an unverified address; on AWS the deployer verifies
        # the sender once, here the runtime stands in for that step.
        self.clients.ses.verify_email_identity(EmailAddress=self.integrations.email_sender)
        iam = self.clients.client("iam")
        role = iam.create_role(
            RoleName=LAMBDA_ROLE_NAME,
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
        )
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "# dispatched in process by flowlane.runtime.lambdas\n")
        lambda_client = self.clients.client("lambda")
        for name in self.registry.names():
            lambda_client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role["Role"]["Arn"],
                Handler="handler.handler",
                Code={"ZipFile": code.getvalue()},
                Timeout=900,
            )
        self._create_schedule_starter()

    def _create_schedule_starter(self) -> None:
        """The machine schedules target (the CDK app deploys it on AWS)."""
        from flowlane.config import execution_settings
        from flowlane.runtime.launcher import EMBEDDED_ROLE
        from flowlane.runtime.schedule_start import definition
        from flowlane.runtime.schedules import SCHEDULE_START_NAME

        function = self.local.function_prefix + SCHEDULE_START_NAME
        if function not in self.registry.names():
            return  # a runtime built with its own handlers
        self.clients.stepfunctions.create_state_machine(
            name=execution_settings().state_machine_prefix + SCHEDULE_START_NAME,
            definition=json.dumps(definition(self.function_arn(function))),
            roleArn=EMBEDDED_ROLE,
            type="STANDARD",
        )

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.aws.region}:{ACCOUNT_ID}:function:{name}"

    # -- persistence -------------------------------------------------------------------------

    def _take_state_dir(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(state_dir / "lock", "w")  # noqa: SIM115 - held for the runtime's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise StateDirInUse(
                f"{state_dir} is in use by another Flowlane process (flowlane dev?); stop it or "
                "set FLOWLANE_STATE_DIR to another folder"
            ) from exc
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def _on_call(self, service: str, operation: str) -> None:
        if service in SERVICES and is_write(operation):
            with self._dirty_lock:
                self._dirty.add(service)

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(self.local.snapshot_interval_seconds):
            try:
                self._save()
            except Exception:
                # Keep serving: the next round retries, and the error is in the log.
                logger.exception("could not write the embedded runtime's state")

    def _save(self) -> None:
        if self._snapshot is None:
            return
        with self._save_lock:
            with self._dirty_lock:
                dirty = set(self._dirty)
                self._dirty.clear()
            if dirty:
                try:
                    self._snapshot.save([s for s in SERVICES if s in dirty])
                except Exception:
                    with self._dirty_lock:
                        self._dirty |= dirty
                    raise

    # -- interrupted executions --------------------------------------------------------------

    def _close_interrupted(self) -> list[str]:
        """Close what was RUNNING or WAITING when the last `flowlane dev` stopped: its Step
        Functions execution is gone. The ids closed, as `owner/execution_id`."""
        table = DynamoTable(self.clients.dynamodb, self.store.table_name)
        executions = ExecutionRepository(
            table,
            PayloadStore(self.clients.s3, self.store.payload_bucket),
            inline_limit=engine_settings().max_inline_value_bytes,
        )
        approvals = ApprovalRepository(table)
        closed: list[str] = []
        paginator = self.clients.dynamodb.get_paginator("scan")
        # A scan is fine at dev scale, and only at start.
        for page in paginator.paginate(
            TableName=self.store.table_name,
            FilterExpression="entity = :entity AND #status IN (:running, :waiting)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":entity": {"S": "execution"},
                ":running": {"S": ExecutionStatus.RUNNING.value},
                ":waiting": {"S": ExecutionStatus.WAITING.value},
            },
            ProjectionExpression="pk, execution_id",
        ):
            for raw in page.get("Items", []):
                item = deserialise(raw)
                owner = str(item["pk"]).removeprefix(user_pk(""))
                execution_id = str(item["execution_id"])
                ended_at = _now_iso()
                if executions.finish(
                    owner,
                    execution_id,
                    status=ExecutionStatus.FAILED,
                    error=NodeRunError(code="INTERRUPTED", message=INTERRUPTED_MESSAGE, node_id=""),
                    ended_at=ended_at,
                ):
                    executions.mark_runs_cancelled(owner, execution_id, ended_at)
                    approvals.cancel_for_execution(owner, execution_id)
                    closed.append(f"{owner}/{execution_id}")
        if closed:
            logger.warning(
                "closed executions interrupted by the last stop", extra={"executions": closed}
            )
        return closed

    # -- status poller -----------------------------------------------------------------------

    def _poll_loop(self) -> None:
        function = self.local.function_prefix + EXECUTION_EVENTS_FUNCTION
        if function not in self.registry.names():
            return  # a runtime built with its own handlers: nobody to report to
        while not self._stop.wait(self.poll_interval):
            try:
                self._poll_once(function)
            except Exception:
                # Keep watching: the next round retries, and the error is in the log.
                logger.exception("the embedded status poller failed a round")

    def _poll_once(self, function: str) -> None:
        sfn = self.clients.stepfunctions
        for machines in sfn.get_paginator("list_state_machines").paginate():
            for machine in machines.get("stateMachines", []):
                for page in sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=machine["stateMachineArn"]
                ):
                    for listed in page.get("executions", []):
                        if self._stop.is_set():
                            return
                        arn = listed["executionArn"]
                        if listed["status"] == "RUNNING" or arn in self._done_reporting:
                            continue
                        self._report(function, arn)

    def _report(self, function: str, arn: str) -> None:
        described = self.clients.stepfunctions.describe_execution(executionArn=arn)
        event = status_change_event(described, region=self.aws.region, account=ACCOUNT_ID)
        response = self.clients.client("lambda").invoke(
            FunctionName=function, Payload=json.dumps(event).encode()
        )
        payload = response["Payload"].read()
        attempts = self._reported.get(arn, 0) + 1
        self._reported[arn] = attempts
        if "FunctionError" not in response:
            self._done_reporting.add(arn)
            return
        if attempts >= _REPORT_ATTEMPTS:
            self._done_reporting.add(arn)
        logger.error(
            "the execution-events function failed",
            extra={"execution_arn": arn, "attempt": attempts, "payload": payload.decode()[:2000]},
        )


def status_change_event(described: dict[str, Any], *, region: str, account: str) -> dict[str, Any]:
    """The EventBridge event Step Functions sends when an execution ends, from
    `describe_execution` (times as epoch milliseconds, as EventBridge gives them)."""
    detail: dict[str, Any] = {
        "executionArn": described["executionArn"],
        "stateMachineArn": described.get("stateMachineArn"),
        "name": described.get("name"),
        "status": described["status"],
        "startDate": _epoch_ms(described.get("startDate")),
        "stopDate": _epoch_ms(described.get("stopDate")),
        "input": described.get("input"),
        "output": described.get("output"),
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    return {
        "version": "0",
        "id": described["executionArn"],
        "detail-type": STATUS_CHANGE_DETAIL_TYPE,
        "source": "aws.states",
        "account": account,
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "region": region,
        "resources": [described["executionArn"]],
        "detail": detail,
    }


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
