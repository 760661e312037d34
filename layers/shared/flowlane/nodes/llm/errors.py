"""How an SDK error reads in a node error: the provider's own message, not the SDK's wrapper."""

from __future__ import annotations

from collections.abc import Mapping


def provider_message(body: object, fallback: str) -> str:
    """The `message` of a provider's error body (`{"message": ...}`, or `{"error": {...}}` as
    older SDK versions pass it), else the fallback."""
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
        inner = body.get("error")
        if isinstance(inner, Mapping):
            message = inner.get("message")
            if isinstance(message, str) and message:
                return message
    return fallback
