"""The scheduler: at every fire time of ``SETTLEMENT_SCHEDULE`` (UTC), run that cutoff.

A plain loop over ``CronTrigger.get_next_fire_time`` rather than APScheduler's own scheduler:
the loop waits on the stop event, so SIGTERM ends it at once between runs and after the run
in hand. Several schedulers may run: the closing's advisory lock and its run per cutoff make
the second one a replay. The payouts of what closed are requested right after the commit;
the janitor finishes what the bank does not answer.
"""

from __future__ import annotations

import threading
from datetime import datetime

import structlog

from paykit.health import HealthFile, health_file_for
from paykit.signals import on_stop_signals
from settlement_service.bootstrap import SettlementService, bootstrap
from settlement_service.service_layer.batching import RunResult, close_batches
from settlement_service.service_layer.payouts import pay_out
from settlement_service.settings import SettlementSettings

log = structlog.get_logger(__name__)


def run_cutoff(service: SettlementService, cutoff: datetime) -> RunResult:
    with service.connections().connection() as conn:
        result = close_batches(
            conn,
            cutoff,
            now=service.clock(),
            holding_period=service.holding_period,
            minimums=service.settings.minimum_payouts,
            triggered_by="schedule",
        )
    if not result.replayed and service.bank is not None:
        for batch in result.closed:
            try:
                pay_out(
                    service.connections(),
                    service.bank,
                    batch["id"],
                    service.settings.bank_accounts,
                    service.clock,
                    service.payout_stuck_after,
                )
            except Exception:
                log.exception("payout_request_failed", batch_id=batch["id"])
    return result


def run_scheduler(config: SettlementSettings, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    on_stop_signals(stop.set)
    trigger = config.trigger
    service = bootstrap(config, name="settlement-scheduler", with_bank=True)
    health = HealthFile(
        health_file_for("settlement-scheduler"), name="settlement-scheduler", min_interval=0
    )
    previous: datetime | None = None
    try:
        while not stop.is_set():
            now = service.clock()
            fire: datetime = trigger.get_next_fire_time(previous, now)
            log.info("settlement_next_run", cutoff=fire.isoformat())
            while not stop.is_set() and service.clock() < fire:
                health.beat()
                stop.wait(min(5.0, max(0.0, (fire - service.clock()).total_seconds())))
            if stop.is_set():
                break
            try:
                run_cutoff(service, fire)
            except Exception:
                log.exception("settlement_run_failed", cutoff=fire.isoformat())
            previous = fire
    finally:
        service.close()
