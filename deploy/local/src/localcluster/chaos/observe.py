"""What the databases say about a burst of payments: how far it got, when, and how often.

Times come from PostgreSQL's ``now()`` at each commit (the same host clock as the run), so a
stage's first and last moments can be set against the moment the broker was ready again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from payevents.topics import PAYMENT_EVENTS, WEBHOOK_EVENTS

FINAL_STATUSES = ("succeeded", "failed")
FINAL_EVENT_TYPES = ("payment.succeeded", "payment.failed")
CHARGER_GROUP = PAYMENT_EVENTS.consumers[0].name
_EVENT_TYPE = "convert_from(value, 'UTF8')::jsonb->>'type'"
_KEY = "convert_from(key, 'UTF8')"


@dataclass(frozen=True)
class Stage:
    """When the burst passed one step of the journey: the first time after ``since``, the last."""

    name: str
    first_after: datetime | None
    last: datetime | None

    def describe(self, since: datetime) -> str:
        def offset(moment: datetime | None) -> str:
            return "-" if moment is None else f"{(moment - since).total_seconds():+.1f}s"

        return f"{self.name} first {offset(self.first_after)} last {offset(self.last)}"


class BurstObserver:
    def __init__(self, cluster_env: Mapping[str, str]) -> None:
        self.payment_db = cluster_env["PAYMENT_DATABASE_URL"]
        self.webhook_db = cluster_env["WEBHOOK_DATABASE_URL"]
        self.ledger_db = cluster_env["LEDGER_DATABASE_URL"]
        self.settlement_db = cluster_env["SETTLEMENT_DATABASE_URL"]

    def payment_statuses(self, payment_ids: Sequence[str]) -> dict[str, str]:
        with psycopg.connect(self.payment_db) as conn:
            rows = conn.execute(
                "SELECT id, status FROM payments WHERE id = ANY(%s)", (list(payment_ids),)
            ).fetchall()
        return dict(rows)

    def statuses(self, payment_ids: Sequence[str]) -> Counter[str]:
        return Counter(self.payment_statuses(payment_ids).values())

    def last_final_at(self, payment_ids: Sequence[str]) -> datetime | None:
        with psycopg.connect(self.payment_db) as conn:
            row = conn.execute(
                "SELECT max(updated_at) FROM payments WHERE id = ANY(%s) AND status = ANY(%s)",
                (list(payment_ids), list(FINAL_STATUSES)),
            ).fetchone()
        return row[0] if row else None

    def payment_postings(self, payment_ids: Sequence[str]) -> Counter[str]:
        """How many ``payment`` journal transactions the ledger holds for each payment."""
        return self._count_per_payment(
            self.ledger_db, "ledger_transactions WHERE kind = 'payment'", payment_ids
        )

    def settlement_items(self, payment_ids: Sequence[str]) -> Counter[str]:
        """How many ``payment`` settlement items settlement holds for each payment."""
        return self._count_per_payment(
            self.settlement_db, "settlement_items WHERE kind = 'payment'", payment_ids
        )

    def itemised_at(self, payment_id: str) -> datetime | None:
        """When settlement itemised the payment: the journey's last hop, after the ledger's."""
        with psycopg.connect(self.settlement_db) as conn:
            row = conn.execute(
                "SELECT min(created_at) FROM settlement_items WHERE payment_id = %s",
                (payment_id,),
            ).fetchone()
        return row[0] if row else None

    def _count_per_payment(
        self, database: str, source: str, payment_ids: Sequence[str]
    ) -> Counter[str]:
        with psycopg.connect(database) as conn:
            rows = conn.execute(
                f"SELECT payment_id, count(*) FROM {source} AND payment_id = ANY(%s) GROUP BY 1",
                (list(payment_ids),),
            ).fetchall()
        return Counter(dict(rows))

    def final_events(self, payment_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per payment: its final events in the outbox, and how many of them were published."""
        with psycopg.connect(self.payment_db) as conn:
            rows = conn.execute(
                f"SELECT {_KEY}, count(*), count(sent_at) FROM outbox"
                f" WHERE {_KEY} = ANY(%s) AND {_EVENT_TYPE} = ANY(%s) GROUP BY 1",
                (list(payment_ids), list(FINAL_EVENT_TYPES)),
            ).fetchall()
        found = {key: (total, sent) for key, total, sent in rows}
        return {payment_id: found.get(payment_id, (0, 0)) for payment_id in payment_ids}

    def timeline(self, payment_ids: Sequence[str], since: datetime) -> list[Stage]:
        """Each hop of a payment's journey, in order, for the whole burst."""
        ids = list(payment_ids)
        created = f"{_KEY} = ANY(%s) AND {_EVENT_TYPE} = 'payment.created'"
        with (
            psycopg.connect(self.payment_db) as payments,
            psycopg.connect(self.webhook_db) as webhooks,
        ):
            return [
                _stage(
                    payments,
                    "payment-relay published payment.created",
                    f"sent_at FROM outbox WHERE {created}",
                    (since, ids),
                ),
                _stage(
                    payments,
                    "payment-charger applied it",
                    "i.processed_at FROM inbox i JOIN outbox o USING (event_id)"
                    f" WHERE i.consumer = %s AND {created}",
                    (since, CHARGER_GROUP, ids),
                ),
                _stage(
                    webhooks,
                    "webhook-web accepted the PSP's webhook",
                    "received_at FROM webhook_deliveries"
                    " WHERE payment_id = ANY(%s) AND verdict = 'accepted'",
                    (since, ids),
                ),
                _stage(
                    webhooks,
                    f"webhook-relay published to {WEBHOOK_EVENTS.name}",
                    f"sent_at FROM outbox WHERE {_KEY} = ANY(%s)",
                    (since, ids),
                ),
                _stage(
                    payments,
                    "payment-status-applier made it final",
                    "updated_at FROM payments WHERE id = ANY(%s) AND status = ANY(%s)",
                    (since, ids, list(FINAL_STATUSES)),
                ),
            ]


def _stage(conn: psycopg.Connection[Any], name: str, moments: str, args: tuple[Any, ...]) -> Stage:
    """``moments`` is "<column> FROM ... WHERE ...", its first placeholder ``since``."""
    column, source = moments.split(" ", 1)
    row = conn.execute(
        f"SELECT min({column}) FILTER (WHERE {column} > %s), max({column}) {source}", args
    ).fetchone()
    return Stage(name, *(row or (None, None)))
