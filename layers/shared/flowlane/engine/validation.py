"""Workflow validation: what `POST /workflows/validate` reports and what blocks a run or deploy.

`validate_workflow` takes a parsed workflow (or its nodes, connections and settings);
`validate_document` takes raw JSON and reports a document that does not parse as errors in the
same report, rather than raising (see its docstring). Errors make a workflow invalid; warnings
do not.

Checks, with their codes (stable; clients may rely on them):

| code | level | what |
|---|---|---|
| INVALID_DOCUMENT | error | the JSON is not a workflow document (the pydantic error, located) |
| UNKNOWN_NODE_TYPE | error | type/subtype not in the catalogue; names the valid ones |
| INVALID_PARAMETER | error | a parameter against its subtype's model (expressions excepted) |
| UNKNOWN_PARAMETER | warning | a parameter the subtype does not have (ignored when it runs) |
| EXPRESSION_SYNTAX | error | a `{{ }}` expression that does not parse |
| INVALID_SCHEDULE | error | a SCHEDULE trigger's `expression` or `timezone` |
| SCHEDULE_NEVER_FIRES | warning | a schedule with no firing left (an `at()` in the past, ...) |
| DANGLING_CONNECTION | error | a connection from or to a node that does not exist |
| UNKNOWN_PORT | error | a connection leaving from a port its source does not have |
| UNKNOWN_INPUT_KIND | error | an input kind other than main, ai_tool, ai_memory, ai_model |
| TRIGGER_HAS_INPUT | error | a connection into a TRIGGER |
| NO_TRIGGER | error | no TRIGGER node |
| UNREACHABLE_NODE | warning | a node no trigger leads to (attached-only nodes excepted) |
| CYCLE | error | a cycle that is not a LOOP body's way back to its LOOP |
| LOOP_BODY_ESCAPES | error | a LOOP body leads to a node that also runs after the loop |
| EMPTY_LOOP | warning | a LOOP with nothing on its `each` port |
| INVALID_ATTACHMENT | error | an ai_* attachment to a non-agent, or from a node not attachable so |
| TOO_MANY_ATTACHMENTS | error | an AI agent with more than one ai_memory or ai_model |
| MERGE_SINGLE_INPUT | warning | a MERGE with fewer than two inputs |

Disabled nodes are validated like the others: enabling one must not reveal new errors.
Issues come in document order of the nodes they are about (workflow-level ones first, then
connections from nodes that do not exist last), and in check order within a node.

One problem is reported once: a parameter with an expression syntax error, or a schedule
that does not parse, is not reported again by the parameters model on the same field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, overload

from pydantic import BaseModel, ValidationError

from flowlane.engine.expressions import OPEN, has_expression, syntax_errors
from flowlane.engine.graph import (
    ATTACHMENT_KINDS,
    EACH,
    MAIN,
    CycleError,
    Edge,
    WorkflowGraph,
)
from flowlane.engine.schedule import ScheduleError, parse_schedule
from flowlane.models.validation import ValidationIssue, ValidationReport, field_loc
from flowlane.models.workflow import (
    ConnectionsMapData,
    NodeData,
    NodeType,
    WorkflowCreate,
    WorkflowSettingsData,
    _WorkflowBody,
)
from flowlane.nodes.base import ERROR_PORT, Node
from flowlane.nodes.registry import UnknownNode, catalogue, lookup

# Agents take any number of tools, but one memory and one model.
SINGLE_ATTACHMENTS = ("ai_memory", "ai_model")
# Before node issues (workflow-wide), after them (connections from nodes that do not exist).
_WORKFLOW_RANK, _NOWHERE_RANK = -1, 1 << 30


@overload
def validate_workflow(
    workflow: _WorkflowBody, *, graph: WorkflowGraph | None = None, now: datetime | None = None
) -> ValidationReport: ...


@overload
def validate_workflow(
    workflow: Sequence[NodeData],
    connections: ConnectionsMapData,
    settings: WorkflowSettingsData | None = None,
    *,
    graph: WorkflowGraph | None = None,
    now: datetime | None = None,
) -> ValidationReport: ...


def validate_workflow(
    workflow: _WorkflowBody | Sequence[NodeData],
    connections: ConnectionsMapData | None = None,
    settings: WorkflowSettingsData | None = None,
    *,
    graph: WorkflowGraph | None = None,
    now: datetime | None = None,
) -> ValidationReport:
    """Validate a workflow (WorkflowData, WorkflowCreate, ...) or its nodes and connections.

    `graph`: a WorkflowGraph of the same nodes and connections, if the caller has one.
    `now`: the time an `at()` schedule is compared with (default: the clock).
    """
    if isinstance(workflow, _WorkflowBody):
        nodes: Sequence[NodeData] = workflow.nodes
        connections = workflow.connections
        settings = workflow.settings
    else:
        nodes = workflow
        if connections is None:
            connections = ConnectionsMapData()
    return _Validator(nodes, connections, settings, graph, now).run()


def validate_document(document: Any, *, now: datetime | None = None) -> ValidationReport:
    """Validate raw JSON (the body of `POST /workflows/validate`); never raises for bad input.

    A document that does not parse as a workflow gets INVALID_DOCUMENT errors (UNKNOWN_NODE_TYPE
    for a bad node type) located in the document, with the pydantic message. The graph checks
    then still run when the nodes, connections and settings parse on their own (a draft with a
    blank name is still checked through); when they do not, only the parse errors are reported,
    since every later check would be about a guess.
    """
    try:
        body = WorkflowCreate.model_validate(document)
    except ValidationError as exc:
        issues = _document_issues(exc, document)
        parts = _parse_parts(document, exc)
        if parts is None:
            return ValidationReport.of(issues)
        nodes, connections, settings = parts
        report = validate_workflow(nodes, connections, settings, now=now)
        return ValidationReport.of([*issues, *report.errors], report.warnings)
    return validate_workflow(body, now=now)


def _parse_parts(
    document: Any, exc: ValidationError
) -> tuple[list[NodeData], ConnectionsMapData, WorkflowSettingsData] | None:
    if any(e["loc"][:1] in (("nodes",), ("connections",), ("settings",), ()) for e in exc.errors()):
        return None
    # The document parsed except for fields the graph does not read: nodes, connections and
    # settings are valid as the full model read them (same validators, same defaults).
    nodes = [NodeData.model_validate(n) for n in document["nodes"]]
    connections = ConnectionsMapData.model_validate(document.get("connections") or {})
    settings = WorkflowSettingsData.model_validate(document.get("settings") or {})
    return nodes, connections, settings


def _document_issues(exc: ValidationError, document: Any) -> list[ValidationIssue]:
    raw_nodes = document.get("nodes") if isinstance(document, Mapping) else None
    issues: list[ValidationIssue] = []
    for error in exc.errors():
        loc: list[str | int] = [p if isinstance(p, int) else str(p) for p in error["loc"]]
        node_id: str | None = None
        field: str | None = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            raw = raw_nodes[loc[1]] if isinstance(raw_nodes, list) else None
            raw_id = raw.get("id") if isinstance(raw, Mapping) else None
            if isinstance(raw_id, str) and raw_id.strip():
                node_id = raw_id.strip()
                loc[1] = node_id
            field = _dotted(loc[2:]) or None
        message = str(error["msg"]).removeprefix("Value error, ")
        code = "UNKNOWN_NODE_TYPE" if loc[2:] == ["type"] else "INVALID_DOCUMENT"
        where = _dotted(loc) or "the document"
        issues.append(
            ValidationIssue(
                code=code,
                message=f"{where}: {message}",
                node_id=node_id,
                field=field,
                loc=loc or ["workflow"],
            )
        )
    return issues


def _dotted(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Validator:
    def __init__(
        self,
        nodes: Sequence[NodeData],
        connections: ConnectionsMapData,
        settings: WorkflowSettingsData | None,
        graph: WorkflowGraph | None,
        now: datetime | None,
    ) -> None:
        self.nodes = list(nodes)
        self.graph = graph if graph is not None else WorkflowGraph(self.nodes, connections)
        self.settings = settings
        self.now = now
        self.rank = {node.id: n for n, node in enumerate(self.nodes)}
        self.definitions: dict[str, Node[Any]] = {}
        self._ports: dict[str, frozenset[str]] = {}
        # (rank, sequence, issue): sorted by node, then in the order found.
        self._errors: list[tuple[int, int, ValidationIssue]] = []
        self._warnings: list[tuple[int, int, ValidationIssue]] = []

    # -- reporting -----------------------------------------------------------------------------

    def _add(
        self,
        bucket: list[tuple[int, int, ValidationIssue]],
        code: str,
        message: str,
        node_id: str | None,
        field: str | None,
        loc: list[str | int] | None,
        rank: int | None,
    ) -> None:
        if rank is None:
            rank = _WORKFLOW_RANK if node_id is None else self.rank[node_id]
        issue = ValidationIssue(
            code=code, message=message, node_id=node_id, field=field, loc=loc or []
        )
        bucket.append((rank, len(bucket), issue))

    def error(
        self,
        code: str,
        message: str,
        node_id: str | None = None,
        *,
        field: str | None = None,
        loc: list[str | int] | None = None,
        rank: int | None = None,
    ) -> None:
        """Record an error about `node_id` (ordered by that node; `rank` overrides)."""
        self._add(self._errors, code, message, node_id, field, loc, rank)

    def warn(
        self,
        code: str,
        message: str,
        node_id: str | None = None,
        *,
        field: str | None = None,
        loc: list[str | int] | None = None,
    ) -> None:
        self._add(self._warnings, code, message, node_id, field, loc, None)

    def run(self) -> ValidationReport:
        for node in self.nodes:
            self._check_node(node)
        self._check_connections()
        self._check_attachment_counts()
        self._check_triggers()
        escapes = self._check_loops()
        if not escapes:
            # An escaping body also shows as a cycle (the loop would wait for its own
            # continuation); the escape is the error the user can act on.
            self._check_cycles()
        self._check_merges()
        return ValidationReport.of(
            [issue for *_, issue in sorted(self._errors, key=lambda t: t[:2])],
            [issue for *_, issue in sorted(self._warnings, key=lambda t: t[:2])],
        )

    # -- nodes ---------------------------------------------------------------------------------

    def _check_node(self, node: NodeData) -> None:
        try:
            definition = lookup(node.type, node.subtype)
        except UnknownNode as exc:
            self.error(
                "UNKNOWN_NODE_TYPE", f"node '{node.id}': {exc.message}", node.id, field="subtype"
            )
            return
        self.definitions[node.id] = definition
        reported: list[tuple[str | int, ...]] = []  # parameter paths already reported

        for path, message in expression_errors(node.parameters):
            where = field_loc(path)
            reported.append(tuple(where))
            self.error(
                "EXPRESSION_SYNTAX",
                f"node '{node.id}': parameter '{path}': {message}",
                node.id,
                field=f"parameters.{path}",
                loc=["nodes", node.id, "parameters", *where],
            )
        if node.type is NodeType.TRIGGER and node.subtype == "SCHEDULE":
            reported.extend(self._check_schedule(node))
        self._check_parameters(node, definition, reported)

    def _check_schedule(self, node: NodeData) -> list[tuple[str | int, ...]]:
        """INVALID_SCHEDULE for `expression`/`timezone`; the parameter paths it reported."""
        expression = node.parameters.get("expression")
        timezone = node.parameters.get("timezone")
        if not isinstance(expression, str):
            return []  # missing or not text: the parameters model says so
        for name, value in (("expression", expression), ("timezone", timezone)):
            if has_expression(value):
                self.error(
                    "INVALID_SCHEDULE",
                    f"node '{node.id}': parameter '{name}': a schedule is set when the workflow "
                    "is deployed, so it cannot hold {{ }} expressions",
                    node.id,
                    field=f"parameters.{name}",
                )
                return [(name,)]
        own_zone = timezone if isinstance(timezone, str) and timezone.strip() else None
        # A schedule without a zone of its own runs in the workflow's.
        zone = own_zone or (self.settings.timezone if self.settings is not None else None)
        try:
            schedule = parse_schedule(expression, zone)
        except ScheduleError as exc:
            if exc.field == "timezone" and own_zone is None:
                self.error(
                    "INVALID_SCHEDULE",
                    f"node '{node.id}': the workflow's settings.timezone: {exc.message}",
                    node.id,
                    field="settings.timezone",
                    loc=["settings", "timezone"],
                )
                return []
            self.error(
                "INVALID_SCHEDULE",
                f"node '{node.id}': parameter '{exc.field}': {exc.message}",
                node.id,
                field=f"parameters.{exc.field}",
            )
            return [(exc.field,)]
        now = self.now if self.now is not None else datetime.now(UTC)
        if schedule.next_after(now) is None:
            self.warn(
                "SCHEDULE_NEVER_FIRES",
                f"node '{node.id}': {schedule.expression} has no time left to fire after "
                f"{now.isoformat(timespec='seconds')} ({schedule.timezone})",
                node.id,
                field="parameters.expression",
            )
        return []

    def _check_parameters(
        self, node: NodeData, definition: Node[Any], reported: list[tuple[str | int, ...]]
    ) -> None:
        model: type[BaseModel] = definition.parameters_model
        params = node.parameters
        try:
            model.model_validate(params)
        except ValidationError as exc:
            for error in exc.errors():
                self._parameter_error(node, definition, error, reported)
        known = _field_names(model)
        for key in params:
            if key not in known:
                valid = ", ".join(sorted(model.model_fields)) or "none"
                self.warn(
                    "UNKNOWN_PARAMETER",
                    f"node '{node.id}': {definition.id} has no parameter '{key}' (it is "
                    f"ignored); its parameters: {valid}",
                    node.id,
                    field=f"parameters.{key}",
                    loc=["nodes", node.id, "parameters", key],
                )

    def _parameter_error(
        self,
        node: NodeData,
        definition: Node[Any],
        error: Any,
        reported: list[tuple[str | int, ...]],
    ) -> None:
        path, values = _walk(node.parameters, error["loc"], missing=error["type"] == "missing")
        lazy = bool(path) and path[0] in definition.lazy_parameters
        # A non-lazy parameter is resolved before the model sees it, so an expression there
        # stands for a value of any type. A lazy one reaches the model as written.
        if not lazy and any(has_expression(v) for v in values):
            return
        key = tuple(path)
        for done in reported:
            if key[: len(done)] == done or done[: len(key)] == key:
                return  # the same problem, already reported by a more precise check
        where = _dotted(path)
        message = str(error["msg"]).removeprefix("Value error, ")
        self.error(
            "INVALID_PARAMETER",
            f"node '{node.id}': "
            + (f"parameter '{where}': {message}" if where else f"parameters: {message}"),
            node.id,
            field=f"parameters.{where}" if where else "parameters",
            loc=["nodes", node.id, "parameters", *path],
        )

    # -- connections ---------------------------------------------------------------------------

    def _ports_of(self, node_id: str) -> frozenset[str] | None:
        definition = self.definitions.get(node_id)
        if definition is None:
            return None  # unknown subtype, already reported
        ports = self._ports.get(node_id)
        if ports is None:
            raw = self.graph.nodes[node_id].parameters
            ports = self._ports[node_id] = frozenset([*definition.output_ports(raw), ERROR_PORT])
        return ports

    def _port_list(self, node_id: str) -> str:
        definition = self.definitions[node_id]
        return ", ".join([*definition.output_ports(self.graph.nodes[node_id].parameters), "error"])

    def _check_connections(self) -> None:
        for edge in self.graph.dangling:
            missing = [n for n in (edge.source, edge.target) if n not in self.graph.nodes]
            source_exists = edge.source in self.graph.nodes
            self.error(
                "DANGLING_CONNECTION",
                f"connection '{edge.source}' ({edge.port}) -> '{edge.target}': there is no node "
                + " and no node ".join(f"'{m}'" for m in missing),
                edge.source if source_exists else None,
                field="connections",
                loc=_edge_loc(edge),
                rank=self.rank[edge.source] if source_exists else _NOWHERE_RANK,
            )
        for edge in self.graph.edges:
            self._check_flow_edge(edge)
        for edge in self.graph.attachment_edges:
            self._check_attachment(edge)

    def _check_flow_edge(self, edge: Edge) -> None:
        if edge.kind != MAIN:
            kinds = ", ".join([MAIN, *sorted(ATTACHMENT_KINDS)])
            self.error(
                "UNKNOWN_INPUT_KIND",
                f"connection '{edge.source}' -> '{edge.target}': input kind '{edge.kind}' is "
                f"not one of {kinds}",
                edge.source,
                field="connections",
                loc=_edge_loc(edge),
            )
        ports = self._ports_of(edge.source)
        if ports is not None and edge.port not in ports:
            definition = self.definitions[edge.source]
            self.error(
                "UNKNOWN_PORT",
                f"connection '{edge.source}' -> '{edge.target}': {definition.id} '{edge.source}' "
                f"has no output port '{edge.port}'; its ports: {self._port_list(edge.source)}",
                edge.source,
                field="connections",
                loc=_edge_loc(edge),
            )
        target = self.graph.nodes[edge.target]
        if target.type is NodeType.TRIGGER:
            self.error(
                "TRIGGER_HAS_INPUT",
                f"connection '{edge.source}' -> '{edge.target}': '{edge.target}' is a trigger; "
                "a trigger starts the flow and takes no input",
                edge.target,
                field="connections",
                loc=_edge_loc(edge),
            )

    def _check_attachment(self, edge: Edge) -> None:
        kind = edge.attachment_kind
        source, target = edge.source, edge.target
        where = f"attachment '{source}' -> '{target}' ({kind})"
        loc = _edge_loc(edge)
        if edge.port not in (MAIN, kind) or edge.kind not in (MAIN, kind):
            self.error(
                "INVALID_ATTACHMENT",
                f"{where}: the output port '{edge.port}' and input kind '{edge.kind}' disagree; "
                f"attach from port 'main' (or '{kind}') with input kind '{kind}'",
                source,
                field="connections",
                loc=loc,
            )
            return
        target_definition = self.definitions.get(target)
        if target_definition is not None and kind not in target_definition.accepts:
            takes = (
                f"takes only {', '.join(target_definition.accepts)}"
                if target_definition.accepts
                else "takes no attachments (only AI agents do)"
            )
            self.error(
                "INVALID_ATTACHMENT",
                f"{where}: {target_definition.id} '{target}' {takes}",
                source,
                field="connections",
                loc=loc,
            )
        source_definition = self.definitions.get(source)
        if source_definition is not None and kind not in source_definition.attachable_as:
            can = [d.id for d in catalogue().values() if kind in d.attachable_as]
            self.error(
                "INVALID_ATTACHMENT",
                f"{where}: {source_definition.id} cannot be attached as {kind}; "
                + (f"nodes that can: {', '.join(can)}" if can else "no node type can yet"),
                source,
                field="connections",
                loc=loc,
            )

    def _check_attachment_counts(self) -> None:
        for agent, kinds in self.graph.attachments.items():
            for kind in SINGLE_ATTACHMENTS:
                attached = kinds.get(kind, [])
                if len(attached) > 1:
                    self.error(
                        "TOO_MANY_ATTACHMENTS",
                        f"node '{agent}' has {len(attached)} {kind} attachments "
                        f"({', '.join(attached)}); an AI agent takes at most one",
                        agent,
                        field="connections",
                    )

    # -- the graph -----------------------------------------------------------------------------

    def _check_triggers(self) -> None:
        if not self.graph.triggers:
            self.error(
                "NO_TRIGGER",
                "the workflow has no TRIGGER node; add one (MANUAL, WEBHOOK or SCHEDULE) to "
                "start it",
                field="nodes",
                loc=["nodes"],
            )
            return
        reachable = self.graph.reachable_from_triggers
        attached_only = self.graph.attached_only
        for node in self.nodes:
            if node.id not in reachable and node.id not in attached_only:
                self.warn(
                    "UNREACHABLE_NODE",
                    f"node '{node.id}' is not reached from any trigger, so it never runs",
                    node.id,
                )

    def _check_loops(self) -> bool:
        """LOOP_BODY_ESCAPES and EMPTY_LOOP; whether any body escapes."""
        escaped = False
        for loop_id, body in self.graph.loop_bodies.items():
            if not any(e.port == EACH for e in self.graph.out_edges(loop_id)):
                self.warn(
                    "EMPTY_LOOP",
                    f"LOOP '{loop_id}' has nothing connected to its 'each' port",
                    loop_id,
                    field="connections",
                )
                continue
            for node_id in sorted(body, key=self.rank.__getitem__):
                for edge in self.graph.out_edges(node_id):
                    outer = edge.target
                    if outer != loop_id and loop_id in self.graph.loop_bodies.get(outer, ()):
                        escaped = True
                        self.error(
                            "LOOP_BODY_ESCAPES",
                            f"connection '{node_id}' -> '{outer}': the body of LOOP "
                            f"'{loop_id}' jumps back to the enclosing LOOP '{outer}'; a body may "
                            f"only lead back to its own LOOP",
                            node_id,
                            field="connections",
                            loc=_edge_loc(edge),
                        )
            after = self._continuation(loop_id)
            shared = body & after
            for node_id in sorted(shared, key=self.rank.__getitem__):
                for edge in self.graph.in_edges(node_id):
                    inside = edge.source in body and edge.source not in after
                    from_each = edge.source == loop_id and edge.port == EACH
                    if inside or from_each:
                        escaped = True
                        self.error(
                            "LOOP_BODY_ESCAPES",
                            f"connection '{edge.source}' -> '{node_id}': the body of LOOP "
                            f"'{loop_id}' leads to '{node_id}', which also runs after the loop; "
                            f"a body may only lead back to its LOOP (use the 'done' port to go "
                            f"on after it)",
                            edge.source,
                            field="connections",
                            loc=_edge_loc(edge),
                        )
        return escaped

    def _continuation(self, loop_id: str) -> set[str]:
        """What runs after a LOOP: reachable from its ports other than `each`."""
        seen: set[str] = set()
        stack = [e.target for e in self.graph.out_edges(loop_id) if e.port != EACH]
        while stack:
            current = stack.pop()
            if current == loop_id or current in seen:
                continue
            seen.add(current)
            # The end of an enclosing loop's iteration is not "after" this loop.
            stack.extend(
                e.target for e in self.graph.out_edges(current) if not self.graph.is_back_edge(e)
            )
        return seen

    def _check_cycles(self) -> None:
        try:
            self.graph.order  # noqa: B018  # computing it is the check
        except CycleError as exc:
            # Start the cycle at its first node in the document; name at most a dozen.
            ring = exc.nodes[:-1]
            first = min(range(len(ring)), key=lambda n: self.rank[ring[n]])
            ring = ring[first:] + ring[:first]
            shown = [*ring, ring[0]]
            if len(shown) > 12:
                hidden = len(shown) - 10
                shown = [*shown[:5], f"... ({hidden} more)", *shown[-5:]]
            self.error(
                "CYCLE",
                f"the connections form a cycle through {' -> '.join(shown)}; a connection may "
                "only lead back to a LOOP from its own body",
                ring[0],
                field="connections",
            )

    def _check_merges(self) -> None:
        for node in self.nodes:
            if node.type is not NodeType.FLOW or node.subtype != "MERGE":
                continue
            sources = {
                e.source for e in self.graph.in_edges(node.id) if not self.graph.is_back_edge(e)
            }
            if len(sources) < 2:
                self.warn(
                    "MERGE_SINGLE_INPUT",
                    f"MERGE '{node.id}' has {len(sources)} input"
                    f"{'' if len(sources) == 1 else 's'}; it merges branches, so connect two "
                    "or more",
                    node.id,
                    field="connections",
                )


def _edge_loc(edge: Edge) -> list[str | int]:
    return ["connections", edge.source, edge.port]


@lru_cache(maxsize=256)
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
        if isinstance(info.validation_alias, str):
            names.add(info.validation_alias)
    return frozenset(names)


def _walk(
    params: Mapping[str, Any], loc: Sequence[str | int], *, missing: bool
) -> tuple[list[str | int], list[Any]]:
    """A pydantic error location as a path in the raw parameters, and the values along it.

    Pydantic puts the member of a union it tried into the location (`str`, `list[str]`,
    `function-after[...]`); those are not in the data and are dropped. The last part of a
    `missing` error is the absent key itself.
    """
    path: list[str | int] = []
    values: list[Any] = []
    current: Any = params
    for n, part in enumerate(loc):
        in_mapping = isinstance(current, Mapping) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_mapping or in_list:
            current = current[part]
        elif missing and n == len(loc) - 1:
            path.append(part)
            break
        else:
            continue  # a union member's name
        path.append(part)
        values.append(current)
    return path, values


# -- expression syntax, fast -------------------------------------------------------------------
#
# Parsing JSONata is most of validation's cost (tens of microseconds an expression, and a large
# workflow holds thousands, mostly alike: `{{ nodes.n12.body.id }}`, `{{ nodes.n13.body.id }}`).
# Whether an expression parses depends on the kinds of its tokens, not on which name or which
# small integer it holds, so each string is first checked in a canonical form, names replaced by
# `x` and small integers by `0`; forms repeat, and the parse cache then answers. Only a string
# whose canonical form does not parse is parsed as written (for the exact message).
#
# Why that is sound, i.e. the canonical form never parses when the original does not:
# - only runs of a name ([A-Za-z_] then word characters, not after a word character) and
#   integers of at most nine digits without a leading zero (not next to a word character or a
#   dot) change, so the characters that delimit tokens, strings, backtick names and the `{{ }}`
#   themselves stay where they are, and a name stays a name, a number a number;
# - JSONata's word operators and literals (and, or, in, true, false, null, function) are kept;
# - strings with a `/` after the first `{{` are not canonicalised: a regular expression's content
#   decides whether it compiles (`/[z-a]/` does not, `/[x-x]/` does), and comments hide tokens;
#   nor, to be safe, strings with a backslash, whose escapes the tokenizer reads;
# - numbers that could overflow (exponents, long runs) are left as written.
_CANONICAL = re.compile(r"(?<![\w.])(?:0|[1-9][0-9]{0,8})(?![\w.])|(?<!\w)[A-Za-z_]\w*")
_KEEP = frozenset({"and", "or", "in", "true", "false", "null", "function"})


def _canonical_token(match: re.Match[str]) -> str:
    token = match.group()
    if token in _KEEP:
        return token
    return "0" if token[0].isdigit() else "x"


def _canonical(text: str) -> str | None:
    start = text.find(OPEN)
    if "\\" in text or "/" in text[start:]:
        return None
    return _CANONICAL.sub(_canonical_token, text)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string holding `{{`, paths as `syntax_errors` writes them."""
    if isinstance(value, str):
        if OPEN in value:
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def expression_errors(parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`syntax_errors(parameters)`, answered from canonical forms where it can be."""
    found: list[tuple[str, str]] = []
    for path, text in _strings(parameters, ""):
        canonical = _canonical(text)
        if canonical is not None and not syntax_errors(canonical):
            continue
        found.extend(syntax_errors(text, path))
    return found
