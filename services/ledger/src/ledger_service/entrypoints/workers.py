"""The ledger service's long-running processes.

python -m ledger_service.entrypoints.workers poster|settlement-poster|relay
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ledger_service import settings as settings_module
from ledger_service.bootstrap import bootstrap
from ledger_service.entrypoints.consumers import poster
from ledger_service.settings import POSTER_GROUP, SETTLEMENT_POSTER_GROUP, LedgerSettings
from payevents.topics import PAYMENT_EVENTS, SETTLEMENT_EVENTS, Topic
from paykit.consumer import ConsumerSettings
from paykit.logging import configure_logging
from paykit.workers import exit_on_config_error, run_consumer, run_outbox_relay


def _consume(topic: Topic, group: str, client_id: str) -> Callable[[LedgerSettings], None]:
    def run(config: LedgerSettings) -> None:
        service = bootstrap(config, name=client_id, with_pool=False)
        settings = ConsumerSettings(topic, group, batch_size=config.batch_size)
        run_consumer(
            settings,
            poster(service),
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id=client_id,
            metrics_port=config.metrics_port,
        )

    return run


def main(argv: list[str] | None = None) -> int:
    return exit_on_config_error(lambda: _main(sys.argv[1:] if argv is None else argv))


def _main(args: list[str]) -> int:
    commands: dict[str, Callable[[LedgerSettings], None]] = {
        "poster": _consume(PAYMENT_EVENTS, POSTER_GROUP, "ledger-poster"),
        "settlement-poster": _consume(
            SETTLEMENT_EVENTS, SETTLEMENT_POSTER_GROUP, "ledger-settlement-poster"
        ),
        "relay": lambda config: run_outbox_relay(
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id="ledger-relay",
            metrics_port=config.metrics_port,
        ),
    }
    if len(args) != 1 or args[0] not in commands:
        print(f"usage: workers {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    config = settings_module.load()
    configure_logging(f"ledger-{args[0]}", json=config.json_logs)
    commands[args[0]](config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
