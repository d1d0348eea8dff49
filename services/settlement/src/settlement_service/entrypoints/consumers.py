"""The settlement service's consumer handlers.

``settlement-itemizer`` reads ledger-events: database work only, in the runtime's transaction,
so the item, its event and the inbox row commit together. ``settlement-payout-applier`` reads
the bank's payout reports from webhook-events (``handler_transactions=True``): it confirms
each with the bank's ``GET`` before it changes anything, with no transaction held across it.
A report of a payout the bank does not know, or of a batch or attempt this service never
made, is dead-lettered (``invalid``) with the reason; one of an attempt already decided
changes nothing.
"""

from __future__ import annotations

from payevents import Envelope
from paykit.consumer import Handler, InvalidMessage, RetryableError
from paykit.db import Connection
from settlement_service.bootstrap import SettlementService
from settlement_service.domain.errors import BatchNotFound
from settlement_service.service_layer.bank import BankError, PayoutUnknownToBank
from settlement_service.service_layer.itemizing import itemize
from settlement_service.service_layer.payout_reports import apply_report


def itemizer() -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        if envelope.type != "ledger.transaction_posted":
            return
        try:
            itemize(conn, envelope)
        except ValueError as error:
            raise InvalidMessage(str(error)) from error

    return handle


def payout_applier(service: SettlementService) -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        if envelope.type != "psp.payout_status_received":
            return
        try:
            apply_report(service, envelope.data)
        except PayoutUnknownToBank as error:
            raise InvalidMessage(f"the bank has no such payout: {error}") from error
        except BankError as error:
            raise RetryableError(f"bank unanswered: {error}") from error
        except BatchNotFound as error:
            raise InvalidMessage(f"not a payout of this platform: {error}") from error

    return handle
