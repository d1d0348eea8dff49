"""The platform's client settings: static membership ids and bounded reconnects."""

from __future__ import annotations

import socket

from paykit.kafka_clients import instance_id


def test_a_worker_is_a_static_member_named_after_its_client_id_and_host() -> None:
    assert instance_id("payment-charger") == f"payment-charger-{socket.gethostname()}"


def test_a_configured_instance_id_wins_and_is_made_acceptable_to_kafka() -> None:
    assert instance_id("payment-charger", "payment-charger-0") == "payment-charger-0"
    assert instance_id("x", "pod/name with spaces") == "pod-name-with-spaces"
    assert len(instance_id("x", "a" * 400)) == 249
