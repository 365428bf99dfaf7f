"""The processor's web server (issue 11 item 1): bound where the operator said, serving only
``/metrics``, ``/healthz`` and ``/readyz`` — no faust table view, no router, no index."""

from __future__ import annotations

import array
import fcntl
import socket
import struct
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.alerts_processor.helpers import new_case, seconds_policy, start_processor
from tests.support import Proc

pytestmark = pytest.mark.integration

_SIOCGIFADDR = 0x8915


def non_loopback_ipv4() -> list[str]:
    """This machine's IPv4 addresses outside 127/8 (Linux ioctl: no extra dependency)."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            req = array.array("B", struct.pack("256s", name.encode()[:15]))
            try:
                fcntl.ioctl(s.fileno(), _SIOCGIFADDR, req)
            except OSError:
                continue  # no IPv4 address on this interface
            addr = socket.inet_ntoa(req.tobytes()[20:24])
            if not addr.startswith("127."):
                out.append(addr)
    return out


def listening_addresses(port: int) -> list[str]:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=10, check=True)
    return [line.split()[3].rsplit(":", 1)[0] for line in out.stdout.splitlines() if line.strip()]


def test_binds_the_configured_host_and_serves_only_health_and_metrics(
    stack_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path: Path
) -> None:
    proc = start_processor(
        "processor-web-surface", stack_env, log_dir, seconds_policy(tmp_path), args=("--web-host", "127.0.0.1")
    )
    procs.append(proc)
    try:
        assert proc.port is not None
        addresses = listening_addresses(proc.port)
        assert addresses == ["127.0.0.1"], f"listening on {addresses}, expected only 127.0.0.1"
        for addr in non_loopback_ipv4():
            with pytest.raises(OSError):
                socket.create_connection((addr, proc.port), timeout=2).close()

        for path in ("/metrics", "/healthz", "/readyz"):
            assert httpx.get(proc.url + path, timeout=5).status_code == 200, path
        for path in (f"/table/case-state/{new_case()}/", "/table/", "/router/", "/", "/graph/", "/performance/"):
            assert httpx.get(proc.url + path, timeout=5).status_code == 404, path
    finally:
        proc.stop()
