"""Deployments and their versions.

| pk | sk | what |
|---|---|---|
| `USER#<owner>` | `DEPLOYMENT#<deployment id>` | the deployment: which version runs |
| `USER#<owner>` | `DEPLOYVER#<deployment id>#<version:06d>` | a version: the revision it pins |
| `USER#<owner>` | `WFDEPLOY#<workflow id>` | the workflow's deployment (at most one) |

Step Functions versions would be the AWS-native home of versions, but moto does not implement
them (DESIGN.md decision 5), so they are items here, and a version names the content-addressed
state machine of its revision. Every change is one transaction: the deployment item moves from
version N to N+1 only if it is still at N, with the new version item beside it.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel

from flowlane.errors import Conflict, NotFound
from flowlane.models.deployment import DeploymentPublic, DeploymentVersion
from flowlane.store.dynamo import ConditionFailed, DynamoTable
from flowlane.store.keys import user_pk
from flowlane.store.schema import PK, SK

DEPLOYMENT_SK_PREFIX = "DEPLOYMENT#"


def deployment_sk(deployment_id: str) -> str:
    return f"{DEPLOYMENT_SK_PREFIX}{deployment_id}"


def version_sk(deployment_id: str, version: int) -> str:
    return f"DEPLOYVER#{deployment_id}#{version:06d}"


def workflow_pointer_sk(workflow_id: str) -> str:
    return f"WFDEPLOY#{workflow_id}"


def new_deployment_id() -> str:
    return f"dep_{secrets.token_hex(12)}"


class DeploymentItem(BaseModel):
    deployment_id: str
    workflow_id: str
    name: str
    description: str = ""
    version: int
    latest_version: int
    revision: int
    state_machine_arn: str
    created_at: str
    updated_at: str

    def public(self, webhook_url: str | None = None) -> DeploymentPublic:
        return DeploymentPublic(
            deployment_id=self.deployment_id,
            workflow_id=self.workflow_id,
            name=self.name,
            description=self.description,
            status="active",
            version=self.version,
            revision=self.revision,
            state_machine_arn=self.state_machine_arn,
            webhook_url=webhook_url,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class DeploymentRepository:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def _item(self, owner: str, deployment: DeploymentItem) -> dict[str, Any]:
        return {
            PK: user_pk(owner),
            SK: deployment_sk(deployment.deployment_id),
            "entity": "deployment",
            **deployment.model_dump(mode="json"),
        }

    def _version_item(
        self, owner: str, deployment_id: str, version: DeploymentVersion
    ) -> dict[str, Any]:
        return {
            PK: user_pk(owner),
            SK: version_sk(deployment_id, version.version),
            "entity": "deployment_version",
            "deployment_id": deployment_id,
            **version.model_dump(mode="json"),
        }

    def create(self, owner: str, deployment: DeploymentItem, first: DeploymentVersion) -> None:
        """The deployment, its first version and the workflow's pointer, together; a workflow
        that already has a deployment is a 409 naming it."""
        pointer = {
            PK: user_pk(owner),
            SK: workflow_pointer_sk(deployment.workflow_id),
            "entity": "workflow_deployment",
            "deployment_id": deployment.deployment_id,
        }
        absent = {"condition": "attribute_not_exists(#pk)", "names": {"#pk": PK}}
        try:
            self._table.transact(
                [
                    {"put": pointer, **absent},
                    {"put": self._item(owner, deployment), **absent},
                    {"put": self._version_item(owner, deployment.deployment_id, first), **absent},
                ]
            )
        except ConditionFailed as exc:
            existing = self.for_workflow(owner, deployment.workflow_id)
            raise Conflict(
                f"workflow {deployment.workflow_id!r} is already deployed; PUT "
                "/workflow/deployments/{id} redeploys it",
                {"deployment_id": existing.deployment_id if existing else None},
            ) from exc

    def get(self, owner: str, deployment_id: str) -> DeploymentItem:
        item = self._table.get({PK: user_pk(owner), SK: deployment_sk(deployment_id)})
        if item is None:
            raise NotFound(f"deployment {deployment_id!r} not found")
        return DeploymentItem.model_validate(item)

    def for_workflow(self, owner: str, workflow_id: str) -> DeploymentItem | None:
        pointer = self._table.get({PK: user_pk(owner), SK: workflow_pointer_sk(workflow_id)})
        if pointer is None:
            return None
        try:
            return self.get(owner, str(pointer["deployment_id"]))
        except NotFound:
            return None

    def all(self, owner: str) -> list[DeploymentItem]:
        """Newest first."""
        found = [
            DeploymentItem.model_validate(item)
            for item in self._table.query(
                PK, user_pk(owner), sk_name=SK, sk_prefix=DEPLOYMENT_SK_PREFIX
            )
        ]
        return sorted(found, key=lambda d: (d.created_at, d.deployment_id), reverse=True)

    def versions(self, owner: str, deployment_id: str) -> list[DeploymentVersion]:
        return [
            DeploymentVersion.model_validate(item)
            for item in self._table.query(
                PK,
                user_pk(owner),
                sk_name=SK,
                sk_prefix=f"DEPLOYVER#{deployment_id}#",
                consistent=True,
            )
        ]

    def move(
        self,
        owner: str,
        current: DeploymentItem,
        updated: DeploymentItem,
        version: DeploymentVersion | None,
    ) -> None:
        """Replace `current` by `updated` (with a new version item, for a redeploy) if nobody
        changed the deployment since it was read; else a 409."""
        operations: list[dict[str, Any]] = [
            {
                "put": self._item(owner, updated),
                "condition": "#updated = :updated",
                "names": {"#updated": "updated_at"},
                "values": {":updated": current.updated_at},
            }
        ]
        if version is not None:
            operations.append(
                {
                    "put": self._version_item(owner, updated.deployment_id, version),
                    "condition": "attribute_not_exists(#pk)",
                    "names": {"#pk": PK},
                }
            )
        try:
            self._table.transact(operations)
        except ConditionFailed as exc:
            raise Conflict(
                f"deployment {current.deployment_id!r} changed meanwhile; read it and try again",
                {"deployment_id": current.deployment_id},
            ) from exc

    def delete(self, owner: str, deployment: DeploymentItem) -> list[DeploymentVersion]:
        """Remove the deployment, its pointer and its versions; the versions removed."""
        versions = self.versions(owner, deployment.deployment_id)
        try:
            self._table.transact(
                [
                    {
                        "delete": {PK: user_pk(owner), SK: deployment_sk(deployment.deployment_id)},
                        "condition": "attribute_exists(#pk)",
                        "names": {"#pk": PK},
                    },
                    {
                        "delete": {
                            PK: user_pk(owner),
                            SK: workflow_pointer_sk(deployment.workflow_id),
                        },
                        "condition": "attribute_not_exists(#pk) OR deployment_id = :id",
                        "names": {"#pk": PK},
                        "values": {":id": deployment.deployment_id},
                    },
                ]
            )
        except ConditionFailed as exc:
            raise NotFound(f"deployment {deployment.deployment_id!r} not found") from exc
        # Versions are history of a deployment that is gone: nothing reads them any more, so
        # removing them after the transaction cannot leave a reachable half-deleted record.
        for version in versions:
            self._table.delete(
                {PK: user_pk(owner), SK: version_sk(deployment.deployment_id, version.version)}
            )
        return versions
