"""Use cases: receive a webhook, inspect the delivery log, re-emit an accepted delivery's event."""
