"""PostgreSQL access for the ledger."""
