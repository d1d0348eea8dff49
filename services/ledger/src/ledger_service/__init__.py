"""Ledger service: double-entry accounts, journal transactions and balances."""
