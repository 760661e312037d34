"""The embedded runtime (DESIGN.md decision 5, CONTRACT.md section 8).

moto in process, for real: Step Functions executes state machines, Lambda invocations run the
project's own handlers (`flowlane.runtime.lambdas`), and DynamoDB, S3, Secrets Manager, SES and
Scheduler answer the same boto3 calls as on AWS. The table and bucket are created at start and
the state under `.flowlane/` is restored; a background thread writes it back within
`snapshot_interval_seconds` of a change, so a crash loses at most that much.
"""

from __future__ import annotations

import fcntl
import io
import os
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import flowlane
from flowlane.config import (
    AwsSettings,
    IntegrationSettings,
    LocalSettings,
    StoreSettings,
    integration_settings,
)
from flowlane.observability import logger
from flowlane.runtime.aws import AwsClients, add_after_call_listener, remove_after_call_listener
from flowlane.runtime.lambdas import HandlerRegistry, LambdaDispatcher
from flowlane.runtime.snapshot import SERVICES, StateSnapshot, is_write
from flowlane.store.schema import TTL_ATTRIBUTE, create_table_request

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
LAMBDA_ROLE_NAME = "flowlane-embedded-lambda"
ACCOUNT_ID = "123456789012"  # moto's default account


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
        self._snapshot: StateSnapshot | None = None
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: TextIO | None = None
        self.restored: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EmbeddedRuntime:
        from moto import mock_aws

        if self.state_dir is not None:
            self._take_state_dir(self.state_dir)
        self._mock = mock_aws(config=cast("DefaultConfig", MOTO_CONFIG))
        self._mock.start()
        try:
            self._dispatcher.install()
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
                self._thread = threading.Thread(
                    target=self._snapshot_loop, name="flowlane-snapshot", daemon=True
                )
                self._thread.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        remove_after_call_listener(self._on_call)
        if self._snapshot is not None and self._mock is not None:
            # Only what changed: after a failed restore, nothing on disk is overwritten.
            self._save()
        self._dispatcher.uninstall()
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
