"""The e2e stack fixture: ``start_stack(StackConfig(...))`` starts intake, legal, the processor and
the alerts service for one module (see tests/e2e/stack.py) and stops them when the module ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, StackConfig, StartStack, running_stack
from tests.support import Proc


@pytest.fixture(scope="module")
def start_stack(
    stack_env: dict[str, str],
    db_name: Callable[[str], str],
    log_dir: Path,
    procs: list[Proc],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StartStack]:
    with ExitStack() as stacks:

        def start(config: StackConfig) -> Stack:
            tmp = tmp_path_factory.mktemp(f"stack-{config.name}")
            return stacks.enter_context(
                running_stack(config, stack_env=stack_env, db_name=db_name, log_dir=log_dir, procs=procs, tmp=tmp)
            )

        yield start
