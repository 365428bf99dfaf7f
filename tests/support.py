"""Test helpers shared by integration and e2e tests: real processes, real broker, polling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

from shared.events.alerts import AlertRaised, alert_id_for

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def alert_raised(
    *,
    org: str,
    advocate: str,
    severity: str = "high",
    rule: str = "service.overdue",
    case_id: str | None = None,
    episode: int = 1,
    summary: str = "psychosocial session due 2 days ago not recorded",
    evidence: dict[str, Any] | None = None,
    raised_at: datetime | None = None,
) -> AlertRaised:
    """An ``alert.raised`` fact as the processor would publish it (a fresh case id unless given)."""
    case_id = case_id or f"case-{uuid.uuid4().hex[:10]}"
    return AlertRaised(
        case_id=case_id,
        alert_id=alert_id_for(case_id, rule, episode),
        rule=rule,
        episode=episode,
        severity=severity,
        org_id=org,
        advocate_id=advocate,
        summary=summary,
        evidence=evidence or {},
        raised_at=raised_at or datetime.now(UTC),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(fn: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll ``fn`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = fn()
            if value:
                return value
        except Exception as exc:  # the thing polled may not be up yet
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else "")
    )


def base_env() -> dict[str, str]:
    return {
        "CENTINELA_KAFKA_BOOTSTRAP": os.environ.get("CENTINELA_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        "CENTINELA_MONGO_URI": os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/"),
        "CENTINELA_ENV": "dev",
    }


# every prefix handed out in this test process; tests/conftest.py deletes their topics at the end
CREATED_PREFIXES: list[str] = []


def new_prefix() -> str:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    CREATED_PREFIXES.append(prefix)
    return prefix


def delete_topics(bootstrap: str, prefixes: list[str], client_id: str = "centinela-tests") -> int:
    """Delete the topics under these prefixes, faust's internal ones included (a broker full of old
    test topics runs out of heap). Returns how many; Kafka errors reach the caller, who is tidying."""
    from kafka import KafkaAdminClient

    if not prefixes:
        return 0
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, request_timeout_ms=30000)
    try:
        names = [t for t in admin.list_topics() if t.startswith(tuple(prefixes))]
        if names:
            admin.delete_topics(names)
        return len(names)
    finally:
        admin.close()


class Proc:
    """A centinela process started for a test, stopped by its PID."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path, port: int | None = None) -> None:
        self.name = name
        self.port = port
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        full_env = {**os.environ, **env}
        self.popen = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, path: str = "/readyz", timeout: float = 60.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_text()[-3000:]}")
            return httpx.get(self.url + path, timeout=2).status_code == 200

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready in {timeout}s:\n{self.log_text()[-3000:]}")

    def stop(self, sig: int | None = None, timeout: float = 20.0) -> None:
        if self.alive():
            if sig is None:
                self.popen.terminate()
            else:
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()


def uvicorn_args(module: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]


@contextmanager
def consumer(env: dict[str, str], *topics: str, from_beginning: bool = True) -> Iterator[Any]:
    """A kafka-python consumer on prefixed topics (prefix taken from env)."""
    from kafka import KafkaConsumer

    prefix = env.get("CENTINELA_TOPIC_PREFIX", "")
    c = KafkaConsumer(
        *[prefix + t for t in topics],
        bootstrap_servers=env["CENTINELA_KAFKA_BOOTSTRAP"],
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    try:
        yield c
    finally:
        c.close()


def drain(c: Any, until: Callable[[list[Any]], bool], timeout: float = 30.0) -> list[Any]:
    """Collect records from ``c`` until ``until(records)`` holds or time runs out (then fail)."""
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = c.poll(timeout_ms=300)
        for recs in batch.values():
            records.extend(recs)
        if until(records):
            return records
    raise AssertionError(f"timed out after {timeout}s; got {len(records)} records")


def isolated_env(stack_env: dict[str, str]) -> dict[str, str]:
    """``stack_env`` with a private topic prefix (topics created): for tests whose processes must
    not share consumer groups or topics with other tests' processes of the same session."""
    from shared.settings import CommonSettings
    from shared.topics import ensure_topics

    env = {**stack_env, "CENTINELA_TOPIC_PREFIX": new_prefix()}
    ensure_topics(
        CommonSettings(
            kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"],
            topic_prefix=env["CENTINELA_TOPIC_PREFIX"],
            partitions=int(env.get("CENTINELA_PARTITIONS", "3")),
        ),
        timeout=60,
    )
    return env


@dataclass
class Mailbox:
    port: int = 0
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]


@dataclass
class Receiver:
    """Answers the first ``fail_first`` POSTs with 500, then 200; records every request."""

    fail_first: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    code = 500 if len(receiver.requests) <= receiver.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class Counting:
    """Wraps a collection (a real one or mongomock's) and records the name of every method called on
    it: what a loop asks the database server (the idle tests of the outbox relay and the reports)."""

    def __init__(self, coll: Any) -> None:
        self.coll = coll
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.coll, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kwargs)

        return call
