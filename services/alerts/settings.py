"""Settings of the alerts HTTP service (``CENTINELA_*`` variables); the processor has its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import PolicySettings


class AlertsSettings(PolicySettings):
    service_name: str = "alerts"

    # --- alerts service (HTTP, notifications, escalation) ---
    public_base_url: str = Field(
        "http://127.0.0.1:8004",
        description="base of the links put in notifications: the console's public address (e-mails link to "
        "`{base}/v1/alerts/{id}`, the console's page of the alert)",
    )
    alerts_default_language: Literal["es", "en"] = Field(
        "es", description="language of alert e-mails to a directory contact without a `language` of their own"
    )
    alerts_email_time_zone: str = Field(
        "America/Lima", description="time zone of the times written in alert e-mails (dd/mm/aaaa hh:mm)"
    )
    alerts_consumer_group: str = Field("alerts-service", description="consumer group of the service on `alerts`")
    alerts_consumer_max_attempts: int = Field(
        3, ge=1, le=20, description="an unexpected error on one record this many times sends it to alerts.dlq"
    )
    alerts_consumer_retry_window_seconds: float = Field(
        10.0, gt=0, description="longest wait between attempts at a failing record (only its partition waits)"
    )
    alerts_consumer_stuck_after_seconds: float = Field(
        30.0, gt=0, description="a partition failing this long reports the consumer stuck (/readyz 503, gauge 1)"
    )
    alerts_consumer_lag_interval_seconds: float = Field(
        2.0, gt=0, description="how often the per-partition lag gauge is refreshed"
    )
    smtp_host: str = Field("", description="SMTP server; empty disables e-mail (counted as outcome=disabled)")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port (25; 587 with starttls; 465 with ssl)")
    smtp_security: Literal["none", "starttls", "ssl"] = Field("none", description="none, starttls or ssl (SMTPS)")
    smtp_username: str = Field("", description="SMTP AUTH user; empty means no login")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP AUTH password")
    smtp_from: str = Field("centinela-alerts@localhost", description="From: address of alert e-mails")
    smtp_timeout_seconds: float = Field(
        10.0, gt=0, description="connect and per-command timeout of one SMTP delivery attempt"
    )
    notify_max_attempts: int = Field(6, ge=1, le=50, description="delivery attempts per e-mail / webhook")
    notify_backoff_base_seconds: float = Field(2.0, gt=0, description="retry n waits base * 2**(n-1)")
    notify_backoff_max_seconds: float = Field(600.0, gt=0, description="longest wait between two delivery attempts")
    notify_poll_seconds: float = Field(
        1.0, gt=0, description="wait of the delivery worker after a failed pass (database away) before it looks again"
    )
    notify_idle_poll_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="longest sleep of the idle delivery worker: it sleeps until the next job is due (a retry, a "
        "dead sender's lease) and a job queued in this process wakes it at once; a job queued by another process "
        "whose worker stopped waits at most this long",
    )
    webhook_timeout_seconds: float = Field(5.0, gt=0, description="timeout of one webhook POST (connect and read)")
    webhook_allow_hosts: str = Field(
        "",
        description="comma-separated host names, IP addresses or CIDR networks webhooks may reach although "
        "they are loopback, link-local, private or metadata addresses (refused otherwise, at subscription "
        "and before each delivery); e.g. hooks.internal,10.20.0.0/16",
    )
    escalation_tick_seconds: float = Field(
        5.0,
        gt=0,
        description="how often the escalation loop wakes to look at its schedule and the policy file (no database "
        "query unless something is due or the policy changed); a failed pass is retried after this",
    )
    escalation_rescan_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="longest time between two reads of the escalation schedule from the database: alerts changed in "
        "this process are scheduled at once, an alert stored or snoozed by another process whose loop stopped is "
        "escalated (and notifications a crash left are queued) at most this late",
    )
    escalation_max_level: int = Field(3, ge=1, le=10, description="level n is reached after n x the severity time")
    sse_heartbeat_seconds: float = Field(15.0, gt=0, description="comment line sent on idle live streams")
