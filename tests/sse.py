"""Reading server-sent events in tests, as an EventSource does."""

from __future__ import annotations

import json
from typing import Any


def events_of(text: str) -> list[dict[str, Any]]:
    """An SSE body as [{id?, data}]; comments and `retry:` lines skipped."""
    parsed: list[dict[str, Any]] = []
    for block in text.strip().split("\n\n"):
        event: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
        if "data" in event:
            parsed.append(event)
    return parsed
