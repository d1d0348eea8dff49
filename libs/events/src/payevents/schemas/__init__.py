"""The real events of the platform, one module per domain, gathered into the default registry."""

from __future__ import annotations

from payevents.registry import EventRegistry
from payevents.schemas import ledger, payment, psp, refund, settlement, webhook_endpoints


def build_registry() -> EventRegistry:
    registry = EventRegistry()
    for domain in (payment, refund, psp, ledger, settlement, webhook_endpoints):
        domain.register(registry)
    return registry


REGISTRY: EventRegistry = build_registry()
