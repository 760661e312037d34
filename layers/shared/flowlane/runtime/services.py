"""What a request needs beyond itself: settings, AWS clients and repositories.

Built once per process (cold start) and cheap to build: clients and repositories are created on
first use, so a route that needs no AWS call creates no client, and each repository's module
(with the models it stores) is imported on first use, so a function pays only for the
repositories its routes use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from flowlane.config import (
    AgentSettings,
    ApiSettings,
    AwsSettings,
    EngineSettings,
    RuntimeSettings,
    StoreSettings,
    agent_settings,
    api_settings,
    aws_settings,
    engine_settings,
    runtime_settings,
    store_settings,
)
from flowlane.runtime.aws import AwsClients
from flowlane.store.dynamo import DynamoTable
from flowlane.store.payloads import PayloadStore

if TYPE_CHECKING:
    from flowlane.runtime.node_services import RuntimeNodeServices
    from flowlane.store.approvals import ApprovalRepository
    from flowlane.store.deployments import DeploymentRepository
    from flowlane.store.executions import ExecutionRepository
    from flowlane.store.sessions import SessionRepository
    from flowlane.store.triggers import TriggerRepository
    from flowlane.store.workflows import WorkflowRepository


class Services:
    def __init__(
        self,
        *,
        api: ApiSettings | None = None,
        aws: AwsSettings | None = None,
        store: StoreSettings | None = None,
        clients: AwsClients | None = None,
    ) -> None:
        self.api = api or api_settings()
        self.aws = aws or aws_settings()
        self.store = store or store_settings()
        self._clients = clients
        # Where the agent hands long jobs; None: the agent worker Lambda (asynchronously).
        # Tests and in-process tools may run them inline instead.
        self.agent_dispatch: Callable[[dict[str, Any]], None] | None = None

    @cached_property
    def clients(self) -> AwsClients:
        return self._clients or AwsClients(self.aws)

    @cached_property
    def table(self) -> DynamoTable:
        return DynamoTable(self.clients.dynamodb, self.store.table_name)

    @cached_property
    def payloads(self) -> PayloadStore:
        return PayloadStore(None, self.store.payload_bucket, client_factory=lambda: self.clients.s3)

    @cached_property
    def executions(self) -> ExecutionRepository:
        from flowlane.store.executions import ExecutionRepository

        return ExecutionRepository(
            self.table, self.payloads, inline_limit=self.engine.max_inline_value_bytes
        )

    @cached_property
    def approvals(self) -> ApprovalRepository:
        from flowlane.store.approvals import ApprovalRepository

        return ApprovalRepository(self.table)

    @property
    def stepfunctions(self) -> Any:
        """The Step Functions client (created on first use, shared)."""
        return self.clients.stepfunctions

    @cached_property
    def engine(self) -> EngineSettings:
        return engine_settings()

    @cached_property
    def node_services(self) -> RuntimeNodeServices:
        from flowlane.runtime.node_services import RuntimeNodeServices

        # Locally, credentials may come from FLOWLANE_CREDENTIAL_<NAME>; never on AWS.
        environ = os.environ if self.aws.runtime == "embedded" else None
        return RuntimeNodeServices(self, engine=self.engine, credential_environ=environ)

    @cached_property
    def runtime(self) -> RuntimeSettings:
        return runtime_settings()

    @cached_property
    def triggers(self) -> TriggerRepository:
        from flowlane.store.triggers import TriggerRepository

        return TriggerRepository(self.table)

    @cached_property
    def deployments(self) -> DeploymentRepository:
        from flowlane.store.deployments import DeploymentRepository

        return DeploymentRepository(self.table)

    @cached_property
    def workflows(self) -> WorkflowRepository:
        from flowlane.store.workflows import WorkflowRepository

        return WorkflowRepository(
            self.table, self.payloads, offload_threshold_bytes=self.store.offload_threshold_bytes
        )

    @cached_property
    def agent(self) -> AgentSettings:
        return agent_settings()

    @cached_property
    def sessions(self) -> SessionRepository:
        from flowlane.store.sessions import SessionRepository

        return SessionRepository(self.table, ttl_seconds=self.agent.session_ttl_seconds)
