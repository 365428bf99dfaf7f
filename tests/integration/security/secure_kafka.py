"""A second, private Apache Kafka broker that only speaks SASL_SSL (SCRAM-SHA-512 over TLS).

The tests in this directory prove the transport settings against it; the shared broker on 9092 is
never touched. It runs from the same jars as the local stack (``deploy/local/stack.sh install``
provisions them into the cache) as one KRaft node: a SASL_SSL listener for clients and the
broker itself, and a controller listener, both on free loopback ports. The TLS material is made
here (a throw-away CA and a broker certificate for 127.0.0.1, PEM files: Kafka reads PEM key and
trust stores directly), and the SCRAM users are created when the storage is formatted
(``--add-scram``), as an operator would on a new cluster.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[3]
MECHANISM = "SCRAM-SHA-512"
HOST = "127.0.0.1"


def kafka_home() -> Path:
    """The Kafka jars of the local stack (same cache and version variables as deploy/local/stack.sh),
    provisioned by its install step when missing."""
    cache = Path(
        os.environ.get("CENTINELA_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "centinela"
    )
    home = cache / f"kafka-{os.environ.get('CENTINELA_KAFKA_VERSION', '4.1.1')}"
    if not (home / ".complete").is_file():
        subprocess.run(["bash", str(ROOT / "deploy/local/stack.sh"), "install"], cwd=ROOT, check=True, timeout=600)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -- TLS material ----------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    # unencrypted PKCS#8: what Kafka's PEM key store reads when ssl.key.password is not set
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, host: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("centinela-test-kafka"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@dataclass
class Pki:
    ca_file: Path  # the CA that signed the broker's certificate: what clients must trust
    other_ca_file: Path  # a CA that signed nothing here: a client trusting only it must refuse the broker
    keystore_file: Path  # the broker's key and certificate chain (Kafka PEM key store)


def make_pki(directory: Path) -> Pki:
    ca_key, ca_cert = make_ca("centinela test CA")
    _, other_cert = make_ca("some other CA")
    key, cert = make_server_cert(ca_key, ca_cert, HOST)
    pem = serialization.Encoding.PEM
    pki = Pki(directory / "ca.pem", directory / "other-ca.pem", directory / "broker-keystore.pem")
    pki.ca_file.write_bytes(ca_cert.public_bytes(pem))
    pki.other_ca_file.write_bytes(other_cert.public_bytes(pem))
    pki.keystore_file.write_bytes(_pem_key(key) + cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    pki.keystore_file.chmod(0o600)
    return pki


# -- the broker ------------------------------------------------------------------------------------


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid format)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class SecureBroker:
    """One KRaft node with a SASL_SSL listener, in its own temporary directory, stopped by its PID."""

    users: dict[str, str]  # SCRAM-SHA-512 users created at format time: name -> password
    admin: tuple[str, str] = ("broker-admin", "")
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="centinela-sasl-kafka-")))
    port: int = 0
    controller_port: int = 0
    pki: Pki | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "kafka.log"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def start(self) -> None:
        home = kafka_home()
        self.pki = make_pki(self.directory)
        self.admin = (self.admin[0], self.admin[1] or uuid.uuid4().hex)
        self.port, self.controller_port = free_port(), free_port()
        data = self.directory / "data"
        config = self.directory / "server.properties"
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{self.admin[0]}" password="{self.admin[1]}";'
        )
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={HOST}:{self.controller_port}",
                    f"listeners=SASL_SSL://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
                    f"advertised.listeners=SASL_SSL://{HOST}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
                    # the broker talks to itself over the secured listener too, as its own SCRAM user
                    "inter.broker.listener.name=SASL_SSL",
                    f"sasl.enabled.mechanisms={MECHANISM}",
                    f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
                    f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config={jaas}",
                    "ssl.keystore.type=PEM",
                    f"ssl.keystore.location={self.pki.keystore_file}",
                    "ssl.truststore.type=PEM",
                    f"ssl.truststore.location={self.pki.ca_file}",
                    "ssl.client.auth=none",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )
        classpath = str(home / "libs" / "*")
        jvm = [
            "java",
            "-Xms128m",
            "-Xmx384m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:ActiveProcessorCount=2",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Djava.awt.headless=true",
            "-cp",
            classpath,
        ]
        scram = [
            arg
            for name, password in {self.admin[0]: self.admin[1], **self.users}.items()
            for arg in ("--add-scram", f"{MECHANISM}=[name={name},password={password}]")
        ]
        with open(self.log_path, "ab") as log:
            subprocess.run(
                [*jvm, "kafka.tools.StorageTool", "format", "--standalone", "-t", _cluster_id(), "-c", str(config)]
                + scram,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=60,
            )
            self.popen = subprocess.Popen([*jvm, "kafka.Kafka", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.popen.poll() is not None:
                raise AssertionError(f"the SASL_SSL broker exited with {self.popen.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the SASL_SSL broker did not listen within 60s:\n{self.log_tail()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM by PID (SIGKILL after 20 s), then remove the temporary directory."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)
