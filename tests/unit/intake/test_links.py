"""access.visible_links: other organisations' cases are never named, only "known elsewhere"."""

from __future__ import annotations

from datetime import UTC, datetime

from services.intake.domain import access
from services.intake.domain.model import Case
from shared.auth import Principal

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def case(org: str, links: list[str]) -> Case:
    return Case(
        case_id="cs_" + "B" * 22,
        org_id=org,
        registered_at=NOW,
        registered_by="u",
        updated_at=NOW,
        linked_case_ids=links,
    )


def who(role: str, org: str | None) -> Principal:
    return Principal(sub="x", roles=frozenset({role}), org=org)


def test_only_same_org_links_are_named() -> None:
    c = case("org-1", ["cs_mine", "cs_theirs"])
    owners = {"cs_mine": "org-1", "cs_theirs": "org-2"}
    assert access.visible_links(who("intake_officer", "org-1"), c, owners) == (["cs_mine"], True)
    assert access.visible_links(who("supervisor", "org-1"), c, owners) == (["cs_mine"], True)


def test_nothing_elsewhere() -> None:
    c = case("org-1", ["cs_mine"])
    assert access.visible_links(who("intake_officer", "org-1"), c, {"cs_mine": "org-1"}) == (["cs_mine"], False)
    assert access.visible_links(who("intake_officer", "org-1"), case("org-1", []), {}) == ([], False)


def test_unknown_owner_counts_as_elsewhere() -> None:
    c = case("org-1", ["cs_gone"])
    assert access.visible_links(who("intake_officer", "org-1"), c, {}) == ([], True)


def test_break_glass_admin_sees_every_link() -> None:
    c = case("org-1", ["cs_theirs", "cs_mine"])
    owners = {"cs_mine": "org-1", "cs_theirs": "org-2"}
    assert access.visible_links(who("admin", None), c, owners) == (["cs_mine", "cs_theirs"], True)
