"""DynamicResources' cycle state clones every field, and copies the ones a
dry run or the nominated-pod pass changes."""

from __future__ import annotations

import dataclasses

from py_scheduler.plugins.dynamicresources.plugin import _State


def test_a_clone_keeps_every_field_and_copies_the_mutable_ones() -> None:
    state = _State()
    state.unavailable.add(1)
    state.by_node["n"] = []
    state.reserved[0] = None  # type: ignore[assignment]  # any value will do here
    clone = state.clone()
    for field in dataclasses.fields(_State):
        assert getattr(clone, field.name) == getattr(state, field.name), field.name
    for name in ("unavailable", "by_node", "reserved", "removed"):
        assert getattr(clone, name) is not getattr(state, name), name
