"""Running one node once: resolve its parameters, validate them, run it within its time limit.

Shared by the reference interpreter (dry runs) and the node runner (compiled machines), so a node
behaves the same in both. Retries are the caller's: the interpreter loops, Step Functions retries
the node runner's task.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from flowlane.engine.expressions import has_expression, resolve
from flowlane.models.common import error_items
from flowlane.models.workflow import NodeData
from flowlane.nodes.base import (
    InputValue,
    Node,
    NodeContext,
    NodeError,
    NodeParameters,
    NodeResult,
    NodeServices,
    ToolRunner,
)
from flowlane.nodes.registry import UnknownNode, lookup
from flowlane.observability import logger


@dataclass
class RunRequest:
    """One node to run, with what reached it."""

    node: NodeData
    input: Any
    scope: dict[str, Any]
    services: NodeServices
    owner: str
    workflow_id: str
    execution_id: str
    inputs: list[InputValue] = field(default_factory=list)
    attachments: dict[str, list[NodeData]] = field(default_factory=dict)
    run_tool: ToolRunner | None = None
    dry_run: bool = False
    # 1 for the first try; retries under the node's retry_policy count up.
    attempt: int = 1


def definition_of(node: NodeData) -> Node[Any]:
    try:
        return lookup(node.type, node.subtype)
    except UnknownNode as exc:
        raise NodeError("VALIDATION_ERROR", exc.message, {"valid": exc.valid}) from None


def _holds_expression(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_holds_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_expression(v) for v in value)
    return has_expression(value)


@cache
def _expression_defaults(
    model: type[NodeParameters],
) -> tuple[tuple[str, frozenset[str], Any], ...]:
    """(field, the keys that give it, default) for each default that holds an expression.

    Such a default (a LOOP's or FILTER's `items`, "{{ input }}") means what it says when the
    parameter is left out, so it is evaluated like a given value, not taken as text.
    """
    found = []
    for name, info in model.model_fields.items():
        if info.default is not PydanticUndefined:
            default = info.default
        elif info.default_factory is not None and not info.default_factory_takes_validated_data:
            default = info.default_factory()  # type: ignore[call-arg]
        else:
            continue
        if not _holds_expression(default):
            continue
        keys = {name} | {a for a in (info.alias, info.validation_alias) if isinstance(a, str)}
        found.append((name, frozenset(keys), default))
    return tuple(found)


def resolve_parameters(
    definition: Node[Any], raw: Mapping[str, Any], scope: Mapping[str, Any], services: NodeServices
) -> NodeParameters:
    """Expressions resolved (except the node's lazy parameters), then the parameters model.

    A parameter left out whose default is an expression is resolved as if it had been given.
    """
    engine = services.engine
    given: dict[str, Any] = dict(raw)
    for name, keys, default in _expression_defaults(definition.parameters_model):
        if keys.isdisjoint(given):
            given[name] = copy.deepcopy(default)
    resolved = {
        key: value if key in definition.lazy_parameters else resolve(value, scope, key, engine)
        for key, value in given.items()
    }
    try:
        return definition.parameters_model.model_validate(resolved)
    except ValidationError as exc:
        items = error_items(exc.errors(), ("parameters",))
        summary = "; ".join(
            f"{'.'.join(map(str, i['loc'][1:])) or 'parameters'}: {i['msg']}" for i in items[:5]
        )
        raise NodeError(
            "VALIDATION_ERROR", f"invalid parameters: {summary}", {"errors": items}
        ) from None


def run_once(request: RunRequest) -> NodeResult:
    """Run the node once; raises NodeError (every failure is one, with a contract code)."""
    definition = definition_of(request.node)
    try:
        params = resolve_parameters(
            definition, request.node.parameters, request.scope, request.services
        )
    except NodeError:
        raise
    except Exception as exc:
        # A bug in expression handling, not a user error: log it, record it on the node run.
        logger.exception("resolving the parameters of node %s raised", request.node.id)
        raise NodeError("NODE_ERROR", f"{type(exc).__name__}: {exc}") from exc
    ctx = NodeContext(
        node=request.node,
        input=request.input,
        scope=request.scope,
        services=request.services,
        owner=request.owner,
        workflow_id=request.workflow_id,
        execution_id=request.execution_id,
        attachments=request.attachments,
        run_tool=request.run_tool,
        dry_run=request.dry_run,
        inputs=request.inputs,
        attempt=request.attempt,
    )
    if definition.pure:
        return _guarded(definition, ctx, params)
    limit = definition.timeout_seconds(params, request.services.engine)
    return _within(limit, definition, ctx, params)


def _guarded(definition: Node[Any], ctx: NodeContext, params: NodeParameters) -> NodeResult:
    try:
        return definition.run(ctx, params)
    except NodeError:
        raise
    except Exception as exc:
        # A bug in a node, not a user error: log it in full, record it on the node run.
        logger.exception("node %s (%s) raised", ctx.node.id, definition.id)
        raise NodeError("NODE_ERROR", f"{type(exc).__name__}: {exc}") from exc


def _within(
    seconds: float, definition: Node[Any], ctx: NodeContext, params: NodeParameters
) -> NodeResult:
    """Run in a worker thread and stop waiting after `seconds`.

    Python cannot kill a thread; a node past its limit is abandoned (its HTTP and SDK calls carry
    their own timeouts, so it ends soon after) and the node fails with TIMEOUT.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = _guarded(definition, ctx, params)
        except NodeError as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"node-{ctx.node.id}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise NodeError(
            "TIMEOUT",
            f"node '{ctx.node.id}' did not finish within {seconds:g} s",
            {"timeout_seconds": seconds},
        )
    if "error" in box:
        raise box["error"]
    result: NodeResult = box["result"]
    return result
