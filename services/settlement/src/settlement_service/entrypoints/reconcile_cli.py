"""``settlement reconcile --from ... --to ...``: the morning's reconciliation, for automation.

Prints the JSON report; exits 0 when everything matched, 1 on discrepancies, 2 when it could
not reconcile (a bad period, a source that did not answer, missing configuration).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from paykit.db import create_pool
from settlement_service import settings as settings_module
from settlement_service.adapters.reconciliation_reads import PlatformRecordsInDatabase
from settlement_service.domain.reconciliation import MATCHED, InvalidPeriod, Period
from settlement_service.entrypoints.reports_api import json_ready
from settlement_service.reconciliation_bootstrap import (
    ReconciliationSources,
    http_sources,
    load_reconciliation_settings,
    own_ledger_token,
)
from settlement_service.service_layer.reconciliation import reconcile
from settlement_service.service_layer.reconciliation_ports import SourceUnavailable

EXIT_MATCHED, EXIT_DISCREPANCIES, EXIT_UNRECONCILED = 0, 1, 2


def instant(text: str) -> datetime:
    """A day (its UTC midnight) or an ISO 8601 time; a time without a zone is UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(period: Period, pool: ConnectionPool, sources: ReconciliationSources, token: str) -> int:
    report = reconcile(
        period,
        PlatformRecordsInDatabase(pool),
        sources.ledger(lambda: token),
        sources.psp,
        sources.bank,
    )
    print(json.dumps(json_ready(report.as_json()), indent=2))
    return EXIT_MATCHED if report.status == MATCHED else EXIT_DISCREPANCIES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="settlement reconcile", description=__doc__)
    parser.add_argument("--from", dest="start", required=True, type=instant)
    parser.add_argument("--to", dest="end", required=True, type=instant)
    args = parser.parse_args(argv)
    try:
        period = Period(args.start, args.end)
    except InvalidPeriod as error:
        print(f"settlement reconcile: {error}", file=sys.stderr)
        return EXIT_UNRECONCILED
    config = settings_module.load()
    reconciliation = load_reconciliation_settings()
    sources = http_sources(config, reconciliation)
    if sources is None:
        print("settlement reconcile: set LEDGER_URL and PSP_URL", file=sys.stderr)
        return EXIT_UNRECONCILED
    pool = create_pool(config.database_url.reveal(), max_size=1, name="settlement-reconcile")
    try:
        return run(period, pool, sources, own_ledger_token(config, reconciliation)())
    except (SourceUnavailable, LookupError) as error:
        print(f"settlement reconcile: {error}", file=sys.stderr)
        return EXIT_UNRECONCILED
    finally:
        pool.close()
        sources.close()


if __name__ == "__main__":
    sys.exit(main())
