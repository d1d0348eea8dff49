"""Event contracts shared by every service: envelope, schemas, topic catalogue."""
