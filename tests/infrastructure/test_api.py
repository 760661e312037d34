"""API: every route but the open ones has the Cognito JWT authorizer; routes reach their domain
function; throttling, CORS and access logs are on."""

from __future__ import annotations

import json

from flowlane.api.app import create_app
from flowlane.api.domains import DOMAINS
from flowlane_cdk.routes import api_routes
from tests.infrastructure.conftest import Synthesised

# CONTRACT.md section 1.
OPEN = {
    "GET /api/v1/health",
    "GET /docs",
    "GET /openapi.json",
    *(f"{m} /api/v1/webhooks/{{proxy+}}" for m in ("GET", "POST", "PUT", "PATCH", "DELETE")),
}


def _routes(synth: Synthesised) -> dict[str, dict]:
    return {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in synth.of_type("AWS::ApiGatewayV2::Route").values()
    }


def _integration_function(synth: Synthesised, route: dict) -> str:
    """The logical id of the function a route's integration invokes."""
    target = route["Target"]["Fn::Join"][1][1]["Ref"]
    integration = synth.resources[target]["Properties"]
    return integration["IntegrationUri"]["Fn::GetAtt"][0]


def test_every_route_but_the_open_ones_has_the_jwt_authorizer(dev: Synthesised) -> None:
    ((authorizer_id, authorizer),) = dev.of_type("AWS::ApiGatewayV2::Authorizer").items()
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    pool = dev.logical_id(dev.stack.api.user_pool)
    issuer = json.dumps(authorizer["Properties"]["JwtConfiguration"]["Issuer"])
    assert pool in issuer
    assert "cognito-idp" in issuer
    client = dev.logical_id(dev.stack.api.client)
    assert authorizer["Properties"]["JwtConfiguration"]["Audience"] == [{"Ref": client}]

    routes = _routes(dev)
    assert set(routes) >= OPEN
    for key, route in routes.items():
        if key in OPEN:
            assert route["AuthorizationType"] == "NONE", key
            assert "AuthorizerId" not in route, key
        else:
            assert route["AuthorizationType"] == "JWT", key
            assert route["AuthorizerId"] == {"Ref": authorizer_id}, key


def test_routes_are_exactly_what_the_domain_apps_serve(dev: Synthesised) -> None:
    # What the whole API documents (the dev server's app), in API Gateway's path syntax.
    paths = create_app(list(DOMAINS)).openapi()["paths"]
    served = {
        f"{method.upper()} {path.replace('{path}', '{proxy+}')}"
        for path, operations in paths.items()
        for method in operations
    } | {"GET /docs", "GET /openapi.json"}
    assert set(_routes(dev)) == served
    assert len(served) == len(api_routes())


def test_each_route_reaches_its_domain_function(dev: Synthesised) -> None:
    routes = _routes(dev)
    fn = {name: dev.logical_id(f.function) for name, f in dev.stack.functions.items()}
    expected = {
        "POST /api/v1/workflows": "workflows",
        "GET /api/v1/health": "workflows",
        "POST /api/v1/workflows/{workflow_id}/execute": "executions",
        "POST /api/v1/approvals/{approval_id}": "executions",
        "POST /api/v1/workflow/deployments": "runtime",
        "POST /api/v1/triggers/{trigger_id}/fire": "runtime",
        "POST /api/v1/webhooks/{proxy+}": "webhooks",
        "GET /api/v1/workflow_generation": "agent",
        "POST /api/v1/workflows/generate": "agent",
        "GET /docs": "docs",
        "GET /openapi.json": "docs",
    }
    for key, name in expected.items():
        assert _integration_function(dev, routes[key]) == fn[name], key
    # Functions that API Gateway never calls have no route.
    reached = {_integration_function(dev, r) for r in routes.values()}
    for name in ("node_runner", "agent_worker", "execution_events", "schedule_start"):
        assert fn[name] not in reached


def test_lambda_integrations_use_payload_v2(dev: Synthesised) -> None:
    for integration in dev.of_type("AWS::ApiGatewayV2::Integration").values():
        assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
        assert integration["Properties"]["PayloadFormatVersion"] == "2.0"


def test_stage_throttles_and_writes_json_access_logs(dev: Synthesised) -> None:
    (stage,) = dev.of_type("AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}
    logs = props["AccessLogSettings"]
    assert logs["DestinationArn"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.api.access_logs), "Arn"]
    }
    fields = json.loads(logs["Format"])
    assert {"requestId", "routeKey", "status", "latencyMs", "sub"} <= set(fields)


def test_cors_allows_the_headers_the_api_uses(dev: Synthesised) -> None:
    (api,) = dev.of_type("AWS::ApiGatewayV2::Api").values()
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["*"]
    assert {"Authorization", "Content-Type", "If-Match", "Last-Event-ID"} <= set(
        cors["AllowHeaders"]
    )
    assert "X-Request-ID" in cors["ExposeHeaders"]
    # Bearer tokens, not cookies: credentials are never allowed with a wildcard origin.
    assert not cors.get("AllowCredentials", False)


def test_user_pool_is_admin_only_with_a_strong_password_policy(
    dev: Synthesised, prod: Synthesised
) -> None:
    (pool,) = dev.of_type("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers",
                                     "RequireSymbols"))  # fmt: skip
    assert props["MfaConfiguration"] == "OPTIONAL"
    assert props["DeletionProtection"] == "INACTIVE"
    (prod_pool,) = prod.of_type("AWS::Cognito::UserPool").values()
    assert prod_pool["Properties"]["MfaConfiguration"] == "ON"
    assert prod_pool["Properties"]["DeletionProtection"] == "ACTIVE"
    (client,) = dev.of_type("AWS::Cognito::UserPoolClient").values()
    assert client["Properties"]["GenerateSecret"] is False
    assert set(client["Properties"]["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }


def test_outputs_name_what_the_readme_uses(dev: Synthesised) -> None:
    outputs = dev.template["Outputs"]
    assert {"ApiUrl", "UserPoolId", "UserPoolClientId", "TableName", "LlmKeysSecret",
            "AlarmTopic"} <= set(outputs)  # fmt: skip
