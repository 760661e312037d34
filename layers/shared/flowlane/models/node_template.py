"""`GET /node-templates` (CONTRACT.md section 5): the catalogue as clients and the agent see it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field


class NodePorts(BaseModel):
    inputs: Annotated[
        list[str], Field(description="Input kinds: main, and ai_tool/ai_memory/ai_model on agents")
    ]
    outputs: Annotated[list[str], Field(description="Output ports; every node also has `error`")]
    dynamic_outputs: Annotated[
        bool, Field(description="Ports come from the parameters (SWITCH: its case names)")
    ] = False


class NodeTemplate(BaseModel):
    id: Annotated[str, Field(description="TYPE.SUBTYPE")]
    type: str
    subtype: str
    name: str
    description: str
    parameters_schema: Annotated[dict[str, Any], Field(description="JSON Schema")]
    default_parameters: dict[str, Any]
    ports: NodePorts
    attachable_as: Annotated[
        list[str], Field(description="Input kinds it can be attached to an AI agent as")
    ] = Field(default_factory=list)


class NodeTemplateList(BaseModel):
    templates: list[NodeTemplate]
    total_count: int
