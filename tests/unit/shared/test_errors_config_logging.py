from __future__ import annotations

import io
import json
import logging
import logging.config
from pathlib import Path

import pytest

from shared.config import PROJECT_ROOT, load_yaml_mapping, resolve_config_file
from shared.errors import CentinelaError, ConfigError, InvalidInput, Rejected, StorageUnavailable
from shared.logging import JsonFormatter, install_json_formatter, json_logging_config


def test_error_carries_reason_and_field_without_values() -> None:
    err = InvalidInput("occurred_at out of range", reason="date_out_of_range", field="occurred_at")
    assert isinstance(err, ValueError) and isinstance(err, CentinelaError)
    assert err.status_code == 422
    assert err.to_dict() == {
        "detail": "occurred_at out of range",
        "reason": "date_out_of_range",
        "field": "occurred_at",
    }
    assert Rejected().reason == "rejected" and Rejected().message == "rejected"
    s = StorageUnavailable()
    assert (s.status_code, s.transient, s.reason, str(s)) == (503, True, "storage_unavailable", "storage unavailable")
    assert not InvalidInput().transient


def test_resolve_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = resolve_config_file("services/legal/deadlines.yaml", setting="CENTINELA_LEGAL_DEADLINES_FILE")
    assert shipped == (PROJECT_ROOT / "services/legal/deadlines.yaml").resolve()
    # an operator's file in the working directory wins over the shipped one
    monkeypatch.chdir(tmp_path)
    (tmp_path / "services/legal").mkdir(parents=True)
    own = tmp_path / "services/legal/deadlines.yaml"
    own.write_text("stages: {}\n")
    assert resolve_config_file("services/legal/deadlines.yaml") == own.resolve()
    assert resolve_config_file(str(own)) == own.resolve()
    assert resolve_config_file(None, default=own) == own.resolve()
    with pytest.raises(ConfigError, match="CENTINELA_POLICY_FILE: config file 'nope.yaml' not found"):
        resolve_config_file("nope.yaml", setting="CENTINELA_POLICY_FILE")
    with pytest.raises(ConfigError, match="no path"):
        resolve_config_file("", setting="CENTINELA_POLICY_FILE")


def test_load_yaml_mapping(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text("rules: {}\n")
    assert load_yaml_mapping(good) == {"rules": {}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_yaml_mapping(bad)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_yaml_mapping(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml_mapping(tmp_path / "missing.yaml")


def _record(msg: str = "relay pass failed", **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("centinela.test", logging.WARNING, __file__, 1, msg, (), None)
    rec.__dict__.update(extra)
    return rec


def test_json_formatter_keeps_exc_extra_and_drops_unknown_keys() -> None:
    out = json.loads(JsonFormatter().format(_record(exc="ServerSelectionTimeoutError", topic="t", name_of_child="X")))
    assert out["exc"] == "ServerSelectionTimeoutError"
    assert out["topic"] == "t"
    assert "name_of_child" not in json.dumps(out)


def test_json_formatter_logs_exception_type_and_reason_never_message() -> None:
    try:
        raise InvalidInput("secret value Juan Pérez", reason="bad_date")
    except InvalidInput as exc:
        rec = _record(exc=exc)
        import sys

        rec.exc_info = sys.exc_info()
    out = json.loads(JsonFormatter().format(rec))
    assert out["exc"] == "InvalidInput"
    assert out["exc_type"] == "InvalidInput"
    assert out["reason"] == "bad_date"
    assert "Juan" not in json.dumps(out)


def test_install_json_formatter_reformats_framework_handlers() -> None:
    logger = logging.getLogger("faust.test_install")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert install_json_formatter(["faust.test_install"]) >= 1
        logger.warning("consumer stuck", extra={"exc": "OverflowError", "partition": 3})
        line = json.loads(stream.getvalue())
        assert line["exc"] == "OverflowError" and line["partition"] == 3 and line["msg"] == "consumer stuck"
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_json_logging_config_is_a_valid_dict_config() -> None:
    cfg = json_logging_config("debug")
    assert cfg["root"]["level"] == "DEBUG"
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(cfg)
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_faust_worker_logging_set_up_uses_the_json_formatter(capsys: pytest.CaptureFixture[str]) -> None:
    """mode (faust's worker) applies ``logging_config`` with dictConfig: the processor logs JSON too."""
    from mode.utils.logging import setup_logging as mode_setup_logging

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        mode_setup_logging(loglevel="INFO", logging_config=json_logging_config("info"))
        logging.getLogger("faust.transport").warning("partition stuck", extra={"exc": "OverflowError", "partition": 2})
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line == {**line, "logger": "faust.transport", "exc": "OverflowError", "partition": 2}
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
