"""Inspect and replay a consumer group's dead letter queue.

``python -m paykit.dlq list|show|replay <dlq-topic>``. Replay sends a dead letter back to the
topic it first failed on, without its routing headers, so the group processes it afresh once
the handler is fixed; the replayer's own consumer group remembers what was replayed, so running
``replay`` twice does not send a message twice.

Every command ends: it reads from the first letter retention kept (never from an offset that
no longer exists) up to the end it saw when it started, and gives up with an error when the
broker stops making progress. Every failure is one ``error: ...`` line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.structs import OffsetAndMetadata

from paykit import kafka_reading
from paykit.consumer.routing import (
    H_ATTEMPTS,
    H_DLQ_REASON,
    H_ERROR_MESSAGE,
    H_ERROR_TYPE,
    H_FIRST_FAILURE,
    H_ORIGINAL_OFFSET,
    H_ORIGINAL_PARTITION,
    H_ORIGINAL_TOPIC,
    header,
    without_routing,
)
from paykit.kafka_clients import create_consumer, create_producer

DEFAULT_TIMEOUT = 10.0
_SPOT = re.compile(r"^(\d+):(\d+)$")
Spot = tuple[int, int]


class DlqError(Exception):
    """A problem the person running the command must fix; printed as one line."""


class UsageError(DlqError):
    """The command line itself is wrong (exit status 2, as argparse uses)."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def spot(self) -> Spot:
        return (self.partition, self.offset)

    def describe(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key.decode(errors="replace") if self.key else None,
            "reason": header(self.headers, H_DLQ_REASON),
            "attempts": header(self.headers, H_ATTEMPTS),
            "original": {
                "topic": header(self.headers, H_ORIGINAL_TOPIC),
                "partition": header(self.headers, H_ORIGINAL_PARTITION),
                "offset": header(self.headers, H_ORIGINAL_OFFSET),
            },
            "first_failure_at": header(self.headers, H_FIRST_FAILURE),
            "error": {
                "type": header(self.headers, H_ERROR_TYPE),
                "message": header(self.headers, H_ERROR_MESSAGE),
            },
        }


def read_to_end(
    consumer: KafkaConsumer, dlq_topic: str, *, from_committed: bool, timeout: float
) -> Iterator[Any]:
    """Every letter from the first one kept (or the replayer's position, if later) up to the end
    offsets of the start; letters written meanwhile wait for the next run."""
    try:
        yield from kafka_reading.read_to_end(
            consumer, dlq_topic, from_committed=from_committed, timeout=timeout
        )
    except (kafka_reading.UnknownTopic, kafka_reading.ReadStalled) as error:
        raise DlqError(str(error)) from error


def _connect(bootstrap_servers: str, timeout: float, build: Any) -> Any:
    """``build()`` a Kafka client, naming the address when no broker answers there."""
    try:
        return build()
    except KafkaTimeoutError as error:
        raise DlqError(
            f"no Kafka broker answered at {bootstrap_servers} within {timeout:g} s"
        ) from error


def _letter(record: Any) -> DeadLetter:
    headers = [(k, v) for k, v in record.headers or () if v is not None]
    return DeadLetter(record.partition, record.offset, record.key, record.value, headers)


def list_dead_letters(
    bootstrap_servers: str, dlq_topic: str, *, timeout: float = DEFAULT_TIMEOUT
) -> list[DeadLetter]:
    """Every letter now in ``dlq_topic``, read without a consumer group (nothing is recorded)."""
    consumer: KafkaConsumer = _connect(
        bootstrap_servers,
        timeout,
        lambda: KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id="paykit-dlq",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # the runtime may dead-letter from a transaction; an aborted letter was never sent
            isolation_level="read_committed",
            bootstrap_timeout_ms=int(timeout * 1000),
        ),
    )
    try:
        records = read_to_end(consumer, dlq_topic, from_committed=False, timeout=timeout)
        return [_letter(r) for r in records]
    finally:
        consumer.close()


