"""The ledger's consumer handlers: database work only, in the runtime's batch transaction.

``ledger-poster`` reads payment-events (payments and refunds), ``ledger-settlement-poster``
settlement-events (batches closed, paid, failed). An event that cannot become a balanced posting
is an ``InvalidMessage``: the batch is rolled back and redone event by event, and only that one
goes to the DLQ with its reason; nothing of it is posted.
"""

from __future__ import annotations

from ledger_service.bootstrap import LedgerService
from ledger_service.domain.errors import CannotPost
from ledger_service.service_layer.posting import post_event
from payevents import Envelope
from paykit.consumer import Handler, InvalidMessage
from paykit.db import Connection


def poster(service: LedgerService) -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        try:
            post_event(envelope, service.posting_input(conn))
        except CannotPost as error:
            raise InvalidMessage(str(error)) from error

    return handle
