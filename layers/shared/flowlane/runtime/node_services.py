"""The outside world for nodes (`flowlane.nodes.base.NodeServices`), on AWS or the embedded runtime.

Only this module and the store touch boto3 on behalf of nodes: SES for email, Secrets Manager for
credentials, DynamoDB for memory. HTTP goes through the egress-checked httpx client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowlane.config import (
    EngineSettings,
    IntegrationSettings,
    engine_settings,
    integration_settings,
)
from flowlane.nodes.base import NodeError, upstream_error

if TYPE_CHECKING:
    import httpx

    from flowlane.runtime.llm_keys import LlmKeySource
    from flowlane.runtime.services import Services
    from flowlane.store.credentials import CredentialStore
    from flowlane.store.memory import MemoryStore


class RuntimeNodeServices:
    def __init__(
        self,
        services: Services,
        *,
        engine: EngineSettings | None = None,
        integrations: IntegrationSettings | None = None,
        credential_environ: Mapping[str, str] | None = None,
    ) -> None:
        self._services = services
        # FLOWLANE_CREDENTIAL_<NAME> variables stand in for stored credentials (local use only).
        self._credential_environ = credential_environ
        self._engine = engine or engine_settings()
        self._integrations = integrations or integration_settings()
        self._llm_keys: LlmKeySource | None = None
        if self._integrations.llm_keys_secret:
            from flowlane.runtime.llm_keys import LlmKeySource

            self._llm_keys = LlmKeySource(
                lambda: services.clients.secretsmanager, self._integrations.llm_keys_secret
            )

    @property
    def engine(self) -> EngineSettings:
        return self._engine

    @property
    def integrations(self) -> IntegrationSettings:
        if self._llm_keys is not None:
            return self._llm_keys.apply(self._integrations)
        return self._integrations

    def http(self, timeout: float) -> httpx.Client:
        from flowlane.runtime.egress import egress_client

        return egress_client(timeout=timeout, allow_private=self._engine.allow_private_network)

    def credentials(self, owner: str) -> CredentialStore:
        from flowlane.store.credentials import CredentialStore

        return CredentialStore(
            self._services.clients.secretsmanager,
            self._integrations.credentials_prefix,
            owner,
            environ=self._credential_environ,
        )

    def memory(self, owner: str, workflow_id: str) -> MemoryStore:
        from flowlane.store.memory import MemoryStore

        return MemoryStore(self._services.table, owner, workflow_id)

    def send_email(self, sender: str, to: list[str], subject: str, body: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response: dict[str, Any] = self._services.clients.ses.send_email(
                Source=sender,
                Destination={"ToAddresses": to},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                },
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") == "MessageRejected":
                raise NodeError(
                    "UPSTREAM_ERROR",
                    f"SES refused the message: {error.get('Message', 'rejected')}",
                    {"service": "ses", "status": status},
                ) from None
            raise upstream_error(
                "ses", status, f"SES failed: {error.get('Message', exc)}"
            ) from None
        except BotoCoreError as exc:
            raise upstream_error("ses", None, f"SES could not be reached: {exc}") from None
        return str(response["MessageId"])
