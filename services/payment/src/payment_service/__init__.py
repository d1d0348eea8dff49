"""Payment service: payments, refunds, idempotency and the PSP charge workers."""
