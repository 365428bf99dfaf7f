"""The anonymiser: HTCDS rows without identifiers, generalisation, suppression, k-anonymity."""

from __future__ import annotations

from collections import Counter

import pytest

from services.reports.domain.anonymise import (
    COLUMNS,
    SUPPRESSED,
    VISIBLE_QI_COLUMNS,
    anonymise,
    check_k_anonymous,
    htcds_row,
)
from tests.unit.reports.helpers import synthetic_population


def test_row_has_no_identifier_and_only_coarse_values() -> None:
    facts = synthetic_population(1, seed=3)[0]
    facts.org = "org-secret"
    row = htcds_row(facts)
    assert set(row) == set(COLUMNS)
    text = ",".join(row.values())
    assert facts.case_id not in text and "org-secret" not in text
    assert row["yearOfRegistration"].isdigit() and len(row["yearOfRegistration"]) == 4
    # no date finer than a year anywhere
    assert not any("-" in v and v[:4].isdigit() and len(v) >= 7 and v[4] == "-" for v in row.values())


def test_every_combination_appears_at_least_k_times_on_10000_cases() -> None:
    rows = [htcds_row(f) for f in synthetic_population(10_000)]
    result = anonymise(rows, k=5, max_suppressed=0.05)
    assert check_k_anonymous(result.rows, 5) == []
    assert result.suppressed_rows <= 0.05 * 10_000
    assert len(result.rows) + result.suppressed_rows == 10_000
    # the raw rows were not k-anonymous: something had to be generalised or suppressed
    assert check_k_anonymous(rows, 5) != []
    assert result.classes == len(Counter(tuple(r[c] for c in VISIBLE_QI_COLUMNS) for r in result.rows))


@pytest.mark.parametrize("k", [2, 10, 50])
def test_k_is_honoured(k: int) -> None:
    result = anonymise([htcds_row(f) for f in synthetic_population(3000, seed=k)], k=k)
    assert check_k_anonymous(result.rows, k) == []
    assert result.k == k


def test_a_tiny_population_is_suppressed_rather_than_exposed() -> None:
    rows = [htcds_row(f) for f in synthetic_population(4)]
    result = anonymise(rows, k=5)
    assert result.rows == []
    assert result.suppressed_rows == 4


def test_generalised_exploitation_hides_the_list_of_types() -> None:
    result = anonymise([htcds_row(f) for f in synthetic_population(400, seed=9)], k=25, max_suppressed=0.0)
    assert check_k_anonymous(result.rows, 25) == []
    if result.levels["typeOfExploitConcatenated"] >= 1:
        assert {r["typeOfExploitConcatenated"] for r in result.rows} == {SUPPRESSED}


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        anonymise([], k=1)
    with pytest.raises(ValueError, match="max_suppressed"):
        anonymise([], k=5, max_suppressed=2)
