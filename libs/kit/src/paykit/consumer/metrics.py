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
PARKED = Gauge(
    "paykit_consumer_parked",
    "1 while the group's DLQ limit has parked this consumer, until an operator resumes it.",
    ("group",),
)
HELD = Gauge(
    "paykit_consumer_waiting_for_database",
    "1 while the consumer holds its partitions because the database cannot be reached.",
    ("group",),
)
INBOX_PRUNED = Counter(
    "paykit_consumer_inbox_pruned_total", "Inbox rows removed after the retention.", ("group",)
)
