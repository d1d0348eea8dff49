"""The daily settlement report, as a real provider publishes one for reconciliation."""

from collections.abc import Sequence
from datetime import date

from psp_simulator.domain.settlement_report import ReportLine, report_lines
from psp_simulator.service_layer.simulator import Simulator


def settlement_report(simulator: Simulator, day: date) -> Sequence[ReportLine]:
    """What settled that UTC day, up to now: a report for today grows as the day goes on."""
    charges, refunds = simulator.uow.settled_on(day)
    return report_lines(
        charges, refunds, day=day, now=simulator.clock(), fee_bps=simulator.report_fee_bps
    )
