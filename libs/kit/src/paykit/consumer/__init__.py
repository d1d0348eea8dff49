"""The consumer runtime: inbox dedupe, retry tiers, dead letter queue, parking, graceful stop."""

from paykit.consumer.applying import Batched, BatchHandler, Handler
from paykit.consumer.errors import (
    ConsumerConfigError,
    InvalidMessage,
    MalformedRecord,
    NotYetApplicable,
    RetryableError,
    TransactionAborted,
)
from paykit.consumer.routing import DlqLimit
from paykit.consumer.runtime import Consumer, ConsumerSettings

__all__ = [
    "BatchHandler",
    "Batched",
    "Consumer",
    "ConsumerConfigError",
    "ConsumerSettings",
    "DlqLimit",
    "Handler",
    "InvalidMessage",
    "MalformedRecord",
    "NotYetApplicable",
    "RetryableError",
    "TransactionAborted",
]
