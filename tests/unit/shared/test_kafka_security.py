"""Kafka SASL/SCRAM and TLS settings reach every client (kafka-python, aiokafka, faust); secrets stay out of repr."""

from __future__ import annotations

import os
from typing import Any

import certifi
import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient
from pydantic import ValidationError

import shared.consumer as consumer_mod
import shared.kafka as kafka_mod
from shared.consumer import PartitionedConsumer
from shared.kafka import (
    Producer,
    aiokafka_security,
    faust_credentials,
    kafka_python_security,
)
from shared.settings import CommonSettings

PASSWORD = "scram-Pa55word-from-the-vault"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CENTINELA_"):
            monkeypatch.delenv(name)


@pytest.fixture
def secure(monkeypatch: pytest.MonkeyPatch) -> CommonSettings:
    monkeypatch.setenv("CENTINELA_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CENTINELA_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("CENTINELA_KAFKA_SASL_USERNAME", "centinela-intake")
    monkeypatch.setenv("CENTINELA_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("CENTINELA_KAFKA_SSL_CAFILE", certifi.where())
    return CommonSettings()


def test_plaintext_by_default() -> None:
    s = CommonSettings()
    assert kafka_python_security(s) == {"security_protocol": "PLAINTEXT"}
    assert aiokafka_security(s) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(s) is None


def test_kafka_python_config(secure: CommonSettings) -> None:
    config = kafka_python_security(secure)
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("centinela-intake", PASSWORD)
    assert config["ssl_cafile"] == certifi.where() and config["ssl_check_hostname"] is True
    # every key is one the three kafka-python clients know (they refuse unknown ones)
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert set(config) <= set(client.DEFAULT_CONFIG), client.__name__


class Recorder:
    calls: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Recorder.calls.append(kwargs)

    def paused(self) -> set[Any]:
        return set()

    def poll(self, timeout_ms: int = 0) -> dict[Any, Any]:
        raise RuntimeError("stop")

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_producer_consumer_and_admin_get_the_settings(secure: CommonSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    Recorder.calls = []
    monkeypatch.setattr(kafka_mod, "KafkaProducer", Recorder)
    monkeypatch.setattr(consumer_mod, "KafkaConsumer", Recorder)
    monkeypatch.setattr("kafka.admin.KafkaAdminClient", Recorder)
    Producer(secure, client_id="t")
    loop: PartitionedConsumer[bytes] = PartitionedConsumer(secure, "case-events", "g", lambda r: b"", lambda r, i: None)
    with pytest.raises(RuntimeError, match="stop"):
        loop._consume()
    from shared.topics import ensure_topics

    with pytest.raises(Exception):  # noqa: B017 (the recorder has no list_topics; only its arguments matter)
        ensure_topics(secure, timeout=1)
    assert len(Recorder.calls) == 3
    for kwargs in Recorder.calls:
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
        assert kwargs["sasl_plain_password"] == PASSWORD
        assert kwargs["ssl_cafile"] == certifi.where()


async def test_aiokafka_client_accepts_the_config(secure: CommonSettings) -> None:
    config = aiokafka_security(secure)
    assert config["ssl_context"].check_hostname is True
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **config)  # not started: no connection
    client = producer.client
    assert client._security_protocol == "SASL_SSL"
    assert client._sasl_mechanism == "SCRAM-SHA-512"
    assert client._sasl_plain_username == "centinela-intake"
    assert client._ssl_context is config["ssl_context"]


def test_faust_credentials(secure: CommonSettings) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(faust_credentials(secure))
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_username"] == "centinela-intake" and auth["sasl_plain_password"] == PASSWORD
    assert auth["ssl_context"] is not None


def test_mutual_tls_without_sasl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_KAFKA_SECURITY_PROTOCOL", "SSL")
    s = CommonSettings(kafka_ssl_cafile=certifi.where())
    config = kafka_python_security(s)
    assert config["security_protocol"] == "SSL" and "sasl_mechanism" not in config
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    assert credentials_to_aiokafka_auth(faust_credentials(s))["security_protocol"] == "SSL"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "CENTINELA_KAFKA_SASL_USERNAME and CENTINELA_KAFKA_SASL_PASSWORD"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"},
            "needs CENTINELA_KAFKA_SASL_PASSWORD",
        ),
        ({"KAFKA_SSL_CERTFILE": "/etc/c.pem"}, "go together"),
        (
            {
                "ENV": "prod",
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "PLAIN",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD": PASSWORD,
                "JWT_SECRET": "x" * 40,
            },
            "in clear",
        ),
    ],
    ids=["no-credentials", "no-password", "cert-without-key", "plain-in-clear-prod"],
)
def test_incomplete_security_refused(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"CENTINELA_{name}", value)
    with pytest.raises(ValidationError, match=message) as info:
        CommonSettings()
    assert PASSWORD not in str(info.value)


def test_secrets_stay_out_of_repr(secure: CommonSettings) -> None:
    s = secure.model_copy(update={"mongo_uri": "mongodb://intake:Mongo-Pa55@db1/?tls=true"})
    assert PASSWORD not in repr(s) and "Mongo-Pa55" not in repr(s)
