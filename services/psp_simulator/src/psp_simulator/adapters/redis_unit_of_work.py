"""Charges, refunds, idempotency records and new deliveries in Redis, changed atomically.

A transaction WATCHes every key it reads and applies its writes in one MULTI/EXEC, which Redis
refuses if a watched key changed. That is how 50 identical requests make one charge and two
refunds never both spend the same refundable amount, with the rules left in Python.
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Final

import redis
from redis.client import Pipeline

from psp_simulator.adapters.redis_deliveries import stage_delivery
from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.adapters.redis_records import (
    charge_fields,
    charge_from,
    hash_mapping,
    optional_text,
    payout_fields,
    payout_from,
    refund_fields,
    refund_from,
    text,
    text_fields,
)
from psp_simulator.domain.charges import Charge, Refund, Status
from psp_simulator.domain.idempotency import IdempotencyRecord
from psp_simulator.domain.payouts import Payout
from psp_simulator.domain.settlement_report import settlement_day
from psp_simulator.domain.webhooks import Webhook
from psp_simulator.service_layer.ports import IdempotencyScope

CAPTURE_MEMBER: Final = "capture:"
REFUND_MEMBER: Final = "refund:"


class RedisTransaction:
    def __init__(self, pipe: Pipeline, keys: KeySpace, ttl_seconds: int) -> None:
        self._pipe = pipe
        self._keys = keys
        self._ttl = ttl_seconds
        self._writing = False

    def idempotency_record(self, scope: IdempotencyScope, key: str) -> IdempotencyRecord | None:
        raw = optional_text(self._pipe.get(self._watched(self._keys.idempotency(scope, key))))
        if raw is None:
            return None
        stored = json.loads(raw)
        return IdempotencyRecord(str(stored["fingerprint"]), str(stored["resource_id"]))

    def charge(self, charge_id: str) -> Charge | None:
        fields = text_fields(self._pipe.hgetall(self._watched(self._keys.charge(charge_id))))
        return charge_from(fields) if fields else None

    def refund(self, refund_id: str) -> Refund | None:
        fields = text_fields(self._pipe.hgetall(self._watched(self._keys.refund(refund_id))))
        return refund_from(fields) if fields else None

    def payout(self, payout_id: str) -> Payout | None:
        fields = text_fields(self._pipe.hgetall(self._watched(self._keys.payout(payout_id))))
        return payout_from(fields) if fields else None

    def remember(self, scope: IdempotencyScope, key: str, record: IdempotencyRecord) -> None:
        value = json.dumps({"fingerprint": record.fingerprint, "resource_id": record.resource_id})
        self._writes().set(self._keys.idempotency(scope, key), value, ex=self._ttl)

    def add_charge(self, charge: Charge) -> None:
        pipe = self._writes()
        key = self._keys.charge(charge.id)
        pipe.hset(key, mapping=hash_mapping(charge_fields(charge)))
        pipe.expire(key, self._ttl)
        index = self._keys.charges_by_reference(charge.reference)
        pipe.sadd(index, charge.id)
        pipe.expire(index, self._ttl)
        if charge.outcome is Status.SUCCEEDED:
            self._mark_settled(f"{CAPTURE_MEMBER}{charge.id}", charge.settles_at)

    def add_refund(self, charge: Charge, refund: Refund) -> None:
        pipe = self._writes()
        key = self._keys.refund(refund.id)
        pipe.hset(key, mapping=hash_mapping(refund_fields(refund)))
        pipe.expire(key, self._ttl)
        pipe.hset(self._keys.charge(charge.id), "refunded_amount", str(charge.refunded_amount))
        self._mark_settled(f"{REFUND_MEMBER}{refund.id}", refund.settles_at)

    def add_payout(self, payout: Payout) -> None:
        pipe = self._writes()
        key = self._keys.payout(payout.id)
        pipe.hset(key, mapping=hash_mapping(payout_fields(payout)))
        pipe.expire(key, self._ttl)
        index = self._keys.payouts_by_batch(payout.batch_id)
        pipe.sadd(index, payout.id)
        pipe.expire(index, self._ttl)
        day_index = self._keys.payouts_on(settlement_day(payout.created_at).isoformat())
        pipe.zadd(day_index, {payout.id: payout.created_at})
        pipe.expire(day_index, self._ttl)

    def _mark_settled(self, member: str, settles_at: float) -> None:
        """Index a capture or refund under the UTC day its outcome shows, for the report."""
        index = self._keys.settled_on(settlement_day(settles_at).isoformat())
        self._pipe.zadd(index, {member: settles_at})
        self._pipe.expire(index, self._ttl)

    def schedule(self, webhook: Webhook) -> None:
        stage_delivery(self._writes(), self._keys, webhook, self._ttl)

    def commit(self) -> bool:
        if not self._writing:
            return True
        try:
            self._pipe.execute()
        except redis.WatchError:
            return False
        return True

    def reads_still_hold(self) -> bool:
        if self._writing:
            raise RuntimeError("only a transaction that wrote nothing can check its reads alone")
        # An empty MULTI/EXEC: Redis aborts it exactly when a watched key has changed.
        self._writing = True
        self._pipe.multi()
        return self.commit()

    def _watched(self, key: str) -> str:
        if self._writing:
            raise RuntimeError("a transaction reads everything before its first write")
        self._pipe.watch(key)  # type: ignore[no-untyped-call]  # untyped in redis-py
        return key

    def _writes(self) -> Pipeline:
        if not self._writing:
            self._pipe.multi()
            self._writing = True
        return self._pipe


class RedisUnitOfWork:
    def __init__(self, client: redis.Redis, keys: KeySpace, ttl_seconds: int) -> None:
        if ttl_seconds < 1:
            raise ValueError("records must be kept for at least a second")
        self._client = client
        self._keys = keys
        self._ttl = ttl_seconds

    @contextmanager
    def transaction(self) -> Iterator[RedisTransaction]:
        with self._client.pipeline(transaction=True) as pipe:
            yield RedisTransaction(pipe, self._keys, self._ttl)

    def charge(self, charge_id: str) -> Charge | None:
        fields = text_fields(self._client.hgetall(self._keys.charge(charge_id)))
        return charge_from(fields) if fields else None

    def refund(self, refund_id: str) -> Refund | None:
        fields = text_fields(self._client.hgetall(self._keys.refund(refund_id)))
        return refund_from(fields) if fields else None

    def charges_with_reference(self, reference: str) -> Sequence[Charge]:
        members = self._client.smembers(self._keys.charges_by_reference(reference))
        ids = sorted(text(member) for member in members)
        return [charge_from(row) for row in self._hashes([self._keys.charge(i) for i in ids])]

    def payout(self, payout_id: str) -> Payout | None:
        fields = text_fields(self._client.hgetall(self._keys.payout(payout_id)))
        return payout_from(fields) if fields else None

    def payouts_for_batch(self, batch_id: str) -> Sequence[Payout]:
        members = self._client.smembers(self._keys.payouts_by_batch(batch_id))
        rows = self._hashes([self._keys.payout(text(member)) for member in members])
        return [payout_from(row) for row in rows]

    def payouts_on(self, day: date) -> Sequence[Payout]:
        members = self._client.zrange(self._keys.payouts_on(day.isoformat()), 0, -1)
        rows = self._hashes([self._keys.payout(text(member)) for member in members])
        return [payout_from(row) for row in rows]

    def settled_on(self, day: date) -> tuple[Sequence[Charge], Sequence[Refund]]:
        members = [
            text(member)
            for member in self._client.zrange(self._keys.settled_on(day.isoformat()), 0, -1)
        ]
        charge_ids = [
            m.removeprefix(CAPTURE_MEMBER) for m in members if m.startswith(CAPTURE_MEMBER)
        ]
        refund_ids = [m.removeprefix(REFUND_MEMBER) for m in members if m.startswith(REFUND_MEMBER)]
        charges = self._hashes([self._keys.charge(charge_id) for charge_id in charge_ids])
        refunds = self._hashes([self._keys.refund(refund_id) for refund_id in refund_ids])
        return [charge_from(row) for row in charges], [refund_from(row) for row in refunds]

    def _hashes(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every hash that still exists, in one round trip."""
        with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            rows = pipe.execute()
        return [text_fields(row) for row in rows if row]
