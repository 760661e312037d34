"""What a node is: a parameters model, its ports, and how it runs.

Every subtype of the catalogue (CONTRACT.md section 3) is a `Node` subclass registered in
`flowlane.nodes.registry`. A node never touches boto3 or the store: what it needs from the outside
world (HTTP, credentials, email, memory, LLMs, running an attached tool) comes through the
`NodeServices` protocol, which the runtime implements (`flowlane.runtime.node_services`) and tests
replace with fakes where a real component is not the point.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python

from flowlane.models.workflow import NodeData, NodeType

if TYPE_CHECKING:
    import httpx

    from flowlane.config import EngineSettings, IntegrationSettings

# The output port every node has besides its own: a failed node with a connection on it sends
# `{"error": {...}}` there (CONTRACT.md section 4).
ERROR_PORT = "error"
MAIN_PORT = "main"
# Input kinds of the nodes attached to an AI agent.
ATTACHMENT_KINDS = ("ai_tool", "ai_memory", "ai_model")


class NodeError(Exception):
    """A node failed. The code is one of the contract's (EXPRESSION_ERROR, EGRESS_DENIED,
    CREDENTIAL_NOT_FOUND, UPSTREAM_ERROR, TIMEOUT, ...); it is recorded in the node run."""

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})

    def to_dict(self, node_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "node_id": node_id}
        if self.details:
            body["details"] = self.details
        return body


def upstream_error(service: str, status: int | None, message: str) -> NodeError:
    """A provider or service answered with an error (or not at all)."""
    details: dict[str, Any] = {"service": service}
    if status is not None:
        details["status"] = status
    return NodeError("UPSTREAM_ERROR", message, details)


class NodeParameters(BaseModel):
    """Base of every parameters model. Unknown keys are kept out of the model (validation warns
    about them) so a draft with an extra key still runs."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


P = TypeVar("P", bound=NodeParameters)


# Failures worth another try under a retry_policy. The others (a bad expression, a refused
# address, a missing credential, invalid parameters) fail the same way every time.
RETRYABLE_CODES = frozenset({"UPSTREAM_ERROR", "TIMEOUT", "NODE_ERROR"})


@dataclass
class NodeResult:
    output: Any
    port: str = MAIN_PORT
    # What the executor needs beyond the output: a WAIT's duration, a LOOP's items.
    control: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputValue:
    """One upstream output that reached a node: MERGE orders them by `index`."""

    source: str
    index: int
    value: Any


class Credentials(Protocol):
    def get(self, name: str) -> Any:
        """The stored value (a dict for JSON secrets, else a string); CREDENTIAL_NOT_FOUND if
        there is no such credential for the owner."""
        ...


class Memory(Protocol):
    """Durable key/value and conversation memory, scoped to a workflow or a user."""

    def get(self, scope: str, key: str) -> Any: ...

    def set(self, scope: str, key: str, value: Any) -> None: ...

    def delete(self, scope: str, key: str) -> None: ...

    def append(self, scope: str, key: str, value: Any) -> list[Any]:
        """Append `value` as one element to the list at `key` (created if missing), atomically;
        the list after. VALIDATION_ERROR if the key holds something other than a list."""
        ...

    def read_messages(self, scope: str, conversation_id: str, limit: int) -> list[Any]: ...

    def append_messages(self, scope: str, conversation_id: str, messages: list[Any]) -> None: ...


class NodeServices(Protocol):
    """The outside world, as nodes see it."""

    @property
    def engine(self) -> EngineSettings: ...

    @property
    def integrations(self) -> IntegrationSettings: ...

    def http(self, timeout: float) -> httpx.Client:
        """An httpx client that enforces the egress policy on every request and redirect."""
        ...

    def credentials(self, owner: str) -> Credentials: ...

    def memory(self, owner: str, workflow_id: str) -> Memory: ...

    def send_email(self, sender: str, to: list[str], subject: str, body: str) -> str:
        """Send with SES; the message id."""
        ...


# Runs an attached node (a TOOL on `ai_tool`) with the given input; returns its output or raises
# NodeError. Provided by the executor, which records nothing for it: the agent's output lists
# its tool calls.
ToolRunner = Callable[[NodeData, Any], Any]


@dataclass
class NodeContext:
    """Everything one run of one node sees."""

    node: NodeData
    input: Any
    # The expression context object {input, nodes, trigger, item, index, execution, workflow}.
    scope: dict[str, Any]
    services: NodeServices
    owner: str
    workflow_id: str
    execution_id: str
    # Nodes attached to this one by input kind (ai_tool, ai_memory, ai_model).
    attachments: dict[str, list[NodeData]] = field(default_factory=dict)
    run_tool: ToolRunner | None = None
    dry_run: bool = False
    # Every upstream output that reached the node (for MERGE); `input` is their combination.
    inputs: list[InputValue] = field(default_factory=list)
    # 1 for the first try; retries under the node's retry_policy count up.
    attempt: int = 1

    def evaluate(self, value: Any, parameter: str, extra: Mapping[str, Any] | None = None) -> Any:
        """Resolve the expressions in a raw parameter value, e.g. one evaluated per item."""
        from flowlane.engine.expressions import resolve

        scope = {**self.scope, **extra} if extra else self.scope
        return resolve(value, scope, parameter, self.services.engine)


class Node(Generic[P]):
    """One subtype of the catalogue. Subclasses set the class attributes and implement `run`."""

    type: ClassVar[NodeType]
    subtype: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    # builtins.type: inside the class body `type` is the attribute above.
    parameters_model: ClassVar[builtins.type[NodeParameters]]
    # The output ports besides `error`, in the order a user reads them.
    outputs: ClassVar[tuple[str, ...]] = (MAIN_PORT,)
    # Where the flow goes on when the node fails with on_error=continue and has no error
    # connection (its "normal" port).
    failure_port: ClassVar[str] = MAIN_PORT
    # Parameters left as written (expressions unresolved) for the node to evaluate itself,
    # e.g. conditions evaluated once per item.
    lazy_parameters: ClassVar[frozenset[str]] = frozenset()
    # Input kinds this node accepts attachments on (only AI agents have any).
    accepts: ClassVar[tuple[str, ...]] = ()
    # Attached to an agent rather than wired into the flow (TOOL, MEMORY may be both).
    attachable_as: ClassVar[tuple[str, ...]] = ()
    # Pure nodes compute from their input alone, bounded by the expression limits; they run
    # inline. Others (I/O) run under a time limit in a worker thread.
    pure: ClassVar[bool] = False

    @property
    def id(self) -> str:
        return f"{self.type.value}.{self.subtype}"

    def output_ports(self, parameters: Mapping[str, Any]) -> list[str]:
        """The ports this node can take with these (raw) parameters; SWITCH overrides it."""
        return list(self.outputs)

    def default_parameters(self) -> dict[str, Any]:
        """The parameters a new node of this subtype starts with (fields with defaults)."""
        return {
            name: to_jsonable_python(f.get_default(call_default_factory=True))
            for name, f in self.parameters_model.model_fields.items()
            if not f.is_required()
        }

    def timeout_seconds(self, parameters: P, settings: EngineSettings) -> float:
        return settings.node_timeout_seconds

    def run(self, ctx: NodeContext, params: P) -> NodeResult:
        raise NotImplementedError
