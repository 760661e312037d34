"""LLM provider keys from one Secrets Manager secret (FLOWLANE_LLM_KEYS_SECRET).

On AWS the CDK app creates the secret empty ("{}") and the operator puts the keys in it
(`{"openai_api_key": "...", "anthropic_api_key": "..."}`), so keys never sit in a function's
configuration. A function reads the secret when it first needs integration settings and again
after `ttl_seconds`, so a key put after a deploy reaches warm functions within minutes. A key
set in the environment (FLOWLANE_OPENAI_API_KEY, ...) wins over the secret's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowlane.config import IntegrationSettings
from flowlane.observability import logger

KEY_FIELDS = ("openai_api_key", "anthropic_api_key")


class LlmKeySource:
    def __init__(
        self,
        client_factory: Callable[[], Any],
        secret_id: str,
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_factory = client_factory
        self.secret_id = secret_id
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, str] = {}
        self._read_at: float | None = None

    def apply(self, settings: IntegrationSettings) -> IntegrationSettings:
        """`settings` with the secret's keys filled in where the environment set none."""
        keys = self._current()
        missing = {f: keys[f] for f in KEY_FIELDS if f in keys and getattr(settings, f) is None}
        return settings.model_copy(update=missing) if missing else settings

    def _current(self) -> dict[str, str]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self.ttl_seconds:
                # A failed read is retried after the same delay, not on every request, and
                # keeps the keys the last good read gave (a passing outage is no outage).
                self._read_at = now
                keys = self._read()
                if keys is not None:
                    self._keys = keys
            return dict(self._keys)

    def _read(self) -> dict[str, str] | None:
        """The secret's keys; None when it could not be read or is not a JSON object."""
        try:
            response = self._client_factory().get_secret_value(SecretId=self.secret_id)
        except (ClientError, BotoCoreError) as exc:
            # Not fatal for what needs no model (Slack, HTTP, the offline planner); AI nodes
            # then report that no key is configured, and this line says why.
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else ""
            logger.error(
                "could not read the LLM keys secret",
                extra={"secret_id": self.secret_id, "aws_code": code or type(exc).__name__},
            )
            return None
        try:
            value = json.loads(response.get("SecretString") or "{}")
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            logger.error(
                "the LLM keys secret is not a JSON object",
                extra={"secret_id": self.secret_id, "expected": list(KEY_FIELDS)},
            )
            return None
        # Keys pasted with a trailing newline would fail every request as a connection error.
        return {
            f: v.strip() for f in KEY_FIELDS if isinstance(v := value.get(f), str) and v.strip()
        }
