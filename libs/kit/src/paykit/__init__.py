"""Service kit: settings, logging, database, migrations, Kafka runtime, outbox, inbox, auth."""
