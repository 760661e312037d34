"""The agent's routes (CONTRACT.md section 5, "Agent"). Thin: `flowlane.agent.service` does
the work. LangGraph and the LLM SDKs are imported by the routes that generate, on first use,
never at the agent function's cold start (DESIGN.md decision 7)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from starlette.responses import StreamingResponse

from flowlane.agent.service import TERMINAL_EVENTS, AgentService, parse_last_event_id
from flowlane.api.deps import CallerDep, ServicesDep
from flowlane.api.sse import comment, event_stream, sse
from flowlane.errors import FlowlaneError, ValidationFailed
from flowlane.models.agent import (
    MAX_MESSAGE_CHARS,
    GenerateRequest,
    GenerateResponse,
    GenerationStatus,
    QueryRequest,
    QueryResponse,
    RefineRequest,
    RefineResponse,
    SessionCreate,
    SessionCreated,
    SessionPublic,
    TaskAccepted,
    TaskPublic,
)
from flowlane.models.common import MessageResponse
from flowlane.runtime.services import Services
from flowlane.store.sessions import SessionItem, StoredEvent

router = APIRouter(prefix="/api/v1", tags=["agent"])
SSE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}
}
# A quiet stream sends a comment this often, so proxies do not close it.
KEEPALIVE_SECONDS = 10.0


def _agent(services: Services) -> AgentService:
    return AgentService(services, dispatch=services.agent_dispatch)


# -- sessions ----------------------------------------------------------------------------------


@router.post("/session", status_code=status.HTTP_201_CREATED, response_model=SessionCreated)
def create_session(
    body: SessionCreate, caller: CallerDep, services: ServicesDep, response: Response
) -> SessionCreated:
    caller.ensure_same_user(body.user_id)
    created = _agent(services).create_session(caller.user_id, body)
    response.headers["Location"] = f"/api/v1/session/{created.session_id}"
    return created


@router.get("/session/{session_id}", response_model=SessionPublic)
def get_session(session_id: str, caller: CallerDep, services: ServicesDep) -> SessionPublic:
    return _agent(services).session(caller.user_id, session_id)


@router.delete("/session/{session_id}", response_model=MessageResponse)
def delete_session(session_id: str, caller: CallerDep, services: ServicesDep) -> MessageResponse:
    """The session, its messages, progress events and checkpoints. Its workflow stays."""
    _agent(services).delete_session(caller.user_id, session_id)
    return MessageResponse(success=True, message="session deleted")


# -- chat and generation progress --------------------------------------------------------------


@router.get("/chat/stream", responses=SSE_RESPONSES, response_class=StreamingResponse)
def chat_stream(
    caller: CallerDep,
    services: ServicesDep,
    session_id: Annotated[str, Query(min_length=1)],
    user_message: Annotated[str, Query(min_length=1, max_length=MAX_MESSAGE_CHARS)],
) -> StreamingResponse:
    """The agent's reply as `{type: "message", content}` events, then `{type: "done"}`. The
    message starts a generation (or a refinement of the session's workflow) in the worker;
    follow it on `/workflow_generation`."""
    if not user_message.strip():
        raise ValidationFailed(
            "user_message must not be blank",
            [{"loc": ["query", "user_message"], "msg": "must not be blank"}],
        )
    # Done before the response starts, so a 404 or 409 is an ordinary error response.
    events = _agent(services).chat(caller.user_id, session_id, user_message.strip())
    return event_stream(sse(event.model_dump(exclude_none=True)) for event in events)


@router.get("/workflow_generation", responses=SSE_RESPONSES, response_class=StreamingResponse)
def workflow_generation(
    caller: CallerDep,
    services: ServicesDep,
    session_id: Annotated[str, Query(min_length=1)],
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Resume after this event (EventSource sets it)"),
    ] = None,
    after: Annotated[
        str | None, Query(description="Same as Last-Event-ID, for clients that cannot set it")
    ] = None,
) -> StreamingResponse:
    """The session's generation progress: `waiting`, `start`, `draft`, `debugging`, then
    `complete` or `error`, each with an `id:`. Without Last-Event-ID the stream starts at the
    latest generation; with it, it replays what came after that event. The response ends after
    `complete`/`error`, or after the stream budget; the client reconnects with Last-Event-ID."""
    agent = _agent(services)
    owner = caller.user_id
    resume = parse_last_event_id(last_event_id if last_event_id is not None else after)
    # Read once before the response starts: an unknown or expired session is a plain 404.
    first = agent.generation_events(owner, session_id, resume)
    budget = services.agent.stream_budget_seconds
    poll = services.agent.stream_poll_seconds
    return event_stream(_progress(agent, owner, session_id, first, budget, poll))


def _progress(
    agent: AgentService,
    owner: str,
    session_id: str,
    first: tuple[SessionItem, list[StoredEvent], int],
    budget: float,
    poll: float,
) -> Iterator[str]:
    deadline = time.monotonic() + budget
    quiet_since = time.monotonic()
    session, events, seen = first
    sent_waiting = False
    while True:
        for event in events:
            body = {"type": event.type, "workflow_id": event.workflow_id, "data": event.data}
            yield sse(body, event_id=event.seq)
            quiet_since = time.monotonic()
            if event.type in TERMINAL_EVENTS:
                return
        if not events and not sent_waiting:
            running = session.status is GenerationStatus.RUNNING
            state = "running" if running else "idle"
            # Carries the last id seen, so a reconnect after it loses nothing.
            yield sse(
                {"type": "waiting", "workflow_id": None, "data": {"generation": state}},
                event_id=seen,
            )
            sent_waiting = True
        if time.monotonic() >= deadline:
            return
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield comment("keep-alive")
            quiet_since = time.monotonic()
        time.sleep(poll)
        try:
            session, events, seen = agent.generation_events(owner, session_id, seen)
        except FlowlaneError as exc:
            # The session was deleted or expired mid-stream: say so and end.
            yield sse(
                {
                    "type": "error",
                    "workflow_id": None,
                    "data": {"code": exc.code, "message": exc.message},
                },
                event_id=seen,
            )
            return


# -- generate and refine (the seed's WorkflowAgent RPCs) -----------------------------------------


@router.post("/workflows/generate", response_model=GenerateResponse)
def generate_workflow(
    body: GenerateRequest, caller: CallerDep, services: ServicesDep
) -> GenerateResponse:
    """Plain words to a validated, dry-run workflow saved as the caller's. With no LLM key the
    offline planner drafts it."""
    caller.ensure_same_user(body.user_id)
    return _agent(services).generate(caller.user_id, body)


@router.post("/workflows/{workflow_id}/refine", response_model=RefineResponse)
def refine_workflow(
    workflow_id: str, body: RefineRequest, caller: CallerDep, services: ServicesDep
) -> RefineResponse:
    """Change the workflow as the feedback says and save it as a new revision; `changes`
    lists what changed. What the feedback does not mention stays as it was."""
    caller.ensure_same_user(body.user_id)
    if body.workflow_id is not None and body.workflow_id != workflow_id:
        raise ValidationFailed(
            "workflow_id in the body does not match the path",
            [{"loc": ["body", "workflow_id"], "msg": "must equal the workflow id in the path"}],
        )
    return _agent(services).refine(caller.user_id, workflow_id, body)


# -- queries (the seed's /query family) ---------------------------------------------------------


@router.post("/query", response_model=QueryResponse)
def query(body: QueryRequest, caller: CallerDep, services: ServicesDep) -> QueryResponse:
    """One conversational turn in the session: the agent answers, and may act through its
    tools (search the catalogue, draft or refine the session's workflow, validate, test, run
    it, read executions)."""
    caller.ensure_same_user(body.user_id)
    return _agent(services).query(caller.user_id, body)


@router.post("/query/stream", responses=SSE_RESPONSES, response_class=StreamingResponse)
def query_stream(body: QueryRequest, caller: CallerDep, services: ServicesDep) -> StreamingResponse:
    """The same turn as events: each `tool_call` and `tool_result`, then `text`, then
    `complete` (or `error`)."""
    caller.ensure_same_user(body.user_id)
    agent = _agent(services)
    agent.sessions.get(caller.user_id, body.session_id)  # 404 before the stream starts

    def chunks() -> Iterator[str]:
        try:
            for chunk in agent.query_turn(caller.user_id, body):
                yield sse(chunk.model_dump())
        except FlowlaneError as exc:
            # The response has started: the error is the stream's last event.
            yield sse({"type": "error", "data": {"code": exc.code, "message": exc.message}})

    return event_stream(chunks())


@router.post("/query/async", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted)
def query_async(body: QueryRequest, caller: CallerDep, services: ServicesDep) -> TaskAccepted:
    """Run the turn in the agent worker; poll `GET /task/{task_id}` for the answer."""
    caller.ensure_same_user(body.user_id)
    return _agent(services).query_async(caller.user_id, body)


@router.get("/task/{task_id}", response_model=TaskPublic)
def get_task(task_id: str, caller: CallerDep, services: ServicesDep) -> TaskPublic:
    return _agent(services).task(caller.user_id, task_id)
