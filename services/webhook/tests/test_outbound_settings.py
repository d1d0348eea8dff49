"""The outbound side's settings: defaults, and bad values named at start-up (no cluster)."""

from __future__ import annotations

import base64
import ipaddress
from datetime import timedelta

import pytest

from payevents.topics import PAYMENT_EVENTS, SETTLEMENT_EVENTS, Topic, physical_topics
from paykit.settings import ConfigError
from webhook_service.entrypoints.merchant_webhooks import (
    PAYMENT_NOTIFIER_GROUP,
    SETTLEMENT_NOTIFIER_GROUP,
    notifier_settings,
)
from webhook_service.outbound_settings import load_dispatcher_settings, load_notifier_settings

BASE = {"WEBHOOK_DATABASE_URL": "postgresql://webhook@127.0.0.1/webhook"}
KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


def test_the_dispatcher_defaults_to_three_days_public_targets_only_and_no_sealing_key() -> None:
    settings = load_dispatcher_settings(BASE)

    assert settings.policy.schedule.horizon == timedelta(days=3)
    assert (settings.policy.concurrency, settings.policy.per_endpoint) == (16, 2)
    assert settings.trust.allowed_networks == ()
    assert settings.trust.secrets_key is None
    assert settings.message_retention == timedelta(days=30)


def test_the_allowlist_the_key_and_the_horizon_are_read() -> None:
    settings = load_dispatcher_settings(
        {
            **BASE,
            "WEBHOOK_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32, 10.9.0.0/16",
            "WEBHOOK_ENDPOINT_SECRETS_KEY": KEY,
            "WEBHOOK_RETRY_HORIZON_SECONDS": "20",
        }
    )

    assert settings.trust.allowed_networks == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.9.0.0/16"),
    )
    assert settings.trust.secrets_key == b"k" * 32
    assert settings.policy.schedule.horizon == timedelta(seconds=20)
    assert "k" * 32 not in repr(settings)


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        load_dispatcher_settings(
            {
                **BASE,
                "WEBHOOK_OUTBOUND_ALLOWED_NETWORKS": "10.0.0.1/8",
                "WEBHOOK_ENDPOINT_SECRETS_KEY": "short",
                "WEBHOOK_DISPATCH_CONCURRENCY": "0",
            }
        )

    assert set(error.value.variables) == {
        "WEBHOOK_OUTBOUND_ALLOWED_NETWORKS",
        "WEBHOOK_ENDPOINT_SECRETS_KEY",
        "WEBHOOK_DISPATCH_CONCURRENCY",
    }


def test_the_notifiers_need_only_the_database_and_kafka() -> None:
    with pytest.raises(ConfigError) as error:
        load_notifier_settings({})

    assert set(error.value.variables) == {"WEBHOOK_DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}


@pytest.mark.parametrize(
    ("topic", "group"),
    [(PAYMENT_EVENTS, PAYMENT_NOTIFIER_GROUP), (SETTLEMENT_EVENTS, SETTLEMENT_NOTIFIER_GROUP)],
)
def test_each_notifier_reads_with_a_group_the_catalogue_gives_retry_tiers_and_a_dlq(
    topic: Topic, group: str
) -> None:
    settings = notifier_settings(topic, group)
    physical = {spec.name for spec in physical_topics()}

    assert settings.group == group
    assert topic.dlq_topic(group) in physical
    assert topic.retry_topic(group, len(topic.consumer(group).retry_delays)) in physical
