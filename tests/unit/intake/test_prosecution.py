"""Prosecutor's references: formats, normalisation, the domain rule and who may resolve them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.domain import access, model, prosecution
from shared.auth import Principal
from shared.events import decode, encode

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def case(**extra: object) -> model.Case:
    return model.Case(
        case_id="cs_" + "a" * 22,
        org_id="org-a",
        advocate_id="adv-a",
        registered_at=NOW,
        registered_by="u",
        updated_at=NOW,
        **extra,
    )


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("3306014501-2023-245-0", "3306014501-2023-245-0"),
        (" 3306014501 - 2023 - 245 - 0 ", "3306014501-2023-245-0"),
        ("506014500-2019-1234", "506014500-2019-1234"),
    ],
)
def test_carpeta_is_normalised(raw: str, stored: str) -> None:
    assert prosecution.normalise_carpeta(raw) == stored


@pytest.mark.parametrize(
    "raw", ["", "CF 12", "3306014501/2023/245", "3306014501-1899-245-0", "3306014501-2999-1-0", "12-2023-1-0"]
)
def test_bad_carpeta_is_refused_without_echo(raw: str) -> None:
    with pytest.raises(ValueError) as exc:
        prosecution.normalise_carpeta(raw)
    assert raw.strip() == "" or raw not in str(exc.value)


def test_office_and_expediente() -> None:
    assert prosecution.normalise_office(" fpetp-lima-01 ") == "FPETP-LIMA-01"
    assert prosecution.normalise_expediente("00123-2023-0-1801-jr-pe-01") == "00123-2023-0-1801-JR-PE-01"
    for bad in ("F", "FPETP LIMA/01", "-X"):
        with pytest.raises(ValueError):
            prosecution.normalise_office(bad)
    for bad in ("123-2023", "00123-2023-0-1801-JR-PE", "00123-1850-0-1801-JR-PE-01"):
        with pytest.raises(ValueError):
            prosecution.normalise_expediente(bad)
    assert prosecution.ref_key("FPETP-LIMA-01", "1-2023-1-0") == "FPETP-LIMA-01|1-2023-1-0"


def test_setting_refs_is_a_fact_and_repeating_it_is_not() -> None:
    before = case()
    after, refs, events = model.set_prosecutor_refs(
        before,
        carpeta_fiscal="3306014501-2023-245-0",
        office="FPETP-LIMA-01",
        expediente=None,
        shared_with_systems=["b", "a", "a"],
        actor="adv-a",
        role="legal_advocate",
        now=NOW,
    )
    assert after.version == before.version + 1 and after.prosecutor_refs == refs
    assert refs.shared_with_systems == ["a", "b"]
    [event] = events
    decoded = decode(encode(event)).payload
    assert decoded.model_dump()["carpeta_fiscal"] == "3306014501-2023-245-0"
    same, _, none = model.set_prosecutor_refs(
        after,
        carpeta_fiscal="3306014501-2023-245-0",
        office="FPETP-LIMA-01",
        expediente=None,
        shared_with_systems=["a", "b"],
        actor="sup",
        role="supervisor",
        now=NOW,
    )
    assert none == [] and same.version == after.version
    moved, _, [fact] = model.set_prosecutor_refs(
        after,
        carpeta_fiscal="1-2024-1-0",
        office="X1",
        expediente=None,
        shared_with_systems=[],
        actor="u",
        role="r",
        now=NOW,
    )
    assert (
        fact.model_dump()["previous_carpeta_fiscal"] == "3306014501-2023-245-0" and moved.version == after.version + 1
    )


def test_who_may_resolve() -> None:
    refs = model.ProsecutorRefs(
        carpeta_fiscal="1-2024-1-0", office="X1", shared_with_systems=["sgf"], set_at=NOW, set_by="u"
    )
    c = case(prosecutor_refs=refs)

    def p(role: str, sub: str = "u", org: str | None = "org-a") -> Principal:
        return Principal(sub=sub, roles=frozenset({role}), org=org)

    assert access.can_resolve_ref(p("intake_officer"), c, None)
    assert access.can_resolve_ref(p("legal_advocate", sub="adv-a", org=None), c, None)
    assert not access.can_resolve_ref(p("legal_advocate", sub="adv-b"), c, None)
    assert not access.can_resolve_ref(p("supervisor", org="org-b"), c, None)
    assert access.can_resolve_ref(p("court_integrator", org=None), c, "sgf")
    assert not access.can_resolve_ref(p("court_integrator", org=None), c, "other")
    assert not access.can_resolve_ref(p("court_integrator", org=None), c, None)
    assert not access.can_resolve_ref(p("admin", org=None), c, None)
    assert not access.can_resolve_ref(p("service_provider"), c, None)


def test_only_ascii_digits_are_file_numbers() -> None:
    with pytest.raises(ValueError):
        prosecution.normalise_carpeta("٣٣٠٦٠١٤٥٠١-2023-245-0")
    with pytest.raises(ValueError):
        prosecution.normalise_expediente("٠٠١٢٣-2023-0-1801-JR-PE-01")
