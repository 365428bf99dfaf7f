"""Settings: CENTINELA_* variables, dev secrets refused outside dev, topic prefix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.intake.settings import IntakeSettings
from shared.settings import DEV_JWT_SECRET, CommonSettings
from shared.topics import CATALOGUE


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests here control the environment completely (make test exports some CENTINELA_ vars)."""
    import os

    for name in list(os.environ):
        if name.startswith("CENTINELA_"):
            monkeypatch.delenv(name)


def test_defaults_are_dev() -> None:
    s = CommonSettings()
    assert s.env == "dev"
    assert s.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert s.database == "centinela_centinela"
    assert IntakeSettings().database == "centinela_intake"


def test_reads_centinela_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("CENTINELA_PARTITIONS", "12")
    monkeypatch.setenv("CENTINELA_MONGO_DB", "custom_db")
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "ignored:1")
    s = CommonSettings()
    assert (s.kafka_bootstrap, s.partitions, s.database) == ("k1:9092,k2:9092", 12, "custom_db")


def test_invalid_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="partitions"):
        CommonSettings()


@pytest.mark.parametrize("env", ["test", "prod"])
def test_dev_secret_refused_outside_dev_naming_the_variable(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_ENV", env)
    with pytest.raises(ValidationError) as info:
        CommonSettings()
    message = str(info.value)
    assert "CENTINELA_JWT_SECRET" in message and "dev default" in message
    assert DEV_JWT_SECRET not in message


def test_changed_secret_accepted_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_ENV", "prod")
    monkeypatch.setenv("CENTINELA_JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    s = CommonSettings()
    assert s.env == "prod"
    assert s.jwt_secret.get_secret_value() == "a-real-secret-from-the-vault-0123456789"


def test_service_secrets_are_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_ENV", "prod")
    monkeypatch.setenv("CENTINELA_JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    with pytest.raises(ValidationError, match="CENTINELA_IDENTITY_KEYS|CENTINELA_PERSON_REF_KEY"):
        IntakeSettings()


def test_secrets_are_not_printed() -> None:
    s = CommonSettings()
    assert DEV_JWT_SECRET not in repr(s) and DEV_JWT_SECRET not in str(s.model_dump())


def test_topic_prefix_applies_to_every_catalogue_topic() -> None:
    plain, prefixed = CommonSettings(), CommonSettings(topic_prefix="tenant-a.")
    for spec in CATALOGUE:
        assert plain.topic(spec.name) == spec.name
        assert prefixed.topic(spec.name) == f"tenant-a.{spec.name}"
