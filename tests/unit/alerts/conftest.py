from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.processor.domain.policy import Policy, load_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def policy() -> Policy:
    return load_policy()
