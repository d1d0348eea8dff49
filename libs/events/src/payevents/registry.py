"""Which schema describes each (type, version), and how old versions become the newest one.

Producers always write the newest version while consumers may be reading messages written by
producers deployed a week ago. Keeping every version's schema plus one upcaster per step lets a
consumer accept anything ever registered and still code against a single shape.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError

from payevents.errors import InvalidEvent, describe_messages, flatten_messages

UpcastFunction = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Upcaster:
    """Turns data of version n-1 into data of version n.

    ``touches`` names the top-level fields the function adds, removes, renames or rewrites. The
    compatibility check cannot read code, so it trusts the upcaster for exactly those fields and
    compares every other field structurally.
    """

    function: UpcastFunction
    touches: frozenset[str] = field(default_factory=frozenset)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.function(copy.deepcopy(data))


@dataclass(frozen=True)
class RegisteredVersion:
    event_type: str
    version: int
    schema: Schema
    upcaster: Upcaster | None = None


class EventRegistry:
    """The registered versions of every event type, in order, without gaps."""

    def __init__(self) -> None:
        self._versions: dict[str, list[RegisteredVersion]] = {}

    def register(
        self,
        event_type: str,
        version: int,
        schema: type[Schema],
        *,
        upcaster: Upcaster | UpcastFunction | None = None,
    ) -> None:
        """Add the next version of ``event_type``; ``upcaster`` lifts data from ``version - 1``.

        Versions must arrive in order from 1 so that every old version has a path to the newest.
        A version without an upcaster reads its predecessor's data unchanged.
        """
        known = self._versions.get(event_type, [])
        expected = len(known) + 1
        if version != expected:
            raise ValueError(f"{event_type}: expected version {expected} next, got {version}")
        if version == 1 and upcaster is not None:
            raise ValueError(f"{event_type}: version 1 has nothing to upcast from")
        instance = schema()
        if instance.unknown != RAISE:
            raise ValueError(f"{event_type} v{version}: the schema must reject unknown fields")
        if upcaster is not None and not isinstance(upcaster, Upcaster):
            upcaster = Upcaster(upcaster)
        self._versions[event_type] = [
            *known,
            RegisteredVersion(event_type, version, instance, upcaster),
        ]

    def types(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, event_type: str) -> list[RegisteredVersion]:
        try:
            return list(self._versions[event_type])
        except KeyError:
            raise InvalidEvent("unknown_type", f"unknown event type {event_type!r}") from None

    def newest_version(self, event_type: str) -> int:
        return len(self.versions(event_type))

    def entry(self, event_type: str, version: int) -> RegisteredVersion:
        known = self.versions(event_type)
        if not 1 <= version <= len(known):
            raise InvalidEvent(
                "unknown_version",
                f"{event_type} has no version {version} (registered: 1..{len(known)})",
            )
        return known[version - 1]

    def __iter__(self) -> Iterator[RegisteredVersion]:
        for event_type in self.types():
            yield from self._versions[event_type]

    def validate(self, event_type: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``data`` against its schema and return it in canonical wire form.

        Loading then dumping fills defaults and normalises timestamps, so two producers that mean
        the same thing publish the same JSON.
        """
        schema = self.entry(event_type, version).schema
        try:
            loaded = schema.load(data)
        except ValidationError as error:
            errors = flatten_messages(error.messages)
            raise InvalidEvent(
                "schema_violation",
                f"{event_type} v{version} data is invalid: {describe_messages(errors)}",
                errors=errors,
            ) from None
        dumped: dict[str, Any] = schema.dump(loaded)
        return dumped

    def upcast(self, event_type: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Lift data that is valid for ``version`` to the newest version, one step at a time."""
        current = dict(data)
        for step in self.versions(event_type)[version:]:
            if step.upcaster is not None:
                current = step.upcaster(current)
        return current

    def read(self, event_type: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate data of any registered version and return it in the newest shape."""
        valid = self.validate(event_type, version, data)
        newest = self.newest_version(event_type)
        if version == newest:
            return valid
        try:
            return self.validate(event_type, newest, self.upcast(event_type, version, valid))
        except InvalidEvent as error:
            raise InvalidEvent(
                error.reason,
                f"after upcasting from v{version}: {error.message}",
                errors=error.errors,
            ) from None
