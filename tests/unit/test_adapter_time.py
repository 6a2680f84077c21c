"""The timestamps the adapter writes: RFC 3339 in UTC, as the API server stores them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from py_scheduler.kube import adapter


@pytest.mark.parametrize("micro", [False, True])
def test_now_is_the_current_utc_time_in_the_api_format(micro: bool) -> None:
    before = datetime.now(UTC)
    stamp = adapter._now(micro)
    after = datetime.now(UTC)
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d" + (r"\.\d{6}" if micro else "") + "Z"
    assert re.fullmatch(pattern, stamp)
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")
    parsed = parsed.replace(tzinfo=UTC)
    assert (before if micro else before.replace(microsecond=0)) <= parsed <= after


def test_now_follows_the_clock_across_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([1_000_000_000.25, 1_000_000_001.5])
    monkeypatch.setattr(time, "time", lambda: next(clock))
    assert adapter._now(micro=True) == "2001-09-09T01:46:40.250000Z"
    assert adapter._now() == "2001-09-09T01:46:41Z"
