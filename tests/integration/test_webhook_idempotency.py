"""One execution per webhook delivery: Powertools idempotency on the one table, on moto."""

from __future__ import annotations

import datetime
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools.shared import user_agent
from aws_lambda_powertools.utilities.idempotency import base as powertools_handler
from aws_lambda_powertools.utilities.idempotency.persistence import (
    base as powertools_persistence,
)
from aws_lambda_powertools.utilities.idempotency.persistence import (
    datarecord as powertools_record,
)
from aws_lambda_powertools.utilities.idempotency.persistence import (
    dynamodb as powertools_dynamodb,
)
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from flowlane.errors import Conflict, UpstreamError
from flowlane.runtime.services import Services
from flowlane.runtime.webhook_idempotency import (
    IN_PROGRESS_MESSAGE,
    WebhookIdempotency,
    idempotency_pk,
)

KEY = "t=1700000000,v1=" + "a" * 64


class Starts:
    """A `start` that counts its calls and answers a new execution id each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"execution_id": f"exec-{self.calls}", "status": "running"}


class Crash(BaseException):
    """Stands for the process dying inside `start` (a Lambda time-out): Powertools catches
    `Exception` only, so the record stays behind in progress, as it would then."""


@pytest.fixture
def idempotency(services: Services) -> WebhookIdempotency:
    return WebhookIdempotency(services)


def _records(services: Services) -> list[dict[str, Any]]:
    """Every delivery record in the table, whoever owns it."""
    items = services.clients.dynamodb.scan(TableName=services.store.table_name)["Items"]
    return [item for item in items if item["pk"]["S"].endswith("#IDEMPOTENCY")]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move Powertools' clock forward: `advance(seconds)`.

    Powertools reads `datetime.datetime.now()` through `import datetime as dt` in each module
    that compares or computes an expiry; each gets a `dt` whose `now` is shifted.
    """
    shift = {"seconds": 0.0}

    class ShiftedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> ShiftedDatetime:
            real = datetime.datetime.now(tz) + datetime.timedelta(seconds=shift["seconds"])
            return cls.fromtimestamp(real.timestamp(), tz)

    shifted = types.SimpleNamespace(**{**vars(datetime), "datetime": ShiftedDatetime})
    for module in (
        powertools_handler,
        powertools_persistence,
        powertools_record,
        powertools_dynamodb,
    ):
        assert module.dt is datetime  # the seam this fixture relies on
        monkeypatch.setattr(module, "dt", shifted)

    def advance(seconds: float) -> None:
        shift["seconds"] += seconds

    return advance


