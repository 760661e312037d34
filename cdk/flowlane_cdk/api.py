"""API: the HTTP API, its Cognito user pool and JWT authorizer, and a route per domain route.

The authorizer is the API's default, so a route is protected unless it is one of the contract's
open routes, which opt out by name (`flowlane_cdk.routes`). The functions read the verified
claims from the request context (FLOWLANE_AUTH_MODE=cognito: no other identity is accepted).
"""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from constructs import Construct

from flowlane_cdk.domain_function import DomainFunction
from flowlane_cdk.log_groups import log_group
from flowlane_cdk.nag import suppress
from flowlane_cdk.routes import api_routes
from flowlane_cdk.settings import StageSettings

# One JSON line per request. `sub` is the caller (empty on open routes).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "method": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "sub": "$context.authorizer.claims.sub",
}
ALLOWED_HEADERS = [
    "Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-ID",
    "Last-Event-ID", "X-Flowlane-Signature",
]  # fmt: skip
EXPOSED_HEADERS = ["X-Request-ID", "ETag", "Location", "Retry-After"]


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(group)
        self._format = apigw_v1.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT))

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return self._format


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        functions: dict[str, DomainFunction],
    ) -> None:
        super().__init__(scope, construct_id)

        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"{settings.prefix}-users",
            # Accounts are created by an administrator (README, "Deploy to AWS").
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED if settings.mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=not settings.is_dev,
            removal_policy=settings.removal_policy,
        )
        if not settings.mfa_required:
            suppress(
                self.user_pool,
                "AwsSolutions-COG2",
                "MFA is optional by default so scripted API clients can sign in with a password; "
                "users can enable TOTP, and `-c mfa_required=true` makes it mandatory.",
            )
        for rule in ("AwsSolutions-COG3", "AwsSolutions-COG8"):
            suppress(
                self.user_pool,
                rule,
                "Cognito threat protection (the Plus feature plan) is billed per active user: "
                "an account decision. Self sign-up is off and passwords are long and mixed.",
            )
        self.client = self.user_pool.add_client(
            "Cli",
            user_pool_client_name=f"{settings.prefix}-cli",
            # A public client (CLI, browser): no secret to leak; SRP, or a password over TLS.
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            prevent_user_existence_errors=True,
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(30),
            enable_token_revocation=True,
        )
        authorizer = authorizers.HttpUserPoolAuthorizer(
            "CognitoAuthorizer", self.user_pool, user_pool_clients=[self.client]
        )

        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=f"{settings.prefix}-api",
            description="Flowlane: plain words to durable, serverless AI workflows",
            default_authorizer=authorizer,
            create_default_stage=False,
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=list(settings.cors_origins),
                allow_methods=[apigw.CorsHttpMethod.ANY],
                allow_headers=ALLOWED_HEADERS,
                expose_headers=EXPOSED_HEADERS,
                max_age=cdk.Duration.hours(1),
            ),
        )
        self.access_logs = log_group(
            self, "AccessLogs", f"/aws/apigateway/{settings.prefix}-api", settings
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.throttle_rate, burst_limit=settings.throttle_burst
            ),
            access_log_settings=_AccessLogs(self.access_logs),
        )

        lambda_integrations = {
            name: integrations.HttpLambdaIntegration(
                f"{fn.spec.construct_id}Integration", fn.function
            )
            for name, fn in functions.items()
        }
        self.routes = api_routes()
        for route in self.routes:
            # add_routes applies the default authorizer unless the route names another.
            (created,) = self.http_api.add_routes(
                path=route.path,
                methods=[apigw.HttpMethod(route.method)],
                integration=lambda_integrations[route.function],
                authorizer=apigw.HttpNoneAuthorizer() if route.open else None,
            )
            if route.open:
                for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                    suppress(
                        created,
                        rule,
                        "An open route of the contract (CONTRACT.md section 1): health, the API "
                        "docs, or a webhook, which the trigger's own HMAC secret authenticates.",
                    )

    @property
    def url(self) -> str:
        return self.stage.url
