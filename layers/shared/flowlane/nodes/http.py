"""Outbound HTTP for nodes, and the ACTION / HTTP_REQUEST node (CONTRACT.md section 3).

`perform_request` is the one way a node calls an HTTP service (HTTP_REQUEST, HTTP_TOOL, the
SLACK, GITHUB and WEBHOOK external actions). It goes through `ctx.services.http(timeout)`, so the
egress policy (`flowlane.runtime.egress`) applies to every connection and redirect hop, and it
maps failures to node errors:

- a time limit reached (connect, read, or the whole exchange) -> `TIMEOUT`;
- no connection, a broken response, too many redirects, a body over 10 MB -> `UPSTREAM_ERROR`;
- a status >= 400 with `fail_on_status` -> `UPSTREAM_ERROR` with `details.status` and an excerpt
  of the body; without it, the response is the output like any other;
- a refused address -> `EGRESS_DENIED` (raised by the egress client, passed through).

The output is `{status_code, headers, body}`: header names lower-cased, the body parsed when the
response is JSON (`application/json` or `...+json`), else text.

Credentials. A node may name a stored credential (never a value) in `credentials`:
`{"http": "NAME"}`, or any single entry. Its stored value is applied to the request:

- a string, or `{"token": "..."}` -> `Authorization: Bearer <token>`;
- `{"username": "...", "password": "..."}` -> HTTP basic authentication;
- `{"headers": {"X-Api-Key": "..."}}` -> those headers (may be combined with a token or basic).

Credential headers override the node's own headers of the same name, are dropped when a redirect
leaves the original origin (httpx drops only `Authorization`), and every secret string (4
characters or more) is replaced by `[REDACTED]` wherever it comes back in the output or an error
(an echo service would otherwise return it).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, JsonValue

from flowlane.models.workflow import NodeType
from flowlane.nodes.base import (
    Node,
    NodeContext,
    NodeError,
    NodeParameters,
    NodeResult,
    upstream_error,
)
from flowlane.nodes.registry import register

if TYPE_CHECKING:
    import httpx

    from flowlane.config import EngineSettings
    from flowlane.models.workflow import NodeData

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
EXCERPT_CHARS = 500
# The node's own time limit is the request's plus this, so the request times out first and the
# node fails with TIMEOUT rather than being cut off by the runner.
TIMEOUT_MARGIN_SECONDS = 5.0
REDACTED = "[REDACTED]"
# Shorter secrets are not redacted: replacing every "abc" in a response would mangle it.
MIN_REDACTED_LENGTH = 4

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# RFC 9110 token characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$", re.IGNORECASE)


# -- parameter types shared by the HTTP nodes --------------------------------------------------


def _upper_method(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _stringify_headers(value: object) -> object:
    # Numbers and booleans are written as text, the way a user means `{"X-Count": 3}`.
    if not isinstance(value, Mapping):
        return value
    result: dict[object, object] = {}
    for name, item in value.items():
        if isinstance(item, bool):
            result[name] = "true" if item else "false"
        elif isinstance(item, int | float):
            result[name] = str(item)
        else:
            result[name] = item
    return result


def _check_headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if "\r" in text or "\n" in text or "\0" in text:
            raise ValueError(f"header {name!r} must not contain line breaks")
        if not text.isascii():
            # httpx writes header values as ASCII; anything else would fail mid-request.
            raise ValueError(f"header {name!r} must be ASCII text")
    return value


QueryScalar = str | int | float | bool


Method = Annotated[
    HttpMethod,
    BeforeValidator(_upper_method),
    Field(description="GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"),
]
Headers = Annotated[
    dict[str, str],
    BeforeValidator(_stringify_headers),
    AfterValidator(_check_headers),
    Field(description="Request headers"),
]
Query = Annotated[
    dict[str, QueryScalar | list[QueryScalar | None] | None],
    Field(description="Query string parameters (a list repeats the parameter)"),
]
TimeoutSeconds = Annotated[
    float, Field(ge=1, le=300, description="Time limit of the request, in seconds")
]


# -- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedCredential:
    """What a stored credential adds to a request, and the strings to keep out of outputs."""

    name: str
    headers: dict[str, str]
    secrets: tuple[str, ...]


def credential_name(node: NodeData, keys: Sequence[str]) -> str | None:
    """The credential a node names for a service: the first of `keys` present, else the node's
    only credential, else None."""
    for key in keys:
        if key in node.credentials:
            return node.credentials[key]
    if len(node.credentials) == 1:
        return next(iter(node.credentials.values()))
    return None


def _bad_credential(name: str, expected: str) -> NodeError:
    # The message describes the shape, never the value.
    return NodeError(
        "VALIDATION_ERROR",
        f"credential {name!r} is not usable here: expected {expected}",
        {"name": name},
    )


def http_credential(name: str, value: Any) -> AppliedCredential:
    """The headers a stored credential value adds to an HTTP request (see the module doc)."""
    expected = 'a token string, {"token"}, {"username", "password"} or {"headers": {...}}'
    headers: dict[str, str] = {}
    secrets: list[str] = []
    if isinstance(value, str):
        token = value.strip()
        if not token or not token.isascii():
            raise _bad_credential(name, expected)
        headers["Authorization"] = f"Bearer {token}"
        secrets.append(token)
    elif isinstance(value, Mapping):
        extra: Any = value.get("headers")
        if extra is not None:
            if not isinstance(extra, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
            ):
                raise _bad_credential(name, '"headers" as an object of text values')
            try:
                headers.update(_check_headers(dict(extra)))
            except ValueError:
                raise _bad_credential(name, "valid header names and values") from None
            secrets.extend(extra.values())
        stored_token: Any = value.get("token")
        if isinstance(stored_token, str) and stored_token.strip():
            token = stored_token.strip()
            if not token.isascii():
                raise _bad_credential(name, "an ASCII token")
            headers["Authorization"] = f"Bearer {token}"
            secrets.append(token)
        elif "username" in value or "password" in value:
            username, password = value.get("username"), value.get("password")
            if not isinstance(username, str) or not isinstance(password, str):
                raise _bad_credential(name, '"username" and "password" as text')
            encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {encoded}"
            secrets.extend([password, encoded])
        if not headers:
            raise _bad_credential(name, expected)
    else:
        raise _bad_credential(name, expected)
    return AppliedCredential(
        name=name,
        headers=headers,
        secrets=tuple(s for s in secrets if len(s) >= MIN_REDACTED_LENGTH),
    )


def node_http_credential(
    ctx: NodeContext, keys: Sequence[str] = ("http",)
) -> AppliedCredential | None:
    """The credential the node names, applied as HTTP headers; None when it names none."""
    name = credential_name(ctx.node, keys)
    if name is None:
        return None
    return http_credential(name, ctx.services.credentials(ctx.owner).get(name))


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every secret string replaced, in every string it contains."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    return value


# -- the request -------------------------------------------------------------------------------


def _checked_url(url: str) -> httpx.URL:
    import httpx

    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise NodeError("VALIDATION_ERROR", f"invalid url: {exc}", {"parameter": "url"}) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise NodeError(
            "VALIDATION_ERROR",
            f"url must be an absolute http:// or https:// URL, got {url[:200]!r}",
            {"parameter": "url"},
        )
    return parsed


def _merge_headers(base: Mapping[str, str], override: Mapping[str, str]) -> dict[str, str]:
    merged = {k: v for k, v in base.items() if k.lower() not in {o.lower() for o in override}}
    merged.update(override)
    return merged


def _query_params(query: Mapping[str, Any] | None) -> dict[str, list[str]] | None:
    if not query:
        return None
    params: dict[str, list[str]] = {}
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            # JSON spelling for booleans: `true`, not Python's `True`.
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            params.setdefault(name, []).append(text)
    return params


def _decode(response: httpx.Response, data: bytes) -> Any:
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
    is_json = bool(_JSON_TYPE.match(content_type))
    try:
        text = data.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        text = data.decode("utf-8", errors="replace")
    if is_json and text.strip():
        try:
            return json.loads(text)
        except ValueError:
            return text  # labelled JSON but is not: the text is still useful
    return text


def _strip_on_cross_origin(
    origin: tuple[str, str, int | None], names: Sequence[str]
) -> Callable[[httpx.Request], None]:
    lowered = {n.lower() for n in names}

    def hook(request: httpx.Request) -> None:
        here = (request.url.scheme, request.url.host, request.url.port)
        if here != origin:
            for name in [n for n in request.headers if n.lower() in lowered]:
                del request.headers[name]

    return hook


def perform_request(
    ctx: NodeContext,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, Any] | None = None,
    body: Any = None,
    json_body: bool = False,
    timeout: float,
    fail_on_status: bool,
    credential: AppliedCredential | None = None,
    service: str = "http",
) -> dict[str, Any]:
    """Send one request through the egress-checked client; `{status_code, headers, body}`.

    `body`: None sends none, a string is sent as text, anything else as JSON; with `json_body`
    every value (None and strings too) is sent as JSON.
    """
    import httpx

    target = _checked_url(url)
    params = _query_params(query)
    if params:
        # Added to the URL's own query string (httpx's `params=` would replace it).
        target = target.copy_merge_params(params)
    request_headers = dict(headers or {})
    secrets: tuple[str, ...] = ()
    if credential is not None:
        request_headers = _merge_headers(request_headers, credential.headers)
        secrets = credential.secrets
    content: bytes | None = None
    if body is not None or json_body:
        if isinstance(body, str) and not json_body:
            content = body.encode("utf-8")
            default_type = "text/plain; charset=utf-8"
        else:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            default_type = "application/json"
        if not any(k.lower() == "content-type" for k in request_headers):
            request_headers["Content-Type"] = default_type

    host = target.host
    deadline = time.monotonic() + timeout
    try:
        with ctx.services.http(timeout) as client:
            if credential is not None:
                origin = (target.scheme, target.host, target.port)
                client.event_hooks["request"].append(
                    _strip_on_cross_origin(origin, list(credential.headers))
                )
            with client.stream(
                method, target, headers=request_headers, content=content
            ) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                    raise _too_large(service)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise _too_large(service)
                    # Per-read timeouts do not bound a server that trickles bytes.
                    if time.monotonic() > deadline:
                        raise _timeout(method, host, timeout)
                    chunks.append(chunk)
                data = b"".join(chunks)
    except httpx.TimeoutException as exc:
        raise _timeout(method, host, timeout) from exc
    except httpx.TooManyRedirects as exc:
        raise upstream_error(service, None, f"{method} {host}: too many redirects") from exc
    except httpx.LocalProtocolError as exc:
        # The request itself could not be written (e.g. a header value httpx refuses).
        message = redact(f"could not send the request: {exc}", secrets)
        raise NodeError("VALIDATION_ERROR", message) from exc
    except httpx.HTTPError as exc:
        # Connection refused or reset, unresolvable name, malformed response, bad encoding.
        message = redact(f"{method} {host} failed: {str(exc) or type(exc).__name__}", secrets)
        raise upstream_error(service, None, message) from exc

    status = response.status_code
    parsed = redact(_decode(response, data), secrets)
    if status >= 400 and fail_on_status:
        excerpt = parsed if isinstance(parsed, str) else json.dumps(parsed, ensure_ascii=False)
        error = upstream_error(service, status, f"{method} {host} answered {status}")
        error.details["body"] = excerpt[:EXCERPT_CHARS]
        raise error
    return {
        "status_code": status,
        "headers": redact({k.lower(): v for k, v in response.headers.items()}, secrets),
        "body": parsed,
    }


def _timeout(method: str, host: str, timeout: float) -> NodeError:
    return NodeError(
        "TIMEOUT",
        f"{method} {host} did not answer within {timeout:g} s",
        {"timeout_seconds": timeout},
    )


def _too_large(service: str) -> NodeError:
    error = upstream_error(
        service, None, f"the response is larger than {MAX_RESPONSE_BYTES:,} bytes"
    )
    error.details["limit_bytes"] = MAX_RESPONSE_BYTES
    return error


# -- ACTION / HTTP_REQUEST ---------------------------------------------------------------------


class HttpRequestParameters(NodeParameters):
    method: Method = "GET"
    url: Annotated[str, Field(min_length=1, description="An absolute http:// or https:// URL")]
    headers: Headers = Field(default_factory=dict)
    query: Query = Field(default_factory=dict)
    body: Annotated[
        JsonValue,
        Field(description="Any JSON; an object or list is sent as JSON, a text as text"),
    ] = None
    timeout_seconds: TimeoutSeconds = 30
    fail_on_status: Annotated[
        bool, Field(description="Fail the node when the status is 400 or more")
    ] = True


@register
class HttpRequestNode(Node[HttpRequestParameters]):
    type = NodeType.ACTION
    subtype = "HTTP_REQUEST"
    title = "HTTP request"
    description = (
        "Call any HTTP API and get {status_code, headers, body} (JSON parsed). "
        "A stored credential adds a bearer token, basic auth or headers."
    )
    parameters_model = HttpRequestParameters

    def timeout_seconds(self, parameters: HttpRequestParameters, settings: EngineSettings) -> float:
        return parameters.timeout_seconds + TIMEOUT_MARGIN_SECONDS

    def run(self, ctx: NodeContext, params: HttpRequestParameters) -> NodeResult:
        output = perform_request(
            ctx,
            method=params.method,
            url=params.url,
            headers=params.headers,
            query=params.query,
            body=params.body,
            timeout=params.timeout_seconds,
            fail_on_status=params.fail_on_status,
            credential=node_http_credential(ctx),
        )
        return NodeResult(output)
