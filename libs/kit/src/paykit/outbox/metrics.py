"""The relay's Prometheus metrics, defined once per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PUBLISHED = Counter("paykit_outbox_published_total", "Outbox rows published and marked sent.")
PUBLISH_FAILURES = Counter(
    "paykit_outbox_publish_failures_total", "Batches Kafka failed; retried with backoff."
)
UNSENT = Gauge(
    "paykit_outbox_unsent", "Rows waiting to be published (held ones included), seen when idle."
)
QUARANTINED = Gauge(
    "paykit_outbox_quarantined", "Rows Kafka refused for good, set aside until requeued."
)
HELD = Gauge(
    "paykit_outbox_held", "Unsent rows waiting behind a quarantined row of their topic and key."
)
