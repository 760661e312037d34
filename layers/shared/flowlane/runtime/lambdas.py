"""Lambda invocations on the embedded runtime, dispatched to the project's own handlers.

moto's dockerless Lambda (`moto.awslambda_simple`) only echoes its input. This is the one small,
documented adapter around it (DESIGN.md decision 5): while installed, an invocation of a function
whose name is in the registry runs that handler in process, with the event the caller sent and a
Lambda-like context, and answers as Lambda does (a JSON payload, or `X-Amz-Function-Error` with
`errorType`/`errorMessage` when the handler raises). `InvocationType=Event` runs it on a thread.
Everything else about Lambda (create_function, permissions, the Step Functions integration)
stays moto's.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowlane.observability import logger

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The attributes Powertools and our handlers read from a Lambda context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 900.0
    started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"embedded/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


class HandlerRegistry:
    """Function name -> handler. Handlers are loaded on first use (cold start, as on Lambda)."""

    def __init__(self) -> None:
        self._loaders: dict[str, Callable[[], Handler]] = {}
        self._loaded: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def register(self, function_name: str, handler: Handler) -> None:
        self._loaders[function_name] = lambda: handler

    def register_file(self, function_name: str, path: Path, attribute: str = "handler") -> None:
        self._loaders[function_name] = lambda: _load_handler(path, attribute)

    def names(self) -> list[str]:
        return sorted(self._loaders)

    def resolve(self, function_name: str) -> Handler | None:
        with self._lock:
            if function_name not in self._loaded:
                loader = self._loaders.get(function_name)
                if loader is None:
                    return None
                self._loaded[function_name] = loader()
            return self._loaded[function_name]

    @classmethod
    def discover(cls, functions_dir: Path, prefix: str) -> HandlerRegistry:
        """Every `functions/<name>/handler.py`, as function `<prefix><name with dashes>`."""
        registry = cls()
        if functions_dir.is_dir():
            for handler_file in sorted(functions_dir.glob("*/handler.py")):
                name = prefix + handler_file.parent.name.replace("_", "-")
                registry.register_file(name, handler_file)
        return registry


def _load_handler(path: Path, attribute: str) -> Handler:
    """A fresh module per registry: each embedded runtime is a new deployment whose functions
    start cold (their settings and caches are their own), as on Lambda."""
    module_name = f"flowlane_functions.{path.parent.name}.handler"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a handler from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler


def _function_error(response_headers: dict[str, str], exc: BaseException) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps(
        {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    ).encode()


class LambdaDispatcher:
    """Installs itself over `LambdaSimpleBackend.invoke` while the embedded runtime runs."""

    def __init__(self, registry: HandlerRegistry) -> None:
        self.registry = registry
        self._original: Any = None

    def install(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        if self._original is not None:
            return
        self._original = LambdaSimpleBackend.invoke
        dispatcher = self

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes | None:
            fn = backend.get_function(function_name, qualifier)
            return dispatcher._invoke(
                fn.function_name, fn.function_arn, body, headers, response_headers
            )

        setattr(LambdaSimpleBackend, "invoke", invoke)  # noqa: B010 - the documented adapter

    def uninstall(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        if self._original is not None:
            setattr(LambdaSimpleBackend, "invoke", self._original)  # noqa: B010
            self._original = None

    def _invoke(
        self, name: str, arn: str, body: Any, headers: Any, response_headers: dict[str, str]
    ) -> bytes:
        handler = self.registry.resolve(name)
        if handler is None:
            return _function_error(
                response_headers,
                LookupError(
                    f"no handler is registered for function {name!r} on the embedded "
                    f"runtime; registered: {self.registry.names()}"
                ),
            )
        raw = body.decode() if isinstance(body, bytes) else body
        event = json.loads(raw) if raw else {}
        context = LambdaContext(function_name=name, invoked_function_arn=arn)
        if (headers.get("X-Amz-Invocation-Type") or "") == "Event":
            thread = threading.Thread(
                target=self._run_async, args=(name, handler, event, context), daemon=True
            )
            thread.start()
            return b""
        try:
            result = handler(event, context)
        except Exception as exc:
            # As Lambda does: the caller gets the error as the payload, marked as a function error.
            if getattr(exc, "flow_control", False):
                # The node runner's answer to Step Functions (retry, error port, stop).
                logger.info("embedded lambda answered %s", type(exc).__name__)
            else:
                logger.exception("embedded lambda failed", extra={"function": name})
            return _function_error(response_headers, exc)
        return json.dumps(result).encode()

    @staticmethod
    def _run_async(name: str, handler: Handler, event: Any, context: LambdaContext) -> None:
        try:
            handler(event, context)
        except Exception:
            # An asynchronous invocation has nobody to answer; Lambda would log it too.
            logger.exception("embedded async lambda failed", extra={"function": name})
