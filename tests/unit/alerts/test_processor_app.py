"""The processor's faust app: JSON log lines like the APIs, and Kafka security from the shared settings."""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Iterator

import faust
import pytest
from mode.utils.logging import setup_logging

from services.processor.settings import ProcessorSettings
from shared.logging import JsonFormatter


@pytest.fixture
def restored_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_worker_logs_json_at_the_level_of_its_command_line(restored_root: None) -> None:
    from services.processor.app import app, worker_logging_config

    assert app.conf.logging_config == worker_logging_config()
    stream = io.StringIO()
    # what mode's worker does at start with `-l warn` and the app's logging_config
    setup_logging(loglevel="warn", logfile=stream, logging_config=copy.deepcopy(dict(app.conf.logging_config)))
    root = logging.getLogger()
    assert root.level == logging.WARNING  # `-l` still decides the level
    json_handlers = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    assert json_handlers and root.handlers == json_handlers

    out = io.StringIO()
    json_handlers[0].setStream(out)  # type: ignore[attr-defined]
    logging.getLogger("centinela.processor").info("not at warn level")
    logging.getLogger("centinela.processor").warning(
        "deadline heap rebuilt", extra={"partition": 3, "advocate_name": "x"}
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["msg"] == "deadline heap rebuilt" and doc["level"] == "WARNING" and doc["partition"] == 3
    assert "advocate_name" not in doc  # extras outside the allow-list never reach the output


def test_plaintext_brokers_get_no_credentials() -> None:
    from services.processor.app import make_app

    assert make_app(ProcessorSettings(kafka_security_protocol="PLAINTEXT")).conf.broker_credentials is None


def test_sasl_settings_reach_faust_as_broker_credentials() -> None:
    from services.processor.app import app, make_app

    sasl = ProcessorSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="processor",
        kafka_sasl_password="s3cret-for-the-test",  # type: ignore[arg-type]
    )
    credentials = make_app(sasl).conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "processor" and credentials.password == "s3cret-for-the-test"
    assert str(credentials.mechanism.value) == "SCRAM-SHA-512"
    assert credentials.ssl_context is not None  # SASL_SSL: SCRAM inside TLS
    assert app.conf.broker_credentials is None  # the test environment is PLAINTEXT


def test_tls_settings_reach_faust_as_ssl_credentials() -> None:
    from services.processor.app import make_app

    credentials = make_app(ProcessorSettings(kafka_security_protocol="SSL")).conf.broker_credentials
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context is not None
