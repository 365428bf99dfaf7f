"""docker-compose.yml cannot run here (no Docker): check that everything it names exists in the code.

Commands refer to real modules, CENTINELA_* variables are settings fields of the process they
configure, published ports and healthchecks match the port in the command, Prometheus scrapes
every service on its port, and start-up order waits for health.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
ENV_PREFIX = CommonSettings.model_config.get("env_prefix", "CENTINELA_")
assert ENV_PREFIX == "CENTINELA_"

OURS = {name: svc for name, svc in SERVICES.items() if "build" in svc}
LONG_RUNNING = {name: svc for name, svc in OURS.items() if svc.get("restart") != "no"}
INFRA = {"kafka", "mongo"}


def command(svc: dict[str, Any]) -> list[str]:
    cmd = svc["command"]
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def option(cmd: list[str], name: str) -> str:
    assert name in cmd, f"{name} missing from {cmd}"
    return cmd[cmd.index(name) + 1]


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def entry_module(cmd: list[str]) -> str:
    """The python module a command runs: `uvicorn pkg.mod:app` or `python -m pkg.mod`."""
    if cmd[0] == "uvicorn":
        return next(a for a in cmd[1:] if not a.startswith("-")).split(":")[0]
    assert cmd[0] in ("python", "python3") and cmd[1] == "-m", f"unexpected command {cmd}"
    return cmd[2]


def published_ports(svc: dict[str, Any]) -> list[tuple[int, int]]:
    out = []
    for spec in svc.get("ports", []):
        host, _, container = str(spec).rpartition(":")
        out.append((int(host.rsplit(":", 1)[-1]), int(container.split("/")[0])))
    return out


def listen_port(cmd: list[str]) -> int:
    return int(option(cmd, "--port" if cmd[0] == "uvicorn" else "--web-port"))


def settings_classes(module_name: str) -> list[type[BaseSettings]]:
    """Every settings class of the process: services/<svc>/settings.py for a service, else CommonSettings."""
    parts = module_name.split(".")
    classes: list[type[BaseSettings]] = [CommonSettings]
    mod_name = ".".join(parts[:2]) + ".settings"
    if parts[0] == "services" and importlib.util.find_spec(mod_name) is not None:
        mod = importlib.import_module(mod_name)
        classes += [v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, BaseSettings)]
    return classes


def settings_fields(module_name: str) -> set[str]:
    """The CENTINELA_* names the process reads (derived, so new settings fields are picked up)."""
    return {f"{ENV_PREFIX}{field.upper()}" for cls in settings_classes(module_name) for field in cls.model_fields}


def test_compose_has_the_whole_system() -> None:
    assert INFRA <= set(SERVICES)
    assert {"intake", "legal", "alerts", "reports", "processor", "console", "topics", "prometheus"} <= set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["mongo"]["image"].startswith("mongo:7")
    assert set(OURS) >= {"intake", "legal", "alerts", "reports", "processor", "console", "topics"}
    builds = {(svc["build"]["context"], svc["build"]["dockerfile"]) for svc in OURS.values()}
    assert builds == {(".", "deploy/Dockerfile")}, "one image of ours for every process"
    assert (ROOT / "deploy" / "Dockerfile").is_file()


def test_dockerfile_runs_as_non_root_on_python_311_slim() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    assert "pip install ." in text
    for path in re.findall(r"^COPY (\S+)", text, re.M):
        assert (ROOT / path).exists() or path == "README.md", f"Dockerfile copies missing {path}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_command_refers_to_an_existing_module(name: str) -> None:
    cmd = command(OURS[name])
    module = entry_module(cmd)
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{name}: module {module} not found"
    if cmd[0] == "uvicorn":
        attr = next(a for a in cmd[1:] if not a.startswith("-")).split(":")[1]
        tree = ast.parse(Path(spec.origin).read_text())
        assigned = {
            t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
        }
        # or built on first access by a module-level __getattr__ (PEP 562) that names it
        lazy = {
            c.value
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
            for c in ast.walk(node)
            if isinstance(c, ast.Constant) and isinstance(c.value, str)
        }
        assert attr in assigned | lazy, f"{name}: {module} has no module-level {attr}"
    elif spec.submodule_search_locations is not None:  # python -m package -> package/__main__.py
        assert importlib.util.find_spec(module + ".__main__") is not None, f"{name}: {module} has no __main__"


def test_topics_init_runs_ensure() -> None:
    cmd = command(SERVICES["topics"])
    assert entry_module(cmd) == "shared.topics" and "ensure" in cmd
    from shared import topics

    assert callable(topics.main)


@pytest.mark.parametrize("name", sorted(OURS))
def test_environment_variables_are_settings_fields(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = OURS[name]
    env = environment(svc)
    known = settings_fields(entry_module(command(svc)))
    unknown = sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in known)
    assert not unknown, f"{name} sets {unknown}, which no settings class of that process reads"
    assert env["CENTINELA_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["CENTINELA_MONGO_URI"] == "mongodb://mongo:27017/"
    assert env["CENTINELA_ENV"] == "dev"
    # every value parses: build each settings class of the process from exactly this environment
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for cls in settings_classes(entry_module(command(svc))):
        cls()


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_published_port_and_healthcheck_match_the_command(name: str) -> None:
    svc = LONG_RUNNING[name]
    cmd = command(svc)
    port = listen_port(cmd)
    assert published_ports(svc) == [(port, port)], f"{name} listens on {port}"
    host = option(cmd, "--host" if cmd[0] == "uvicorn" else "--web-host")
    assert host == "0.0.0.0", f"{name} must listen on every interface inside its container"
    test = " ".join(svc["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/readyz" in test, f"{name}: healthcheck must probe its own /readyz"


def test_processor_web_server_binds_every_interface() -> None:
    env = environment(SERVICES["processor"])
    assert env.get("CENTINELA_PROCESSOR_WEB_HOST", "0.0.0.0") == "0.0.0.0"


def test_every_service_has_a_healthcheck() -> None:
    for name, svc in SERVICES.items():
        if name in OURS and name not in LONG_RUNNING:
            continue  # one-shot init: compose waits for it to complete instead
        hc = svc.get("healthcheck")
        assert hc and hc.get("test"), f"{name} has no healthcheck"
        assert hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test must be CMD or CMD-SHELL"


def test_depends_on_waits_for_health_and_for_the_topics_init() -> None:
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on must use the long form with a condition"
        for dep, spec in deps.items():
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
            expected = (
                "service_completed_successfully" if dep in OURS and dep not in LONG_RUNNING else "service_healthy"
            )
            assert spec.get("condition") == expected, f"{name} -> {dep}: condition must be {expected}"
    for name in LONG_RUNNING:
        deps = SERVICES[name]["depends_on"]
        assert {"kafka", "mongo", "topics"} <= set(deps), f"{name} must wait for Kafka, MongoDB and the topics"
    assert set(SERVICES["topics"]["depends_on"]) == {"kafka"}


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    targets = set()
    for job in PROMETHEUS["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]:
            targets.update(static["targets"])
    expected = {f"{name}:{listen_port(command(svc))}" for name, svc in LONG_RUNNING.items()}
    assert targets == expected
    mounts = SERVICES["prometheus"]["volumes"]
    assert any(str(m).startswith("./deploy/prometheus.yml:") for m in mounts)


def test_volumes_declared() -> None:
    named = {
        str(v).split(":")[0]
        for svc in SERVICES.values()
        for v in svc.get("volumes", [])
        if not str(v).startswith((".", "/"))
    }
    assert named <= set(COMPOSE.get("volumes") or {})
    for svc in SERVICES.values():
        for v in svc.get("volumes", []):
            if str(v).startswith("./"):
                assert (ROOT / str(v).split(":")[0]).exists(), f"bind mount {v} points to nothing"


def test_dockerfile_exposes_every_port_compose_listens_on() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", text, re.M) for p in line.split()}
    listened = {listen_port(command(svc)) for svc in LONG_RUNNING.values()}
    assert listened <= exposed, f"EXPOSE lacks {sorted(listened - exposed)}"


def test_console_calls_every_api_by_its_compose_name_and_port() -> None:
    env = environment(SERVICES["console"])
    from services.console.settings import ConsoleSettings

    api_fields = [f for f in ConsoleSettings.model_fields if f.startswith("console_") and f.endswith("_url")]
    for field in api_fields:
        api = field.removeprefix("console_").removesuffix("_url")
        if api == "public":
            continue
        key = f"{ENV_PREFIX}{field.upper()}"
        assert api in LONG_RUNNING, f"the console reads {key} but compose runs no {api} service"
        port = listen_port(command(LONG_RUNNING[api]))
        assert env.get(key) == f"http://{api}:{port}", f"console: {key} must be http://{api}:{port}"
        assert SERVICES["console"]["depends_on"].get(api, {}).get("condition") == "service_healthy", (
            f"the console must wait for {api}"
        )


def test_prometheus_starts_after_every_service_it_scrapes() -> None:
    deps = set(SERVICES["prometheus"].get("depends_on") or {})
    assert set(LONG_RUNNING) <= deps, f"prometheus does not wait for {sorted(set(LONG_RUNNING) - deps)}"