def replay(
    bootstrap_servers: str,
    dlq_topic: str,
    *,
    offsets: set[Spot] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[DeadLetter]:
    """Send dead letters back to their original topic; return what was sent.

    Without ``offsets`` every letter not replayed before is sent and the replayer's position
    moves past it; with ``offsets`` (partition, offset) exactly those are sent, again if asked.
    """
    group = f"{dlq_topic}.replayer"
    bootstrap_ms = int(timeout * 1000)
    consumer: KafkaConsumer = _connect(
        bootstrap_servers,
        timeout,
        lambda: create_consumer(
            bootstrap_servers, group_id=group, client_id=group, bootstrap_timeout_ms=bootstrap_ms
        ),
    )
    producer: KafkaProducer | None = None
    sent: list[DeadLetter] = []
    try:
        producer = _connect(
            bootstrap_servers,
            timeout,
            lambda: create_producer(
                bootstrap_servers, client_id=group, bootstrap_timeout_ms=bootstrap_ms
            ),
        )
        records = read_to_end(consumer, dlq_topic, from_committed=offsets is None, timeout=timeout)
        for letter in map(_letter, records):
            if offsets is not None and letter.spot not in offsets:
                continue
            target = header(letter.headers, H_ORIGINAL_TOPIC)
            if target is None:
                raise DlqError(f"{letter.partition}:{letter.offset} has no original topic")
            producer.send(
                target, key=letter.key, value=letter.value, headers=without_routing(letter.headers)
            ).get(timeout=timeout)
            sent.append(letter)
            if offsets is None:
                done = OffsetAndMetadata(letter.offset + 1, "", -1)
                consumer.commit({TopicPartition(dlq_topic, letter.partition): done})
        producer.flush(timeout=timeout)
    finally:
        if producer is not None:
            producer.close(timeout=timeout)
        consumer.close(autocommit=False)
    return sent


class _Parser(argparse.ArgumentParser):
    """Turns argparse's usage-and-exit into a ``UsageError``, so it is one line like the rest."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _spot(text: str) -> Spot:
    match = _SPOT.match(text)
    if match is None:
        raise UsageError(f"--at takes PARTITION:OFFSET, not {text!r}")
    return (int(match[1]), int(match[2]))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="paykit.dlq", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap-servers", default=None, help="default: $KAFKA_BOOTSTRAP_SERVERS"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for a broker, or for a read that makes no progress "
        f"(default: {DEFAULT_TIMEOUT:g})",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "show", "replay"):
        cmd = sub.add_parser(name)
        cmd.add_argument("dlq_topic")
        if name != "list":
            cmd.add_argument("--at", action="append", default=[], metavar="PARTITION:OFFSET")
    return parser.parse_args(argv)


def _missing(wanted: set[Spot] | None, found: list[DeadLetter], dlq_topic: str) -> None:
    """Fail on letters asked for by ``--at`` that are not in the topic (any more)."""
    absent = sorted((wanted or set()) - {letter.spot for letter in found})
    if absent:
        where = ", ".join(f"{p}:{o}" for p, o in absent)
        raise DlqError(f"no letter at {where} in {dlq_topic}")


def _run(args: argparse.Namespace, servers: str) -> None:
    selected = {_spot(text) for text in getattr(args, "at", [])} or None
    topic, timeout = args.dlq_topic, args.timeout
    if args.command == "replay":
        letters = replay(servers, topic, offsets=selected, timeout=timeout)
        print(f"replayed {len(letters)} message(s) from {topic}")
        _missing(selected, letters, topic)
        return
    letters = list_dead_letters(servers, topic, timeout=timeout)
    if args.command == "show":
        letters = [x for x in letters if selected is None or x.spot in selected]
        for letter in letters:
            shown = {**letter.describe(), "value": letter.value.decode(errors="replace")}
            print(json.dumps(shown, indent=2))
        _missing(selected, letters, topic)
        return
    for letter in letters:
        d = letter.describe()
        print(
            f"{d['partition']}:{d['offset']}  {d['reason']}  attempts={d['attempts']}  "
            f"{d['error']['type']}: {d['error']['message']}"
        )
    print(f"{len(letters)} message(s) in {topic}")


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (2: a wrong command line, 1: anything else)."""
    try:
        args = _parse(argv)
        servers = args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not servers:
            raise UsageError("give --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS")
        _run(args, servers)
    except (DlqError, KafkaError) as error:
        if os.environ.get("PAY_DEBUG"):
            raise
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    return 0


if __name__ == "__main__":
    if not os.environ.get("PAY_DEBUG"):  # kafka-python's own warnings would repeat the error
        logging.getLogger("kafka").addHandler(logging.NullHandler())
    sys.exit(main())
