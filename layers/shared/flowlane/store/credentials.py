"""Named credentials of one owner, in AWS Secrets Manager (CONTRACT.md section 3).

A credential `NAME` of owner `OWNER` is the secret `{prefix}{OWNER}/{NAME}`. Its value is a JSON
object (returned as a dict) or any other string (returned as is). Workflows hold only names
(`node.credentials`), never values.

Local fallback: when the secret does not exist, the environment variable
`FLOWLANE_CREDENTIAL_<NAME>` (the name upper-cased, every other character than A-Z and 0-9 turned
into `_`) is used, parsed the same way. The environment is injected (`environ`), never read here:
the runtime decides whether a deployment may use it.

Values are never logged, and never put in an error message or a node output: errors name the
credential only.

`get` is what nodes call and raises `NodeError` (CREDENTIAL_NOT_FOUND, UPSTREAM_ERROR) so the
node run records it; `put`, `delete` and `list_names` serve the CLI and routes and raise the API's
domain errors (`flowlane.errors`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowlane.errors import NotFound, UpstreamError, ValidationFailed
from flowlane.nodes.base import NodeError, upstream_error

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
ENV_PREFIX = "FLOWLANE_CREDENTIAL_"
# Secrets Manager's limit on a SecretString.
MAX_VALUE_BYTES = 65_536

_NOT_FOUND = "ResourceNotFoundException"


def env_variable(name: str) -> str:
    """The environment variable that holds credential `name` locally."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


def parse_value(text: str) -> Any:
    """A JSON object becomes a dict; anything else (a token, a JSON string) stays the text."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(value, dict):
            return value
    return text


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _marked_for_deletion(exc: ClientError) -> bool:
    # A secret deleted with a recovery window answers InvalidRequestException until it is
    # gone; for its owner it no longer exists.
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return _error_code(exc) == "InvalidRequestException" and "deletion" in message.lower()


class CredentialStore:
    def __init__(
        self,
        client: Any,
        prefix: str,
        owner: str,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._owner = owner
        self._environ = environ

    def secret_id(self, name: str) -> str:
        return f"{self._prefix}{self._owner}/{name}"

    # -- what nodes use ------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The value of credential `name`: a dict for a JSON object, else the string."""
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise NodeError(
                "VALIDATION_ERROR",
                f"invalid credential name {name!r}: use letters, digits, '_', '.', '-' "
                "(up to 128, starting with a letter or digit)",
                {"name": name},
            )
        try:
            response = self._client.get_secret_value(SecretId=self.secret_id(name))
        except ClientError as exc:
            if _error_code(exc) == _NOT_FOUND or _marked_for_deletion(exc):
                return self._from_environment(name)
            # The AWS message names the secret, never its value.
            message = exc.response.get("Error", {}).get("Message", _error_code(exc))
            raise upstream_error(
                "secretsmanager", _status(exc), f"could not read credential {name!r}: {message}"
            ) from exc
        except BotoCoreError as exc:
            raise upstream_error(
                "secretsmanager", None, f"could not read credential {name!r}: {exc}"
            ) from exc
        text = response.get("SecretString")
        if text is None:
            binary = response.get("SecretBinary")
            if binary is None:
                raise _not_found(name)
            text = bytes(binary).decode("utf-8", errors="replace")
        return parse_value(str(text))

    def _from_environment(self, name: str) -> Any:
        if self._environ is not None:
            text = self._environ.get(env_variable(name))
            if text:
                return parse_value(text)
        raise _not_found(name)

    # -- management (CLI, routes) --------------------------------------------------------------

    def put(self, name: str, value: str | Mapping[str, Any]) -> None:
        """Create credential `name`, or replace its value."""
        _check_name(name)
        if isinstance(value, Mapping):
            text = json.dumps(dict(value), separators=(",", ":"))
        elif isinstance(value, str):
            text = value
        else:
            raise ValidationFailed(
                "a credential value is a string or an object",
                [{"loc": ["value"], "msg": "must be a string or an object"}],
            )
        if not text or len(text.encode("utf-8")) > MAX_VALUE_BYTES:
            raise ValidationFailed(
                f"a credential value must be 1 to {MAX_VALUE_BYTES} bytes",
                [{"loc": ["value"], "msg": f"must be 1 to {MAX_VALUE_BYTES} bytes"}],
            )
        secret_id = self.secret_id(name)
        with _aws_errors(f"store credential {name!r}"):
            try:
                self._client.create_secret(
                    Name=secret_id,
                    SecretString=text,
                    Tags=[{"Key": "flowlane:owner", "Value": self._owner}],
                )
            except ClientError as exc:
                if _error_code(exc) != "ResourceExistsException":
                    raise
                self._client.put_secret_value(SecretId=secret_id, SecretString=text)

    def delete(self, name: str) -> None:
        """Delete credential `name` now (no recovery window, so the name can be reused)."""
        _check_name(name)
        with _aws_errors(f"delete credential {name!r}"):
            try:
                self._client.delete_secret(
                    SecretId=self.secret_id(name), ForceDeleteWithoutRecovery=True
                )
            except ClientError as exc:
                if _error_code(exc) == _NOT_FOUND:
                    raise NotFound(f"no credential named {name!r}", {"name": name}) from None
                raise

    def list_names(self) -> list[str]:
        """The names of the owner's credentials (stored ones only, not the environment's)."""
        owner_prefix = self.secret_id("")
        names: list[str] = []
        with _aws_errors("list credentials"):
            paginator = self._client.get_paginator("list_secrets")
            # The name filter matches prefixes; the exact check below keeps `bob` from seeing
            # `bobby/...` should the filter ever match more loosely.
            for page in paginator.paginate(Filters=[{"Key": "name", "Values": [owner_prefix]}]):
                for secret in page.get("SecretList", []):
                    full = str(secret.get("Name", ""))
                    if full.startswith(owner_prefix) and NAME_PATTERN.match(
                        full[len(owner_prefix) :]
                    ):
                        names.append(full[len(owner_prefix) :])
        return sorted(names)


def _not_found(name: str) -> NodeError:
    return NodeError("CREDENTIAL_NOT_FOUND", f"no credential named {name!r}", {"name": name})


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ValidationFailed(
            f"invalid credential name {name!r}",
            [
                {
                    "loc": ["name"],
                    "msg": "use letters, digits, '_', '.', '-' (up to 128, starting with a "
                    "letter or digit)",
                }
            ],
        )


@contextmanager
def _aws_errors(action: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", _error_code(exc))
        raise UpstreamError(
            f"Secrets Manager failed to {action}: {message}",
            {"service": "secretsmanager", "aws_code": _error_code(exc)},
        ) from exc
    except BotoCoreError as exc:
        raise UpstreamError(
            f"Secrets Manager failed to {action}: {exc}", {"service": "secretsmanager"}
        ) from exc
