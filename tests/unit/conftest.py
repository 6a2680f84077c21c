"""Unit tests share one process: the command-line entry points they run
(``explain``, ``simulate``, ``run``, the benchmarks) configure logging for the
whole process, at levels down to ``error``. Each test gets the configuration
it started with back, so a later test that captures warnings
(``structlog.testing.capture_logs``) is not filtered by an earlier one's level."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
