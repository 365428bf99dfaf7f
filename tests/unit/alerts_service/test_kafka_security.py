"""The alerts consumer connects with the configured Kafka security (TLS / SASL), not plaintext (no network)."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

import pytest
from pydantic import SecretStr

from services.alerts.adapters.consumer import alerts_consumer
from services.alerts.service.ingest import AlertIngestor
from services.alerts.settings import AlertsSettings
from shared import consumer as consumer_module


class FakeKafkaConsumer:
    built: list[dict[str, Any]] = []

    def __init__(self, *topics: str, **config: Any) -> None:
        FakeKafkaConsumer.built.append(config)

    def close(self, autocommit: bool = True) -> None:
        pass


def test_the_alerts_consumer_is_built_with_sasl_ssl_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "KafkaConsumer", FakeKafkaConsumer)
    FakeKafkaConsumer.built.clear()
    settings = AlertsSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="alerts",
        kafka_sasl_password=SecretStr("s3cret"),
        kafka_ssl_cafile="/etc/centinela/ca.pem",
    )
    c = alerts_consumer(settings, ingestor=Mock(spec=AlertIngestor))
    c._stop.set()  # build the client, then leave the loop at once
    c._consume()
    [config] = FakeKafkaConsumer.built
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_username"] == "alerts"
    assert config["sasl_plain_password"] == "s3cret"
    assert config["ssl_cafile"] == "/etc/centinela/ca.pem"
    assert config["enable_auto_commit"] is False


def test_plaintext_stays_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "KafkaConsumer", FakeKafkaConsumer)
    FakeKafkaConsumer.built.clear()
    c = alerts_consumer(AlertsSettings(), ingestor=Mock(spec=AlertIngestor))
    c._stop.set()
    c._consume()
    [config] = FakeKafkaConsumer.built
    assert config["security_protocol"] == "PLAINTEXT"
    assert "sasl_plain_password" not in config
