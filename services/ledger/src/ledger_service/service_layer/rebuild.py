"""`ledger rebuild`: replay every event the ledger posted from into an empty ledger.

The events are replayed in the order of their seals, each under the context it was first posted
with (the fee decided then) and with its original recorded time, through the same posting rules.
The result must be the same transactions, balances and seal hashes; anything else is reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain.fees import FeePolicy
from ledger_service.service_layer.adjustments import ADJUSTMENT_SOURCE, Adjust, adjust
from ledger_service.service_layer.posting import PostingInput, post_event
from payevents import decode
from paykit.db import Connection

REPLAY_BATCH = 500

_SOURCES = (
    "SELECT se.event_id, se.event_type, se.body, se.context, t.recorded_at"
    " FROM ledger_seals s JOIN ledger_transactions t ON t.id = s.transaction_id"
    " JOIN ledger_source_events se ON se.transaction_id = t.id ORDER BY s.seq"
)
_HEAD = "SELECT seq, hash FROM ledger_seals ORDER BY seq DESC LIMIT 1"
_BALANCES = (
    "SELECT a.code, a.currency, sum(b.balance)::bigint FROM ledger_accounts a"
    " JOIN ledger_balances b ON b.account_id = a.id GROUP BY a.code, a.currency"
)


class RebuildError(Exception):
    pass


@dataclass
class Rebuild:
    replayed: int = 0
    source_head: tuple[int, bytes] | None = None
    rebuilt_head: tuple[int, bytes] | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.source_head == self.rebuilt_head and not self.differences


def _sources(conn: Connection) -> Iterator[tuple[str, str, str, dict[str, Any], datetime]]:
    with conn.cursor(name="ledger_rebuild") as cursor:
        cursor.itersize = REPLAY_BATCH
        cursor.execute(_SOURCES)
        yield from cursor


def _replay_one(
    target: Connection,
    event_id: str,
    event_type: str,
    body: str,
    context: dict[str, Any],
    recorded_at: datetime,
) -> None:
    repository = LedgerRepository(target)
    if event_type == ADJUSTMENT_SOURCE:
        adjust(repository, Adjust.from_body(body), recorded_at=recorded_at, replaying=True)
        return
    envelope = decode(body.encode())
    given = PostingInput(repository, FeePolicy(), context=dict(context), replaying=True)
    if post_event(envelope, given, recorded_at=recorded_at) is None:
        raise RebuildError(f"event {event_id} ({event_type}) posted nothing on replay")


def rebuild(source: Connection, target: Connection) -> Rebuild:
    """Both connections outside a transaction; the source is read in one snapshot."""
    result = Rebuild()
    if target.execute("SELECT count(*) FROM ledger_transactions").fetchone() != (0,):
        raise RebuildError("the target ledger is not empty")
    with source.transaction():
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        rows = _sources(source)
        done = False
        while not done:
            with target.transaction():
                for count, row in enumerate(rows, start=1):
                    _replay_one(target, *row)
                    result.replayed += 1
                    if count == REPLAY_BATCH:
                        break
                else:
                    done = True
        result.source_head = _head(source)
        source_balances = dict(_balances(source))
    result.rebuilt_head = _head(target)
    rebuilt_balances = dict(_balances(target))
    for account in sorted(set(source_balances) | set(rebuilt_balances)):
        was, now = source_balances.get(account), rebuilt_balances.get(account)
        if was != now:
            code, currency = account
            result.differences.append(f"{code} {currency}: {was} in the source, {now} rebuilt")
    return result


def _head(conn: Connection) -> tuple[int, bytes] | None:
    row = conn.execute(_HEAD).fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def _balances(conn: Connection) -> list[tuple[tuple[str, str], int]]:
    return [((code, currency), int(total)) for code, currency, total in conn.execute(_BALANCES)]
