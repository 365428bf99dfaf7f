"""Where a webhook may point — pure rules, no I/O (the resolver is passed in).

A subscription is an outbound request the service makes on an admin's word, so it must not become
a way into the deployment's own network (server-side request forgery): no loopback, link-local
(cloud metadata at 169.254.169.254), private, shared, multicast or otherwise non-global address, no
metadata host names, and no credentials in the URL (``user:password@`` would sit in the database and
the logs). The rule is applied to the host as written and to every address it resolves to, when the
subscription is created and again before each delivery (a name may be re-pointed in between).

Deployments with an internal receiver name it in ``CENTINELA_WEBHOOK_ALLOW_HOSTS``: a comma-separated
list of host names (matched as written in the URL), IP addresses or networks in CIDR form (matched
against the resolved addresses), e.g. ``hooks.internal,10.20.0.0/16,127.0.0.1``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]

#: names that reach the machine itself or a cloud's metadata service whatever DNS says
_INTERNAL_NAMES = ("localhost", "metadata", "metadata.google.internal", "metadata.goog", "instance-data")

NOT_ALLOWED = (
    "must be a public http(s) address (not loopback, link-local, private or metadata); "
    "internal receivers go in CENTINELA_WEBHOOK_ALLOW_HOSTS"
)


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> AllowList:
        hosts: set[str] = set()
        networks: list[Network] = []
        for raw in text.split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks)


def _internal(address: IPAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return not address.is_global or address.is_multicast


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def target_problem(url: str, allow: AllowList, resolve: Resolver | None = None) -> str | None:
    """Why ``url`` may not receive webhooks (None: it may). ``resolve`` (host, port) -> addresses; a
    name that does not resolve is not refused here (the check runs again before each delivery)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "must be an http(s) URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    host = parts.hostname.lower().rstrip(".")
    if allow.allows_host(host):
        return None
    literal = _literal(host)
    if literal is not None:
        return None if (not _internal(literal) or allow.allows_address(literal)) else NOT_ALLOWED
    if host in _INTERNAL_NAMES or host.endswith((".localhost", ".internal", ".local")):
        return NOT_ALLOWED
    if resolve is None:
        return None
    try:
        addresses = resolve(host, port)
    except OSError:
        return None
    for address in addresses:
        if _internal(address) and not allow.allows_address(address):
            return NOT_ALLOWED
    return None
