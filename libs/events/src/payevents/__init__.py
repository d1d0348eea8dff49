"""Event contracts shared by every service: envelope, schemas, topic catalogue.

Contracts only: nothing here talks to Kafka or a database, so every service, test and tool can
import it freely.
"""

from payevents.codec import (
    HEADER_CORRELATION_ID,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_EVENT_VERSION,
    decode,
    encode,
)
from payevents.compatibility import (
    CompatibilityProblem,
    check_backward_compatible,
    compatibility_problems,
)
from payevents.currencies import ISO_4217_CODES
from payevents.envelope import Envelope, EnvelopeSchema, new_event
from payevents.errors import InvalidEvent, InvalidEventReason
from payevents.registry import EventRegistry, RegisteredVersion, Upcaster, UpcastFunction
from payevents.schemas import REGISTRY
from payevents.topics import CATALOGUE, ConsumerGroup, Topic, TopicSpec, physical_topics, topic

__all__ = [
    "CATALOGUE",
    "HEADER_CORRELATION_ID",
    "HEADER_EVENT_ID",
    "HEADER_EVENT_TYPE",
    "HEADER_EVENT_VERSION",
    "ISO_4217_CODES",
    "REGISTRY",
    "CompatibilityProblem",
    "ConsumerGroup",
    "Envelope",
    "EnvelopeSchema",
    "EventRegistry",
    "InvalidEvent",
    "InvalidEventReason",
    "RegisteredVersion",
    "Topic",
    "TopicSpec",
    "UpcastFunction",
    "Upcaster",
    "check_backward_compatible",
    "compatibility_problems",
    "decode",
    "encode",
    "new_event",
    "physical_topics",
    "topic",
]
