"""``payctl dlq``: the kit's dead letter tool (``python -m paykit.dlq``), under payctl's name.

The letters are read from Kafka directly (``KAFKA_BOOTSTRAP_SERVERS``), as the kit's tool does;
payctl passes the command line through and keeps its exit status, adding only ``--json`` to
``list``, from the same reader.
"""

from __future__ import annotations

import logging
import os

import click
from kafka.errors import KafkaError

from payctl.errors import PayctlError, UsageProblem
from payctl.options import json_option, session
from payctl.output import emit
from paykit import dlq as kit_dlq


def _run_kit_tool(args: list[str]) -> None:
    if not os.environ.get("PAY_DEBUG"):  # kafka-python's own warnings would repeat the error
        logging.getLogger("kafka").addHandler(logging.NullHandler())
    status = kit_dlq.main(args)
    if status:
        click.get_current_context().exit(status)


@click.group()
def dlq() -> None:
    """A consumer group's dead letters: list, show, replay (operators; needs Kafka)."""


@dlq.command("list")
@click.argument("dlq_topic")
@click.option("--bootstrap-servers", default=None, help="Default: $KAFKA_BOOTSTRAP_SERVERS.")
@click.option("--timeout", type=float, default=kit_dlq.DEFAULT_TIMEOUT, show_default=True)
@json_option
def list_letters(dlq_topic: str, bootstrap_servers: str | None, timeout: float) -> None:
    """Every letter in the DLQ topic, with why it failed."""
    s = session()
    if not s.json:
        _run_kit_tool([*_global(bootstrap_servers, timeout), "list", dlq_topic])
        return
    servers = bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        raise UsageProblem("give --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS")
    try:
        letters = kit_dlq.list_dead_letters(servers, dlq_topic, timeout=timeout)
    except (kit_dlq.DlqError, KafkaError) as error:
        raise PayctlError(str(error)) from None
    emit(True, [letter.describe() for letter in letters], "")


def _global(bootstrap_servers: str | None, timeout: float) -> list[str]:
    given = ["--bootstrap-servers", bootstrap_servers] if bootstrap_servers else []
    return [*given, "--timeout", str(timeout)]


def _letters_command(name: str, summary: str) -> click.Command:
    @click.command(name, help=summary)
    @click.argument("dlq_topic")
    @click.option("--at", multiple=True, metavar="PARTITION:OFFSET", help="Only these letters.")
    @click.option("--bootstrap-servers", default=None, help="Default: $KAFKA_BOOTSTRAP_SERVERS.")
    @click.option("--timeout", type=float, default=kit_dlq.DEFAULT_TIMEOUT, show_default=True)
    def command(
        dlq_topic: str, at: tuple[str, ...], bootstrap_servers: str | None, timeout: float
    ) -> None:
        selected = [arg for spot in at for arg in ("--at", spot)]
        _run_kit_tool([*_global(bootstrap_servers, timeout), name, dlq_topic, *selected])

    return command


dlq.add_command(_letters_command("show", "Letters in full (JSON), headers and value."))
dlq.add_command(
    _letters_command(
        "replay",
        "Send letters back to the topic they failed on; without --at, each not replayed before.",
    )
)
