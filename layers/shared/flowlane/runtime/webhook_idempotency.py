"""One execution per webhook delivery, however often the provider retries it.

A provider that sees no answer (a timeout, a dropped connection) sends the same delivery again,
with the same signature. `WebhookIdempotency.once(owner, key, start)` runs `start` for the first
call with a key and answers every later call with the stored result, using Powertools'
idempotency utility on Flowlane's one DynamoDB table (DESIGN.md, Powertools).

Records, under the owner's partition (DESIGN.md decision 8, tenancy in the key):

| pk | sk | what |
|---|---|---|
| `USER#<owner>#IDEMPOTENCY` | `WEBHOOK#<sha256 of the JSON-encoded key>` | one delivery |

with Powertools' attributes: `status` (`INPROGRESS`, `COMPLETED`), `data` (the JSON result),
`expires_at` (Unix seconds; the table's TTL attribute) and `in_progress_expiration` (ms).

Facts about Powertools 3.37 this relies on (read in its source):
- An expired record counts as absent: the put that claims a key is conditional on
  `attribute_not_exists(pk) OR expires_at < now`, and a record read back is `EXPIRED` when
  `now > expires_at`. DynamoDB's TTL (never run by moto) only tidies up.
- When the function raises an `Exception`, the record is deleted and the exception re-raised
  as is, so a retry can succeed.
- A record in progress refuses a second caller until its `in_progress_expiration`; after that
  (the first caller died, e.g. a Lambda time-out) the next caller takes the key over.
  Powertools sets that expiry from a Lambda context's remaining time; `in_progress_timeout_seconds`
  stands in for it, so it works the same without a Lambda context (the dev server, tests).
- `DynamoDBPersistenceLayer(boto3_client=...)` registers a User-Agent hook on the client it is
  given, every time one is built, and the hooks are never removed. The layer's partition key is
  fixed at construction, so one is built per call; it gets the shared client behind a view that
  hides the client's event system (see `_WithoutEventHooks`), else every DynamoDB request of
  the process would run one more hook per delivery ever handled (measured: 10,000 hooks add
  ~16 ms to every request, and as many User-Agent fields to the request object).
- A result of `{}` is stored as `"{}"` but replayed as `None` (a falsy-dict check); replays are
  mapped back to `{}`.

Powertools is imported on first use: with boto3 not yet loaded it pulls boto3 in (~110 ms);
with boto3 and Powertools' Logger loaded it adds ~2 ms (`python -X importtime`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from flowlane.errors import Conflict, UpstreamError
from flowlane.runtime.webhook_signature import DEFAULT_TOLERANCE_SECONDS
from flowlane.store.schema import PK, SK, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from flowlane.runtime.services import Services

KEY_PREFIX = "WEBHOOK"
# A signature is accepted while `t` is within the tolerance of now in either direction, so one
# signed delivery can be replayed for up to twice the tolerance (sent at `t - 300` by a sender
# whose clock runs ahead, retried at `t + 300`). A record must outlive that whole window.
MIN_EXPIRES_AFTER_SECONDS = 2 * DEFAULT_TOLERANCE_SECONDS
IN_PROGRESS_MESSAGE = "a delivery with this signature is being processed; retry shortly"


def idempotency_pk(owner: str) -> str:
    """The partition holding an owner's delivery records."""
    return f"USER#{owner}#IDEMPOTENCY"


class _StartBudget:
    """What Powertools reads from a Lambda context: the time left. A fixed bound here, so a
    record left in progress by a caller that died stops blocking retries after it."""

    def __init__(self, seconds: int) -> None:
        self._millis = seconds * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._millis


