"""The agent's use cases: generate, refine, sessions, chat, generation progress, queries.

Routes and the worker are thin: they call this. Long generations started from a chat run in
the agent worker (DESIGN.md decision 6); their progress events are DynamoDB items that the
streams replay. `POST /workflows/generate` and `/refine` run the same graph in the request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowlane.errors import Conflict, FlowlaneError, NotFound
from flowlane.models.agent import (
    ChatEvent,
    GenerateRequest,
    GenerateResponse,
    GenerationStatus,
    QueryRequest,
    QueryResponse,
    QueryStreamChunk,
    RefineRequest,
    RefineResponse,
    SessionCreate,
    SessionCreated,
    SessionPublic,
    TaskAccepted,
    TaskPublic,
    TaskStatus,
)
from flowlane.models.workflow import WorkflowCreate, WorkflowData
from flowlane.store.sessions import SessionItem, StoredEvent, iso

if TYPE_CHECKING:
    from flowlane.agent.checks import CheckReport
    from flowlane.agent.draft import Draft
    from flowlane.agent.drafting import Drafter
    from flowlane.runtime.services import Services

Dispatch = Callable[[dict[str, Any]], None]
TERMINAL_EVENTS = frozenset({"complete", "error"})
HISTORY_TURNS = 20
# Lambda's longest timeout: a generation silent for longer has no worker left.
STALE_GENERATION_SECONDS = 900


@dataclass
class GenerationResult:
    saved: WorkflowData | None
    draft: Draft | None
    errors: list[str]
    missing_info: list[str]
    suggestions: list[str]
    provider: str
    model_calls: int
    rounds: int
    changes: list[str] = field(default_factory=list)

    def confidence(self) -> float:
        """A plain heuristic, documented in docs/agent.md: 1.0 for a draft that needed nothing,
        less for each thing left to fill in and each repair round; 0 when it failed."""
        if self.saved is None:
            return 0.0
        score = 1.0 - 0.08 * len(self.missing_info) - 0.12 * self.rounds
        return round(max(0.2, min(1.0, score)), 2)


class AgentService:
    def __init__(self, services: Services, *, dispatch: Dispatch | None = None) -> None:
        self.services = services
        self.settings = services.agent
        self.sessions = services.sessions
        self._dispatch = dispatch

    # -- the model --------------------------------------------------------------------------

    def drafter(self) -> Drafter:
        from flowlane.agent.drafting import open_drafter

        return open_drafter(self.settings.provider, self.services.node_services.integrations)

    def chat_provider(self) -> tuple[Any, str] | tuple[None, None]:
        """The provider and model a query turn talks to; (None, None) offline."""
        from flowlane.agent.drafting import chat_model

        return chat_model(self.settings.provider, self.services.node_services.integrations)

    # -- generation -------------------------------------------------------------------------

    def _check(self, owner: str) -> Callable[[WorkflowCreate], CheckReport]:
        from flowlane.agent.checks import check

        def run(document: WorkflowCreate) -> CheckReport:
            return check(document, owner=owner)

        return run

    def run_generation(
        self,
        owner: str,
        *,
        description: str = "",
        context: dict[str, Any] | None = None,
        preferences: dict[str, Any] | None = None,
        refine: WorkflowData | None = None,
        original: WorkflowCreate | None = None,
        feedback: str = "",
        emit: Callable[[str, dict[str, Any]], None] | None = None,
        thread_id: str | None = None,
    ) -> GenerationResult:
        """Run the graph once. For a refinement, `refine` is the stored workflow (the result
        is saved over it as a new revision) and `original` an optional document to start from
        instead of the stored one."""
        # The draft machinery and LangGraph load with the first generation, not at cold start.
        from flowlane.agent.changes import apply_draft, describe_changes
        from flowlane.agent.draft import Draft, draft_of
        from flowlane.agent.generation import GenerationDeps, build_generation_graph

        drafter = self.drafter()
        saved: list[WorkflowData] = []
        base = original if original is not None else refine
        starting = draft_of(base) if base is not None else None

        def save(final: Draft) -> str:
            if refine is not None:
                workflow = self.services.workflows.update(
                    owner, refine.id, apply_draft(refine, final), expected_revision=refine.revision
                )
            else:
                document = final.to_workflow()
                if thread_id:
                    # Keyed by the generation: a retried job that saved before it died finds
                    # its workflow instead of saving a second one.
                    document.id = hashlib.sha256(f"{owner}/{thread_id}".encode()).hexdigest()[:32]
                try:
                    workflow = self.services.workflows.create(owner, document)
                except Conflict:
                    workflow = self.services.workflows.get(owner, str(document.id))
            saved.append(workflow)
            return workflow.id

        deps = GenerationDeps(
            drafter=drafter,
            check=self._check(owner),
            save=save,
            emit=emit or (lambda kind, data: None),
            max_repairs=self.settings.max_repair_rounds,
        )
        checkpointer = self._checkpointer(owner) if thread_id else None
        graph = build_generation_graph(deps, checkpointer)
        state: dict[str, Any] = {
            "mode": "refine" if starting is not None else "generate",
            "description": description,
            "feedback": feedback,
            "context": context or {},
            "preferences": preferences or {},
            "current": starting.model_dump(mode="json") if starting else None,
        }
        config = {"configurable": {"thread_id": thread_id}} if thread_id else None
        try:
            snapshot = graph.get_state(config) if config is not None else None
            if snapshot is not None and snapshot.next:
                # A job delivered again after its worker died midway: carry on from the last
                # finished step (its drafts and model calls are not paid for twice).
                final_state = graph.invoke(None, config=config)
            elif snapshot is not None and snapshot.values.get("outcome"):
                # Delivered again after it had finished: nothing to do twice.
                final_state = dict(snapshot.values)
                if final_state.get("workflow_id"):
                    saved.append(self.services.workflows.get(owner, final_state["workflow_id"]))
            else:
                final_state = graph.invoke(state, config=config)
        finally:
            drafter.close()
        draft = Draft.model_validate(final_state["draft"]) if final_state.get("draft") else None
        changes = describe_changes(starting, draft) if starting and draft and saved else []
        return GenerationResult(
            saved=saved[0] if saved else None,
            draft=draft,
            errors=list(final_state.get("errors", [])),
            missing_info=list(final_state.get("missing_info", [])),
            suggestions=list(final_state.get("suggestions", [])),
            provider=drafter.provider,
            model_calls=drafter.calls,
            rounds=int(final_state.get("rounds", 0)),
            changes=changes,
        )

    def _checkpointer(self, owner: str) -> Any:
        from flowlane.agent.checkpoint import DynamoCheckpointSaver

        return DynamoCheckpointSaver(
            self.services.table, owner, ttl_seconds=self.settings.session_ttl_seconds
        )

    def generate(self, owner: str, request: GenerateRequest) -> GenerateResponse:
        emit = None
        if request.session_id:
            self.sessions.get(owner, request.session_id)  # 404 before any work
            emit = self.session_emitter(owner, request.session_id)
        result = self.run_generation(
            owner,
            description=request.description,
            context=dict(request.context),
            preferences=dict(request.user_preferences),
            emit=emit,
        )
        if request.session_id:
            if result.saved is not None:
                self.sessions.set_workflow(owner, request.session_id, result.saved.id)
            status = GenerationStatus.COMPLETE if result.saved else GenerationStatus.ERROR
            self.sessions.set_status(owner, request.session_id, status)
        return GenerateResponse(
            success=result.saved is not None,
            workflow=result.saved,
            draft=result.draft.to_workflow() if result.saved is None and result.draft else None,
            suggestions=result.suggestions,
            missing_info=result.missing_info,
            errors=result.errors,
            confidence_score=result.confidence(),
            provider=result.provider,
            model_calls=result.model_calls,
            repair_rounds=result.rounds,
        )

    def refine(self, owner: str, workflow_id: str, request: RefineRequest) -> RefineResponse:
        stored = self.services.workflows.get(owner, workflow_id)
        emit = None
        if request.session_id:
            self.sessions.get(owner, request.session_id)
            emit = self.session_emitter(owner, request.session_id)
        result = self.run_generation(
            owner,
            refine=stored,
            original=request.original_workflow,
            feedback=request.feedback,
            emit=emit,
        )
        return RefineResponse(
            success=result.saved is not None,
            updated_workflow=result.saved,
            draft=result.draft.to_workflow() if result.saved is None and result.draft else None,
            changes=result.changes,
            errors=result.errors,
            suggestions=result.suggestions,
            missing_info=result.missing_info,
        )

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, owner: str, body: SessionCreate) -> SessionCreated:
        if body.workflow_id is not None:
            self.services.workflows.get(owner, body.workflow_id)  # 404: not yours, or gone
        item = self.sessions.create(owner, body.action, body.workflow_id)
        return SessionCreated(
            session_id=item.session_id,
            created_at=item.created_at,
            action=item.action,
            workflow_id=item.workflow_id,
            expires_at=iso(item.expires_at),
        )

    def session(self, owner: str, session_id: str) -> SessionPublic:
        item = self.sessions.get(owner, session_id)
        messages = self.sessions.messages(owner, session_id)
        return SessionPublic(
            session_id=item.session_id,
            action=item.action,
            workflow_id=item.workflow_id,
            status=item.status,
            created_at=item.created_at,
            updated_at=item.updated_at,
            expires_at=iso(item.expires_at),
            messages=messages,
            message_count=len(messages),
            last_event_id=item.event_seq,
        )

    def delete_session(self, owner: str, session_id: str) -> None:
        """Its checkpoints first, then the session (which lists them): a failure midway
        leaves a session that can be deleted again."""
        from flowlane.agent.checkpoint import DynamoCheckpointSaver

        session = self.sessions.get(owner, session_id)
        saver = DynamoCheckpointSaver(self.services.table, owner)
        for thread_id in session.threads:
            saver.delete_thread(thread_id)
        self.sessions.delete(owner, session_id)

    def session_emitter(self, owner: str, session_id: str) -> Callable[[str, dict[str, Any]], None]:
        def emit(kind: str, data: dict[str, Any]) -> None:
            workflow_id = data.get("workflow_id")
            self.sessions.add_event(
                owner,
                session_id,
                kind,
                workflow_id=workflow_id if isinstance(workflow_id, str) else None,
                data=data,
                starts_generation=kind == "start",
            )

        return emit

    # -- chat: a message starts a generation in the worker -------------------------------------

    def chat(self, owner: str, session_id: str, user_message: str) -> list[ChatEvent]:
        """Record the message, answer it, and start the generation it asks for (in the worker).
        The generation's progress is on `GET /workflow_generation`."""
        session = self.sessions.get(owner, session_id)
        # A worker that died beyond Lambda's retries leaves RUNNING behind; a generation that
        # has written nothing for longer than a worker may run is not running any more.
        alive = self.sessions.idle_seconds(session) < STALE_GENERATION_SECONDS
        if session.status is GenerationStatus.RUNNING and alive:
            raise Conflict(
                "a generation is already running in this session; follow it on "
                "/workflow_generation and send the next message when it completes",
                {"session_id": session_id},
            )
        self.sessions.add_message(owner, session_id, "user", user_message)
        reply = self._acknowledge(owner, session, user_message)
        self.sessions.add_message(owner, session_id, "assistant", " ".join(reply))
        self.sessions.set_status(owner, session_id, GenerationStatus.RUNNING)
        thread_id = f"{session_id}.{secrets.token_hex(6)}"
        self.sessions.add_thread(owner, session_id, thread_id)
        job = {
            "kind": "session_generation",
            "owner": owner,
            "session_id": session_id,
            "thread_id": thread_id,
        }
        try:
            self.dispatch(job)
        except FlowlaneError:
            self.sessions.set_status(owner, session_id, GenerationStatus.ERROR)
            raise
        events = [ChatEvent(type="message", content=sentence) for sentence in reply]
        events.append(
            ChatEvent(
                type="done",
                data={"session_id": session_id, "generation": "started"},
            )
        )
        return events

    def _acknowledge(self, owner: str, session: SessionItem, message: str) -> list[str]:
        from flowlane.agent.offline import understand

        if session.workflow_id is not None:
            workflow = self.services.workflows.get(owner, session.workflow_id)
            return [f"Updating '{workflow.name}': {message}"]
        reading = understand(self._description(owner, session.session_id))
        reply = ["I'm drafting a workflow for that now."]
        if reading.missing_info:
            reply.append(
                "Things you did not say, which I will fill with placeholders you can change: "
                + "; ".join(reading.missing_info)
            )
        reply.append("You can follow the draft as it takes shape on the generation stream.")
        return reply

    def _description(self, owner: str, session_id: str) -> str:
        """Everything the user said in the session: a follow-up message usually answers what
        the first one left out."""
        said = [m.content for m in self.sessions.messages(owner, session_id) if m.role == "user"]
        return "\n".join(said)

    def run_session_generation(self, owner: str, session_id: str, thread_id: str) -> None:
        """The worker's job: generate (or refine the session's workflow) from the messages.
        `thread_id` names this generation's checkpoints."""
        session = self.sessions.get(owner, session_id)
        emit = self.session_emitter(owner, session_id)
        try:
            if session.workflow_id is not None:
                stored = self.services.workflows.get(owner, session.workflow_id)
                last = self.sessions.messages(owner, session_id, last=2)
                feedback = next((m.content for m in reversed(last) if m.role == "user"), "")
                result = self.run_generation(
                    owner, refine=stored, feedback=feedback, emit=emit, thread_id=thread_id
                )
            else:
                result = self.run_generation(
                    owner,
                    description=self._description(owner, session_id),
                    emit=emit,
                    thread_id=thread_id,
                )
        except FlowlaneError as exc:
            # Record why, so the stream and the session say it; the worker's log has the rest.
            emit("error", {"errors": [exc.message], "code": exc.code})
            self.sessions.set_status(owner, session_id, GenerationStatus.ERROR)
            raise
        if result.saved is not None:
            self.sessions.set_workflow(owner, session_id, result.saved.id)
        self.sessions.add_message(owner, session_id, "assistant", _result_text(result))
        status = GenerationStatus.COMPLETE if result.saved else GenerationStatus.ERROR
        self.sessions.set_status(owner, session_id, status)

    def generation_events(
        self, owner: str, session_id: str, after: int | None
    ) -> tuple[SessionItem, list[StoredEvent], int]:
        """The session, the events after `after` (None: from the latest generation's start),
        and the sequence the reader has now seen."""
        session = self.sessions.get(owner, session_id)
        if after is None:
            after = session.generation_start - 1 if session.generation_start else session.event_seq
        events = self.sessions.events_after(owner, session_id, after)
        seen = events[-1].seq if events else after
        return session, events, seen

    # -- queries ------------------------------------------------------------------------------

    def query_turn(self, owner: str, request: QueryRequest) -> Iterator[QueryStreamChunk]:
        from flowlane.agent.conversation import HistoryEntry, run_turn
        from flowlane.agent.tools import SessionTools

        self.sessions.get(owner, request.session_id)
        history = [
            HistoryEntry(role=m.role, content=m.content)
            for m in self.sessions.messages(owner, request.session_id, last=HISTORY_TURNS)
        ]
        self.sessions.add_message(owner, request.session_id, "user", request.message)
        tools = SessionTools(self, owner, request.session_id)
        provider, model = self.chat_provider()
        answer = ""
        try:
            for event in run_turn(
                request.message,
                history=history,
                tools=tools,
                provider=provider,
                model=model,
                max_steps=self.settings.max_turn_steps,
            ):
                if event.type == "complete":
                    answer = str(event.data.get("message", ""))
                yield QueryStreamChunk(type=event.type, data=event.data)
        finally:
            if provider is not None:
                provider.close()
        self.sessions.add_message(owner, request.session_id, "assistant", answer)

    def query(self, owner: str, request: QueryRequest) -> QueryResponse:
        calls: list[dict[str, Any]] = []
        answer = ""
        for chunk in self.query_turn(owner, request):
            if chunk.type == "tool_call":
                calls.append(chunk.data)
            elif chunk.type == "complete":
                answer = str(chunk.data.get("message", ""))
        return QueryResponse(
            session_id=request.session_id, message=answer, status="success", tool_calls=calls
        )

    def query_async(self, owner: str, request: QueryRequest) -> TaskAccepted:
        self.sessions.get(owner, request.session_id)
        task = self.sessions.create_task(owner, request.session_id)
        job = {
            "kind": "query",
            "owner": owner,
            "task_id": task.task_id,
            "session_id": request.session_id,
            "message": request.message,
        }
        try:
            self.dispatch(job)
        except FlowlaneError as exc:
            self.sessions.set_task(owner, task.task_id, TaskStatus.FAILED, error=_error_of(exc))
            raise
        return TaskAccepted(task_id=task.task_id, status=task.status, session_id=task.session_id)

    def run_query_task(self, owner: str, task_id: str, session_id: str, message: str) -> None:
        try:
            self.sessions.set_task(owner, task_id, TaskStatus.RUNNING)
        except NotFound:
            return  # ended already: a repeated delivery of the same job
        try:
            response = self.query(owner, QueryRequest(message=message, session_id=session_id))
        except FlowlaneError as exc:
            self.sessions.set_task(owner, task_id, TaskStatus.FAILED, error=_error_of(exc))
            raise
        self.sessions.set_task(
            owner, task_id, TaskStatus.SUCCEEDED, result=response.model_dump(mode="json")
        )

    def task(self, owner: str, task_id: str) -> TaskPublic:
        item = self.sessions.get_task(owner, task_id)
        return TaskPublic(
            task_id=item.task_id,
            status=item.status,
            session_id=item.session_id,
            result=QueryResponse.model_validate(item.result) if item.result else None,
            error=item.error,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )

    # -- the worker ---------------------------------------------------------------------------

    def dispatch(self, job: dict[str, Any]) -> None:
        if self._dispatch is not None:
            self._dispatch(job)
            return
        from flowlane.runtime.agent_jobs import invoke_worker

        invoke_worker(self.services, job)

    def run_job(self, job: dict[str, Any]) -> None:
        kind = job.get("kind")
        owner = str(job["owner"])
        if kind == "session_generation":
            self.run_session_generation(owner, str(job["session_id"]), str(job["thread_id"]))
        elif kind == "query":
            self.run_query_task(
                owner, str(job["task_id"]), str(job["session_id"]), str(job["message"])
            )
        else:
            raise ValueError(f"unknown agent job kind {kind!r}")


def _error_of(exc: FlowlaneError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "details": exc.details}


def _result_text(result: GenerationResult) -> str:
    if result.saved is None:
        return "I could not make a workflow that passes its checks: " + "; ".join(result.errors[:5])
    text = f"Saved '{result.saved.name}' with {len(result.saved.nodes)} steps."
    if result.changes:
        text += " Changes: " + "; ".join(result.changes[:10]) + "."
    if result.missing_info:
        text += " Still to fill in: " + "; ".join(result.missing_info) + "."
    return text


def parse_last_event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    if not re.fullmatch(r"\d{1,12}", value.strip()):
        from flowlane.errors import ValidationFailed

        raise ValidationFailed(
            "Last-Event-ID must be the id of an event this stream sent",
            [{"loc": ["header", "Last-Event-ID"], "msg": "must be a non-negative integer"}],
        )
    return int(value.strip())
