"""A payout outcome reported by the bank's webhook, confirmed with the bank before it counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from settlement_service.bootstrap import SettlementService
from settlement_service.service_layer.payouts import apply_bank_record


def apply_report(service: SettlementService, report: Mapping[str, Any]) -> bool:
    """The bank's record of the reported payout decides; a report it contradicts changes
    nothing (the janitor looks again). True when something changed."""
    record = service.the_bank().get_payout(str(report["payout_id"]))
    if not record.status.final:
        return False
    return apply_bank_record(
        service.connections(), record, service.clock, service.payout_stuck_after
    )
