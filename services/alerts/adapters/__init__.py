"""The alerts service's edges: the Kafka ingestor, SMTP, webhooks, the live (SSE) broadcaster, the policy file."""
