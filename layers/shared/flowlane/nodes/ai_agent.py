"""AI_AGENT/CHAT: one conversation turn with a chat model, with tools and memory (CONTRACT.md s. 3).

Parameters: `provider` (openai, anthropic, offline; empty or `auto` = the settings' choice),
`model` (default: the provider's setting), `system_prompt`, `prompt` (default: the node's input;
a non-string value is sent as JSON), `temperature` (0..2; anthropic accepts 0..1), `max_tokens`
(1..32000, default 1024), `output_format` (text or json), `max_iterations` (1..20, default 5).

Output: `{text, data, provider, model, usage: {input_tokens, output_tokens}, tool_calls}` where
`data` is the parsed JSON answer (output_format json) or null, `model` is the model that answered,
`usage` is summed over every model call of the run, and `tool_calls` lists
`{name, arguments, result}` or `{name, arguments, error: {code, message}}` in the order they ran.

Attachments:
- `ai_tool`: every enabled node is offered as a function: `name` (default: the node id;
  sanitised to `[A-Za-z0-9_-]{1,64}` and made unique), `description` (default: the node's name),
  `input_schema` (a JSON Schema object, default: no properties). A call runs the node through
  `ctx.run_tool(node, arguments)`. A tool that fails (NodeError), a call to an unknown tool, or
  arguments that are not a JSON object do not fail the agent: the error goes back to the model as
  the tool's result (so it can correct itself) and is listed in `tool_calls`.
- `ai_memory`: a MEMORY/CONVERSATION node holds the conversation. Its last `max_messages` messages
  are sent before the prompt (leading assistant turns dropped so history starts with a user turn;
  stored system messages join the system prompt), and after a successful run the prompt and the
  final answer are appended (tool exchanges are not stored; each message is cut at
  `MAX_REMEMBERED_CHARS`, so a huge prompt cannot fail a run that has already been answered).
  A MEMORY/KEY_VALUE node gives the model the value stored at its `key` as read-only context in
  the system prompt. At most one conversation node.
- `ai_model`: a node whose parameters carry `provider` and/or `model` overrides the agent's own;
  a credential named on it takes precedence over the agent's.
  Attached nodes' parameters may hold expressions; they are evaluated in the agent's context.

Decisions:
- Provider and key: see `flowlane.nodes.llm`. A key comes from the node credential named for the
  provider (`credentials: {"openai": NAME}`: the stored secret is the key itself, or an object
  with `api_key`) before the setting. A provider chosen explicitly with no key fails with
  CREDENTIAL_NOT_FOUND naming the setting. Base URLs are only ever settings: a user-supplied one
  would let a workflow aim the SDK (which does not pass the egress check) at internal addresses.
- `max_iterations` bounds the model calls of one run. When the model still asks for tools on the
  last allowed call, the node fails with AGENT_ITERATIONS_EXCEEDED (details: the tool calls that
  ran) instead of returning a half-finished answer; the tools of that last request are not run,
  since nothing would read their results.
- JSON output: the system prompt asks for a single JSON object (OpenAI also gets its json_object
  mode). The answer is parsed leniently (a ```json fence or prose around one object is
  accepted). If it still is not JSON, the model is asked once to repair it (one extra call, not
  counted in max_iterations); a second invalid answer fails with UPSTREAM_ERROR (details.text:
  the start of the answer).
- A tool result is sent to the model as text (JSON unless it is a string), cut at
  `MAX_TOOL_RESULT_CHARS`; `tool_calls` in the output keeps the whole result.
- The node's time limit is the engine's per-node limit times `max_iterations` (capped at Lambda's
  15 minutes): every round is a model call plus the tools it asks for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, JsonValue, ValidationError, field_validator

from flowlane.models.workflow import NodeData, NodeType
from flowlane.nodes.base import (
    Memory,
    Node,
    NodeContext,
    NodeError,
    NodeParameters,
    NodeResult,
    upstream_error,
)
from flowlane.nodes.llm import (
    PROVIDERS,
    ChatMessage,
    ChatProvider,
    ChatRequest,
    ProviderName,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
    choose_provider,
    default_model,
    open_provider,
)
from flowlane.nodes.registry import register

if TYPE_CHECKING:
    from flowlane.config import EngineSettings, IntegrationSettings

MAX_TOOL_RESULT_CHARS = 50_000
# Per message stored in conversation memory (the store caps a conversation at ~350 KB).
MAX_REMEMBERED_CHARS = 50_000
# Lambda's limit: no node can run longer.
MAX_NODE_SECONDS = 900.0
JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."
REPAIR_PROMPT = (
    "Your previous answer was not valid JSON ({error}). "
    "Reply again with only the JSON object, no prose and no code fence."
)
_TOOL_NAME_INVALID = re.compile(r"[^A-Za-z0-9_-]+")
_TOOL_NAME_MAX = 64
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```$", re.DOTALL)
# Where a setting's key comes from, for the CREDENTIAL_NOT_FOUND message.
_KEY_SETTINGS = {
    "openai": "FLOWLANE_OPENAI_API_KEY (or OPENAI_API_KEY)",
    "anthropic": "FLOWLANE_ANTHROPIC_API_KEY (or ANTHROPIC_API_KEY)",
}
_CREDENTIAL_KEY_FIELDS = ("api_key", "apiKey", "key", "token")


class ChatParameters(NodeParameters):
    provider: Annotated[
        Literal["auto", "openai", "anthropic", "offline"] | None,
        Field(description="Empty or auto: the platform's default (offline without a key)"),
    ] = None
    model: Annotated[str | None, Field(description="Default: the provider's configured model")] = (
        None
    )
    system_prompt: str | None = None
    prompt: Annotated[JsonValue, Field(description="Default: the node's input")] = None
    temperature: Annotated[float | None, Field(ge=0, le=2)] = None
    max_tokens: Annotated[int, Field(ge=1, le=32_000)] = 1024
    output_format: Literal["text", "json"] = "text"
    max_iterations: Annotated[
        int, Field(ge=1, le=20, description="Model calls per run, tool rounds included")
    ] = 5

    @field_validator("provider", "model", "system_prompt", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Editors send "" for a cleared field; it means "use the default".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("provider", mode="before")
    @classmethod
    def _lower_provider(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class _AttachedTool:
    spec: ToolSpec
    node: NodeData


@dataclass
class _Conversation:
    memory: Memory
    scope: str
    conversation_id: str
    max_messages: int

    def remember(self, prompt: str, answer: str) -> None:
        self.memory.append_messages(
            self.scope,
            self.conversation_id,
            [
                {"role": "user", "content": _bounded(prompt)},
                {"role": "assistant", "content": _bounded(answer)},
            ],
        )


def _bounded(text: str) -> str:
    # A huge prompt (a whole input rendered as JSON) must not fail the run after the model has
    # answered: the memory store refuses values over ~350 KB.
    if len(text) <= MAX_REMEMBERED_CHARS:
        return text
    cut = len(text) - MAX_REMEMBERED_CHARS
    return f"{text[:MAX_REMEMBERED_CHARS]}\n[truncated: {cut} more characters]"


@dataclass
class _MemoryContext:
    history: list[ChatMessage] = field(default_factory=list)
    system_notes: list[str] = field(default_factory=list)
    conversation: _Conversation | None = None


@dataclass
class _Outcome:
    text: str
    data: Any
    model: str
    usage: Usage
    tool_calls: list[dict[str, Any]]


@register
class ChatAgent(Node[ChatParameters]):
    type = NodeType.AI_AGENT
    subtype = "CHAT"
    title = "AI chat"
    description = (
        "Ask a chat model (OpenAI, Anthropic, or the offline provider); attached tools are "
        "offered as functions and attached memory holds the conversation"
    )
    parameters_model = ChatParameters
    accepts = ("ai_tool", "ai_memory", "ai_model")
    # Another CHAT node attached on ai_model lends the agent its provider and model.
    attachable_as = ("ai_model",)

    def timeout_seconds(self, parameters: ChatParameters, settings: EngineSettings) -> float:
        return min(MAX_NODE_SECONDS, settings.node_timeout_seconds * parameters.max_iterations)

    def run(self, ctx: NodeContext, params: ChatParameters) -> NodeResult:
        settings = ctx.services.integrations
        model_node, override_provider, override_model = _model_override(ctx)
        key_nodes = [n for n in (model_node, ctx.node) if n is not None]
        provider_name = _choose(override_provider or params.provider, settings, key_nodes)
        if provider_name == "offline":
            model = default_model(provider_name, settings)
            api_key = None
        else:
            model = override_model or params.model or default_model(provider_name, settings)
            api_key = _api_key(ctx, provider_name, key_nodes, settings)

        tools = _tools(ctx)
        if tools and ctx.run_tool is None:
            raise NodeError(
                "INTERNAL_ERROR",
                "tools are attached, but this runtime gave the agent no way to run them",
            )
        memory = _memory(ctx)
        prompt_text, data = _prompt(params.prompt, ctx.input)
        system_parts = [p for p in (params.system_prompt, *memory.system_notes) if p]
        if params.output_format == "json":
            system_parts.append(JSON_INSTRUCTION)
        request = ChatRequest(
            model=model,
            messages=(*memory.history, ChatMessage("user", prompt_text)),
            system="\n\n".join(system_parts) or None,
            tools=tuple(t.spec for t in tools.values()),
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            json_output=params.output_format == "json",
            context_data=data,
        )
        provider = open_provider(provider_name, settings, api_key)
        try:
            outcome = _converse(provider, request, tools, ctx, params)
        finally:
            provider.close()
        if memory.conversation is not None:
            memory.conversation.remember(prompt_text, outcome.text)
        return NodeResult(
            {
                "text": outcome.text,
                "data": outcome.data,
                "provider": provider_name,
                "model": outcome.model,
                "usage": outcome.usage.to_dict(),
                "tool_calls": outcome.tool_calls,
            }
        )


# -- provider, model, key ----------------------------------------------------------------------


def _model_override(ctx: NodeContext) -> tuple[NodeData | None, str | None, str | None]:
    nodes = [n for n in ctx.attachments.get("ai_model", []) if not n.disabled]
    if not nodes:
        return None, None, None
    if len(nodes) > 1:
        raise NodeError(
            "VALIDATION_ERROR",
            "attach at most one node on ai_model",
            {"nodes": [n.id for n in nodes]},
        )
    node = nodes[0]
    values: dict[str, str | None] = {}
    for name in ("provider", "model"):
        value = ctx.evaluate(node.parameters.get(name), f"{node.id}.{name}")
        if value is not None and not isinstance(value, str):
            raise NodeError(
                "VALIDATION_ERROR",
                f"ai_model node {node.id!r}: {name} must be a string",
                {"node_id": node.id, "parameter": name},
            )
        values[name] = (value.strip() or None) if isinstance(value, str) else None
    provider = values["provider"]
    if provider is not None:
        provider = provider.lower()
        if provider not in ("auto", *PROVIDERS):
            raise NodeError(
                "VALIDATION_ERROR",
                f"ai_model node {node.id!r}: unknown provider {provider!r}; "
                f"valid: auto, {', '.join(PROVIDERS)}",
                {"node_id": node.id, "parameter": "provider"},
            )
    return node, provider, values["model"]


def _credential_name(provider: str, nodes: list[NodeData]) -> str | None:
    for node in nodes:
        name = node.credentials.get(provider)
        if name:
            return name
    return None


def _setting_key(provider: str, settings: IntegrationSettings) -> str | None:
    if provider == "openai":
        return settings.openai_api_key
    if provider == "anthropic":
        return settings.anthropic_api_key
    return None


def _choose(
    requested: str | None, settings: IntegrationSettings, key_nodes: list[NodeData]
) -> ProviderName:
    def has_key(provider: str) -> bool:
        return bool(_credential_name(provider, key_nodes) or _setting_key(provider, settings))

    return choose_provider(requested, settings, has_key)


def _api_key(
    ctx: NodeContext, provider: str, key_nodes: list[NodeData], settings: IntegrationSettings
) -> str:
    name = _credential_name(provider, key_nodes)
    if name is not None:
        value = ctx.services.credentials(ctx.owner).get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, dict):
            for key in _CREDENTIAL_KEY_FIELDS:
                found = value.get(key)
                if isinstance(found, str) and found.strip():
                    return found.strip()
        raise NodeError(
            "CREDENTIAL_NOT_FOUND",
            f"credential {name!r} holds no API key for {provider} "
            f"(a string, or an object with one of {', '.join(_CREDENTIAL_KEY_FIELDS)})",
            {"credential": name, "provider": provider},
        )
    setting = _setting_key(provider, settings)
    if setting:
        return setting
    raise NodeError(
        "CREDENTIAL_NOT_FOUND",
        f"provider {provider} needs an API key: set {_KEY_SETTINGS[provider]}, or name a stored "
        f'credential on the node: credentials {{"{provider}": "NAME"}}',
        {"provider": provider, "setting": _KEY_SETTINGS[provider].split(" ")[0]},
    )


# -- tools ---------------------------------------------------------------------------------------


def tool_name(raw: str) -> str:
    """A function name every provider accepts."""
    name = _TOOL_NAME_INVALID.sub("_", raw.strip()).strip("_")[:_TOOL_NAME_MAX]
    return name or "tool"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate = name[: _TOOL_NAME_MAX - len(suffix)] + suffix
        n += 1
    return candidate


def _tools(ctx: NodeContext) -> dict[str, _AttachedTool]:
    tools: dict[str, _AttachedTool] = {}
    for node in ctx.attachments.get("ai_tool", []):
        if node.disabled:
            continue
        raw_name = ctx.evaluate(node.parameters.get("name"), f"{node.id}.name")
        name = _unique(tool_name(raw_name if isinstance(raw_name, str) else node.id), set(tools))
        description = ctx.evaluate(node.parameters.get("description"), f"{node.id}.description")
        if not isinstance(description, str) or not description.strip():
            description = node.name
        schema = _input_schema(
            node, ctx.evaluate(node.parameters.get("input_schema"), f"{node.id}.input_schema")
        )
        tools[name] = _AttachedTool(ToolSpec(name, description, schema), node)
    return tools


def _input_schema(node: NodeData, value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {"type": "object", "properties": {}}
    if isinstance(value, str):
        # Pasted as text in an editor.
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict) or value.get("type", "object") != "object":
        raise NodeError(
            "VALIDATION_ERROR",
            f"tool {node.id!r}: input_schema must be a JSON Schema object with type object",
            {"node_id": node.id, "parameter": "input_schema"},
        )
    return {"type": "object", **value}


def _tool_text(result: Any) -> str:
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    if len(text) > MAX_TOOL_RESULT_CHARS:
        cut = len(text) - MAX_TOOL_RESULT_CHARS
        text = f"{text[:MAX_TOOL_RESULT_CHARS]}\n[truncated: {cut} more characters]"
    return text


def _run_tool(
    run_tool: Callable[[NodeData, Any], Any] | None,
    tools: dict[str, _AttachedTool],
    call: ToolCall,
    record: list[dict[str, Any]],
) -> ToolResult:
    entry: dict[str, Any] = {"name": call.name, "arguments": call.arguments}
    attached = tools.get(call.name)
    # run_tool is None only when no tool is attached (run() checks), so no call can match.
    if attached is None or run_tool is None:
        error = NodeError(
            "VALIDATION_ERROR",
            f"there is no tool named {call.name!r}; the tools are: {', '.join(tools)}",
        )
    elif call.invalid_arguments is not None:
        entry["arguments"] = call.invalid_arguments
        error = NodeError("VALIDATION_ERROR", "the arguments are not a JSON object")
    else:
        try:
            result = run_tool(attached.node, call.arguments)
        except NodeError as exc:
            error = exc
        else:
            entry["result"] = result
            record.append(entry)
            return ToolResult(call.id, call.name, _tool_text(result))
    entry["error"] = {"code": error.code, "message": error.message}
    record.append(entry)
    return ToolResult(call.id, call.name, f"Error {error.code}: {error.message}", is_error=True)


# -- memory --------------------------------------------------------------------------------------


def _attached_parameters(ctx: NodeContext, node: NodeData) -> Any:
    return ctx.evaluate(dict(node.parameters), node.id)


def _invalid_attachment(node: NodeData, exc: ValidationError) -> NodeError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'parameters'}: {e['msg']}" for e in exc.errors()
    )
    return NodeError(
        "VALIDATION_ERROR",
        f"attached memory node {node.id!r}: {problems}",
        {"node_id": node.id},
    )


def _memory(ctx: NodeContext) -> _MemoryContext:
    nodes = [n for n in ctx.attachments.get("ai_memory", []) if not n.disabled]
    result = _MemoryContext()
    if not nodes:
        return result
    # Imported here, not at the top: importing the memory module registers its nodes, and the
    # catalogue lists subtypes in the order their modules load (MEMORY after AI_AGENT).
    from flowlane.nodes.memory import ConversationParameters, KeyValueParameters

    memory = ctx.services.memory(ctx.owner, ctx.workflow_id)
    for node in nodes:
        raw = _attached_parameters(ctx, node)
        if node.type == NodeType.MEMORY and node.subtype == "CONVERSATION":
            if result.conversation is not None:
                raise NodeError(
                    "VALIDATION_ERROR",
                    "attach at most one MEMORY/CONVERSATION node on ai_memory",
                    {"node_id": node.id},
                )
            try:
                conv = ConversationParameters.model_validate({**raw, "operation": "read"})
            except ValidationError as exc:
                raise _invalid_attachment(node, exc) from None
            result.conversation = _Conversation(
                memory, conv.scope, conv.conversation(ctx.workflow_id), conv.max_messages
            )
            stored = memory.read_messages(
                conv.scope, result.conversation.conversation_id, conv.max_messages
            )
            result.history, notes = _history(stored)
            result.system_notes.extend(notes)
        elif node.type == NodeType.MEMORY and node.subtype == "KEY_VALUE":
            try:
                kv = KeyValueParameters.model_validate({**raw, "operation": "get"})
            except ValidationError as exc:
                raise _invalid_attachment(node, exc) from None
            value = memory.get(kv.scope, kv.key)
            if value is not None:
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                result.system_notes.append(f"Remembered {kv.key}: {shown}")
        else:
            raise NodeError(
                "VALIDATION_ERROR",
                f"node {node.id!r} ({node.type.value}/{node.subtype}) cannot be attached on "
                "ai_memory; attach a MEMORY/CONVERSATION or MEMORY/KEY_VALUE node",
                {"node_id": node.id},
            )
    return result


def _history(stored: list[Any]) -> tuple[list[ChatMessage], list[str]]:
    """Stored `{role, content}` messages as chat turns, and the system ones as notes."""
    history: list[ChatMessage] = []
    notes: list[str] = []
    for message in stored:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            continue
        role, content = message.get("role"), message["content"]
        if role == "system":
            notes.append(content)
        elif role == "user" or (role == "assistant" and history):
            # Dropping leading assistant turns: providers expect history to start with a user.
            history.append(ChatMessage(role, content))
    return history, notes


# -- the conversation ------------------------------------------------------------------------------


def _prompt(prompt: Any, node_input: Any) -> tuple[str, Any]:
    """The prompt as text, and the data it is about (for the offline provider)."""
    value = node_input if prompt is None else prompt
    if value is None:
        raise NodeError(
            "VALIDATION_ERROR",
            "prompt is empty and the node has no input to use instead",
            {"parameter": "prompt"},
        )
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if not text.strip():
        raise NodeError("VALIDATION_ERROR", "prompt is empty", {"parameter": "prompt"})
    data = value if not isinstance(value, str) else node_input
    return text, data


def parse_json_answer(text: str) -> tuple[bool, Any, str]:
    """(ok, value, error): the answer as JSON, accepting a code fence or prose around an object."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
    try:
        return True, json.loads(candidate), ""
    except ValueError as exc:
        error = str(exc)
    start, end = candidate.find("{"), candidate.rfind("}")
    if 0 <= start < end:
        try:
            return True, json.loads(candidate[start : end + 1]), ""
        except ValueError:
            pass
    return False, None, error


