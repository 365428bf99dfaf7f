"""Webhooks cannot reach inside: the target rule at subscription and again before each delivery."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import mongomock
import pytest

from services.alerts.domain.webhook_targets import AllowList, IPAddress, target_problem
from services.alerts.service.delivery import DeliveryWorker
from services.alerts.settings import AlertsSettings
from services.alerts.store.contacts import DeliveryRepository, JobRepository, SubscriptionRepository

NONE = AllowList()


def resolver(table: dict[str, str]) -> Any:
    def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise OSError("no such host")
        return [ipaddress.ip_address(table[host])]

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://127.8.9.10/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://10.1.2.3/",
        "http://172.16.5.4/",
        "http://192.168.0.10/",
        "http://100.64.0.1/",  # shared address space (carrier NAT)
        "http://[fd00::1]/",
        "http://224.0.0.1/",
        "http://localhost/",
        "http://api.localhost/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://printer.local/",
        "http://rebind.example.test/",  # a public-looking name that resolves inside
    ],
)
def test_inside_addresses_are_refused(url: str) -> None:
    problem = target_problem(url, NONE, resolver({"rebind.example.test": "10.0.0.5"}))
    assert problem is not None and "CENTINELA_WEBHOOK_ALLOW_HOSTS" in problem


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    problem = target_problem("https://admin:hunter2@hooks.example.test/x", NONE)
    assert problem is not None and "hunter2" not in problem and "admin" not in problem


def test_public_targets_pass_and_an_unresolvable_name_waits_for_delivery() -> None:
    resolve = resolver({"hooks.example.test": "93.184.216.34"})
    assert target_problem("https://hooks.example.test/x", NONE, resolve) is None
    assert target_problem("https://93.184.216.34:8443/x", NONE) is None
    assert target_problem("https://not-yet.example.test/x", NONE, resolve) is None


def test_the_allow_list_admits_named_hosts_addresses_and_networks() -> None:
    allow = AllowList.parse(" 127.0.0.1, hooks.internal ,10.20.0.0/16,")
    resolve = resolver({"hooks.internal": "10.9.9.9", "svc.example.test": "10.20.3.4"})
    assert target_problem("http://127.0.0.1:9000/", allow) is None
    assert target_problem("http://hooks.internal/x", allow, resolve) is None
    assert target_problem("http://svc.example.test/x", allow, resolve) is None
    assert target_problem("http://10.21.0.1/", allow) is not None
    assert target_problem("http://127.0.0.2/", allow) is not None
    assert target_problem("http://u:p@127.0.0.1/", allow) is not None  # credentials: never


def test_delivery_to_a_name_now_pointing_inside_is_blocked_not_sent() -> None:
    db: Any = mongomock.MongoClient(tz_aware=True)["t"]
    db["subscriptions"].insert_one({"_id": "sub_1", "url": "http://hooks.example.test/x", "secret": "s" * 16})
    jobs = JobRepository(db["jobs"])
    now = datetime.now(UTC)
    payload = {"subscription_id": "sub_1", "event_id": "e1", "event_type": "t", "alert_id": "al_1", "body": "{}"}
    jobs.enqueue("webhook:sub_1:al_1:raised", "webhook", payload, now)
    worker = DeliveryWorker(
        AlertsSettings(),
        jobs,
        SubscriptionRepository(db["subscriptions"]),
        DeliveryRepository(db["deliveries"]),
        resolve=resolver({"hooks.example.test": "169.254.169.254"}),
    )
    try:
        assert worker.run_once()
    finally:
        worker.stop()
    job = jobs.get("webhook:sub_1:al_1:raised")
    assert job is not None and job["status"] == "failed" and job["attempts"] == 1  # not retried
    [attempt] = list(db["deliveries"].find())
    assert attempt["outcome"] == "blocked" and attempt["status_code"] is None
