"""Make the secrets directory docker-compose.secure.yml mounts: TLS material and one user per service.

    .venv/bin/python deploy/docker/make_secrets.py [DIR]     (default: deploy/docker/secrets)

Writes, refusing to overwrite an existing directory:

* ``ca.pem`` (the CA every client trusts) and ``ca-key.pem`` (its key: move it off the host once the
  certificates are made); ``kafka/keystore.pem`` (the broker's key and certificate for ``kafka`` and
  ``localhost``, a Kafka PEM key store) and ``mongo/server.pem`` (the same for ``mongo``);
* Kafka SCRAM-SHA-512 users: ``kafka/users/<name>`` holds the password of each (``kafka-init`` adds
  them when it formats the storage), ``kafka/admin.properties`` the broker's own user for the
  inter-broker listener, ``kafka/client.properties`` the healthcheck's client settings;
* MongoDB: ``mongo/root-password``, ``mongo/keyfile`` (replica set members authenticate with it),
  ``mongo/users/<name>`` (``mongo-init.js`` creates each with readWrite on its own database);
* ``compose.env``: the passwords docker-compose.secure.yml puts into each service's
  CENTINELA_KAFKA_SASL_PASSWORD and CENTINELA_MONGO_URI (``docker compose --env-file``); the
  settings have no ``*_FILE`` variant, so they reach the containers as environment variables.

Every password is 32 random bytes, hex (no character needs escaping in a URI or a JAAS line). The
certificates are valid for 825 days; a real deployment uses its own CA or secret store instead.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "deploy" / "docker" / "secrets"
# one Kafka and MongoDB user per process (broker ACLs and database roles can then tell them apart)
SERVICES = ("topics", "intake", "legal", "alerts", "reports", "processor", "console")
KAFKA_ADMIN = "kafka-broker"
DAYS = 825


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # unencrypted PKCS#8: Kafka's PEM key store reads it when ssl.key.password is not set
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("centinela compose CA"))
        .issuer_name(_name("centinela compose CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, *dns: str) -> bytes:
    """Key, certificate and CA certificate in one PEM file (Kafka's PEM key store; mongod's certificateKeyFile)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return _key_pem(key) + cert.public_bytes(pem) + ca.public_bytes(pem)


def _write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def make_secrets(out: Path) -> None:
    if out.exists() and any(p.name != ".gitignore" for p in out.iterdir()):
        raise SystemExit(f"{out} already holds secrets; move it away to make new ones")
    ca_key, ca = make_ca()
    pem = serialization.Encoding.PEM
    # certificates and the CA are read by the broker, mongod and the services (other users in their
    # containers): world-readable; keys and passwords are 0600 unless a container must read them
    _write(out / "ca.pem", ca.public_bytes(pem), 0o644)
    _write(out / "ca-key.pem", _key_pem(ca_key))
    _write(out / "kafka" / "keystore.pem", make_server(ca_key, ca, "kafka", "localhost"), 0o644)
    _write(out / "mongo" / "server.pem", make_server(ca_key, ca, "mongo", "localhost"), 0o644)

    admin_password = secrets.token_hex(32)
    _write(out / "kafka" / "admin.properties", f"username={KAFKA_ADMIN}\npassword={admin_password}\n", 0o644)
    _write(out / "kafka" / "users" / KAFKA_ADMIN, admin_password, 0o644)
    _write(
        out / "kafka" / "client.properties",
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        "ssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/secrets/ca.pem\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{KAFKA_ADMIN}" password="{admin_password}";\n',
        0o644,
    )
    _write(out / "kafka" / "ca.pem", ca.public_bytes(pem), 0o644)
    _write(out / "mongo" / "ca.pem", ca.public_bytes(pem), 0o644)
    _write(out / "mongo" / "root-password", secrets.token_hex(32), 0o644)
    _write(out / "mongo" / "keyfile", secrets.token_urlsafe(96), 0o600)
    compose_env = []
    for service in SERVICES:
        user = f"centinela-{service}"
        kafka_password, mongo_password = secrets.token_hex(32), secrets.token_hex(32)
        _write(out / "kafka" / "users" / user, kafka_password, 0o644)
        _write(out / "mongo" / "users" / user, mongo_password, 0o644)
        compose_env += [
            f"CENTINELA_{service.upper()}_KAFKA_PASSWORD={kafka_password}",
            f"CENTINELA_{service.upper()}_MONGO_PASSWORD={mongo_password}",
        ]
    _write(out / "compose.env", "\n".join(compose_env) + "\n")
    _write(out / ".gitignore", "*\n", 0o644)
    print(f"secrets written to {out}; move ca-key.pem somewhere safe")


def main(argv: list[str]) -> None:
    make_secrets(Path(argv[0]).resolve() if argv else DEFAULT_DIR)


if __name__ == "__main__":
    main(sys.argv[1:])
