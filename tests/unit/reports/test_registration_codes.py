"""The privacy rule of the export's quasi-identifiers: intake codes sex, age band and citizenship at
registration; the registration event carries only those codes, never what they come from."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from services.intake.domain import model
from services.reports.domain.anonymise import htcds_row
from services.reports.domain.facts import CaseFacts
from shared.events import case as ce
from shared.events import decode, encode, new_event

NOW = datetime(2025, 7, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        ("2025-07-08", "0-8"),
        ("2016-07-09", "0-8"),  # 8 years old, 9 tomorrow
        ("2016-07-08", "9-17"),  # 9 today
        ("2007-07-09", "9-17"),  # 17, 18 tomorrow
        ("2007-07-08", "18+"),
        ("1990-01-01", "18+"),
    ],
)
def test_age_band_is_the_age_on_the_day_of_registration(birth: str, band: str) -> None:
    assert model.registration_codes({"birth_date": birth}, NOW.date())["age_band"] == band


def test_a_leap_day_birthday_counts_from_the_first_of_march() -> None:
    assert model.age_band(date(2016, 2, 29), date(2025, 2, 28)) == "0-8"
    assert model.age_band(date(2016, 2, 29), date(2025, 3, 1)) == "9-17"


@pytest.mark.parametrize(
    ("nationality", "code"),
    [("PE", "PE"), ("PER", "PE"), ("VEN", "VE"), ("co", "CO"), ("XX", None), ("ZZ", None), ("EU", None), (None, None)],
)
def test_citizenship_is_iso_alpha2_or_nothing(nationality: str | None, code: str | None) -> None:
    assert model.citizenship_code(nationality) == code


def test_unknown_or_missing_identity_gives_no_codes() -> None:
    empty = {"sex": None, "age_band": None, "citizenship": None}
    assert model.registration_codes(None, NOW.date()) == empty
    assert model.registration_codes({"sex": "unknown", "given_names": "Ana"}, NOW.date()) == empty


def test_registration_event_carries_the_codes_and_nothing_of_the_identity() -> None:
    identity = {
        "given_names": "Ana",
        "family_names": "Quispe",
        "birth_date": "2011-07-09",
        "sex": "female",
        "nationality": "VEN",
        "documents": [{"type": "DNI", "number": "40404040"}],
    }
    case = model.Case(
        case_id="cs_codesaaaaaaaaaaaaaaaa",
        org_id="org-1",
        registered_at=NOW,
        registered_by="officer",
        updated_at=NOW,
        **model.registration_codes(identity, NOW.date()),
    )
    (registered,) = model.register(case, [], NOW)
    assert isinstance(registered, ce.CaseRegistered)
    assert (registered.sex, registered.age_band, registered.citizenship) == ("female", "9-17", "VE")
    wire = encode(new_event(registered)).decode()
    for personal in ("Ana", "Quispe", "2011-07-09", "40404040", "VEN"):
        assert personal not in wire
    # the reports read model folds them and the export writes them as HTCDS values
    facts = CaseFacts(case_id=case.case_id)
    facts.apply(decode(wire.encode()))
    row = htcds_row(facts)
    assert (row["gender"], row["ageBroad"], row["majorityStatus"], row["citizenship"]) == (
        "Female",
        "9--17",
        "Minor",
        "VE",
    )


def test_v1_registrations_without_the_codes_still_decode_and_bad_codes_are_refused() -> None:
    bare = ce.CaseRegistered(case_id="cs_codesaaaaaaaaaaaaaaaa", org_id="org-1", registered_at=NOW)
    assert (bare.sex, bare.age_band, bare.citizenship) == (None, None, None)
    with pytest.raises(ValidationError):
        ce.CaseRegistered(case_id=bare.case_id, org_id="org-1", registered_at=NOW, age_band="14")
    with pytest.raises(ValidationError):
        ce.CaseRegistered(case_id=bare.case_id, org_id="org-1", registered_at=NOW, sex="unknown")
    # a citizenship that is not alpha-2 is not stored by the read model
    odd = ce.CaseRegistered(case_id=bare.case_id, org_id="org-1", registered_at=NOW, citizenship="Venezuela")
    facts = CaseFacts(case_id=bare.case_id)
    facts.apply(decode(encode(new_event(odd))))
    assert facts.citizenship == "unknown"
