"""The dev server's scheduler: fires EventBridge Scheduler schedules that moto only stores.

The application creates real schedules with boto3 (CONTRACT.md section 6); on AWS, EventBridge
Scheduler starts their targets. moto keeps the schedules but never fires them, so `flowlane dev`
runs this instead. It reads the schedules back through the same boto3 `scheduler` API and
delivers each due occurrence to the schedule's target as EventBridge Scheduler does for a
templated target: Step Functions `StartExecution` or an asynchronous Lambda `Invoke`, with the
target's `Input` rendered (`<aws.scheduler.scheduled-time>` and the other context attributes).
What an expression means (cron, rate, at, time zones, daylight saving) is
`flowlane.engine.schedule`'s business; this module only decides what is due and delivers it.

Each schedule has a watermark: the latest instant up to which its occurrences are settled.
A tick fires what is due in (watermark, now]. The watermarks are kept in a JSON file, so that
each due time fires once, also across a restart:

- One fresh occurrence (no older than `grace_seconds`) fires normally.
- Anything else (the server was down, a laptop slept) fires ONCE, for the latest due occurrence,
  marked as a catch-up with the number of occurrences it stands for: a workflow that runs every
  minute must not run a thousand times after a night off.
- Delivery comes first, then the watermark is written: a crash in between delivers the same
  scheduled time again (at least once), which the application dedupes downstream.
- A failed delivery is retried on the next ticks, `MAX_ATTEMPTS` in all, then given up.
- A DISABLED schedule's watermark follows the clock: AWS does not catch up what fell due while
  a schedule was disabled.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowlane.engine.schedule import Schedule, ScheduleError, parse_schedule
from flowlane.observability import logger
from flowlane.runtime.aws import AwsClients
from flowlane.runtime.snapshot import write_atomically

MAX_ATTEMPTS = 3
# A catch-up counts the occurrences it stands for up to this many; `rate(1 minute)` after a
# year down is 525,600 of them, and counting them all is no use to anybody.
MAX_COUNTED = 10_000
_STATE_FORMAT = 1
_ONE_MICROSECOND = timedelta(microseconds=1)

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"
EXECUTION_ID = "<aws.scheduler.execution-id>"
ATTEMPT_NUMBER = "<aws.scheduler.attempt-number>"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _optional_utc(value: Any) -> datetime | None:
    """A date from a boto3 answer (aware, in the local zone) as UTC; None when absent."""
    return _as_utc(value) if isinstance(value, datetime) else None


@dataclass(frozen=True)
class Firing:
    """One delivery attempt for a schedule: what it stood for and how it went."""

    schedule_arn: str
    group: str
    name: str
    scheduled_time: datetime  # aware, UTC: the (latest) occurrence delivered
    catch_up: bool
    missed: int  # how many due occurrences this firing stands for
    target_arn: str
    delivered: bool
    error: str | None = None


# -- what is due --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    latest: datetime  # the latest occurrence in the window
    count: int  # occurrences in the window, at most MAX_COUNTED


def due_occurrences(
    schedule: Schedule,
    after: datetime,
    now: datetime,
    *,
    end: datetime | None = None,
    limit: int = MAX_COUNTED,
) -> Due | None:
    """The occurrences in (after, now], and before `end` (EventBridge's EndDate is the date
    *before* which a schedule may invoke its target); None when there is none."""
    until = now if end is None else min(now, end - _ONE_MICROSECOND)
    count = 0
    latest: datetime | None = None
    current = after
    while count < limit:
        following = schedule.next_after(current)
        if following is None or following > until:
            break
        count += 1
        latest = current = following
    else:
        # Counted `limit` and more may be due: find the latest one without walking to it.
        latest = _latest_up_to(schedule, current, until) or latest
    return None if latest is None else Due(latest, count)


def _latest_up_to(schedule: Schedule, after: datetime, until: datetime) -> datetime | None:
    """The latest occurrence in (after, until], by bisection on `next_after`: "is there an
    occurrence in (t, until]" only turns from yes to no as t grows, and a cron has no
    `previous_before` to ask directly. About 60 steps whatever the distance."""
    first = schedule.next_after(after)
    if first is None or first > until:
        return None
    low, high = after, until  # next_after(low) <= until; next_after(high) is None or > until
    while high - low > _ONE_MICROSECOND:
        middle = low + (high - low) / 2
        following = schedule.next_after(middle)
        if following is not None and following <= until:
            low = middle
        else:
            high = middle
    return schedule.next_after(low)


# -- the target's input -------------------------------------------------------------------------


def render_input(
    template: str | None,
    *,
    scheduled_time: datetime,
    schedule_arn: str,
    execution_id: str,
    attempt: int = 1,
    catch_up: bool = False,
    missed: int = 1,
) -> str | None:
    """`Target.Input` with EventBridge Scheduler's context attributes filled in.

    A catch-up adds `catch_up` and `missed_occurrences` to an input that is a JSON object: a
    dev-server extension (AWS has no catch-up), so the application can record what happened.
    """
    if template is None:
        return None
    rendered = (
        template.replace(SCHEDULED_TIME, _as_utc(scheduled_time).strftime("%Y-%m-%dT%H:%M:%SZ"))
        .replace(SCHEDULE_ARN, schedule_arn)
        .replace(EXECUTION_ID, execution_id)
        .replace(ATTEMPT_NUMBER, str(attempt))
    )
    if not catch_up:
        return rendered
    try:
        document = json.loads(rendered)
    except ValueError:
        return rendered  # not JSON: delivered as the user wrote it
    if not isinstance(document, dict):
        return rendered
    document.update({"catch_up": True, "missed_occurrences": missed})
    return json.dumps(document)


class DeliveryError(Exception):
    """A target this scheduler cannot deliver to."""


# -- per-schedule memory ------------------------------------------------------------------------


@dataclass
class _Track:
    # The schedule's CreationDate when this scheduler first saw it. moto resets CreationDate
    # when the snapshot re-creates a schedule, so this one is kept: a rate without a StartDate
    # counts from it, and a restart must not shift the count.
    first_seen: datetime
    watermark: datetime  # occurrences up to here are settled (delivered or given up)
    attempts: int = 0  # failed deliveries since the watermark last moved
    enabled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "first_seen": self.first_seen.isoformat(),
            "watermark": self.watermark.isoformat(),
            "attempts": self.attempts,
            "enabled": self.enabled,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Track:
        return cls(
            first_seen=_as_utc(datetime.fromisoformat(data["first_seen"])),
            watermark=_as_utc(datetime.fromisoformat(data["watermark"])),
            attempts=int(data.get("attempts", 0)),
            enabled=bool(data.get("enabled", True)),
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# -- the scheduler ------------------------------------------------------------------------------


class DevScheduler:
    def __init__(
        self,
        clients: AwsClients,
        state_file: Path | None,
        *,
        clock: Callable[[], datetime] = utc_now,
        interval: float = 1.0,
        grace_seconds: float = 60.0,
    ) -> None:
        self.clients = clients
        self.state_file = state_file
        self.clock = clock
        self.interval = interval
        self.grace = timedelta(seconds=grace_seconds)
        self._tracks: dict[str, _Track] = self._load()
        self._dirty = False
        # Parsed expressions per schedule ARN, with what they were parsed from: a cron caches
        # the firing days of each month it walked, and a tick comes every second.
        self._parsed: dict[str, tuple[tuple[str, str | None, datetime], Schedule]] = {}
        # Expressions already reported as invalid: reported once, not once a second.
        self._invalid: set[tuple[str, str, str | None]] = set()
        # ARN -> (version, GetSchedule answer), refreshed when list_schedules shows a change.
        self._details: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> DevScheduler:
        """Tick now (which catches up what fell due while the server was down), then every
        `interval` seconds, on a daemon thread."""
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="flowlane-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            if self._thread.is_alive():
                logger.warning("the dev scheduler did not stop within 30 s")
            self._thread = None

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:
                # Keep firing: the next tick retries, and the error is in the log.
                logger.exception("the dev scheduler failed a tick")
            if self._stop.wait(self.interval):
                return

    def count_schedules(self) -> int:
        return sum(1 for _ in self._list())

    # -- one pass --------------------------------------------------------------------------------

    def tick(self) -> list[Firing]:
        """Fire what is due now; answer the delivery attempts made."""
        with self._lock:
            now = _as_utc(self.clock())
            firings: list[Firing] = []
            seen: set[str] = set()
            for group, name, arn, version in self._list():
                seen.add(arn)
                try:
                    firing = self._visit(group, name, arn, version, now)
                except Exception:
                    # One bad schedule must not stop the others; it is retried next tick.
                    logger.exception(
                        "the dev scheduler failed a schedule", extra={"schedule_arn": arn}
                    )
                    continue
                if firing is not None:
                    firings.append(firing)
            self._forget_all_but(seen)
            self._details = {arn: kept for arn, kept in self._details.items() if arn in seen}
            if self._dirty:
                self._save()
            return firings

    def _list(self) -> Iterator[tuple[str, str, str, tuple[Any, ...]]]:
        """(group, name, ARN, version) of every schedule in every group; the version changes
        whenever the schedule does."""
        client = self.clients.client("scheduler")
        for groups in client.get_paginator("list_schedule_groups").paginate():
            for group in groups.get("ScheduleGroups", []):
                for page in client.get_paginator("list_schedules").paginate(
                    GroupName=group["Name"]
                ):
                    for schedule in page.get("Schedules", []):
                        version = (schedule.get("LastModificationDate"), schedule.get("State"))
                        yield schedule["GroupName"], schedule["Name"], schedule["Arn"], version

    def _visit(
        self, group: str, name: str, arn: str, version: tuple[Any, ...], now: datetime
    ) -> Firing | None:
        detail = self._detail(group, name, arn, version)
        if detail is None:
            return None
        track = self._track(detail, now)
        if detail.get("State", "ENABLED") != "ENABLED":
            self._hold(track, now)
            return None
        if not track.enabled:
            self._resume(track, detail, now)
        schedule = self._schedule(detail, track)
        if schedule is None:
            return None
        end = _optional_utc(detail.get("EndDate"))
        due = due_occurrences(schedule, track.watermark, now, end=end)
        if due is None:
            return None
        catch_up = due.count > 1 or now - due.latest > self.grace
        firing = self._fire(detail, due, catch_up, attempt=track.attempts + 1)
        completed = self._settle(track, firing, due)
        if completed and detail.get("ActionAfterCompletion") == "DELETE":
            following = schedule.next_after(due.latest)
            if following is None or (end is not None and following >= end):
                self._delete(group, name)
        return firing

    def _detail(
        self, group: str, name: str, arn: str, version: tuple[Any, ...]
    ) -> dict[str, Any] | None:
        """The schedule in full: read again only when it changed since the last tick (one
        GetSchedule per schedule per second would make a tick cost ~1 ms a schedule)."""
        kept = self._details.get(arn)
        if kept is not None and kept[0] == version:
            return kept[1]
        try:
            detail: dict[str, Any] = self.clients.client("scheduler").get_schedule(
                GroupName=group, Name=name
            )
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                return None  # deleted since it was listed: forgotten on the next tick
            raise
        self._details[arn] = (version, detail)
        return detail

    def _track(self, detail: dict[str, Any], now: datetime) -> _Track:
        arn: str = detail["Arn"]
        track = self._tracks.get(arn)
        if track is None:
            # A clock behind moto's (a test's fake clock, or skew) would otherwise hold a new
            # schedule back until it caught up with a creation date "in the future".
            first_seen = min(_as_utc(detail["CreationDate"]), now)
            track = self._tracks[arn] = _Track(first_seen=first_seen, watermark=first_seen)
            self._dirty = True
        return track

    def _hold(self, track: _Track, now: datetime) -> None:
        """A disabled schedule: nothing that falls due now is caught up after it is enabled."""
        track.watermark = max(track.watermark, now)
        track.attempts = 0
        if track.enabled:
            # Written when it turns disabled; the moves after that stay in memory (no write a
            # second): after a restart the first tick finds it disabled and moves it again.
            track.enabled = False
            self._dirty = True

    def _resume(self, track: _Track, detail: dict[str, Any], now: datetime) -> None:
        """A disabled schedule enabled again: nothing before its enabling is caught up.

        The watermark held in memory is the last tick that saw it disabled; after a restart only
        the one written when it turned disabled is left, so the update that enabled it
        (LastModificationDate) bounds it too.
        """
        modified = _optional_utc(detail.get("LastModificationDate")) or now
        track.watermark = max(track.watermark, min(modified, now))
        track.enabled = True
        self._dirty = True

    def _schedule(self, detail: dict[str, Any], track: _Track) -> Schedule | None:
        arn: str = detail["Arn"]
        expression: str = detail["ScheduleExpression"]
        timezone: str | None = detail.get("ScheduleExpressionTimezone")
        # A rate counts from its StartDate, else from when it was first seen. For cron and at()
        # the same start only says "nothing before it", which the watermark says already.
        start = _optional_utc(detail.get("StartDate")) or track.first_seen
        key = (expression, timezone, start)
        cached = self._parsed.get(arn)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            schedule = parse_schedule(expression, timezone, start=start)
        except ScheduleError as exc:
            if (arn, expression, timezone) not in self._invalid:
                self._invalid.add((arn, expression, timezone))
                logger.error(
                    "a schedule's expression is not valid; it will not fire",
                    extra={"schedule_arn": arn, "expression": expression, "error": exc.message},
                )
            return None
        self._parsed[arn] = (key, schedule)
        return schedule

    # -- delivery --------------------------------------------------------------------------------

    def _fire(self, detail: dict[str, Any], due: Due, catch_up: bool, *, attempt: int) -> Firing:
        target: dict[str, Any] = detail["Target"]
        arn: str = detail["Arn"]
        execution_id = uuid.uuid4()
        rendered = render_input(
            target.get("Input"),
            scheduled_time=due.latest,
            schedule_arn=arn,
            execution_id=str(execution_id),
            attempt=attempt,
            catch_up=catch_up,
            missed=due.count,
        )
        error: str | None = None
        try:
            self._deliver(target["Arn"], rendered, execution_id)
        except (DeliveryError, ClientError, BotoCoreError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return Firing(
            schedule_arn=arn,
            group=detail.get("GroupName") or "default",
            name=detail["Name"],
            scheduled_time=due.latest,
            catch_up=catch_up,
            missed=due.count,
            target_arn=target["Arn"],
            delivered=error is None,
            error=error,
        )

    def _deliver(self, target_arn: str, rendered: str | None, execution_id: uuid.UUID) -> None:
        parts = target_arn.split(":")
        service = parts[2] if len(parts) > 6 else ""
        if service == "states" and parts[5] == "stateMachine":
            kwargs: dict[str, Any] = {"stateMachineArn": target_arn, "name": execution_id.hex}
            if rendered is not None:
                kwargs["input"] = rendered
            # Always named: moto gives every unnamed execution the same ARN.
            self.clients.stepfunctions.start_execution(**kwargs)
        elif service == "lambda":
            kwargs = {"FunctionName": target_arn, "InvocationType": "Event"}
            if rendered is not None:
                kwargs["Payload"] = rendered.encode()
            self.clients.client("lambda").invoke(**kwargs)
        else:
            raise DeliveryError(
                f"the dev server delivers to Step Functions state machines and Lambda functions "
                f"only, not to {target_arn!r}"
            )

    def _settle(self, track: _Track, firing: Firing, due: Due) -> bool:
        """Move the watermark after a delivery or the last failed attempt, and write it (after
        the delivery: at least once). Answer whether the firing is over."""
        attempt = track.attempts + 1
        context = {"schedule_arn": firing.schedule_arn, "attempt": attempt, "error": firing.error}
        if firing.delivered:
            track.watermark, track.attempts = due.latest, 0
            logger.info(
                "schedule fired",
                extra={
                    "schedule_arn": firing.schedule_arn,
                    "scheduled_time": firing.scheduled_time.isoformat(),
                    "catch_up": firing.catch_up,
                    "missed": firing.missed,
                },
            )
        elif attempt < MAX_ATTEMPTS:
            track.attempts = attempt
            logger.warning("a schedule's delivery failed; retried next tick", extra=context)
        else:
            track.watermark, track.attempts = due.latest, 0
            logger.error("a schedule's delivery failed; given up", extra=context)
        self._dirty = True
        self._save()
        return track.attempts == 0

    def _delete(self, group: str, name: str) -> None:
        """ActionAfterCompletion=DELETE: the schedule has fired for the last time."""
        try:
            self.clients.client("scheduler").delete_schedule(GroupName=group, Name=name)
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise

    # -- state file ------------------------------------------------------------------------------

    def _forget_all_but(self, seen: set[str]) -> None:
        for arn in set(self._tracks) - seen:
            del self._tracks[arn]
            self._parsed.pop(arn, None)
            self._dirty = True
        self._invalid = {entry for entry in self._invalid if entry[0] in seen}

    def _load(self) -> dict[str, _Track]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            payload = json.loads(self.state_file.read_bytes())
            if payload.get("format") != _STATE_FORMAT:
                raise ValueError(f"unknown format {payload.get('format')!r}")
            return {arn: _Track.from_json(data) for arn, data in payload["schedules"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # Written atomically, so this is a hand edit or a newer format. Starting afresh
            # fires nothing twice; only what fell due while the server was down is not caught up.
            logger.exception(
                "the dev scheduler's state file is unreadable; starting afresh",
                extra={"path": str(self.state_file)},
            )
            return {}

    def _save(self) -> None:
        if self.state_file is None:
            self._dirty = False
            return
        payload = {
            "format": _STATE_FORMAT,
            "schedules": {arn: track.to_json() for arn, track in sorted(self._tracks.items())},
        }
        try:
            write_atomically(self.state_file, json.dumps(payload, indent=1).encode())
        except OSError:
            # Memory stays right for this process; the next change tries the write again.
            logger.exception(
                "could not write the dev scheduler's state", extra={"path": str(self.state_file)}
            )
            return
        self._dirty = False
