"""Step one of the chain: turn each polled record into an envelope or a reason to dead-letter it.

Contract: ``decode_record`` never raises. Whatever cannot be read (no value, bytes that are not an
event, a routing header that is not a number) comes back as an ``invalid`` failure, so one bad
record is dead-lettered instead of crashing the consumer on every restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payevents import Envelope, InvalidEvent, decode
from paykit.consumer.errors import MalformedRecord
from paykit.consumer.routing import Failure, RoutingState


@dataclass(eq=False)
class Outcome:
    """One record's way through the chain: decoded, then applied or failed, then routed."""

    record: Any
    envelope: Envelope | None = None
    failure: Failure | None = None
    duplicate: bool = False
    # not run: the runtime stopped starting handlers first (``paykit.consumer.lanes``)
    deferred: bool = False

    @property
    def pending(self) -> bool:
        """Decoded and not failed yet: the applier's to run."""
        return self.envelope is not None and self.failure is None


def decode_record(record: Any) -> Outcome:
    state = RoutingState.read(record.headers)
    if state.malformed is not None:
        return Outcome(record, failure=Failure("invalid", state.malformed))
    if record.value is None:
        tombstone = MalformedRecord("a record without a value (tombstone) is not an event")
        return Outcome(record, failure=Failure("invalid", tombstone))
    try:
        return Outcome(record, envelope=decode(record.value, record.headers))
    except InvalidEvent as error:
        return Outcome(record, failure=Failure("invalid", error))
    except Exception as error:  # a decoder bug must not crash-loop the consumer either
        undecodable = MalformedRecord(f"cannot decode: {type(error).__name__}: {error}")
        return Outcome(record, failure=Failure("invalid", undecodable))
