"""The dev server over real HTTP: the quickstart flow, restarts and crashes."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import workflow_body
from tests.e2e.conftest import DevServer


def _headers(server: DevServer, user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token(user)}"}


def test_crud_over_http(dev_server: DevServer) -> None:
    alice = _headers(dev_server)
    api = f"{dev_server.url}/api/v1"

    created = httpx.post(f"{api}/workflows", json=workflow_body(), headers=alice)
    assert created.status_code == 201
    workflow = created.json()["workflow"]

    listed = httpx.get(f"{api}/workflows", headers=alice).json()
    assert [w["id"] for w in listed["workflows"]] == [workflow["id"]]

    updated = httpx.put(
        f"{api}/workflows/{workflow['id']}",
        json={"name": "Renamed"},
        headers={**alice, "If-Match": str(workflow["revision"])},
    )
    assert updated.json()["workflow"]["revision"] == 2
    stale = httpx.put(
        f"{api}/workflows/{workflow['id']}",
        json={"name": "Late"},
        headers={**alice, "If-Match": "1"},
    )
    assert stale.status_code == 409

    bob = _headers(dev_server, "bob")
    assert httpx.get(f"{api}/workflows/{workflow['id']}", headers=bob).status_code == 404

    assert httpx.delete(f"{api}/workflows/{workflow['id']}", headers=alice).status_code == 200
    assert httpx.get(f"{api}/workflows/{workflow['id']}", headers=alice).status_code == 404


def test_docs_and_openapi_are_served(dev_server: DevServer) -> None:
    assert httpx.get(f"{dev_server.url}/docs").status_code == 200
    spec = httpx.get(f"{dev_server.url}/openapi.json").json()
    assert "/api/v1/workflows" in spec["paths"]


def test_a_workflow_survives_a_restart(workdir: Path) -> None:
    server = DevServer(workdir).start()
    alice = _headers(server)
    created = httpx.post(f"{server.url}/api/v1/workflows", json=workflow_body(), headers=alice)
    workflow = created.json()["workflow"]
    assert server.stop() == 0

    server = DevServer(workdir).start()
    try:
        fetched = httpx.get(
            f"{server.url}/api/v1/workflows/{workflow['id']}", headers=_headers(server)
        )
        assert fetched.status_code == 200
        assert fetched.json()["workflow"] == workflow
    finally:
        server.kill()


def test_a_crash_loses_at_most_the_last_seconds(workdir: Path) -> None:
    server = DevServer(workdir).start()
    alice = _headers(server)
    created = httpx.post(f"{server.url}/api/v1/workflows", json=workflow_body(), headers=alice)
    workflow = created.json()["workflow"]
    time.sleep(2.5)  # the snapshot interval is one second
    server.kill()

    server = DevServer(workdir).start()
    try:
        fetched = httpx.get(
            f"{server.url}/api/v1/workflows/{workflow['id']}", headers=_headers(server)
        )
        assert fetched.status_code == 200
    finally:
        server.kill()


def test_tokens_from_another_folder_are_refused(dev_server: DevServer, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = DevServer(elsewhere)  # never started: only its token command is used

    response = httpx.get(f"{dev_server.url}/api/v1/workflows", headers=_headers(other))

    assert response.status_code == 401


def test_a_second_server_on_the_same_folder_refuses_to_start(dev_server: DevServer) -> None:
    second = DevServer(dev_server.workdir)
    with pytest.raises(AssertionError, match="in use by another Flowlane process"):
        second.start(timeout=30)
    second.kill()
