"""OpenAI chat completions through the official SDK.

Tools are offered as `tools=[{"type": "function", ...}]`; JSON output uses
`response_format={"type": "json_object"}` (the caller's system prompt mentions JSON, which that
mode requires). The token limit is sent as `max_completion_tokens`, the current name (reasoning
models refuse `max_tokens`).

The SDK (~0.4-0.6 s to import) is imported when the first request is made, never at module import
(DESIGN.md decision 7).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flowlane.nodes.base import NodeError, upstream_error
from flowlane.nodes.llm.chat import ChatRequest, ChatResponse, SdkProvider, ToolCall, Usage
from flowlane.nodes.llm.errors import provider_message

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletion

SERVICE = "openai"


class OpenAIProvider(SdkProvider["openai.OpenAI"]):
    name = SERVICE

    def _create(self, **options: Any) -> openai.OpenAI:
        import openai

        return openai.OpenAI(**options)

    def chat(self, request: ChatRequest) -> ChatResponse:
        import openai

        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": to_openai_messages(request),
            "max_completion_tokens": request.max_tokens,
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    },
                }
                for tool in request.tools
            ]
        if request.force_tool:
            kwargs["tool_choice"] = {"type": "function", "function": {"name": request.force_tool}}
        if request.json_output:
            kwargs["response_format"] = {"type": "json_object"}
        client = self._sdk()
        try:
            completion: ChatCompletion = client.chat.completions.create(**kwargs)
        # APITimeoutError is a kind of APIConnectionError: it goes first.
        except openai.APITimeoutError:
            raise NodeError(
                "TIMEOUT",
                f"openai did not answer within {self._timeout:g} s",
                {"service": SERVICE, "timeout_seconds": self._timeout},
            ) from None
        except openai.APIConnectionError as exc:
            raise upstream_error(SERVICE, None, f"openai could not be reached: {exc}") from None
        except openai.APIStatusError as exc:
            message = provider_message(exc.body, exc.message)
            raise upstream_error(
                SERVICE, exc.status_code, f"openai answered {exc.status_code}: {message}"
            ) from None
        except openai.APIResponseValidationError as exc:
            raise upstream_error(
                SERVICE, exc.status_code, f"openai sent a response we cannot read: {exc.message}"
            ) from None
        return from_openai_completion(completion, request.model)


def to_openai_messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            messages.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.content or None}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.name,
                            # Echo what the model sent, even when it was not valid JSON.
                            "arguments": call.invalid_arguments
                            if call.invalid_arguments is not None
                            else json.dumps(call.arguments, ensure_ascii=False),
                        },
                    }
                    for call in message.tool_calls
                ]
            messages.append(entry)
        else:
            messages.extend(
                {"role": "tool", "tool_call_id": result.call_id, "content": result.content}
                for result in message.tool_results
            )
    return messages


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """The arguments object, or ({}, raw) when the model's text is not a JSON object."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError:
        return {}, raw
    if not isinstance(value, dict):
        return {}, raw
    return value, None


def from_openai_completion(completion: ChatCompletion, requested_model: str) -> ChatResponse:
    choices = completion.choices or []
    if not choices:
        raise upstream_error(SERVICE, None, "openai answered with no choices")
    choice = choices[0]
    message = choice.message
    calls: list[ToolCall] = []
    for call in message.tool_calls or []:
        # Only function tools are ever offered; a custom-tool call cannot answer them.
        if call.type != "function":
            continue
        arguments, invalid = parse_arguments(call.function.arguments or "")
        calls.append(ToolCall(call.id, call.function.name, arguments, invalid))
    usage = completion.usage
    return ChatResponse(
        text=message.content or getattr(message, "refusal", None) or "",
        model=completion.model or requested_model,
        tool_calls=tuple(calls),
        usage=Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else Usage(),
        stop_reason=choice.finish_reason,
    )
