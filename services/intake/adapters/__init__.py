"""Intake's ties to the outside: the outbox relay that publishes case facts to Kafka."""
