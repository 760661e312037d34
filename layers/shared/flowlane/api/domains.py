"""Which routers each domain Lambda serves. The dev server mounts them all, so local routes are
exactly the deployed routes."""

from __future__ import annotations

from fastapi import APIRouter

from flowlane.api.routers import (
    agent,
    deployments,
    engine,
    execute,
    executions,
    health,
    triggers,
    webhooks,
    workflows,
)

DOMAINS: dict[str, list[APIRouter]] = {
    "workflows": [health.router, workflows.router, engine.router],
    "executions": [health.router, execute.router, executions.router],
    "runtime": [health.router, deployments.router, triggers.router],
    "webhooks": [health.router, webhooks.router],
    "agent": [health.router, agent.router],
}


def routers_for(names: list[str] | None = None) -> list[APIRouter]:
    """The routers of the named domains (all when None), each once."""
    chosen = list(DOMAINS) if names is None else names
    unknown = [n for n in chosen if n not in DOMAINS]
    if unknown:
        raise KeyError(f"unknown domains {unknown}; known: {sorted(DOMAINS)}")
    result: list[APIRouter] = []
    for name in chosen:
        for router in DOMAINS[name]:
            if router not in result:
                result.append(router)
    return result