class _WithoutEventHooks:
    """The shared DynamoDB client without its event system.

    Powertools calls `client.meta.events.register(...)` in every layer's constructor and
    tolerates a client without one (it catches the `AttributeError`); everything else it calls
    (`put_item`, `get_item`, `update_item`, `delete_item`) goes to the real client.
    """

    meta = None

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class WebhookIdempotency:
    """Run `start` once per (owner, key) within `expires_after_seconds`."""

    def __init__(
        self,
        services: Services,
        *,
        expires_after_seconds: int = 600,
        in_progress_timeout_seconds: int = 60,
    ) -> None:
        """`expires_after_seconds` must cover the whole replay window of a signature, twice the
        signature tolerance (600 s for the default 300 s); with a larger configured tolerance,
        pass at least twice that. `in_progress_timeout_seconds` bounds how long `start` may run
        (at least the webhooks Lambda's timeout): after it, a record left in progress by a
        caller that died no longer blocks a retry."""
        if expires_after_seconds < MIN_EXPIRES_AFTER_SECONDS:
            raise ValueError(
                f"expires_after_seconds must be at least {MIN_EXPIRES_AFTER_SECONDS} "
                "(twice the signature tolerance), so every replayable delivery is covered"
            )
        if not 0 < in_progress_timeout_seconds < expires_after_seconds:
            raise ValueError("in_progress_timeout_seconds must be in (0, expires_after_seconds)")
        self._services = services
        self.expires_after_seconds = expires_after_seconds
        self.in_progress_timeout_seconds = in_progress_timeout_seconds

    def once(self, owner: str, key: str, start: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """`start()`'s result for the first call with `key`; the stored result after that.

        `start` must return a JSON object (plain JSON values); every call, the first included,
        gets it back as JSON decodes it, so a replay is indistinguishable from the first answer.
        When `start` raises, nothing is stored and its exception propagates unchanged.
        Raises `Conflict` while another call with the key is running, `UpstreamError` when
        DynamoDB fails (also when it fails to forget a failed `start`). When DynamoDB fails to
        store the result after `start` succeeded, the key stays in progress until
        `in_progress_timeout_seconds` pass, and a retry after that starts again.

        `key` is what a retry repeats: the verified signature header for a signed webhook. A
        provider that signs every retry anew (a new `t`) makes a new key each time; a delivery
        id it sends is the better key then.
        """
        if not owner or not key:
            # Powertools would silently skip idempotency for an empty key.
            raise ValueError("owner and key must not be empty")

        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
        )

        persistence = DynamoDBPersistenceLayer(
            table_name=self._services.store.table_name,
            key_attr=PK,
            static_pk_value=idempotency_pk(owner),
            sort_key_attr=SK,
            expiry_attr=TTL_ATTRIBUTE,
            boto3_client=cast(Any, _WithoutEventHooks(self._services.clients.dynamodb)),
        )
        config = IdempotencyConfig(
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self.expires_after_seconds,
            # md5 is Powertools' default; a key may be chosen by a caller, so no weak hash.
            hash_function="sha256",
            lambda_context=cast(Any, _StartBudget(self.in_progress_timeout_seconds)),
        )
        # Exceptions from `start` pass through Powertools untouched; remembering them keeps
        # one that happens to be a Powertools error from being mistaken for a store failure.
        raised: list[BaseException] = []

        # Powertools hashes the keyword argument named below; `start` needs no argument.
        def run(delivery_key: str) -> dict[str, Any]:
            try:
                result = start()
                if not isinstance(result, dict):
                    raise TypeError(f"start() must return a dict, not {type(result).__name__}")
                # Fails here (TypeError), not in Powertools' save after the fact, which would
                # leave the record in progress; and the first answer equals every replay.
                decoded: dict[str, Any] = json.loads(json.dumps(result))
                return decoded
            except BaseException as exc:
                raised.append(exc)
                raise

        idempotent_run = idempotent_function(
            run,
            data_keyword_argument="delivery_key",
            persistence_store=persistence,
            config=config,
            key_prefix=KEY_PREFIX,
        )
        try:
            answer = idempotent_run(delivery_key=key)
        except BaseException as exc:
            if any(exc is own for own in raised):
                raise
            if isinstance(
                exc, IdempotencyAlreadyInProgressError | IdempotencyInconsistentStateError
            ):
                # Inconsistent state: the record changed between Powertools' put and get, three
                # times; another delivery with the key is racing this one.
                raise Conflict(IN_PROGRESS_MESSAGE) from exc
            if isinstance(exc, IdempotencyPersistenceLayerError):
                raise UpstreamError(
                    "DynamoDB failed to record a webhook delivery",
                    {"service": "dynamodb", **_aws_code(exc)},
                ) from exc
            raise
        return cast(dict[str, Any], answer) if answer is not None else {}


def _aws_code(exc: BaseException) -> dict[str, str]:
    """The AWS error code behind a Powertools persistence error, when there is one."""
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str):
            return {"aws_code": code}
    return {}
