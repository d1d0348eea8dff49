"""Settlement service: merchant payout batches, reports and reconciliation."""
