"""The ledger's consumer handler: database work only, in the runtime's batch transaction.

``ledger-poster`` reads payment-events (payments and refunds), ``ledger-settlement-poster``
settlement-events (batches closed, paid, failed). An event that cannot become a balanced posting
is an ``InvalidMessage``: the batch is rolled back and redone event by event, and only that one
goes to the DLQ with its reason; nothing of it is posted.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.bootstrap import LedgerService
from ledger_service.domain.errors import CannotPost
from ledger_service.service_layer.posting import post_events
from payevents import Envelope
from paykit.consumer import Batched, InvalidMessage
from paykit.db import Connection


def poster(service: LedgerService) -> Batched:
    """Posts a batch's new events as a set; one event at a time when the runtime falls back."""

    def handle(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        try:
            post_events(envelopes, LedgerRepository(conn), service.settings.fee_policy)
        except CannotPost as error:
            raise InvalidMessage(str(error)) from error

    return Batched(handle)
