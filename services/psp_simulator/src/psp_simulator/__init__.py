"""Simulated payment service provider: charges, refunds and signed webhooks."""
