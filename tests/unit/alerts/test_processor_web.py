"""Where the processor's web server listens and what it mounts (services.processor.web)."""

from __future__ import annotations

from services.processor.web import Web, bind_address


def test_configured_host_is_bound_when_the_cli_says_nothing() -> None:
    assert bind_address("127.0.0.1", "127.0.0.1", "127.0.0.1") == "127.0.0.1"


def test_web_host_flag_is_the_bind_address() -> None:
    # `worker --web-host 10.0.0.5` with CENTINELA_PROCESSOR_WEB_HOST at its default
    assert bind_address("127.0.0.1", "10.0.0.5", "127.0.0.1") == "10.0.0.5"


def test_explicit_web_bind_wins() -> None:
    assert bind_address("0.0.0.0", "127.0.0.1", "127.0.0.1") == "0.0.0.0"


def test_no_builtin_blueprint_is_mounted() -> None:
    assert not list(Web.default_blueprints)
    assert not list(Web.production_blueprints)
    assert not list(Web.debug_blueprints)
    assert not list(Web.optional_blueprints)
