"""Webhook service: verifies and records PSP webhooks and emits normalised events."""
