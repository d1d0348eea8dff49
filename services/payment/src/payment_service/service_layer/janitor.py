"""The janitor's pass: every payment and refund whose next check is due, one at a time.

Each is looked at in its own short transactions with no lock held across the PSP call (see
``charging`` and ``refunding``), so one PSP error never undoes the others' results, and one that
keeps failing is pushed back by its own back-off instead of coming first every pass. Anything
unexpected is logged with its traceback and the pass goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from payment_service.service_layer.charging import recheck_payment
from payment_service.service_layer.context import ProviderContext
from payment_service.service_layer.provider import ProviderError
from payment_service.service_layer.refunding import recheck_refund

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PassResult:
    checked: int = 0
    failed: int = 0


def run_pass(ctx: ProviderContext, *, limit: int = 50) -> PassResult:
    now = ctx.clock()
    with ctx.transactions() as uow:
        payments = uow.payments.due_for_recheck(now, limit)
        refunds = uow.refunds.due_for_recheck(now, limit)
    checked = failed = 0
    work: list[tuple[str, str, Callable[[str, ProviderContext], None]]] = [
        *(("payment", payment_id, recheck_payment) for payment_id in payments),
        *(("refund", refund_id, recheck_refund) for refund_id in refunds),
    ]
    for kind, object_id, recheck in work:
        try:
            recheck(object_id, ctx)
        except ProviderError as error:
            failed += 1
            log.warning("janitor_psp_unanswered", kind=kind, id=object_id, error=str(error))
        except Exception:
            failed += 1
            log.exception("janitor_check_failed", kind=kind, id=object_id)
        else:
            checked += 1
    return PassResult(checked, failed)
