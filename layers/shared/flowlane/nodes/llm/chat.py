"""The provider-neutral chat interface every LLM provider implements.

A `ChatRequest` is one call to a chat model: a system prompt, the conversation so far (user and
assistant turns, the assistant's tool calls and the results fed back), the tools on offer and the
sampling options. A `ChatResponse` is the model's answer: text and/or tool calls, token usage,
the model that answered and why it stopped. Providers translate both to and from their own wire
formats; nothing above them knows an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

Role = Literal["user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call. `input_schema` is a JSON Schema object."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asked to run a tool. `invalid_arguments` holds the raw text when the model's
    arguments were not a JSON object (the call is then answered with an error, not run)."""

    id: str
    name: str
    arguments: dict[str, Any]
    invalid_arguments: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """What running a tool gave, as text for the model; `is_error` when the tool failed."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class ChatMessage:
    """One turn. `user`: content. `assistant`: content and/or tool_calls. `tool`: tool_results
    (the answers to the previous assistant turn's calls, all of them in one message)."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    system: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    # None leaves the provider's default.
    temperature: float | None = None
    max_tokens: int = 1024
    # Ask for a single JSON object (OpenAI's json_object mode; an instruction elsewhere).
    json_output: bool = False
    # Make the model call this tool (structured output through tool use); None lets it choose.
    force_tool: str | None = None
    # The structured data the prompt is about (the node's input). Only the offline provider
    # reads it, to answer from the data itself; real models see the prompt text only.
    context_data: Any = None


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


@dataclass(frozen=True)
class ChatResponse:
    text: str
    model: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    # The provider's own words: stop/end_turn, tool_calls/tool_use, length/max_tokens, ...
    stop_reason: str | None = None


class ChatProvider(Protocol):
    """One provider, with its credentials, for the length of one node run."""

    @property
    def name(self) -> str: ...

    def chat(self, request: ChatRequest) -> ChatResponse:
        """The model's answer. Raises NodeError: UPSTREAM_ERROR (details.status when the
        provider answered with an error status), TIMEOUT, VALIDATION_ERROR."""
        ...

    def close(self) -> None:
        """Release the HTTP connections."""
        ...


ClientT = TypeVar("ClientT")


class SdkProvider(Generic[ClientT]):
    """A provider backed by an official SDK client, created (and the SDK imported) on the first
    request: the import costs 0.4-1.6 s, which a node runner that runs no AI node never pays."""

    name: str

    def __init__(
        self, *, api_key: str, base_url: str | None, timeout: float, max_retries: int
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._max_retries = max_retries
        self._client: ClientT | None = None

    def _create(self, **options: Any) -> ClientT:
        raise NotImplementedError

    def _sdk(self) -> ClientT:
        if self._client is None:
            self._client = self._create(
                api_key=self._api_key,
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=self._max_retries,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[attr-defined]
            self._client = None
