"""The settlement service's consumer handlers.

``settlement-itemizer`` reads ledger-events: database work only, in the runtime's transaction,
so the item, its event and the inbox row commit together.
"""

from __future__ import annotations

from payevents import Envelope
from paykit.consumer import Handler, InvalidMessage
from paykit.db import Connection
from settlement_service.service_layer.itemizing import itemize


def itemizer() -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        if envelope.type != "ledger.transaction_posted":
            return
        try:
            itemize(conn, envelope)
        except ValueError as error:
            raise InvalidMessage(str(error)) from error

    return handle
