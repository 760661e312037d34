"""A local HTTP server that speaks the OpenAI chat completions API and the Anthropic messages API,
so AI node tests run the real SDKs end to end without a network.

    with FakeLLM() as llm:
        llm.script(Reply.tool_call("get_weather", {"city": "Paris"}), Reply.with_text("Sunny"))
        settings = IntegrationSettings(
            openai_api_key="sk-test", openai_base_url=llm.openai_base_url
        )
        ...
        assert llm.requests[1].json["messages"][-1]["role"] == "tool"

It listens on 127.0.0.1 on a free port. `POST /v1/chat/completions` (OpenAI; base URL
`{url}/v1`) and `POST /v1/messages` (Anthropic; base URL `{url}`) each take the next scripted
`Reply` and render it in that API's wire format; every request is recorded first. With nothing
scripted the server answers 500 "no scripted reply", so a test that calls more often than it
expects fails loudly.

Error replies carry `retry-after-ms: 1` so the SDKs' own retry (which honours it) does not slow
the tests down; a test still sees every retry in `requests`. A `delay` makes the reply wait
(interrupted when the server stops), for timeouts.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """One scripted answer, rendered for whichever API is called."""

    text: str = ""
    tool_calls: list[tuple[str, str, Any]] = field(default_factory=list)  # (id, name, arguments)
    status: int = 200
    error_message: str = ""
    delay: float = 0.0
    input_tokens: int = 11
    output_tokens: int = 7
    model: str | None = None  # default: the model the request asked for

    @classmethod
    def with_text(cls, text: str, **kwargs: Any) -> Reply:
        return cls(text=text, **kwargs)

    @classmethod
    def tool_call(cls, name: str, arguments: Any, *, call_id: str = "call_1", **kw: Any) -> Reply:
        """A call of one tool. `arguments` is a dict, or (OpenAI only) raw argument text."""
        return cls(tool_calls=[(call_id, name, arguments)], **kw)

    @classmethod
    def error(cls, status: int, message: str = "scripted failure") -> Reply:
        return cls(status=status, error_message=message)


def _openai_body(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for call_id, name, args in reply.tool_calls
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": reply.model or model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    }


def _anthropic_body(reply: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    content.extend(
        {"type": "tool_use", "id": call_id, "name": name, "input": args}
        for call_id, name, args in reply.tool_calls
    )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": reply.model or model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


def _error_body(api: str, reply: Reply) -> dict[str, Any]:
    if api == "openai":
        return {"error": {"message": reply.error_message, "type": "fake_error", "code": None}}
    return {"type": "error", "error": {"type": "fake_error", "message": reply.error_message}}


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        with self._lock:
            return len(self._replies)

    def _next(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            return self._replies.popleft() if self._replies else None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "the server is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, each reply would wait ~40 ms
            # for the client's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorded = RecordedRequest(self.path.split("?")[0], headers, body)
                if recorded.path == "/v1/chat/completions":
                    api = "openai"
                elif recorded.path == "/v1/messages":
                    api = "anthropic"
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = fake._next(recorded)
                if reply is None:
                    reply = Reply.error(500, "fake LLM server: no scripted reply left")
                if reply.delay and fake._stopping.wait(reply.delay):
                    return
                if reply.status != 200:
                    self._send(reply.status, _error_body(api, reply), {"retry-after-ms": "1"})
                    return
                model = str((recorded.json or {}).get("model", "fake-model"))
                rendered = (
                    _openai_body(reply, model) if api == "openai" else _anthropic_body(reply, model)
                )
                self._send(200, rendered)

            def _send(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (extra or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (a timeout test): nothing left to answer.
                    pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        # A short poll interval: stopping waits for the loop to notice, once per test.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
