"""The boto3 client factory: one place that knows where AWS is.

- `aws`: the normal AWS configuration (Lambda's role, a profile, ...).
- `AWS_ENDPOINT_URL` set: every client uses that endpoint (LocalStack, a moto server).
- `embedded`: moto in process (`flowlane.runtime.embedded`), with fixed fake credentials so a
  developer's real ones can never be used by accident.

boto3 is imported on first use, and clients are created once per service and shared
(boto3 clients are thread-safe).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flowlane.config import AwsSettings

# Called after every AWS call made by an embedded-runtime client; the embedded runtime uses it
# to learn that its state changed and must be written to disk.
AfterCallListener = Callable[[str, str], None]
_after_call_listeners: list[AfterCallListener] = []


def add_after_call_listener(listener: AfterCallListener) -> None:
    _after_call_listeners.append(listener)


def remove_after_call_listener(listener: AfterCallListener) -> None:
    if listener in _after_call_listeners:
        _after_call_listeners.remove(listener)


def _after_call(model: Any = None, **_: Any) -> None:
    if model is None:
        return
    service = model.service_model.service_name
    for listener in list(_after_call_listeners):
        listener(service, model.name)


# One boto3 session per process: a session loads botocore's endpoint and service data once
# (~0.1 s a service), and creating clients from it is not thread-safe, hence the lock.
_session: Any = None
_session_lock = threading.Lock()


def _shared_session() -> Any:
    global _session
    if _session is None:
        import boto3

        _session = boto3.session.Session()
    return _session


class AwsClients:
    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        with _session_lock:
            if service not in self._clients:
                self._clients[service] = self._create(service)
            return self._clients[service]

    def _create(self, service: str) -> Any:
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=3,
            read_timeout=30,
        )
        kwargs: dict[str, Any] = {"region_name": self.settings.region, "config": config}
        if self.settings.runtime == "embedded":
            kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")
        elif self.settings.endpoint_url:
            kwargs["endpoint_url"] = self.settings.endpoint_url
        client = _shared_session().client(service, **kwargs)
        if self.settings.runtime == "embedded":
            client.meta.events.register("after-call", _after_call)
        return client

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")

    @property
    def ses(self) -> Any:
        return self.client("ses")

    @property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")
