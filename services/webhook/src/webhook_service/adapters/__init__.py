"""PostgreSQL, the outbox and Redis behind the service layer's ports."""
