"""The webhook delivery queue in Redis.

A sorted set holds each delivery's id scored by when it may next be tried; a hash per delivery
holds its body and history. Claiming pushes the score out by a lease in one Lua script, so two
senders never attempt the same delivery at once, and a sender that dies mid-attempt only
delays that delivery until its lease runs out. Finishing is a second script that checks the
claim is still ours before it records anything.

Queuing also publishes the delivery's id (see redis_delivery_notices), in the same MULTI, so
idle senders hear of it once it exists. A rescheduled attempt publishes nothing: it falls due
later, and a sender waiting on the queue's head wakes for it then.
"""

import json
import secrets
from collections.abc import Sequence
from typing import Any, Final

import redis
from redis.client import Pipeline

from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.adapters.redis_records import (
    delivery_fields,
    delivery_from,
    hash_mapping,
    text,
    text_fields,
)
from psp_simulator.domain.delivery import (
    AttemptLogEntry,
    AttemptResult,
    ClaimedDelivery,
    DeliveryRecord,
    DeliveryState,
)
from psp_simulator.domain.webhooks import Webhook, WebhookTarget

# How many due deliveries one claim looks at; more than one so senders racing for the head of
# the queue spread over the next few instead of all failing on the first.
CLAIM_CANDIDATES: Final = 10
ATTEMPT_LOG_LENGTH: Final = 50
DEAD_KEPT: Final = 1000

# KEYS: due set, delivery hash. ARGV: delivery id, now, lease until, claim token.
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
  return false
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local attempts = redis.call('HINCRBY', KEYS[2], 'attempts', 1)
redis.call('HSET', KEYS[2], 'state', 'delivering', 'claim', ARGV[4], 'lease_until', ARGV[3])
return {tostring(attempts), redis.call('HGET', KEYS[2], 'body'),
        redis.call('HGET', KEYS[2], 'first_due_at'), redis.call('HGET', KEYS[2], 'event_id'),
        redis.call('HGET', KEYS[2], 'target') or 'payments'}
"""

# KEYS: due set, delivery hash, attempt log, dead set.
# ARGV: delivery id, claim token, new state, next attempt at (or ''), now, status (or ''),
#       error (or ''), attempt log entry, attempt log length, dead deliveries kept.
_FINISH = """
if redis.call('HGET', KEYS[2], 'claim') ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[2], 'claim', 'lease_until')
redis.call('HSET', KEYS[2], 'state', ARGV[3], 'next_attempt_at', ARGV[4],
           'last_attempt_at', ARGV[5], 'last_status', ARGV[6], 'last_error', ARGV[7])
redis.call('RPUSH', KEYS[3], ARGV[8])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[9]), -1)
local ttl = redis.call('TTL', KEYS[2])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[3], ttl)
end
if ARGV[3] == 'scheduled' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  if ARGV[3] == 'delivered' then
    redis.call('HSET', KEYS[2], 'delivered_at', ARGV[5])
  else
    redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
    redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -tonumber(ARGV[10]) - 1)
  end
end
return 1
"""


def stage_delivery(pipe: Pipeline, keys: KeySpace, webhook: Webhook, ttl_seconds: int) -> None:
    """Queue `webhook` inside a caller's MULTI, so it exists exactly if what caused it does."""
    key = keys.delivery(webhook.delivery_id)
    pipe.hset(key, mapping=hash_mapping(delivery_fields(webhook)))
    pipe.expire(key, ttl_seconds)
    pipe.zadd(keys.deliveries_due(), {webhook.delivery_id: webhook.due_at})
    index = keys.deliveries_by_reference(webhook.payment_reference)
    pipe.zadd(index, {webhook.delivery_id: webhook.due_at})
    pipe.expire(index, ttl_seconds)
    pipe.publish(keys.deliveries_queued(), webhook.delivery_id)


class RedisDeliveryQueue:
    def __init__(self, client: redis.Redis, keys: KeySpace) -> None:
        self._client = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM)
        self._finish = client.register_script(_FINISH)

    def claim(self, *, now: float, lease_until: float) -> ClaimedDelivery | None:
        due = self._keys.deliveries_due()
        candidates = self._client.zrangebyscore(
            due, "-inf", repr(now), start=0, num=CLAIM_CANDIDATES
        )
        for candidate in candidates:
            delivery_id = text(candidate)
            token = secrets.token_hex(16)
            claimed = self._claim(
                keys=[due, self._keys.delivery(delivery_id)],
                args=[delivery_id, repr(now), repr(lease_until), token],
            )
            if claimed:
                attempts, body, first_due_at, event_id, target = (text(p) for p in claimed)
                return ClaimedDelivery(
                    id=delivery_id,
                    event_id=event_id,
                    body=body.encode("ascii"),
                    attempts=int(attempts),
                    first_due_at=float(first_due_at),
                    claim_token=token,
                    target=WebhookTarget(target),
                )
        return None

    def next_due_at(self) -> float | None:
        head = self._client.zrange(self._keys.deliveries_due(), 0, 0, withscores=True)
        return float(head[0][1]) if head else None

    def finish(
        self,
        claimed: ClaimedDelivery,
        *,
        result: AttemptResult,
        state: DeliveryState,
        next_attempt_at: float | None,
        now: float,
    ) -> bool:
        if (state is DeliveryState.SCHEDULED) != (next_attempt_at is not None):
            raise ValueError("a next attempt time goes with, and only with, a rescheduled delivery")
        entry = json.dumps({"at": now, "status": result.status_code, "error": result.error})
        recorded = self._finish(
            keys=[
                self._keys.deliveries_due(),
                self._keys.delivery(claimed.id),
                self._keys.delivery_attempts(claimed.id),
                self._keys.deliveries_dead(),
            ],
            args=[
                claimed.id,
                claimed.claim_token,
                state.value,
                "" if next_attempt_at is None else repr(next_attempt_at),
                repr(now),
                "" if result.status_code is None else str(result.status_code),
                result.error or "",
                entry,
                ATTEMPT_LOG_LENGTH,
                DEAD_KEPT,
            ],
        )
        return bool(recorded)


class RedisDeliveryLog:
    """Read side of the queue: what was sent, is pending or was given up, for tests and people."""

    def __init__(self, client: redis.Redis, keys: KeySpace) -> None:
        self._client = client
        self._keys = keys

    def for_reference(self, reference: str) -> Sequence[DeliveryRecord]:
        ids = self._client.zrange(self._keys.deliveries_by_reference(reference), 0, -1)
        return self._records([text(i) for i in ids])

    def dead(self, limit: int) -> Sequence[DeliveryRecord]:
        if limit < 1:
            return []
        ids = self._client.zrevrange(self._keys.deliveries_dead(), 0, limit - 1)
        return self._records([text(i) for i in ids])

    def _records(self, ids: Sequence[str]) -> list[DeliveryRecord]:
        with self._client.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hgetall(self._keys.delivery(delivery_id))
                pipe.lrange(self._keys.delivery_attempts(delivery_id), 0, -1)
            replies = pipe.execute()
        records: list[DeliveryRecord] = []
        for fields, log in zip(replies[::2], replies[1::2], strict=True):
            if fields:
                records.append(delivery_from(text_fields(fields), _attempt_log(log)))
        return records


def _attempt_log(raw: Sequence[Any]) -> tuple[AttemptLogEntry, ...]:
    entries = []
    for item in raw:
        stored = json.loads(text(item))
        entries.append(AttemptLogEntry(float(stored["at"]), stored["status"], stored["error"]))
    return tuple(entries)
