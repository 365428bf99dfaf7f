"""Kafka consumer of the reports read model."""
