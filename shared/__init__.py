"""centinela shared contract: events, topics, settings, auth, Kafka/Mongo adapters, metrics."""
