"""`Annotated` dependency aliases, so routes declare what they need in their signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from flowlane.api.auth import Caller, authenticate
from flowlane.runtime.services import Services
from flowlane.store.workflows import WorkflowRepository


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_caller(request: Request) -> Caller:
    caller = authenticate(request, get_services(request).api)
    # The seeds put `user_id` in query strings; it may only ever name the caller.
    caller.ensure_same_user(request.query_params.get("user_id"))
    return caller


def get_workflows(request: Request) -> WorkflowRepository:
    return get_services(request).workflows


ServicesDep = Annotated[Services, Depends(get_services)]
CallerDep = Annotated[Caller, Depends(get_caller)]
WorkflowsDep = Annotated[WorkflowRepository, Depends(get_workflows)]
