"""Inspect and replay a consumer group's dead letter queue.

``python -m paykit.dlq list|show|replay <dlq-topic>``. Replay sends a dead letter back to the
topic it first failed on, without its routing headers, so the group processes it afresh once
the handler is fixed; the replayer's own consumer group remembers what was replayed, so running
``replay`` twice does not send a message twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

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


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

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


def _records(consumer: KafkaConsumer, dlq_topic: str, from_committed: bool) -> Iterator[Any]:
    """Every record from the start (or the replayer's position) up to the current end."""
    partitions = consumer.partitions_for_topic(dlq_topic)
    if not partitions:
        raise SystemExit(f"error: topic {dlq_topic} does not exist")
    tps = [TopicPartition(dlq_topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    ends = consumer.end_offsets(tps)
    for tp in tps:
        committed = consumer.committed(tp) if from_committed else None
        consumer.seek(tp, committed or 0)
    remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
    while remaining:
        for tp, batch in consumer.poll(timeout_ms=1000).items():
            for record in batch:
                if record.offset < ends[tp]:
                    yield record
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)


def _letter(record: Any) -> DeadLetter:
    headers = [(k, v) for k, v in record.headers or () if v is not None]
    return DeadLetter(record.partition, record.offset, record.key, record.value, headers)


def list_dead_letters(bootstrap_servers: str, dlq_topic: str) -> list[DeadLetter]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        return [_letter(r) for r in _records(consumer, dlq_topic, from_committed=False)]
    finally:
        consumer.close()


def replay(
    bootstrap_servers: str, dlq_topic: str, *, offsets: set[tuple[int, int]] | None = None
) -> list[DeadLetter]:
    """Send dead letters back to their original topic; return what was sent.

    Without ``offsets`` every letter not replayed before is sent and the replayer's position
    moves past it; with ``offsets`` (partition, offset) exactly those are sent, again if asked.
    """
    group = f"{dlq_topic}.replayer"
    consumer = create_consumer(bootstrap_servers, group_id=group, client_id=group)
    producer = create_producer(bootstrap_servers, client_id=group)
    sent: list[DeadLetter] = []
    try:
        for record in _records(consumer, dlq_topic, from_committed=offsets is None):
            letter = _letter(record)
            if offsets is not None and (letter.partition, letter.offset) not in offsets:
                continue
            target = header(letter.headers, H_ORIGINAL_TOPIC)
            if target is None:
                raise SystemExit(f"error: {letter.partition}/{letter.offset} has no original topic")
            producer.send(
                target, key=letter.key, value=letter.value, headers=without_routing(letter.headers)
            ).get(timeout=30)
            sent.append(letter)
            if offsets is None:
                consumer.commit(
                    {
                        TopicPartition(dlq_topic, letter.partition): OffsetAndMetadata(
                            letter.offset + 1, "", -1
                        )
                    }
                )
        producer.flush()
    finally:
        producer.close()
        consumer.close(autocommit=False)
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paykit.dlq", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap-servers", default=None, help="default: $KAFKA_BOOTSTRAP_SERVERS"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "show", "replay"):
        cmd = sub.add_parser(name)
        cmd.add_argument("dlq_topic")
        if name != "list":
            cmd.add_argument("--at", action="append", default=[], metavar="PARTITION:OFFSET")
    args = parser.parse_args(argv)
    servers = args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        print("error: give --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    try:
        at = {tuple(int(n) for n in spot.split(":", 1)) for spot in getattr(args, "at", [])}
    except ValueError:
        print("error: --at takes PARTITION:OFFSET", file=sys.stderr)
        return 2
    selected = {(p, o) for p, o in at} if at else None
    if args.command == "replay":
        letters = replay(servers, args.dlq_topic, offsets=selected)
        print(f"replayed {len(letters)} message(s) from {args.dlq_topic}")
        return 0
    letters = list_dead_letters(servers, args.dlq_topic)
    if args.command == "show":
        letters = [x for x in letters if selected is None or (x.partition, x.offset) in selected]
        for letter in letters:
            print(
                json.dumps(
                    {**letter.describe(), "value": letter.value.decode(errors="replace")}, indent=2
                )
            )
        return 0
    for letter in letters:
        d = letter.describe()
        print(
            f"{d['partition']}:{d['offset']}  {d['reason']}  attempts={d['attempts']}  "
            f"{d['error']['type']}: {d['error']['message']}"
        )
    print(f"{len(letters)} message(s) in {args.dlq_topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
