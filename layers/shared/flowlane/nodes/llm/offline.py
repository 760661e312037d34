"""The offline provider: deterministic answers computed from the data, with no model and no network.

It is what runs when no API key is configured (CONTRACT.md section 3), so a workflow can be built,
tested and demonstrated end to end without an account. It never pretends to be a model: its text
starts with `[offline]`, its model is `offline`, and a JSON answer carries `"offline": true`.
Usage is reported as zero tokens, because none were spent.

What it answers, in order:
1. After a tool ran (the last turn holds tool results): the tool's result (or error) summarised.
2. When tools are offered and the prompt clearly asks for one (the tool's name, or at least two
   of the words of its description, appear in the prompt): one call of the best-matching tool,
   with the arguments taken from the keys of the input object that the tool's `input_schema`
   declares as properties.
3. With JSON output: `{"offline": true, "summary": ..., "input": ...}` built from the input.
4. Else text: an extractive summary of the data (the node's input, or the prompt when there is
   no input): the first sentences of a text, the count and first labels of a list, the fields of
   an object. Summarise-like prompts get "Summary: ...", others say plainly that no model ran.

Same request, same answer: nothing here reads the clock or a random source.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flowlane.nodes.llm.chat import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ToolCall,
    ToolResult,
    ToolSpec,
)

SERVICE = "offline"
MODEL = "offline"
LABEL = "[offline]"

_SUMMARY_WORDS = re.compile(
    r"\b(summar\w*|tl;?dr|digest|overview|recap|brief\w*|condense\w*|key points|gist)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")
# Words of a tool description too common to say that a prompt asks for that tool (only words of
# four letters or more are compared at all).
_STOPWORDS = frozenset(
    {"about", "from", "gets", "have", "into", "that", "their", "them", "then", "there", "this"}
    | {"uses", "used", "using", "with", "will", "when", "what", "which", "your", "tool"}
)
_LABEL_KEYS = ("title", "name", "subject", "summary", "text", "message", "id")
_MAX_LABELS = 5
_MAX_FIELDS = 6
_MAX_SENTENCES = 2
_MAX_CHARS = 300


class OfflineProvider:
    name = SERVICE

    def close(self) -> None:
        """Nothing to release."""

    def chat(self, request: ChatRequest) -> ChatResponse:
        last = request.messages[-1] if request.messages else ChatMessage("user")
        if last.role == "tool" and last.tool_results:
            return self._after_tools(request, last.tool_results)
        prompt = last.content
        data = request.context_data if request.context_data is not None else prompt
        if request.tools and not _tools_already_called(request.messages):
            tool = choose_tool(prompt, request.tools)
            if tool is not None:
                call = ToolCall("offline-call-1", tool.name, tool_arguments(tool, data))
                return ChatResponse(
                    text="", model=MODEL, tool_calls=(call,), stop_reason="tool_use"
                )
        summary = summarise(data)
        if request.json_output:
            text = _json({"offline": True, "summary": summary, "input": data})
        elif _SUMMARY_WORDS.search(prompt):
            text = f"{LABEL} Summary: {summary}"
        else:
            text = f"{LABEL} No language model is configured; deterministic reply. Input: {summary}"
        return ChatResponse(text=text, model=MODEL, stop_reason="end_turn")

    def _after_tools(self, request: ChatRequest, results: tuple[ToolResult, ...]) -> ChatResponse:
        if request.json_output:
            body = {
                "offline": True,
                "tools": [
                    {"tool": r.name, "error" if r.is_error else "result": _maybe_json(r.content)}
                    for r in results
                ],
            }
            return ChatResponse(text=_json(body), model=MODEL, stop_reason="end_turn")
        parts = [
            f"{r.name} failed: {_first_sentences(r.content)}"
            if r.is_error
            else f"{r.name} returned: {summarise(_maybe_json(r.content))}"
            for r in results
        ]
        return ChatResponse(text=f"{LABEL} {' '.join(parts)}", model=MODEL, stop_reason="end_turn")


def _tools_already_called(messages: tuple[ChatMessage, ...]) -> bool:
    # Only the turns after the last user prompt count: history from memory holds none anyway.
    for message in reversed(messages):
        if message.role == "assistant" and message.tool_calls:
            return True
        if message.role == "user":
            return False
    return False


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def choose_tool(prompt: str, tools: tuple[ToolSpec, ...]) -> ToolSpec | None:
    """The tool the prompt clearly asks for, if any (the first of equals)."""
    lowered = prompt.lower()
    prompt_words = _words(prompt)
    best: tuple[int, ToolSpec] | None = None
    for tool in tools:
        spaced = re.sub(r"[_\-]+", " ", tool.name.lower()).strip()
        if tool.name.lower() in lowered or (spaced and spaced in lowered):
            score = 1_000
        else:
            described = {w for w in _words(tool.description) if len(w) >= 4} - _STOPWORDS
            score = len(described & prompt_words)
            if score < 2:
                continue
        if best is None or score > best[0]:
            best = (score, tool)
    return None if best is None else best[1]


def tool_arguments(tool: ToolSpec, data: Any) -> dict[str, Any]:
    """The input object's values for the properties the tool declares."""
    properties = tool.input_schema.get("properties")
    if not isinstance(data, dict) or not isinstance(properties, dict):
        return {}
    return {key: data[key] for key in properties if key in data}


def summarise(data: Any) -> str:
    """An extractive, deterministic summary of a JSON value."""
    if isinstance(data, str):
        return _first_sentences(data) or "(empty text)"
    if isinstance(data, list):
        return _list_summary(data)
    if isinstance(data, dict):
        if not data:
            return "an empty object"
        return f"{_count(len(data), 'field')}. {_fields(data, 0)}"
    if data is None:
        return "(no input)"
    return _json(data)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fields(data: dict[str, Any], depth: int) -> str:
    parts = [f"{key}: {_inline(value, depth + 1)}" for key, value in data.items()]
    shown = parts[:_MAX_FIELDS]
    more = len(parts) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def _list_summary(items: list[Any]) -> str:
    if not items:
        return "0 items"
    labels = [_label(item) for item in items[:_MAX_LABELS]]
    more = len(items) - len(labels)
    return (
        f"{_count(len(items), 'item')}: "
        + "; ".join(labels)
        + (f"; and {more} more" if more else "")
    )


def _inline(value: Any, depth: int) -> str:
    if isinstance(value, list):
        return _list_summary(value) if depth <= 1 else _count(len(value), "item")
    if isinstance(value, dict):
        # Nested objects show their fields one level down (an HTTP result's body, say).
        if value and depth <= 1:
            return "{" + _fields(value, depth) + "}"
        return _count(len(value), "field")
    if isinstance(value, str):
        return _first_sentences(value, 1)
    return _json(value)


def _label(item: Any) -> str:
    if isinstance(item, dict):
        for key in _LABEL_KEYS:
            value = item.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return _first_sentences(str(value), 1)
        return "{" + _fields(item, 1) + "}"
    if isinstance(item, str):
        return _first_sentences(item, 1)
    return _json(item)


def _first_sentences(text: str, count: int = _MAX_SENTENCES) -> str:
    flat = " ".join(text.split())
    picked = " ".join(_SENTENCE_END.split(flat)[:count])
    return picked if len(picked) <= _MAX_CHARS else picked[: _MAX_CHARS - 1] + "…"


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
