"""LLM providers for AI nodes: one chat interface (`chat.py`), three providers.

- `openai`: the official SDK, chat completions.
- `anthropic`: the official SDK, messages.
- `offline`: deterministic, no network, labelled `[offline]` (see `offline.py`).

Choosing: the node's `provider`, else `IntegrationSettings.default_llm_provider`; `auto` means
openai when an OpenAI key is available, else anthropic when an Anthropic key is, else offline.
A key is available when the node names a credential for that provider or the setting is set.

Importing this package imports no SDK: each provider imports its SDK on its first request
(DESIGN.md decision 7), so a node runner that never runs an AI node never pays for one.
The SDKs retry a failed request `SDK_MAX_RETRIES` times (429, 5xx, timeouts, dropped
connections), once rather than the SDK default of twice because the node's `retry_policy`
retries too, and every SDK retry multiplies the time a node can take.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from flowlane.nodes.llm.chat import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    ChatResponse,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from flowlane.config import IntegrationSettings

__all__ = [
    "PROVIDERS",
    "SDK_MAX_RETRIES",
    "ChatMessage",
    "ChatProvider",
    "ChatRequest",
    "ChatResponse",
    "ProviderName",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "choose_provider",
    "default_model",
    "open_provider",
]

ProviderName = Literal["openai", "anthropic", "offline"]
PROVIDERS: tuple[ProviderName, ...] = ("openai", "anthropic", "offline")
SDK_MAX_RETRIES = 1


def choose_provider(
    requested: str | None, settings: IntegrationSettings, has_key: Callable[[str], bool]
) -> ProviderName:
    """The provider to use. `has_key(name)` says whether a key for `name` is available."""
    name = requested or settings.default_llm_provider
    if name == "auto":
        if has_key("openai"):
            return "openai"
        if has_key("anthropic"):
            return "anthropic"
        return "offline"
    for known in PROVIDERS:
        if name == known:
            return known
    raise ValueError(f"unknown LLM provider {name!r}; valid: auto, {', '.join(PROVIDERS)}")


def default_model(provider: ProviderName, settings: IntegrationSettings) -> str:
    if provider == "openai":
        return settings.openai_model
    if provider == "anthropic":
        return settings.anthropic_model
    from flowlane.nodes.llm.offline import MODEL

    return MODEL


def open_provider(
    provider: ProviderName,
    settings: IntegrationSettings,
    api_key: str | None,
    *,
    max_retries: int = SDK_MAX_RETRIES,
) -> ChatProvider:
    """A provider ready to chat. `api_key` is required for openai and anthropic (the caller
    resolves it: node credential first, then the setting)."""
    if provider == "offline":
        from flowlane.nodes.llm.offline import OfflineProvider

        return OfflineProvider()
    if not api_key:
        raise ValueError(f"{provider} needs an API key")
    timeout = settings.llm_timeout_seconds
    if provider == "openai":
        from flowlane.nodes.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(
            api_key=api_key,
            base_url=settings.openai_base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
    from flowlane.nodes.llm.anthropic_provider import AnthropicProvider

    return AnthropicProvider(
        api_key=api_key,
        base_url=settings.anthropic_base_url,
        timeout=timeout,
        max_retries=max_retries,
    )
