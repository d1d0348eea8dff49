"""The consumer runtime: inbox dedupe, retry tiers, dead letter queue, graceful stop."""

from paykit.consumer.errors import DlqLimitExceeded, InvalidMessage, RetryableError
from paykit.consumer.routing import DlqLimit
from paykit.consumer.runtime import Consumer, ConsumerSettings, Handler

__all__ = [
    "Consumer",
    "ConsumerSettings",
    "DlqLimit",
    "DlqLimitExceeded",
    "Handler",
    "InvalidMessage",
    "RetryableError",
]
