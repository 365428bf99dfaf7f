"""The e2e stack fixture: ``start_stack(StackConfig(...))`` starts intake, legal, the processor and
the alerts service for one module (see tests/e2e/stack.py) and stops them when the module ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.e2e.stack import Stack, StackConfig, StartStack, running_stack


@pytest.fixture(scope="module")
def start_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartStack]:
    # the session's namespace (tests/conftest.py): its topic prefix, databases, log folder and process list
    session = {name: request.getfixturevalue(name) for name in ("stack_env", "db_name", "log_dir", "procs")}
    with ExitStack() as stacks:

        def start(config: StackConfig) -> Stack:
            tmp = tmp_path_factory.mktemp(f"stack-{config.name}")
            return stacks.enter_context(running_stack(config, tmp=tmp, **session))

        yield start
