"""Server-sent events: the wire format and the streaming response.

Each event is `id:` (when the stream is resumable) and one `data:` line of JSON; no `event:`
field, so a browser's `EventSource.onmessage` receives every event and reads `type` from the
data (the seeds' event shapes). `retry:` tells the client how soon to reconnect after the
server ends a response (API Gateway cuts a request at about 29 s, DESIGN.md decision 6).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from starlette.responses import StreamingResponse

RECONNECT_MILLISECONDS = 1000


def sse(data: dict[str, Any], *, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def comment(text: str) -> str:
    """A line clients ignore: keeps a quiet connection alive through proxies."""
    return f": {text}\n\n"


def event_stream(chunks: Iterable[str]) -> StreamingResponse:
    def body() -> Iterator[str]:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        yield from chunks

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
