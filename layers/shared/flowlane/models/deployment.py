"""Deployments (CONTRACT.md section 5, "Runtime"): a workflow revision pinned to run.

A workflow has at most one deployment. Each deploy, redeploy or rollback adds a version that
pins a revision; the deployment's `version` is the one that runs. Versions are kept in DynamoDB
(Step Functions versions are not available on the embedded runtime).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowlane.models.trigger import TriggerCreate, TriggerCreated


class DeploymentCreate(BaseModel):
    """`{workflow_id}`, or the seed's `{workflow_definition, triggers, name, description}`,
    which saves the workflow first."""

    model_config = ConfigDict(extra="ignore")

    workflow_id: str | None = None
    workflow_definition: dict[str, Any] | None = None
    triggers: list[TriggerCreate] = Field(default_factory=list)
    name: Annotated[str | None, Field(max_length=255)] = None
    description: Annotated[str | None, Field(max_length=1000)] = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None

    @model_validator(mode="after")
    def _one_source(self) -> DeploymentCreate:
        if (self.workflow_id is None) == (self.workflow_definition is None):
            raise ValueError("give either workflow_id or workflow_definition")
        return self


class DeploymentUpdate(BaseModel):
    """PUT: redeploy the workflow's current revision, or roll back to an earlier version."""

    model_config = ConfigDict(extra="forbid")

    rollback_to_version: Annotated[int | None, Field(ge=1)] = None
    name: Annotated[str | None, Field(max_length=255)] = None
    description: Annotated[str | None, Field(max_length=1000)] = None


class DeploymentVersion(BaseModel):
    version: int
    revision: int
    action: Literal["deploy", "redeploy", "rollback"]
    state_machine_arn: str
    created_at: str
    rolled_back_to: int | None = None


class DeploymentPublic(BaseModel):
    deployment_id: str
    workflow_id: str
    name: str
    description: str = ""
    status: Literal["active", "inactive"]
    version: Annotated[int, Field(description="The version that runs")]
    revision: Annotated[int, Field(description="The workflow revision that version pins")]
    state_machine_arn: str
    webhook_url: str | None = None
    created_at: str
    updated_at: str


class DeploymentResponse(DeploymentPublic):
    """What deploy and PUT answer: the deployment, its versions, and the triggers this request
    created (with their secrets, shown once)."""

    versions: list[DeploymentVersion] = Field(default_factory=list)
    triggers: list[TriggerCreated] = Field(default_factory=list)
    success: bool = True
    message: str = ""


class DeploymentListResponse(BaseModel):
    deployments: list[DeploymentPublic]
    total_count: int
    has_more: bool


class DeploymentDeleted(BaseModel):
    success: bool = True
    message: str
    deployment_id: str
    removed_triggers: int
    removed_state_machines: int
