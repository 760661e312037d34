"""Which routers each domain Lambda serves. The dev server mounts them all, so local routes are
exactly the deployed routes.

Router modules are named here and imported only for the domains a function serves: each router
pulls in its models and services, and a function that loads every domain's routes pays ~40 ms
of cold start for routes it never answers.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

DOMAINS: dict[str, tuple[str, ...]] = {
    "workflows": ("health", "workflows", "engine"),
    "executions": ("health", "execute", "executions"),
    "runtime": ("health", "deployments", "triggers"),
    "webhooks": ("health", "webhooks"),
    "agent": ("health", "agent"),
}


def routers_for(names: list[str] | None = None) -> list[APIRouter]:
    """The routers of the named domains (all when None), each once."""
    chosen = list(DOMAINS) if names is None else names
    unknown = [n for n in chosen if n not in DOMAINS]
    if unknown:
        raise KeyError(f"unknown domains {unknown}; known: {sorted(DOMAINS)}")
    modules = list(dict.fromkeys(module for name in chosen for module in DOMAINS[name]))
    routers: list[APIRouter] = []
    for module in modules:
        router = importlib.import_module(f"flowlane.api.routers.{module}").router
        if not isinstance(router, APIRouter):
            raise TypeError(f"flowlane.api.routers.{module}.router is not an APIRouter")
        routers.append(router)
    return routers
