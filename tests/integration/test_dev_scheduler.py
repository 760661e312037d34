"""The dev server's scheduler: EventBridge Scheduler schedules stored by moto, fired by
`flowlane.runtime.dev_scheduler` on a fake clock, delivered to real (moto) targets."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowlane.config import LocalSettings, StoreSettings
from flowlane.engine.schedule import parse_schedule
from flowlane.runtime.dev_scheduler import MAX_COUNTED, DevScheduler, Firing, due_occurrences
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.lambdas import HandlerRegistry

ROLE = "arn:aws:iam::123456789012:role/x"
PASS_MACHINE = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
# Before the real clock: moto stamps CreationDate with it, and the scheduler takes the earlier of
# the two as the moment it first saw a schedule, so the fake clock starts where a test wants.
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
INPUT = json.dumps({"trigger": "t1", "at": "<aws.scheduler.scheduled-time>"})


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> Clock:
        self.now = now
        return self


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def machine(runtime: EmbeddedRuntime) -> str:
    return _create_machine(runtime)


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "scheduler.json"


@pytest.fixture
def make_scheduler(
    runtime: EmbeddedRuntime, clock: Clock, state_file: Path
) -> Callable[..., DevScheduler]:
    """A new scheduler on the same state file each call: what a restart gives."""

    def make(**kwargs: Any) -> DevScheduler:
        kwargs.setdefault("clock", clock)
        return DevScheduler(runtime.clients, state_file, **kwargs)

    return make


def _create_machine(rt: EmbeddedRuntime, name: str = "target") -> str:
    sfn = rt.clients.stepfunctions
    arn: str = sfn.create_state_machine(name=name, definition=PASS_MACHINE, roleArn=ROLE)[
        "stateMachineArn"
    ]
    return arn


def _schedule(
    rt: EmbeddedRuntime,
    name: str,
    expression: str,
    target: str,
    *,
    group: str | None = None,
    input: str | None = INPUT,
    **fields: Any,
) -> str:
    scheduler = rt.clients.client("scheduler")
    if group is not None and group not in _groups(rt):
        scheduler.create_schedule_group(Name=group)
    request: dict[str, Any] = {
        "Name": name,
        "ScheduleExpression": expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": target, "RoleArn": ROLE, **({"Input": input} if input else {})},
        **fields,
    }
    if group is not None:
        request["GroupName"] = group
    arn: str = scheduler.create_schedule(**request)["ScheduleArn"]
    return arn


def _groups(rt: EmbeddedRuntime) -> list[str]:
    groups = rt.clients.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    return [g["Name"] for g in groups]


def _inputs(rt: EmbeddedRuntime, machine: str) -> list[dict[str, Any]]:
    """The input of every execution started on `machine`, oldest scheduled time first."""
    sfn = rt.clients.stepfunctions
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    found = [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in executions
    ]
    return sorted(found, key=lambda data: str(data.get("at", "")))


def _ticks(
    scheduler: DevScheduler, clock: Clock, start: datetime, end: datetime, step: timedelta
) -> list[Firing]:
    """Tick every `step` from `start` to `end` (both included); every firing made."""
    firings: list[Firing] = []
    now = start
    while now <= end:
        clock.set(now)
        firings.extend(scheduler.tick())
        now += step
    return firings


# -- rate, cron, at -------------------------------------------------------------------------------


def test_rate_fires_once_per_minute_and_never_twice_at_the_same_instant(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    arn = _schedule(runtime, "every-minute", "rate(1 minute)", machine, group="flowlane-dev")
    scheduler = make_scheduler()

    assert scheduler.tick() == []  # T0: first seen, the count starts here
    assert scheduler.tick() == []
    clock.set(T0 + timedelta(seconds=30))
    assert scheduler.tick() == []

    clock.set(T0 + MINUTE)
    [firing] = scheduler.tick()
    assert firing == Firing(
        schedule_arn=arn,
        group="flowlane-dev",
        name="every-minute",
        scheduled_time=T0 + MINUTE,
        catch_up=False,
        missed=1,
        target_arn=machine,
        delivered=True,
        error=None,
    )
    assert scheduler.tick() == []  # the same instant again
    clock.set(T0 + MINUTE + timedelta(seconds=59))
    assert scheduler.tick() == []
    clock.set(T0 + 2 * MINUTE)
    assert [f.scheduled_time for f in scheduler.tick()] == [T0 + 2 * MINUTE]

    assert _inputs(runtime, machine) == [
        {"trigger": "t1", "at": "2026-01-05T10:01:00Z"},
        {"trigger": "t1", "at": "2026-01-05T10:02:00Z"},
    ]


def test_a_cron_skips_a_local_time_the_clocks_jump_over(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    # Europe/Paris springs forward on 2026-03-29: 02:00 CET becomes 03:00 CEST, no 02:30.
    clock.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    _schedule(
        runtime,
        "nightly",
        "cron(30 2 * * ? *)",
        machine,
        ScheduleExpressionTimezone="Europe/Paris",
    )
    firings = _ticks(
        make_scheduler(),
        clock,
        clock.now,
        datetime(2026, 3, 31, 12, 0, tzinfo=UTC),
        timedelta(minutes=30),
    )
    assert [f.scheduled_time for f in firings] == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),  # 02:30 CEST; none on the 29th
        datetime(2026, 3, 31, 0, 30, tzinfo=UTC),
    ]
    assert all(f.delivered and not f.catch_up for f in firings)


def test_a_cron_fires_once_in_a_local_hour_that_happens_twice(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    # Europe/Paris falls back on 2026-10-25: 03:00 CEST becomes 02:00 CET, 02:30 happens twice.
    clock.set(datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    _schedule(
        runtime,
        "nightly",
        "cron(30 2 * * ? *)",
        machine,
        ScheduleExpressionTimezone="Europe/Paris",
    )
    firings = _ticks(
        make_scheduler(),
        clock,
        clock.now,
        datetime(2026, 10, 26, 12, 0, tzinfo=UTC),
        timedelta(minutes=30),
    )
    assert [f.scheduled_time for f in firings] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the first 02:30 (CEST) only
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),  # 02:30 CET
    ]
    assert len(_inputs(runtime, machine)) == 2


@pytest.mark.parametrize("after_completion", ["NONE", "DELETE"])
def test_at_fires_once_then_never(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
    after_completion: str,
) -> None:
    _schedule(
        runtime,
        "once",
        "at(2026-01-05T11:05:00)",
        machine,
        ScheduleExpressionTimezone="Europe/Paris",  # 10:05 UTC
        ActionAfterCompletion=after_completion,
    )
    scheduler = make_scheduler()
    firings = _ticks(scheduler, clock, T0, T0 + 10 * MINUTE, MINUTE)
    firings += _ticks(scheduler, clock, T0 + timedelta(days=1), T0 + timedelta(days=1), MINUTE)

    assert [(f.scheduled_time, f.catch_up) for f in firings] == [(T0 + 5 * MINUTE, False)]
    assert len(_inputs(runtime, machine)) == 1
    names = [s["Name"] for s in runtime.clients.client("scheduler").list_schedules()["Schedules"]]
    assert names == ([] if after_completion == "DELETE" else ["once"])


def test_start_and_end_dates_bound_the_firings(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    start = T0 + timedelta(minutes=5, seconds=30)
    _schedule(
        runtime,
        "bounded",
        "rate(1 minute)",
        machine,
        StartDate=start,
        EndDate=start + 3 * MINUTE,  # the date before which it may fire
    )
    firings = _ticks(make_scheduler(), clock, T0, T0 + 15 * MINUTE, timedelta(seconds=30))
    # A rate counts from its StartDate and fires at it first.
    assert [f.scheduled_time for f in firings] == [start, start + MINUTE, start + 2 * MINUTE]


# -- restarts and catch-up ------------------------------------------------------------------------


def test_a_restart_catches_up_once_for_what_fell_due_while_down(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    _schedule(runtime, "every-minute", "rate(1 minute)", machine)
    first = make_scheduler()
    first.tick()
    clock.set(T0 + MINUTE)
    assert len(first.tick()) == 1

    clock.set(T0 + 11 * MINUTE)  # down for ten minutes
    [firing] = make_scheduler().tick()

    assert (firing.scheduled_time, firing.catch_up, firing.missed) == (T0 + 11 * MINUTE, True, 10)
    assert _inputs(runtime, machine)[-1] == {
        "trigger": "t1",
        "at": "2026-01-05T10:11:00Z",
        "catch_up": True,
        "missed_occurrences": 10,
    }
    assert len(_inputs(runtime, machine)) == 2


def test_a_restart_at_the_same_instant_does_not_fire_again(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    _schedule(runtime, "every-minute", "rate(1 minute)", machine)
    first = make_scheduler()
    first.tick()
    clock.set(T0 + MINUTE)
    assert len(first.tick()) == 1

    restarted = make_scheduler()
    assert restarted.tick() == []
    clock.set(T0 + 2 * MINUTE)
    [firing] = restarted.tick()
    assert (firing.scheduled_time, firing.catch_up) == (T0 + 2 * MINUTE, False)


def test_a_single_occurrence_older_than_the_grace_is_a_catch_up(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    _schedule(runtime, "hourly", "rate(1 hour)", machine)
    scheduler = make_scheduler(grace_seconds=60)
    scheduler.tick()
    clock.set(T0 + timedelta(hours=1, minutes=10))  # a laptop slept through it
    [firing] = scheduler.tick()
    assert (firing.scheduled_time, firing.catch_up, firing.missed) == (
        T0 + timedelta(hours=1),
        True,
        1,
    )


def test_a_catch_up_counts_at_most_ten_thousand_occurrences(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    _schedule(runtime, "every-minute", "rate(1 minute)", machine)
    make_scheduler().tick()
    clock.set(T0 + timedelta(days=30, seconds=20))  # 43,200 occurrences
    [firing] = make_scheduler().tick()
    assert (firing.scheduled_time, firing.missed) == (T0 + timedelta(days=30), MAX_COUNTED)


def test_the_latest_occurrence_past_the_count_limit_is_exact() -> None:
    schedule = parse_schedule("cron(*/7 9-17 ? * MON-FRI *)", "America/New_York", start=T0)
    now = datetime(2026, 6, 3, 15, 0, 12, tzinfo=UTC)
    due = due_occurrences(schedule, T0, now, limit=50)
    walked = schedule.upcoming(T0, 20_000)  # walks past `now`
    assert due is not None
    assert due.count == 50
    assert due.latest == max(t for t in walked if t <= now)


# -- state ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("restart", [False, True])
def test_a_disabled_schedule_neither_fires_nor_catches_up_when_enabled(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
    restart: bool,
) -> None:
    _schedule(runtime, "paused", "rate(1 minute)", machine, State="DISABLED")
    scheduler = make_scheduler()
    assert _ticks(scheduler, clock, T0, T0 + 10 * MINUTE, MINUTE) == []

    runtime.clients.client("scheduler").update_schedule(
        Name="paused",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": machine, "RoleArn": ROLE, "Input": INPUT},
        State="ENABLED",
    )
    if restart:  # only the watermark written when it turned disabled is on disk
        scheduler = make_scheduler()
    clock.set(T0 + 10 * MINUTE + timedelta(seconds=30))
    assert scheduler.tick() == []
    clock.set(T0 + 11 * MINUTE)
    [firing] = scheduler.tick()
    assert (firing.scheduled_time, firing.catch_up, firing.missed) == (T0 + 11 * MINUTE, False, 1)


def test_a_deleted_schedules_state_is_dropped(
    runtime: EmbeddedRuntime,
    machine: str,
    make_scheduler: Callable[..., DevScheduler],
    state_file: Path,
) -> None:
    kept = _schedule(runtime, "kept", "rate(1 minute)", machine)
    gone = _schedule(runtime, "gone", "rate(1 minute)", machine)
    scheduler = make_scheduler()
    scheduler.tick()
    assert set(json.loads(state_file.read_text())["schedules"]) == {kept, gone}

    runtime.clients.client("scheduler").delete_schedule(Name="gone")
    scheduler.tick()
    assert set(json.loads(state_file.read_text())["schedules"]) == {kept}


# -- delivery -------------------------------------------------------------------------------------


def test_the_input_template_is_rendered(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    template = json.dumps(
        {
            "at": "<aws.scheduler.scheduled-time>",
            "schedule": "<aws.scheduler.schedule-arn>",
            "execution": "<aws.scheduler.execution-id>",
            "attempt": "<aws.scheduler.attempt-number>",
        }
    )
    arn = _schedule(
        runtime, "templated", "cron(0 12 * * ? *)", machine, input=template, Description="noon"
    )
    scheduler = make_scheduler()
    scheduler.tick()
    clock.set(datetime(2026, 1, 5, 12, 0, 0, 400_000, tzinfo=UTC))
    assert len(scheduler.tick()) == 1

    [received] = _inputs(runtime, machine)
    assert received["at"] == "2026-01-05T12:00:00Z"
    assert received["schedule"] == arn
    assert uuid.UUID(received["execution"]).version == 4
    assert received["attempt"] == "1"
    assert "catch_up" not in received


def test_a_missing_target_is_retried_then_given_up_without_stopping_the_others(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    missing = machine.replace(":target", ":no-such-machine")
    _schedule(runtime, "broken", "rate(1 minute)", missing)
    _schedule(runtime, "fine", "rate(1 minute)", machine)
    _schedule(runtime, "invalid", "rate(5 minute)", machine)  # moto stores it, AWS would not
    scheduler = make_scheduler()
    scheduler.tick()

    attempts: list[Firing] = []
    for second in range(5):
        clock.set(T0 + MINUTE + timedelta(seconds=second))
        attempts += scheduler.tick()

    broken = [f for f in attempts if f.name == "broken"]
    assert len(broken) == 3  # then given up
    assert not any(f.delivered for f in broken)
    assert all("StateMachineDoesNotExist" in (f.error or "") for f in broken)
    assert [f.name for f in attempts if f.delivered] == ["fine"]
    assert len(_inputs(runtime, machine)) == 1

    clock.set(T0 + 2 * MINUTE)  # the next occurrence is tried afresh
    assert sorted(f.name for f in scheduler.tick()) == ["broken", "fine"]


def test_a_target_that_is_neither_a_state_machine_nor_a_function_is_an_error(
    runtime: EmbeddedRuntime, clock: Clock, make_scheduler: Callable[..., DevScheduler]
) -> None:
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:jobs"
    _schedule(runtime, "to-sqs", "rate(1 minute)", queue_arn)
    scheduler = make_scheduler()
    scheduler.tick()
    clock.set(T0 + MINUTE)
    [firing] = scheduler.tick()
    assert not firing.delivered
    assert "Step Functions" in str(firing.error)


def test_a_lambda_target_is_invoked_asynchronously_with_the_rendered_input(
    clock: Clock, state_file: Path
) -> None:
    received: queue.Queue[Any] = queue.Queue()
    registry = HandlerRegistry()
    registry.register("flowlane-recorder", lambda event, context: received.put(event))
    with EmbeddedRuntime(
        state_dir=None, store=StoreSettings(), local=LocalSettings(), registry=registry
    ) as rt:
        _schedule(rt, "to-lambda", "rate(1 hour)", rt.function_arn("flowlane-recorder"))
        scheduler = DevScheduler(rt.clients, state_file, clock=clock)
        scheduler.tick()
        clock.set(T0 + timedelta(hours=3))
        [firing] = scheduler.tick()
        assert firing.delivered
        assert received.get(timeout=10) == {
            "trigger": "t1",
            "at": "2026-01-05T13:00:00Z",
            "catch_up": True,
            "missed_occurrences": 3,
        }


# -- the thread and the dev server's state ---------------------------------------------------------


def test_start_ticks_at_once_then_stop_joins(
    runtime: EmbeddedRuntime,
    machine: str,
    clock: Clock,
    make_scheduler: Callable[..., DevScheduler],
) -> None:
    _schedule(runtime, "every-minute", "rate(1 minute)", machine)
    make_scheduler().tick()
    clock.set(T0 + 5 * MINUTE)

    scheduler = make_scheduler(interval=60).start()  # only the first tick can fire in time
    try:
        _wait_for(lambda: len(_inputs(runtime, machine)) == 1)
    finally:
        scheduler.stop()
    assert [t for t in threading.enumerate() if t.name == "flowlane-scheduler"] == []
    assert _inputs(runtime, machine)[0]["missed_occurrences"] == 5


def test_a_failing_tick_is_logged_and_the_thread_goes_on(
    runtime: EmbeddedRuntime,
    machine: str,
    make_scheduler: Callable[..., DevScheduler],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _schedule(runtime, "every-minute", "rate(1 minute)", machine)
    make_scheduler().tick()
    calls: list[int] = []

    def flaky_clock() -> datetime:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the clock broke once")
        return T0 + MINUTE

    scheduler = make_scheduler(clock=flaky_clock, interval=0.02).start()
    try:
        _wait_for(lambda: len(calls) >= 3)
    finally:
        scheduler.stop()
    assert len(_inputs(runtime, machine)) == 1
    failed = [r for r in caplog.records if r.getMessage() == "the dev scheduler failed a tick"]
    assert len(failed) == 1
    assert "the clock broke once" in str(failed[0].exc_info)


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class TestSnapshot:
    @pytest.fixture
    def start(self, tmp_path: Path) -> Iterator[Callable[[], EmbeddedRuntime]]:
        started: list[EmbeddedRuntime] = []

        def start() -> EmbeddedRuntime:
            for earlier in started:
                earlier.stop()
            rt = EmbeddedRuntime(
                state_dir=tmp_path, store=StoreSettings(), local=LocalSettings(state_dir=tmp_path)
            ).start()
            started.append(rt)
            return rt

        yield start
        for rt in started:
            rt.stop()

    def test_groups_and_schedules_survive_a_restart(
        self, start: Callable[[], EmbeddedRuntime]
    ) -> None:
        rt = start()
        machine = _create_machine(rt)
        scheduler = rt.clients.client("scheduler")
        scheduler.create_schedule_group(Name="flowlane-dev", Tags=[{"Key": "k", "Value": "v"}])
        _schedule(
            rt,
            "digest",
            "cron(0 9 ? * MON-FRI *)",
            machine,
            group="flowlane-dev",
            ScheduleExpressionTimezone="Europe/Paris",
            Description="every weekday",
            EndDate=datetime(2030, 1, 1, tzinfo=UTC),
            ActionAfterCompletion="DELETE",
            State="DISABLED",
        )
        # Created long ago, as a restored schedule usually was: moto (like AWS) would refuse
        # this StartDate on create, so put it there the way a long-lived schedule has it.
        scheduler.update_schedule(
            Name="digest",
            GroupName="flowlane-dev",
            ScheduleExpression="cron(0 9 ? * MON-FRI *)",
            ScheduleExpressionTimezone="Europe/Paris",
            Description="every weekday",
            EndDate=datetime(2030, 1, 1, tzinfo=UTC),
            StartDate=datetime(2026, 1, 1, tzinfo=UTC),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": machine, "RoleArn": ROLE, "Input": INPUT},
            State="DISABLED",
        )
        _schedule(rt, "plain", "rate(5 minutes)", machine)
        before = _described(rt)
        rt = start()

        assert _described(rt) == before
        assert rt.restored["scheduler"] == 2
        tags = rt.clients.client("scheduler").list_tags_for_resource(
            ResourceArn="arn:aws:scheduler:us-east-1:123456789012:schedule-group/flowlane-dev"
        )
        assert tags["Tags"] == [{"Key": "k", "Value": "v"}]
        assert before["flowlane-dev/digest"]["StartDate"] == datetime(2026, 1, 1, tzinfo=UTC)

    def test_the_scheduler_neither_refires_nor_shifts_a_rate_across_a_restart(
        self, start: Callable[[], EmbeddedRuntime], clock: Clock, state_file: Path
    ) -> None:
        rt = start()
        machine = _create_machine(rt)
        _schedule(rt, "every-minute", "rate(1 minute)", machine)
        scheduler = DevScheduler(rt.clients, state_file, clock=clock)
        scheduler.tick()
        clock.set(T0 + MINUTE)
        assert len(scheduler.tick()) == 1

        rt = start()  # moto gives the restored schedule a new CreationDate
        machine = _create_machine(rt)  # Step Functions state is not kept: the same ARN again
        scheduler = DevScheduler(rt.clients, state_file, clock=clock)
        clock.set(T0 + MINUTE + timedelta(seconds=30))
        assert scheduler.tick() == []
        clock.set(T0 + 2 * MINUTE)
        [firing] = scheduler.tick()
        assert (firing.scheduled_time, firing.catch_up) == (T0 + 2 * MINUTE, False)


def _described(rt: EmbeddedRuntime) -> dict[str, dict[str, Any]]:
    """Every schedule as `get_schedule` answers, without what a re-creation changes."""
    client = rt.clients.client("scheduler")
    found: dict[str, dict[str, Any]] = {}
    for group in _groups(rt):
        for entry in client.list_schedules(GroupName=group)["Schedules"]:
            detail = client.get_schedule(GroupName=group, Name=entry["Name"])
            for key in ("ResponseMetadata", "CreationDate", "LastModificationDate"):
                detail.pop(key, None)
            found[f"{group}/{entry['Name']}"] = detail
    return found
