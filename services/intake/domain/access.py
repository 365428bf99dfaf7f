"""Need-to-know (DESIGN.md "Roles and need-to-know") as pure decisions over a case.

Out of scope reads answer 404, not 403: a principal of another organisation must not learn
that a case exists. Roles that never see cases get 403 from the route guard before any lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from services.intake.domain.model import Case

View = Literal["full", "provider"]

# Route guards: which roles may call each route at all (403 for anyone else).
CREATE_CASE = ("intake_officer",)
LIST_CASES = ("intake_officer", "supervisor", "legal_advocate", "service_provider")
READ_CASE = ("intake_officer", "supervisor", "legal_advocate", "service_provider", "admin")
MANAGE_CASE = ("intake_officer", "supervisor")
READ_SERVICES = ("intake_officer", "supervisor", "legal_advocate", "service_provider")
RECORD_SESSION = ("service_provider", "intake_officer", "supervisor")
RAISE_FLAG = ("intake_officer", "supervisor", "service_provider", "legal_advocate")
READ_FLAGS = ("intake_officer", "supervisor", "legal_advocate")
REFERRALS = ("intake_officer", "supervisor")
AUDIT = ("admin",)
# The prosecutor's references: set by the owning organisation's staff or the assigned advocate; resolved
# (carpeta fiscal -> case id) by them and by court integrators the case shares with.
SET_PROSECUTOR_REFS = ("intake_officer", "supervisor", "legal_advocate")
RESOLVE_CASE_REF = ("court_integrator", "intake_officer", "supervisor", "legal_advocate")
# Case documents follow the case: its readers (admins by break-glass, with a reason) and, for adding, the
# people who work on it; providers never add or see legal documents (domain.documents).
ADD_DOCUMENT = ("intake_officer", "supervisor", "legal_advocate", "service_provider")
READ_DOCUMENTS = ("intake_officer", "supervisor", "legal_advocate", "service_provider", "admin")
STATS = ("ops_viewer", "supervisor", "admin")


class Actor(Protocol):
    @property
    def sub(self) -> str: ...

    @property
    def org(self) -> str | None: ...

    def has(self, *roles: str) -> bool: ...


def same_org(actor: Actor, case: Case) -> bool:
    return actor.org is not None and actor.org == case.org_id


def case_view(actor: Actor, case: Case) -> View | None:
    """The widest view the actor has of this case; None means "not yours" (answered 404)."""
    if actor.has("intake_officer", "supervisor") and same_org(actor, case):
        return "full"
    if actor.has("legal_advocate") and case.advocate_id is not None and case.advocate_id == actor.sub:
        return "full"
    if actor.has("admin"):
        return "full"  # break-glass: the API insists on a reason and audits it
    if actor.has("service_provider") and actor.org is not None and actor.org in case.provider_orgs():
        return "provider"
    return None


def can_manage(actor: Actor, case: Case) -> bool:
    """Plan services, follow-ups, referrals and change the case: the owning organisation's staff."""
    return actor.has("intake_officer", "supervisor") and same_org(actor, case)


def is_assigned_advocate(actor: Actor, case: Case) -> bool:
    return actor.has("legal_advocate") and case.advocate_id is not None and case.advocate_id == actor.sub


def can_set_prosecutor_refs(actor: Actor, case: Case) -> bool:
    return can_manage(actor, case) or is_assigned_advocate(actor, case)


def can_resolve_ref(actor: Actor, case: Case, source_system: str | None) -> bool:
    """Who may learn a case's id from its carpeta fiscal: whoever may set the references, and a court
    integrator whose ``source_system`` the case shares with (``prosecutor_refs.shared_with_systems``).
    No break-glass here: an admin has no reason to resolve file numbers."""
    if can_set_prosecutor_refs(actor, case):
        return True
    refs = case.prosecutor_refs
    return (
        actor.has("court_integrator")
        and source_system is not None
        and refs is not None
        and source_system in refs.shared_with_systems
    )


def can_see_identity(actor: Actor, case: Case) -> bool:
    """Case workers and supervisors of the owning organisation; admins only by break-glass."""
    return can_manage(actor, case) or actor.has("admin")


def is_break_glass(actor: Actor, case: Case) -> bool:
    """An admin reading a case they would not see through any case role."""
    return (
        actor.has("admin")
        and not can_manage(actor, case)
        and not (actor.has("legal_advocate") and case.advocate_id == actor.sub)
    )


def can_record_session(actor: Actor, case: Case, provider_org_id: str) -> bool:
    if can_manage(actor, case):
        return True
    return actor.has("service_provider") and actor.org is not None and actor.org == provider_org_id


def visible_services(actor: Actor, case: Case, view: View) -> set[str]:
    if view == "full":
        return {s.service_id for s in case.services}
    return {s.service_id for s in case.services if s.provider_org_id == actor.org}


@dataclass(frozen=True)
class ListScope:
    """Which cases a listing may return: those of any non-empty criterion (an "or")."""

    org_id: str | None = None  # owned by this organisation
    advocate_id: str | None = None  # assigned to this advocate
    provider_org_id: str | None = None  # with a service delivered by this organisation

    @property
    def empty(self) -> bool:
        return self.org_id is None and self.advocate_id is None and self.provider_org_id is None


def list_scope(actor: Actor) -> ListScope:
    """The same need-to-know as ``case_view``, as criteria the store can query."""
    return ListScope(
        org_id=actor.org if actor.has("intake_officer", "supervisor") and actor.org else None,
        advocate_id=actor.sub if actor.has("legal_advocate") else None,
        provider_org_id=actor.org if actor.has("service_provider") and actor.org else None,
    )


def visible_links(actor: Actor, case: Case, owners: Mapping[str, str]) -> tuple[list[str], bool]:
    """Which of the case's linked cases (same ``person_ref``) the reader may see by id, and whether
    the person is also known to another organisation.

    The rule (issue 11 item 4): the match is always made and kept on both cases, but a case of
    another organisation is never named; the reader learns only ``known_elsewhere``. Links within
    the case's own organisation are listed. An admin's break-glass read (a stated reason, audited)
    lists every link. ``owners`` maps linked case id -> owning organisation; a link whose owner is
    unknown counts as elsewhere.
    """
    same = sorted(cid for cid in case.linked_case_ids if owners.get(cid) == case.org_id)
    elsewhere = len(same) < len(set(case.linked_case_ids))
    if is_break_glass(actor, case):
        return sorted(case.linked_case_ids), elsewhere
    return same, elsewhere
