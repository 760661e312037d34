"""A local HTTP server that plays the Slack Web API, the GitHub REST API and a few generic
endpoints, and records every request it gets.

    with FakeServices() as fake:
        settings = IntegrationSettings(slack_base_url=fake.slack_base_url,
                                       github_base_url=fake.github_base_url)
        ...
        assert fake.requests[-1].json["channel"] == "#general"

It listens on 127.0.0.1 on a free port (so nodes reach it only with private network allowed).

Slack (`{url}/slack/api`): `POST /chat.postMessage` with `Authorization: Bearer <token>`; a token
not in `slack_tokens` answers `{"ok": false, "error": "invalid_auth"}`, a channel not in
`slack_channels` answers `{"ok": false, "error": "channel_not_found"}` (both with status 200, like
Slack).

GitHub (`{url}/github`): `POST /repos/O/R/issues`, `GET /repos/O/R/issues?state&labels&per_page`,
`POST /repos/O/R/issues/N/comments`. A token not in `github_tokens` is 401 "Bad credentials", a
repository not in `github_repos` (or an unknown issue) is 404 "Not Found", an assignee not in the
repository's collaborators is 422 "Validation Failed" with GitHub's `errors` list.

Generic: `/echo` (any method) answers the request as JSON `{method, path, query, headers, body}`;
`/status/N` answers status N with a JSON error body (`?text=1`: a text body); `/text` answers
text/plain; `/slow?seconds=S` answers after S seconds; `/redirect?to=URL&status=302`; `/big?bytes=N`
(`&chunked=1`: without Content-Length).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class GithubRepo:
    collaborators: set[str] = field(default_factory=lambda: {"octocat"})
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


class FakeServices:
    def __init__(self) -> None:
        self.slack_tokens: set[str] = {"xoxb-test-token"}
        self.slack_channels: set[str] = {"#general", "C0123456789"}
        self.github_tokens: set[str] = {"ghp_test_token"}
        self.github_repos: dict[tuple[str, str], GithubRepo] = {("acme", "widgets"): GithubRepo()}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def slack_base_url(self) -> str:
        return f"{self.url}/slack/api"

    @property
    def github_base_url(self) -> str:
        return f"{self.url}/github"

    def start(self) -> FakeServices:
        fake = self

        class Handler(_Handler):
            services = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A /slow request still sleeping must not hold up stop().
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeServices:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- inspection --------------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def last(self, path_prefix: str = "") -> RecordedRequest:
        with self._lock:
            matching = [r for r in self.requests if r.path.startswith(path_prefix)]
        assert matching, f"no request to {path_prefix or 'the server'}"
        return matching[-1]


class _Handler(BaseHTTPRequestHandler):
    services: FakeServices
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    # Every method goes through one dispatcher.
    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.services.record(request)
        path = parts.path
        if path.startswith("/slack/api/"):
            self._slack(request, path.removeprefix("/slack/api/"))
        elif path.startswith("/github/"):
            self._github(request, path.removeprefix("/github").strip("/").split("/"))
        elif path == "/echo" or path.startswith("/echo/"):
            self._json(200, _echo(request))
        elif path.startswith("/status/"):
            status = int(path.removeprefix("/status/"))
            if request.query.get("text"):
                self._send(status, b"something broke", "text/plain; charset=utf-8")
            else:
                self._json(status, {"error": f"status {status}", "detail": "x" * 2000})
        elif path == "/text":
            self._send(200, "héllo wörld".encode(), "text/plain; charset=utf-8")
        elif path == "/slow":
            time.sleep(float(request.query.get("seconds", ["2"])[0]))
            self._json(200, {"slow": True})
        elif path == "/redirect":
            status = int(request.query.get("status", ["302"])[0])
            self.send_response(status)
            self.send_header("Location", request.query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/big":
            size = int(request.query["bytes"][0])
            if request.query.get("chunked"):
                self._send_chunked(b"x" * size, chunk=64 * 1024)
            else:
                self._send(200, b"x" * size, "application/octet-stream")
        else:
            self._json(404, {"error": "no such fake endpoint", "path": path})

    # -- Slack -------------------------------------------------------------------------------

    def _slack(self, request: RecordedRequest, method: str) -> None:
        if method != "chat.postMessage" or request.method != "POST":
            self._json(200, {"ok": False, "error": "unknown_method"})
            return
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.services.slack_tokens:
            self._json(200, {"ok": False, "error": "invalid_auth"})
            return
        payload = request.json or {}
        if payload.get("channel") not in self.services.slack_channels:
            self._json(200, {"ok": False, "error": "channel_not_found"})
            return
        if not payload.get("text") and not payload.get("blocks"):
            self._json(200, {"ok": False, "error": "no_text"})
            return
        ts = f"{time.time():.6f}"
        message = {"type": "message", "text": payload.get("text", ""), "ts": ts, "bot_id": "B1"}
        if payload.get("thread_ts"):
            message["thread_ts"] = payload["thread_ts"]
        self._json(200, {"ok": True, "channel": "C0123456789", "ts": ts, "message": message})

    # -- GitHub ------------------------------------------------------------------------------

    def _github(self, request: RecordedRequest, segments: list[str]) -> None:
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.services.github_tokens:
            self._github_error(401, "Bad credentials")
            return
        if len(segments) < 4 or segments[0] != "repos" or segments[3] != "issues":
            self._github_error(404, "Not Found")
            return
        repo = self.services.github_repos.get((segments[1], segments[2]))
        if repo is None:
            self._github_error(404, "Not Found")
            return
        rest = segments[4:]
        if not rest and request.method == "POST":
            self._create_issue(repo, segments[1], segments[2], request.json or {})
        elif not rest and request.method == "GET":
            self._list_issues(repo, request.query)
        elif len(rest) == 2 and rest[1] == "comments" and request.method == "POST":
            self._add_comment(repo, int(rest[0]), request.json or {})
        else:
            self._github_error(404, "Not Found")

    def _create_issue(
        self, repo: GithubRepo, owner: str, name: str, payload: dict[str, Any]
    ) -> None:
        if not payload.get("title"):
            self._github_error(
                422,
                "Validation Failed",
                [{"resource": "Issue", "code": "missing_field", "field": "title"}],
            )
            return
        unknown = [a for a in payload.get("assignees", []) if a not in repo.collaborators]
        if unknown:
            self._github_error(
                422,
                "Validation Failed",
                [
                    {"value": a, "resource": "Issue", "field": "assignees", "code": "invalid"}
                    for a in unknown
                ],
            )
            return
        number = len(repo.issues) + 1
        issue = {
            "number": number,
            "title": payload["title"],
            "body": payload.get("body"),
            "state": "open",
            "labels": [{"name": label} for label in payload.get("labels", [])],
            "assignees": [{"login": a} for a in payload.get("assignees", [])],
            "html_url": f"https://github.com/{owner}/{name}/issues/{number}",
        }
        repo.issues.append(issue)
        self._json(201, issue)

    def _list_issues(self, repo: GithubRepo, query: dict[str, list[str]]) -> None:
        state = query.get("state", ["open"])[0]
        labels = [x for x in query.get("labels", [""])[0].split(",") if x]
        per_page = int(query.get("per_page", ["30"])[0])
        issues = [
            i
            for i in repo.issues
            if (state == "all" or i["state"] == state)
            and all(label in {x["name"] for x in i["labels"]} for label in labels)
        ]
        self._json(200, issues[:per_page])

    def _add_comment(self, repo: GithubRepo, number: int, payload: dict[str, Any]) -> None:
        if not any(i["number"] == number for i in repo.issues):
            self._github_error(404, "Not Found")
            return
        comments = repo.comments.setdefault(number, [])
        comment = {"id": 1000 + len(comments), "body": payload.get("body"), "issue": number}
        comments.append(comment)
        self._json(201, comment)

    def _github_error(
        self, status: int, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        body: dict[str, Any] = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
        }
        if errors:
            body["errors"] = errors
        self._json(status, body)

    # -- responses ---------------------------------------------------------------------------

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            # The client may have given up (a timeout, the size cap): expected.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    def _send_chunked(self, body: bytes, chunk: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # The client stops reading at its size cap: expected.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for start in range(0, len(body), chunk):
                part = body[start : start + chunk]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")


def _echo(request: RecordedRequest) -> dict[str, Any]:
    text = request.body.decode("utf-8", errors="replace")
    body: Any = text
    if request.headers.get("content-type", "").startswith("application/json") and text:
        body = json.loads(text)
    return {
        "method": request.method,
        "path": request.path,
        "query": {k: v[0] if len(v) == 1 else v for k, v in request.query.items()},
        "headers": request.headers,
        "body": body,
    }
