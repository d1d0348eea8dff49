"""Prometheus metrics of every consumer in the process, labelled by group and topic."""

from prometheus_client import Counter, Gauge

LABELS = ("group", "topic")
CONSUMED = Counter("paykit_consumer_consumed_total", "Records polled from Kafka.", LABELS)
PROCESSED = Counter(
    "paykit_consumer_processed_total", "Records whose handler committed its effect.", LABELS
)
DUPLICATES = Counter(
    "paykit_consumer_duplicates_total", "Records skipped because the inbox had their id.", LABELS
)
RETRIED = Counter("paykit_consumer_retried_total", "Records sent to a retry tier.", LABELS)
DEAD_LETTERED = Counter(
    "paykit_consumer_dead_lettered_total", "Records sent to the dead letter queue.", LABELS
)
LAG = Gauge(
    "paykit_consumer_lag",
    "Records between the committed position and the log end.",
    (*LABELS, "partition"),
)
