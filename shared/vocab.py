"""Value lists every service shares: severities, case and referral statuses, alert statuses, id patterns.

One place so the intake API, the events, the processor's rules and the alerts inbox cannot drift apart.
Case fields follow IOM's HTCDS 2.0 value lists (``cas_Status``); referral statuses are Primero's.
This module imports nothing from the project, so any module (events, domain, store) may import it.

``Literal`` types are for pydantic fields and mypy; the tuples/frozensets are for runtime checks
and ordering. ``tests/unit/shared/test_vocab.py`` keeps each pair equal.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

# -- severities (alerts, risk flags, escalation) --------------------------------------------------
Severity = Literal["low", "medium", "high", "critical"]
# Least to most urgent: ``SEVERITIES.index(s)`` compares severities.
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)


def severity_rank(severity: str) -> int:
    """0 for ``low`` .. 3 for ``critical``; ValueError for anything else."""
    return SEVERITIES.index(severity)


# -- case (HTCDS ``cas_Status``) -------------------------------------------------------------------
CaseStatus = Literal["Active", "FollowUp", "Closed", "ClosedReferred"]
CASE_STATUSES: Final[tuple[str, ...]] = get_args(CaseStatus)
# A closed case is no longer monitored for services/prosecution; post-closure follow-ups still run.
CLOSED_STATUSES: Final[frozenset[str]] = frozenset({"Closed", "ClosedReferred"})
OPEN_STATUSES: Final[frozenset[str]] = frozenset(CASE_STATUSES) - CLOSED_STATUSES

# HTCDS 2.0 ``vic_TraffickingStatus``; intake still accepts the earlier Presumed / Identified / Confirmed
# (services/intake/domain/htcds.py has that mapping).
TraffickingStatus = Literal["PossibleVictimOfTrafficking", "ActualVictimOfTrafficking", "NotAVictimOfTrafficking"]
TRAFFICKING_STATUSES: Final[tuple[str, ...]] = get_args(TraffickingStatus)

# -- type of exploitation (HTCDS 2.0 ``vic_TypeOfExploitation``) ------------------------------------
# HTCDS's values, then the project's own words, kept because cases were recorded with them and they
# say more than HTCDS does for children (documented mapping below and in docs/events.md).
HtcdsExploitationType = Literal[
    "ForcedLabour",
    "SexualExploitation",
    "ForcedMarriage",
    "ForcedMilitaryService",
    "OrganRemoval",
    "ForcedBegging",
    "IllicitActivities",
    "IllegalAdoption",
    "Surrogacy",
    "Other",
]
HTCDS_EXPLOITATION_TYPES: Final[tuple[str, ...]] = get_args(HtcdsExploitationType)
ProjectExploitationType = Literal["ChildLabour", "Servitude", "ForcedCriminality", "Slavery"]
ExploitationType = Literal[HtcdsExploitationType, ProjectExploitationType]
EXPLOITATION_TYPES: Final[tuple[str, ...]] = HTCDS_EXPLOITATION_TYPES + get_args(ProjectExploitationType)
# The project's word -> the HTCDS 2.0 value an HTCDS export or exchange uses for it.
EXPLOITATION_TO_HTCDS: Final[dict[str, str]] = {
    "ChildLabour": "ForcedLabour",  # a child's labour under control: HTCDS forced labour
    "Servitude": "ForcedLabour",  # e.g. domestic servitude; HTCDS files domestic work under labour
    "ForcedCriminality": "IllicitActivities",
    "Slavery": "Other",  # no HTCDS value (CTDC: isSlaveryAndPractices)
}


def htcds_exploitation_type(value: str) -> str:
    """The HTCDS 2.0 value of a type of exploitation (an HTCDS value stays as it is)."""
    return EXPLOITATION_TO_HTCDS.get(value, value)


# -- referrals (Primero) ---------------------------------------------------------------------------
ReferralStatus = Literal["in_progress", "accepted", "rejected", "done", "revoked"]
REFERRAL_STATUSES: Final[tuple[str, ...]] = get_args(ReferralStatus)

# -- alerts inbox ----------------------------------------------------------------------------------
AlertStatus = Literal["open", "acknowledged", "snoozed", "resolved"]
ALERT_STATUSES: Final[tuple[str, ...]] = get_args(AlertStatus)
# Statuses an advocate still has to act on (an inbox's "open" filter).
ACTIVE_ALERT_STATUSES: Final[frozenset[str]] = frozenset({"open", "acknowledged", "snoozed"})

# -- ids -------------------------------------------------------------------------------------------
# Ids are pseudonymous and opaque; these patterns keep them printable, short and free of anything
# a log or a URL could misread (no spaces, no slashes).
CASE_ID_PATTERN: Final = r"^cs_[A-Za-z0-9_-]{22}$"  # intake: "cs_" + token_urlsafe(16)
ITEM_ID_PATTERN: Final = r"^(sv|ss|rf|fu|rr)_[A-Za-z0-9_-]{16}$"  # service, session, risk flag, follow-up, referral
ALERT_ID_PATTERN: Final = r"^al_[0-9a-f]{24}$"  # deterministic: sha256(case, rule, episode)
# Ids from other systems (court integrators' case ids, org / advocate ids): 1-64 printable chars.
EXTERNAL_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"
EXTERNAL_ID_MAX_LENGTH: Final = 64
# Snake-case codes (hearing kinds, archive reasons, service kinds).
CODE_PATTERN: Final = r"^[a-z][a-z0-9_]*$"
CURRENCY_PATTERN: Final = r"^[A-Z]{3}$"  # ISO 4217
COUNTRY_PATTERN: Final = r"^[A-Z]{2,3}$"  # ISO 3166-1 alpha-2 or alpha-3

CASE_ID_RE: Final = re.compile(CASE_ID_PATTERN)
ITEM_ID_RE: Final = re.compile(ITEM_ID_PATTERN)
ALERT_ID_RE: Final = re.compile(ALERT_ID_PATTERN)
EXTERNAL_ID_RE: Final = re.compile(EXTERNAL_ID_PATTERN)
CODE_RE: Final = re.compile(CODE_PATTERN)
