"""The real events of the platform, one module per domain, gathered into the default registry."""

from __future__ import annotations

from payevents.registry import EventRegistry
from payevents.schemas import ledger, payment, psp, refund, settlement


def build_registry() -> EventRegistry:
    registry = EventRegistry()
    for domain in (payment, refund, psp, ledger, settlement):
        domain.register(registry)
    return registry


REGISTRY: EventRegistry = build_registry()