@pytest.fixture
def fail_dynamodb(services: Services) -> Iterator[Callable[[str], None]]:
    """Make one DynamoDB operation answer as DynamoDB does when it is unavailable."""
    events = services.clients.dynamodb.meta.events
    registered: list[tuple[str, Any]] = []

    def fail(operation: str) -> None:
        def unavailable(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            http = AWSResponse("https://dynamodb", 500, HTTPHeaders(), None)
            parsed = {
                "Error": {"Code": "InternalServerError", "Message": "try again"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            }
            return http, parsed

        name = f"before-call.dynamodb.{operation}"
        events.register(name, unavailable)
        registered.append((name, unavailable))

    yield fail
    for name, handler in registered:
        events.unregister(name, handler)


# -- once per key --------------------------------------------------------------------------


def test_the_same_key_starts_once_and_answers_the_same_result(
    idempotency: WebhookIdempotency,
) -> None:
    start = Starts()

    first = idempotency.once("alice", KEY, start)
    again = idempotency.once("alice", KEY, start)

    assert start.calls == 1
    assert first == again == {"execution_id": "exec-1", "status": "running"}


def test_a_new_instance_sees_the_stored_record(services: Services) -> None:
    """The record is in DynamoDB, not in the process: another Lambda instance replays it."""
    start = Starts()
    WebhookIdempotency(services).once("alice", KEY, start)

    assert WebhookIdempotency(services).once("alice", KEY, start)["execution_id"] == "exec-1"
    assert start.calls == 1


def test_different_keys_start_twice(idempotency: WebhookIdempotency) -> None:
    start = Starts()

    first = idempotency.once("alice", KEY, start)
    second = idempotency.once("alice", KEY.replace("a", "b"), start)

    assert start.calls == 2
    assert first["execution_id"] != second["execution_id"]


def test_owners_are_apart_and_records_sit_under_each_owners_partition(
    services: Services, idempotency: WebhookIdempotency
) -> None:
    start = Starts()

    idempotency.once("alice", KEY, start)
    idempotency.once("bob", KEY, start)

    assert start.calls == 2
    records = _records(services)
    assert sorted(r["pk"]["S"] for r in records) == [
        "USER#alice#IDEMPOTENCY",
        "USER#bob#IDEMPOTENCY",
    ]
    assert idempotency_pk("alice") == "USER#alice#IDEMPOTENCY"
    for record in records:
        # The key is hashed (never stored as given) behind a fixed prefix.
        assert record["sk"]["S"].startswith("WEBHOOK#")
        assert KEY not in record["sk"]["S"]
        assert record["status"]["S"] == "COMPLETED"
        assert int(record["expires_at"]["N"]) > 0  # the table's TTL attribute


def test_the_stored_record_carries_the_result_and_the_ttl(
    services: Services, idempotency: WebhookIdempotency
) -> None:
    idempotency.once("alice", KEY, Starts())

    (record,) = _records(services)
    assert record["data"]["S"] == '{"execution_id": "exec-1", "status": "running"}'
    in_progress_until = int(record["in_progress_expiration"]["N"]) / 1000
    # expires_at is set at the final save; both come from the same clock, 600 s and 60 s ahead.
    assert 530 <= int(record["expires_at"]["N"]) - in_progress_until <= 541


def test_every_answer_is_the_json_form_of_the_result(idempotency: WebhookIdempotency) -> None:
    """The first answer equals the replays even for values JSON changes (tuples)."""

    def start() -> dict[str, Any]:
        return {"ids": ("a", "b"), "nested": {"n": 1.5, "none": None}}

    first = idempotency.once("alice", KEY, start)
    again = idempotency.once("alice", KEY, start)

    assert first == again == {"ids": ["a", "b"], "nested": {"n": 1.5, "none": None}}


def test_an_empty_result_replays_as_empty(idempotency: WebhookIdempotency) -> None:
    """Powertools replays a stored `{}` as None; `once` keeps its promise of a dict."""
    start = Starts()

    def empty() -> dict[str, Any]:
        start()
        return {}

    assert idempotency.once("alice", KEY, empty) == {}
    assert idempotency.once("alice", KEY, empty) == {}
    assert start.calls == 1


# -- failures ------------------------------------------------------------------------------


def test_a_failing_start_leaves_no_record_and_the_next_call_runs(
    services: Services, idempotency: WebhookIdempotency
) -> None:
    boom = RuntimeError("Step Functions said no")

    def failing() -> dict[str, Any]:
        raise boom

    with pytest.raises(RuntimeError) as caught:
        idempotency.once("alice", KEY, failing)

    assert caught.value is boom  # unchanged, not wrapped
    assert _records(services) == []
    start = Starts()
    assert idempotency.once("alice", KEY, start) == {"execution_id": "exec-1", "status": "running"}
    assert start.calls == 1


def test_a_start_returning_no_json_object_fails_and_leaves_no_record(
    services: Services, idempotency: WebhookIdempotency
) -> None:
    with pytest.raises(TypeError):
        idempotency.once("alice", KEY, lambda: {"when": datetime.datetime.now()})
    with pytest.raises(TypeError, match="must return a dict"):
        idempotency.once("alice", KEY, lambda: ["not", "a", "dict"])  # type: ignore[arg-type,return-value]

    assert _records(services) == []


def test_a_second_call_while_the_first_runs_is_a_conflict(
    services: Services, idempotency: WebhookIdempotency
) -> None:
    start = Starts()
    inner: list[BaseException] = []

    def reentrant() -> dict[str, Any]:
        # The provider's retry arrives while this delivery is still being started.
        try:
            idempotency.once("alice", KEY, start)
        except Conflict as exc:
            inner.append(exc)
        return start()

    result = idempotency.once("alice", KEY, reentrant)

    (conflict,) = inner
    assert isinstance(conflict, Conflict)
    assert conflict.status == 409
    assert conflict.message == IN_PROGRESS_MESSAGE
    assert start.calls == 1  # only the outer call started anything
    assert idempotency.once("alice", KEY, start) == result


def test_a_conflict_inside_start_propagates_and_frees_the_key(
    services: Services, idempotency: WebhookIdempotency
) -> None:
    def reentrant() -> dict[str, Any]:
        return idempotency.once("alice", KEY, Starts())

    with pytest.raises(Conflict):
        idempotency.once("alice", KEY, reentrant)

    assert _records(services) == []


def test_a_record_left_in_progress_blocks_until_its_in_progress_expiry(
    services: Services, idempotency: WebhookIdempotency, clock: Callable[[float], None]
) -> None:
    def crash() -> dict[str, Any]:
        raise Crash

    with pytest.raises(Crash):
        idempotency.once("alice", KEY, crash)
    (record,) = _records(services)
    assert record["status"]["S"] == "INPROGRESS"

    start = Starts()
    with pytest.raises(Conflict):
        idempotency.once("alice", KEY, start)
    clock(55)
    with pytest.raises(Conflict):
        idempotency.once("alice", KEY, start)

    clock(10)  # past the 60 s in-progress timeout: the caller that held the key is gone
    assert idempotency.once("alice", KEY, start)["execution_id"] == "exec-1"
    assert start.calls == 1


def test_dynamodb_failing_is_an_upstream_error(
    services: Services,
    idempotency: WebhookIdempotency,
    fail_dynamodb: Callable[[str], None],
) -> None:
    fail_dynamodb("PutItem")
    start = Starts()

    with pytest.raises(UpstreamError) as caught:
        idempotency.once("alice", KEY, start)

    assert caught.value.status == 502
    assert caught.value.details == {"service": "dynamodb", "aws_code": "InternalServerError"}
    assert start.calls == 0


def test_failing_to_save_the_result_is_an_upstream_error(
    idempotency: WebhookIdempotency, fail_dynamodb: Callable[[str], None]
) -> None:
    fail_dynamodb("UpdateItem")

    with pytest.raises(UpstreamError):
        idempotency.once("alice", KEY, Starts())


def test_failing_to_forget_a_failed_start_is_an_upstream_error(
    idempotency: WebhookIdempotency, fail_dynamodb: Callable[[str], None]
) -> None:
    fail_dynamodb("DeleteItem")

    def failing() -> dict[str, Any]:
        raise RuntimeError("boom")

    with pytest.raises(UpstreamError) as caught:
        idempotency.once("alice", KEY, failing)
    # The start's own exception is still in the chain for the logs.
    assert isinstance(caught.value.__cause__, Exception)


# -- expiry --------------------------------------------------------------------------------


def test_a_replay_within_the_expiry_is_answered_from_the_record(
    idempotency: WebhookIdempotency, clock: Callable[[float], None]
) -> None:
    start = Starts()
    idempotency.once("alice", KEY, start)

    clock(599)

    assert idempotency.once("alice", KEY, start)["execution_id"] == "exec-1"
    assert start.calls == 1


def test_an_expired_record_counts_as_absent(
    services: Services, idempotency: WebhookIdempotency, clock: Callable[[float], None]
) -> None:
    """moto never runs TTL, so the record is still in the table: Powertools itself compares."""
    start = Starts()
    idempotency.once("alice", KEY, start)

    clock(602)

    assert idempotency.once("alice", KEY, start)["execution_id"] == "exec-2"
    assert start.calls == 2
    (record,) = _records(services)  # the expired record was replaced, not duplicated
    assert record["data"]["S"] == '{"execution_id": "exec-2", "status": "running"}'


def test_a_record_whose_stored_expiry_passed_counts_as_absent(
    services: Services, idempotency: WebhookIdempotency
) -> None:
    """The same with the real clock: the stored `expires_at` is what Powertools compares."""
    start = Starts()
    idempotency.once("alice", KEY, start)
    (record,) = _records(services)
    services.clients.dynamodb.update_item(
        TableName=services.store.table_name,
        Key={"pk": record["pk"], "sk": record["sk"]},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )

    assert idempotency.once("alice", KEY, start)["execution_id"] == "exec-2"


def test_the_expiry_must_cover_the_whole_replay_window(services: Services) -> None:
    # A signature is valid from t - 300 to t + 300: 600 s between first delivery and last replay.
    with pytest.raises(ValueError, match="expires_after_seconds"):
        WebhookIdempotency(services, expires_after_seconds=599)
    with pytest.raises(ValueError, match="in_progress_timeout_seconds"):
        WebhookIdempotency(services, in_progress_timeout_seconds=0)
    assert WebhookIdempotency(services, expires_after_seconds=3600).expires_after_seconds == 3600


# -- the shared client ---------------------------------------------------------------------


def test_many_deliveries_add_no_hook_to_the_shared_client(
    services: Services, idempotency: WebhookIdempotency, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools registers a User-Agent hook on the client of every layer it builds, and never
    removes it; `once` builds a layer per call, so the shared client must not be handed over
    with its events, or every DynamoDB request of the process would run one more hook per
    delivery ever handled (10,000 hooks: ~16 ms a request)."""
    shared_events = services.clients.dynamodb.meta.events
    hooked: list[Any] = []
    register: Callable[..., None] = user_agent.register_feature_to_client

    def spy(client: Any, feature: str) -> None:
        hooked.append(getattr(getattr(client, "meta", None), "events", None))
        register(client=client, feature=feature)

    monkeypatch.setattr(user_agent, "register_feature_to_client", spy)

    for n in range(5):
        idempotency.once("alice", f"{KEY}{n}", Starts())

    assert len(hooked) == 5  # the seam was exercised: one layer per call
    assert all(events is not shared_events for events in hooked)


def test_empty_owner_or_key_is_refused(idempotency: WebhookIdempotency) -> None:
    # Powertools would skip idempotency silently for an empty key.
    with pytest.raises(ValueError, match="empty"):
        idempotency.once("alice", "", Starts())
    with pytest.raises(ValueError, match="empty"):
        idempotency.once("", KEY, Starts())
