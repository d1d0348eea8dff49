"""Processes and HTTP surfaces: the Flask app (webhook intake, admin API) and the outbox relay."""
