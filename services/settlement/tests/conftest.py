"""Fixtures for the settlement service's tests: databases of their own, ids, event builders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from payevents import Envelope, decode, new_event
from paykit.testing import scratch_database
from settlement_service.service_layer.itemizing import itemize


@pytest.fixture
def fresh_database(cluster: ClusterEnv) -> Iterator[Callable[[], str]]:
    """Migrated settlement databases of the test's own: runs see only the test's items."""
    sources = migration_sources("settlement")
    assert sources is not None
    with ExitStack() as stack:
        yield lambda: stack.enter_context(
            scratch_database(cluster.admin_url, sources, prefix="settlement_tests")
        )


@pytest.fixture
def merchant() -> str:
    return f"MER_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def posting() -> Callable[..., Envelope]:
    """A ``ledger.transaction_posted`` as the ledger announces a payment, refund or reversal."""

    def build(
        merchant_id: str,
        kind: str = "payment",
        amount: int = 10_000,
        fee: int = 165,
        *,
        currency: str = "EUR",
        effective_at: datetime | None = None,
        transaction_id: str | None = None,
        payment_id: str | None = None,
        receivable: int = 0,
    ) -> Envelope:
        """``payment_reversal``: the reversal of a payment of ``amount`` and ``fee``, of which
        ``receivable`` was no longer in escrow (settled already) and became owed."""
        escrow = f"merchant:{merchant_id}:escrow"
        if kind == "payment_reversal":
            entries: list[dict[str, Any]] = [
                {"account": escrow, "direction": "debit", "amount": amount - fee - receivable},
                {
                    "account": f"merchant:{merchant_id}:receivable",
                    "direction": "debit",
                    "amount": receivable,
                },
                {"account": "platform:fees", "direction": "debit", "amount": fee},
                {"account": "psp_clearing", "direction": "credit", "amount": amount},
            ]
        elif kind == "payment":
            entries = [
                {"account": "psp_clearing", "direction": "debit", "amount": amount},
                {"account": escrow, "direction": "credit", "amount": amount - fee},
                {"account": "platform:fees", "direction": "credit", "amount": fee},
            ]
        else:
            entries = [
                {"account": escrow, "direction": "debit", "amount": amount},
                {"account": "psp_clearing", "direction": "credit", "amount": amount},
            ]
        data: dict[str, Any] = {
            "transaction_id": transaction_id or f"ltx_{uuid.uuid4().hex}",
            "kind": kind,
            "merchant_id": merchant_id,
            "currency": currency,
            "entries": [e for e in entries if e["amount"] > 0],
            "payment_id": payment_id or f"PAY_{uuid.uuid4().hex[:16]}",
            "effective_at": (effective_at or datetime.now(UTC)).isoformat(),
        }
        if kind == "refund":
            data["refund_id"] = f"REF_{uuid.uuid4().hex[:16]}"
        return new_event("ledger.transaction_posted", data, source="ledger", subject=merchant_id)

    return build


@pytest.fixture
def closing_posted() -> Callable[..., Envelope]:
    """The ledger's ``ledger.transaction_posted`` of a batch's closing: its net moved from
    escrow to payable (kind ``settlement``, caused by ``settlement.batch_closed``)."""

    def build(
        batch: Mapping[str, Any],
        *,
        amount: int | None = None,
        cause_type: str = "settlement.batch_closed",
    ) -> Envelope:
        merchant_id, moved = batch["merchant_id"], amount or int(batch["net_amount"])
        data = {
            "transaction_id": f"ltx_{uuid.uuid4().hex}",
            "kind": "settlement",
            "merchant_id": merchant_id,
            "currency": batch["currency"],
            "entries": [
                {
                    "account": f"merchant:{merchant_id}:escrow",
                    "direction": "debit",
                    "amount": moved,
                },
                {
                    "account": f"merchant:{merchant_id}:payable",
                    "direction": "credit",
                    "amount": moved,
                },
            ],
            "settlement_batch_id": batch["id"],
            "cause_event_id": f"evt_{uuid.uuid4().hex}",
            "cause_type": cause_type,
            "effective_at": datetime.now(UTC).isoformat(),
        }
        return new_event("ledger.transaction_posted", data, source="ledger", subject=merchant_id)

    return build


@pytest.fixture
def ledger_moved(closing_posted: Callable[..., Envelope]) -> Callable[..., None]:
    """Itemise the ledger's closing of each batch into a settlement database, as the itemizer
    does from ledger-events: from then on the batch's first payout may go."""

    def record(database_url: str, *batches: Mapping[str, Any]) -> None:
        with psycopg.connect(database_url) as conn, conn.transaction():
            for batch in batches:
                itemize(conn, closing_posted(batch))

    return record


@pytest.fixture
def outbox_events() -> Callable[[str], list[Envelope]]:
    """The events a settlement database has written to its outbox, in order."""

    def read(database_url: str) -> list[Envelope]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT value FROM outbox ORDER BY id").fetchall()
        return [decode(bytes(value)) for (value,) in rows]

    return read
