"""The draft: the compact shape in which a planner (a model, or the offline planner) writes a
whole workflow in one structured output.

A workflow document spells edges as the seed's nested connections map and carries fields a
planner should not think about (positions, revisions, timestamps). A draft is a flat list of
nodes and a flat list of edges, which models fill far more reliably; `to_workflow` turns it into
a document (with a layered layout), and `draft_of` turns a document back into a draft, so a
refinement starts from what exists.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from flowlane.models.workflow import (
    ConnectionArrayData,
    ConnectionData,
    ConnectionsMapData,
    NodeConnectionsData,
    NodeData,
    NodeType,
    PositionData,
    RetryPolicyData,
    WorkflowCreate,
    WorkflowData,
    WorkflowSettingsData,
)

# Layout: a column per step from the trigger, a row per branch (the editor's grid).
COLUMN_WIDTH = 280
ROW_HEIGHT = 160


class DraftNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            # No pattern: a refinement starts from stored ids, which may be any text.
            description="Short kebab-case id, unique in the draft (e.g. fetch-issues)",
        ),
    ]
    name: Annotated[str, Field(max_length=255, description="What the step does, for people")]
    type: Annotated[NodeType, Field(description="The node family")]
    subtype: Annotated[str, Field(description="The node kind within the family, e.g. SLACK")]
    parameters: Annotated[
        dict[str, JsonValue], Field(description="The node's parameters (see its template)")
    ] = Field(default_factory=dict)
    credentials: Annotated[
        dict[str, str], Field(description="Names of stored credentials, never secret values")
    ] = Field(default_factory=dict)
    on_error: Annotated[
        str | None, Field(description="continue or stop; omit for the workflow's policy")
    ] = None
    retry_max_tries: Annotated[int | None, Field(ge=1, le=10)] = None
    disabled: bool = False


class DraftEdge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, Field(description="Id of the node the flow leaves")]
    target: Annotated[str, Field(description="Id of the node the flow enters")]
    port: Annotated[
        str,
        Field(
            description="The source's output port: main; true/false (IF); a case name or "
            "default (SWITCH); each/done (LOOP); approved/rejected/timeout (APPROVAL); error"
        ),
    ] = "main"
    kind: Annotated[
        str,
        Field(description="main, or ai_tool / ai_memory when attaching a node to an AI agent"),
    ] = "main"
    index: Annotated[int, Field(ge=0, description="Input order at a MERGE node")] = 0


class Draft(BaseModel):
    """A whole workflow, as a planner writes it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: Annotated[str, Field(max_length=1000)] = ""
    timezone: Annotated[str, Field(description="IANA time zone of the workflow")] = "UTC"
    nodes: Annotated[list[DraftNode], Field(min_length=1)]
    edges: list[DraftEdge] = Field(default_factory=list)
    missing_info: Annotated[
        list[str],
        Field(description="What the request did not say and the workflow needs (a channel, ...)"),
    ] = Field(default_factory=list)
    suggestions: Annotated[
        list[str], Field(description="Improvements or defaults the user may want to change")
    ] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    def node(self, node_id: str) -> DraftNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_workflow(self) -> WorkflowCreate:
        """The workflow document: nodes with a layered layout, the seed's connections map."""
        return WorkflowCreate(
            name=self.name,
            description=self.description[:1000] or None,
            nodes=self._nodes(),
            connections=connections_of(self.edges),
            settings=WorkflowSettingsData(timezone=self.timezone),
            tags=self.tags,
        )

    def _nodes(self) -> list[NodeData]:
        positions = layout(self.nodes, self.edges)
        nodes: list[NodeData] = []
        for node in self.nodes:
            extra: dict[str, Any] = {}
            if node.on_error in ("continue", "stop"):
                extra["on_error"] = node.on_error
            if node.retry_max_tries:
                extra["retry_policy"] = RetryPolicyData(max_tries=node.retry_max_tries)
            nodes.append(
                NodeData(
                    id=node.id,
                    name=node.name or node.id,
                    type=node.type,
                    subtype=node.subtype.upper(),
                    parameters=node.parameters,
                    credentials=node.credentials,
                    disabled=node.disabled,
                    position=positions[node.id],
                    **extra,
                )
            )
        return nodes


