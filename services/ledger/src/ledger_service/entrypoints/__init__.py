"""The ledger's processes: HTTP API, consumers, relay and the `ledger` command."""
