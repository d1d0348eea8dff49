"""The ledger's domain: accounts, posting rules, fees and the seal chain; no I/O."""