def connections_of(edges: list[DraftEdge]) -> ConnectionsMapData:
    grouped: dict[str, dict[str, list[ConnectionData]]] = defaultdict(lambda: defaultdict(list))
    for edge in edges:
        grouped[edge.source][edge.port].append(
            ConnectionData(node=edge.target, type=edge.kind, index=edge.index)
        )
    return ConnectionsMapData(
        connections={
            source: NodeConnectionsData(
                connection_types={
                    port: ConnectionArrayData(connections=targets)
                    for port, targets in ports.items()
                }
            )
            for source, ports in grouped.items()
        }
    )


def layout(nodes: list[DraftNode], edges: list[DraftEdge]) -> dict[str, PositionData]:
    """Column = longest path from a root (cycles are cut where met); row = order in column.
    Attached tools and memories sit under their agent."""
    ids = [n.id for n in nodes]
    successors: dict[str, list[str]] = defaultdict(list)
    attached_to: dict[str, str] = {}
    for edge in edges:
        if edge.kind == "main":
            successors[edge.source].append(edge.target)
        else:
            attached_to.setdefault(edge.source, edge.target)
    column: dict[str, int] = {}
    targets = {t for s in successors for t in successors[s]}
    roots = [i for i in ids if i not in targets and i not in attached_to] or ids[:1]

    def place(node_id: str, depth: int, path: frozenset[str]) -> None:
        if node_id in path or column.get(node_id, -1) >= depth:
            return
        column[node_id] = depth
        for nxt in successors.get(node_id, []):
            place(nxt, depth + 1, path | {node_id})

    for root in roots:
        place(root, 0, frozenset())
    rows: dict[int, int] = defaultdict(int)
    positions: dict[str, PositionData] = {}
    for node_id in ids:
        if node_id in attached_to:
            continue
        col = column.get(node_id, max(column.values(), default=-1) + 1)
        column[node_id] = col
        positions[node_id] = PositionData(x=col * COLUMN_WIDTH, y=rows[col] * ROW_HEIGHT)
        rows[col] += 1
    under: dict[str, int] = defaultdict(int)
    for node_id, agent in attached_to.items():
        base = positions.get(agent, PositionData())
        under[agent] += 1
        positions[node_id] = PositionData(x=base.x, y=base.y + under[agent] * ROW_HEIGHT)
    return positions


def draft_of(workflow: WorkflowData | WorkflowCreate) -> Draft:
    """The draft of an existing document (for refining it, and for a model to read)."""
    edges = [
        DraftEdge(
            source=source,
            target=target.node,
            port=port,
            kind=target.type,
            index=target.index,
        )
        for source, ports in workflow.connections.connections.items()
        for port, targets in ports.connection_types.items()
        for target in targets.connections
    ]
    nodes = [
        DraftNode(
            id=node.id,
            name=node.name or node.id,
            type=node.type,
            subtype=node.subtype or "",
            parameters=dict(node.parameters),
            credentials=dict(node.credentials),
            on_error=node.on_error,
            retry_max_tries=node.retry_policy.max_tries if node.retry_policy else None,
            disabled=node.disabled,
        )
        for node in workflow.nodes
    ]
    return Draft(
        name=workflow.name,
        description=workflow.description or "",
        timezone=workflow.settings.timezone,
        nodes=nodes,
        edges=edges,
        tags=list(workflow.tags),
    )


def draft_schema() -> dict[str, Any]:
    """The JSON Schema a model fills (the `submit_workflow` tool's input)."""
    return Draft.model_json_schema()
