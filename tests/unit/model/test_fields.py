"""``Fields.duration``: plugin arguments read Go durations with the one parser
(model.durations), and an error names the field without echoing a huge input."""

from __future__ import annotations

import pytest

from py_scheduler.model.raw import DecodeError, Fields


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        ("0", 0.0),
        ("-2s", -2.0),
        ("3\u00b5s", 3e-6),
    ],
)
def test_a_go_duration_is_read_in_seconds(value: str, seconds: float) -> None:
    assert Fields({"d": value}, "args").duration("d", 7.0) == pytest.approx(seconds)


def test_a_missing_duration_is_the_default() -> None:
    assert Fields({}, "args").duration("d", 7.0) == 7.0


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("soon", "args.d: time: invalid duration 'soon'"),
        ("15", "args.d: time: invalid duration '15'"),
        ("1x", "args.d: time: invalid duration '1x'"),
        ("", "args.d: time: invalid duration ''"),
        ("--1s", "args.d: time: invalid duration '--1s'"),
        (15, "args.d: expected a duration such as '10s', got 15"),
        # repr's first 40 characters: the quote and 39 digits.
        ("9" * 500, f"args.d: time: invalid duration '{'9' * 39}... (502 characters)"),
    ],
)
def test_what_is_not_a_go_duration_is_refused_naming_the_field(value: object, error: str) -> None:
    with pytest.raises(DecodeError) as caught:
        Fields({"d": value}, "args").duration("d", 7.0)
    assert str(caught.value) == error
