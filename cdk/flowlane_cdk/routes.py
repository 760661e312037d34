"""The HTTP API's routes, read from the domain routers themselves (`flowlane.api.domains`), so
the deployed routes are exactly the routes the functions serve and the dev server mounts.

Open routes (CONTRACT.md section 1) skip the JWT authorizer: health, the API docs, and the
webhooks, which authenticate each call with the trigger's own secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Served by the docs function: the whole API's OpenAPI document and its Swagger UI.
DOCS_ROUTES = (("GET", "/docs"), ("GET", "/openapi.json"))
HEALTH_PATH = "/api/v1/health"
HEALTH_DOMAIN = "workflows"  # every domain app answers health; the API sends it to one
OPEN_PREFIXES = ("/api/v1/webhooks/",)

# FastAPI's `{name:path}` matches the rest of the path; API Gateway's greedy `{proxy+}` does.
_GREEDY = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*:path\}$")


@dataclass(frozen=True, order=True)
class Route:
    method: str
    path: str  # API Gateway syntax
    function: str  # the functions/ folder that serves it
    open: bool  # no authorizer


def _gateway_path(path: str) -> str:
    return _GREEDY.sub("{proxy+}", path)


def _is_open(method: str, path: str) -> bool:
    if (method, path) == ("GET", HEALTH_PATH) or (method, path) in DOCS_ROUTES:
        return True
    return path.startswith(OPEN_PREFIXES)


def api_routes() -> list[Route]:
    """Every route of every domain function, plus the docs; each (method, path) once."""
    from flowlane.api.domains import DOMAINS, routers_for

    routes: dict[tuple[str, str], Route] = {}
    for domain in DOMAINS:
        for router in routers_for([domain]):
            for route in router.routes:
                path = _gateway_path(getattr(route, "path", ""))
                for method in sorted(getattr(route, "methods", None) or ()):
                    if path == HEALTH_PATH and domain != HEALTH_DOMAIN:
                        continue
                    found = routes.get((method, path))
                    if found is not None and found.function != domain:
                        raise ValueError(
                            f"{method} {path} is served by both {found.function} and {domain}"
                        )
                    routes[(method, path)] = Route(method, path, domain, _is_open(method, path))
    for method, path in DOCS_ROUTES:
        routes[(method, path)] = Route(method, path, "docs", True)
    return sorted(routes.values(), key=lambda r: (r.path, r.method))
