"""docker-compose.secure.yml: the production transport settings (Kafka SASL_SSL, MongoDB TLS and users).

No Docker engine runs here, so the override is checked by reading it: every process of
docker-compose.yml gets SASL_SSL with its own SCRAM user and a Mongo URI with its own user, TLS and
the replica set; every CENTINELA_* it sets is a settings field and parses; deploy/docker/make_secrets.py
makes every file and variable the override names. `docker compose config -q` validates the merge when
the compose client is installed (skipped otherwise, with the reason). The broker side of these
settings is proved on a real SASL_SSL broker by tests/integration/security/test_kafka_sasl_tls.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import CommonSettings
from tests.unit.test_compose import OURS, command, entry_module, environment, settings_classes, settings_fields

ROOT = Path(__file__).resolve().parents[2]
SECURE = yaml.safe_load((ROOT / "docker-compose.secure.yml").read_text())
PLACEHOLDER = re.compile(r"\$\{(\w+)(?::[?-][^}]*)?\}")


def substitute(value: str, variables: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), ""), value)


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compose-secrets") / "secrets"
    subprocess.run([sys.executable, str(ROOT / "deploy/docker/make_secrets.py"), str(out)], check=True, timeout=60)
    return out


def compose_env(secrets_dir: Path) -> dict[str, str]:
    lines = (secrets_dir / "compose.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line)


def test_every_process_of_ours_is_secured() -> None:
    assert set(OURS) <= set(SECURE["services"]), f"not secured: {sorted(set(OURS) - set(SECURE['services']))}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_each_process_has_its_own_sasl_user_and_mongo_user_over_tls(
    name: str, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**environment(OURS[name]), **environment(SECURE["services"][name])}
    assert env["CENTINELA_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["CENTINELA_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["CENTINELA_KAFKA_SASL_USERNAME"] == f"centinela-{name}"
    assert env["CENTINELA_KAFKA_SSL_CAFILE"] == "/run/secrets/centinela/ca.pem"
    uri = env["CENTINELA_MONGO_URI"]
    assert uri.startswith(f"mongodb://centinela-{name}:${{CENTINELA_{name.upper()}_MONGO_PASSWORD:?")
    for part in ("@mongo:27017/", "tls=true", "tlsCAFile=/run/secrets/centinela/ca.pem", "replicaSet=rs0"):
        assert part in uri, f"{name}: {part} missing from the Mongo URI"
    module = entry_module(command(OURS[name]))
    unknown = sorted(k for k in env if k.startswith("CENTINELA_") and k not in settings_fields(module))
    assert not unknown, f"{name} sets {unknown}, which no settings class of that process reads"
    # with the generated passwords every settings class of the process accepts the environment
    variables = compose_env(secrets_dir)
    resolved = {k: substitute(v, variables) for k, v in env.items()}
    assert variables[f"CENTINELA_{name.upper()}_KAFKA_PASSWORD"] == resolved["CENTINELA_KAFKA_SASL_PASSWORD"]
    for key in [k for k in os.environ if k.startswith("CENTINELA_")]:
        monkeypatch.delenv(key)
    for key, value in resolved.items():
        monkeypatch.setenv(key, value)
    for cls in settings_classes(module):
        cls()
    assert CommonSettings().kafka_sasl_password.get_secret_value() not in repr(CommonSettings())


def test_make_secrets_writes_what_the_override_mounts(secrets_dir: Path) -> None:
    from cryptography import x509

    ca = x509.load_pem_x509_certificate((secrets_dir / "ca.pem").read_bytes())
    for path, host in (("kafka/keystore.pem", "kafka"), ("mongo/server.pem", "mongo")):
        pem = (secrets_dir / path).read_bytes()
        assert b"-----BEGIN PRIVATE KEY-----" in pem, f"{path}: Kafka's PEM store needs an unencrypted PKCS#8 key"
        cert = x509.load_pem_x509_certificates(pem)[0]
        assert cert.issuer == ca.subject
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert host in names.get_values_for_type(x509.DNSName)
    for name in sorted(OURS):
        assert (secrets_dir / "kafka" / "users" / f"centinela-{name}").is_file()
        assert (secrets_dir / "mongo" / "users" / f"centinela-{name}").is_file()
    for path in ("kafka/ca.pem", "kafka/admin.properties", "kafka/client.properties", "mongo/ca.pem", "mongo/keyfile"):
        assert (secrets_dir / path).is_file(), path
    assert (secrets_dir / "mongo/root-password").is_file()
    # what the override reads from the mounted directories exists in them
    text = (ROOT / "docker-compose.secure.yml").read_text()
    for inside in re.findall(r"/etc/kafka/secrets/([\w./-]+)", text):
        if inside != "users/*":
            assert (secrets_dir / "kafka" / inside.split(":")[0]).exists(), inside
    for inside in re.findall(r"/run/secrets/centinela/mongo/([\w./-]+)", text):
        assert (secrets_dir / "mongo" / inside).exists(), inside
    assert (ROOT / "deploy/docker/mongo-init.js").is_file()
    assert oct((secrets_dir / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


def test_make_secrets_refuses_to_overwrite(secrets_dir: Path) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "deploy/docker/make_secrets.py"), str(secrets_dir)], capture_output=True, text=True
    )
    assert r.returncode != 0 and "already holds secrets" in r.stderr


def docker_compose() -> list[str] | None:
    """`docker compose` (the plugin) or Debian's `docker-compose`; neither needs a Docker engine for `config`."""
    docker = shutil.which("docker")
    if (
        docker is not None
        and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def test_docker_compose_config_accepts_the_merge(secrets_dir: Path) -> None:
    compose = docker_compose()
    if compose is None:
        pytest.skip("the docker compose client is not installed: `docker compose config -q` not run")
    env: dict[str, Any] = {**os.environ, "CENTINELA_SECRETS_DIR": str(secrets_dir)}
    args = [
        "--env-file",
        str(secrets_dir / "compose.env"),
        "-f",
        "docker-compose.yml",
        "-f",
        "docker-compose.secure.yml",
    ]
    r = subprocess.run([*compose, *args, "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # without the passwords compose stops with the hint, instead of starting services without credentials
    r = subprocess.run(
        [*compose, "-f", "docker-compose.yml", "-f", "docker-compose.secure.yml", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "make_secrets.py" in r.stderr
