"""Auth (CONTRACT.md section 1) and the error envelope, for every kind of error."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from flowlane.api.app import create_app
from flowlane.config import ApiSettings
from flowlane.runtime.services import Services
from tests.conftest import DEV_SECRET, workflow_body


def _token(secret: str = DEV_SECRET, **claims: object) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "iss": "flowlane-dev", "iat": now, "exp": now + 60, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def _assert_envelope(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == response.headers["X-Request-ID"]


class TestAuth:
    def test_missing_token_is_401(self, client: TestClient) -> None:
        _assert_envelope(client.get("/api/v1/workflows"), 401, "UNAUTHORIZED")

    def test_token_signed_with_another_key_is_401(self, client: TestClient) -> None:
        headers = {
            "Authorization": f"Bearer {_token(secret='not-the-dev-secret-0123456789abcdef')}"
        }
        _assert_envelope(client.get("/api/v1/workflows", headers=headers), 401, "UNAUTHORIZED")

    def test_alg_none_is_401(self, client: TestClient) -> None:
        now = int(time.time())
        unsigned = jwt.encode(
            {"sub": "alice", "iss": "flowlane-dev", "exp": now + 60}, key=None, algorithm="none"
        )
        response = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {unsigned}"})
        _assert_envelope(response, 401, "UNAUTHORIZED")

    def test_expired_token_is_401(self, client: TestClient) -> None:
        expired = _token(exp=int(time.time()) - 10)
        response = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {expired}"})
        _assert_envelope(response, 401, "UNAUTHORIZED")
        assert "expired" in response.json()["error"]["message"]

    @pytest.mark.parametrize("header", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer not.a.jwt"])
    def test_malformed_authorization_is_401(self, client: TestClient, header: str) -> None:
        response = client.get("/api/v1/workflows", headers={"Authorization": header})
        _assert_envelope(response, 401, "UNAUTHORIZED")

    def test_tokens_made_elsewhere_need_only_a_subject_and_the_secret(
        self, client: TestClient
    ) -> None:
        minimal = jwt.encode({"sub": "carol"}, DEV_SECRET, algorithm="HS256")

        response = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {minimal}"})

        assert response.status_code == 200

    def test_token_without_subject_is_401(self, client: TestClient) -> None:
        now = int(time.time())
        no_sub = jwt.encode({"iss": "flowlane-dev", "exp": now + 60}, DEV_SECRET, "HS256")
        response = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {no_sub}"})
        _assert_envelope(response, 401, "UNAUTHORIZED")

    def test_auth_is_checked_before_the_body(self, client: TestClient) -> None:
        response = client.post("/api/v1/workflows", content=b"{not json")
        _assert_envelope(response, 401, "UNAUTHORIZED")

    def test_cognito_mode_refuses_requests_without_authorizer_claims(
        self, services: Services
    ) -> None:
        services.api = ApiSettings(auth_mode="cognito")
        with TestClient(create_app(None, services)) as cognito_client:
            headers = {"Authorization": f"Bearer {_token()}"}  # a dev token means nothing here
            response = cognito_client.get("/api/v1/workflows", headers=headers)
        _assert_envelope(response, 401, "UNAUTHORIZED")


class TestOpenRoutes:
    def test_health(self, client: TestClient) -> None:
        response = client.get("/api/v1/health")

        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "healthy"
        assert body["details"]["table"] == "ok"
        assert body["version"]
        assert isinstance(body["timestamp"], int)

    def test_openapi_lists_the_workflow_routes(self, client: TestClient) -> None:
        spec = client.get("/openapi.json").json()

        assert "/api/v1/workflows" in spec["paths"]
        assert "/api/v1/workflows/{workflow_id}" in spec["paths"]

    def test_docs(self, client: TestClient) -> None:
        response = client.get("/docs")

        assert response.status_code == 200
        assert "swagger" in response.text.lower()


class TestEnvelope:
    def test_unknown_route_is_404_in_the_envelope(self, client: TestClient) -> None:
        _assert_envelope(client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")

    def test_wrong_method_is_405_in_the_envelope(self, client: TestClient) -> None:
        _assert_envelope(client.patch("/api/v1/health"), 405, "METHOD_NOT_ALLOWED")

    def test_request_id_is_echoed_or_made(self, client: TestClient) -> None:
        given = client.get("/api/v1/health", headers={"X-Request-ID": "trace-123"})
        made = client.get("/api/v1/health")
        unsafe = client.get("/api/v1/health", headers={"X-Request-ID": "bad id with spaces"})

        assert given.headers["X-Request-ID"] == "trace-123"
        assert len(made.headers["X-Request-ID"]) >= 16
        assert unsafe.headers["X-Request-ID"] != "bad id with spaces"

    def test_body_over_1_mb_is_413(self, client: TestClient, alice: dict[str, str]) -> None:
        big = workflow_body(description=None, static_data={"blob": "x" * 1_100_000})

        response = client.post("/api/v1/workflows", json=big, headers=alice)

        _assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
        total = client.get("/api/v1/workflows?active_only=false", headers=alice).json()
        assert total["total_count"] == 0

    def test_streamed_body_over_the_limit_is_413(
        self, client: TestClient, alice: dict[str, str]
    ) -> None:
        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield b"x" * 100_000

        response = client.post(
            "/api/v1/workflows",
            content=chunks(),
            headers={**alice, "Content-Type": "application/json"},
        )
        _assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")

    def test_unexpected_errors_are_500_without_a_trace(
        self, services: Services, alice: dict[str, str]
    ) -> None:
        app = create_app(None, services)

        @app.get("/api/v1/boom")
        def boom() -> None:
            raise RuntimeError("secret internals")

        with TestClient(app, raise_server_exceptions=False) as broken:
            response = broken.get("/api/v1/boom", headers=alice)

        _assert_envelope(response, 500, "INTERNAL_ERROR")
        assert "secret internals" not in response.text
        assert "Traceback" not in response.text

    def test_cors_preflight_from_an_allowed_origin(self, services: Services) -> None:
        services.api = services.api.model_copy(update={"cors_origins": ["https://app.example"]})
        with TestClient(create_app(None, services)) as cors_client:
            response = cors_client.options(
                "/api/v1/workflows",
                headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
            )
            denied = cors_client.options(
                "/api/v1/workflows",
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
            )

        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-origin" not in denied.headers
