"""Idle senders hear of each delivery as it is queued, over Redis pub/sub, and are told to look
at the queue again whenever news may have been missed (a cut connection)."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis

from localcluster.testing import ClusterEnv
from paykit.testing import wait_until
from psp_simulator.adapters.redis_deliveries import stage_delivery
from psp_simulator.adapters.redis_delivery_notices import RedisDeliveryNotices
from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.bootstrap import REDIS_TRANSIENT_ERRORS
from psp_simulator.domain.webhooks import Webhook

pytestmark = pytest.mark.integration


@dataclass
class Heard:
    queued: list[str] = field(default_factory=list)
    maybe_missed: list[str] = field(default_factory=list)


@pytest.fixture
def named_client(cluster: ClusterEnv, unique: str) -> Iterator[redis.Redis]:
    """A client whose connections carry a name, so the test can cut exactly those."""
    client = redis.Redis.from_url(
        cluster.redis_url, decode_responses=True, client_name=f"notices-{unique}"
    )
    yield client
    client.close()


def queue_delivery(client: redis.Redis, keys: KeySpace, delivery_id: str) -> None:
    webhook = Webhook(
        delivery_id=delivery_id,
        event_id=f"evt_{delivery_id}",
        event_type="payment.status",
        payment_reference=f"PAY_{delivery_id}",
        refund_reference=None,
        due_at=time.time() + 60,  # nobody sends it: no sender runs here
        body=b"{}",
    )
    with client.pipeline(transaction=True) as pipe:
        stage_delivery(pipe, keys, webhook, ttl_seconds=60)
        pipe.execute()


def cut_subscriptions(client: redis.Redis, name: str) -> int:
    cut = 0
    for connection in client.client_list():
        if connection["name"] == name and connection["sub"] != "0":
            cut += int(client.client_kill_filter(_id=connection["id"]))
    return cut


def test_the_listener_hears_each_delivery_queued_and_after_a_cut_has_everyone_look_again(
    named_client: redis.Redis, key_prefix: str, unique: str
) -> None:
    keys = KeySpace(key_prefix)
    notices = RedisDeliveryNotices(
        named_client, keys, transient_errors=REDIS_TRANSIENT_ERRORS, retry_pause_seconds=0.05
    )
    heard, stop = Heard(), threading.Event()
    listener = threading.Thread(
        target=notices.listen,
        args=(stop, lambda: heard.queued.append("queued"), lambda: heard.maybe_missed.append("?")),
    )
    listener.start()
    try:
        assert wait_until(lambda: len(heard.maybe_missed) == 1, 10, 0.01)  # subscribed
        queue_delivery(named_client, keys, f"dlv_{unique}_1")
        assert wait_until(lambda: len(heard.queued) == 1, 10, 0.01)

        assert cut_subscriptions(named_client, f"notices-{unique}") == 1
        assert wait_until(lambda: len(heard.maybe_missed) == 2, 10, 0.01)  # subscribed again
        queue_delivery(named_client, keys, f"dlv_{unique}_2")
        assert wait_until(lambda: len(heard.queued) == 2, 10, 0.01)
    finally:
        stop.set()
        listener.join(timeout=10)
    assert not listener.is_alive()