def _converse(
    provider: ChatProvider,
    request: ChatRequest,
    tools: dict[str, _AttachedTool],
    ctx: NodeContext,
    params: ChatParameters,
) -> _Outcome:
    messages = list(request.messages)
    usage = Usage()
    calls: list[dict[str, Any]] = []
    repaired = False
    iteration = 0
    while True:
        iteration += 1
        response = provider.chat(replace(request, messages=tuple(messages)))
        usage = usage + response.usage
        if response.tool_calls:
            if iteration >= params.max_iterations:
                raise NodeError(
                    "AGENT_ITERATIONS_EXCEEDED",
                    f"the model still asked for tools after {iteration} calls "
                    f"(max_iterations {params.max_iterations})",
                    {
                        "max_iterations": params.max_iterations,
                        "requested": [c.name for c in response.tool_calls],
                        "tool_calls": calls,
                    },
                )
            messages.append(ChatMessage("assistant", response.text, response.tool_calls))
            results = tuple(
                _run_tool(ctx.run_tool, tools, call, calls) for call in response.tool_calls
            )
            messages.append(ChatMessage("tool", tool_results=results))
            continue
        if params.output_format != "json":
            return _Outcome(response.text, None, response.model, usage, calls)
        ok, data, error = parse_json_answer(response.text)
        if ok:
            return _Outcome(response.text, data, response.model, usage, calls)
        if repaired:
            failure = upstream_error(
                provider.name, None, f"{provider.name} did not answer with valid JSON: {error}"
            )
            failure.details["text"] = response.text[:1000]
            raise failure
        repaired = True
        messages.append(ChatMessage("assistant", response.text))
        messages.append(ChatMessage("user", REPAIR_PROMPT.format(error=error)))
