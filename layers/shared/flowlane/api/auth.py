"""Who is calling (CONTRACT.md section 1).

On AWS the API Gateway JWT authorizer (Cognito) has already verified the token; the function reads
the claims from the HTTP API v2 request context that Mangum passes in the ASGI scope. Locally,
`flowlane dev` verifies HS256 tokens signed with the dev secret (`flowlane token` prints one).
Identity never comes from a body or a query string.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from flowlane.config import ApiSettings
from flowlane.errors import Forbidden, Unauthorized

DEV_TOKEN_ISSUER = "flowlane-dev"  # set on the tokens we issue, for whoever reads them
DEV_TOKEN_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Caller:
    user_id: str
    claims: dict[str, Any] = field(default_factory=dict)

    def ensure_same_user(self, claimed: str | None) -> None:
        """The seeds carry a `user_id` in bodies and queries: it may only name the caller."""
        if claimed is not None and claimed != self.user_id:
            raise Forbidden("user_id does not match the authenticated caller")


def issue_dev_token(secret: str, user: str, ttl_seconds: int = DEV_TOKEN_TTL_SECONDS) -> str:
    import jwt  # dev mode only: deployed functions never verify tokens themselves

    now = int(time.time())
    claims = {"sub": user, "iss": DEV_TOKEN_ISSUER, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify_dev_token(token: str, secret: str) -> dict[str, Any]:
    """Signature (HS256 only: `none` and every other alg are refused), subject, and expiry when
    the token has one (`flowlane token` always sets one)."""
    import jwt  # dev mode only: on AWS the API Gateway authorizer has verified the token

    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"the token is not valid: {exc}") from exc
    if not isinstance(claims.get("sub"), str) or not claims["sub"].strip():
        raise Unauthorized("the token has no subject")
    return claims


def _authorizer_claims(request: Request) -> dict[str, Any] | None:
    """The claims API Gateway's JWT authorizer verified, from the HTTP API v2 request context."""
    event = request.scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
    if isinstance(claims, dict) and isinstance(claims.get("sub"), str) and claims["sub"]:
        return claims
    return None


def authenticate(request: Request, settings: ApiSettings) -> Caller:
    claims = None if settings.auth_mode == "dev" else _authorizer_claims(request)
    if claims is None:
        if settings.auth_mode == "cognito" or not settings.dev_jwt_secret:
            # Reaching the function without the authorizer's claims means no verified identity.
            _bearer(request)  # a missing header is the more useful message
            raise Unauthorized("no verified identity on this request")
        claims = verify_dev_token(_bearer(request), settings.dev_jwt_secret)
    return Caller(user_id=str(claims["sub"]), claims=claims)
