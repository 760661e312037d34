"""Anthropic messages through the official SDK.

Tools are offered as `tools=[{name, description, input_schema}]`; the model's `tool_use` blocks
come back as tool calls and results go back as `tool_result` blocks in a user turn. The messages
API has no JSON mode without a schema, so JSON output relies on the system prompt's instruction
(the agent adds it) and the agent's lenient parse. Consecutive turns of one role are merged into
one message, which the API expects to alternate.

`temperature` goes in `extra_body`: the SDK's typed signature has dropped it in recent versions
while the API still accepts it, and `extra_body` works with every version. Anthropic accepts
0..1, so a larger value (valid for OpenAI) is refused here before any request is sent.

The SDK (~1.1-1.6 s to import) is imported when the first request is made, never at module import
(DESIGN.md decision 7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowlane.nodes.base import NodeError, upstream_error
from flowlane.nodes.llm.chat import ChatRequest, ChatResponse, SdkProvider, ToolCall, Usage
from flowlane.nodes.llm.errors import provider_message

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message

SERVICE = "anthropic"
MAX_TEMPERATURE = 1.0


class AnthropicProvider(SdkProvider["anthropic.Anthropic"]):
    name = SERVICE

    def _create(self, **options: Any) -> anthropic.Anthropic:
        import anthropic

        return anthropic.Anthropic(**options)

    def chat(self, request: ChatRequest) -> ChatResponse:
        if request.temperature is not None and request.temperature > MAX_TEMPERATURE:
            raise NodeError(
                "VALIDATION_ERROR",
                f"anthropic accepts a temperature from 0 to {MAX_TEMPERATURE:g}, "
                f"not {request.temperature:g}",
                {"parameter": "temperature"},
            )
        import anthropic

        kwargs: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": to_anthropic_messages(request),
        }
        if request.system:
            kwargs["system"] = request.system
        if request.tools:
            kwargs["tools"] = [
                {
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                }
                for tool in request.tools
            ]
        if request.force_tool:
            kwargs["tool_choice"] = {"type": "tool", "name": request.force_tool}
        if request.temperature is not None:
            kwargs["extra_body"] = {"temperature": request.temperature}
        client = self._sdk()
        try:
            message: Message = client.messages.create(**kwargs)
        # APITimeoutError is a kind of APIConnectionError: it goes first.
        except anthropic.APITimeoutError:
            raise NodeError(
                "TIMEOUT",
                f"anthropic did not answer within {self._timeout:g} s",
                {"service": SERVICE, "timeout_seconds": self._timeout},
            ) from None
        except anthropic.APIConnectionError as exc:
            raise upstream_error(SERVICE, None, f"anthropic could not be reached: {exc}") from None
        except anthropic.APIStatusError as exc:
            text = provider_message(exc.body, exc.message)
            raise upstream_error(
                SERVICE, exc.status_code, f"anthropic answered {exc.status_code}: {text}"
            ) from None
        except anthropic.APIResponseValidationError as exc:
            raise upstream_error(
                SERVICE,
                exc.status_code,
                f"anthropic sent a response we cannot read: {exc.message}",
            ) from None
        return from_anthropic_message(message, request.model)


def to_anthropic_messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        blocks: list[dict[str, Any]]
        if message.role == "user":
            role, blocks = "user", [{"type": "text", "text": message.content}]
        elif message.role == "assistant":
            role = "assistant"
            # The API refuses empty text blocks.
            blocks = [{"type": "text", "text": message.content}] if message.content else []
            blocks.extend(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                for call in message.tool_calls
            )
        else:
            role = "user"
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": result.call_id,
                    "content": result.content,
                    "is_error": result.is_error,
                }
                for result in message.tool_results
            ]
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    return messages


def from_anthropic_message(message: Message, requested_model: str) -> ChatResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            arguments = block.input if isinstance(block.input, dict) else {}
            calls.append(ToolCall(block.id, block.name, arguments))
        # Other blocks (thinking, server tools) carry nothing this node returns.
    usage = message.usage
    return ChatResponse(
        text="".join(texts),
        model=message.model or requested_model,
        tool_calls=tuple(calls),
        usage=Usage(usage.input_tokens or 0, usage.output_tokens or 0),
        stop_reason=message.stop_reason,
    )
