"""Decoded pods share what thousands of them repeat (namespace, profile, node,
image, the empty set of declared features) instead of each holding a copy."""

from __future__ import annotations

from typing import Any

import orjson

from py_scheduler.model import PodInfo, decode_pod
from tests.builders import raw_pod


def _decoded_twice(**kwargs: Any) -> tuple[PodInfo, PodInfo]:
    # Through JSON text, as the watch delivers them: no string is shared by construction.
    first = decode_pod(orjson.loads(orjson.dumps(raw_pod("a", uid="u-a", **kwargs))))
    second = decode_pod(orjson.loads(orjson.dumps(raw_pod("b", uid="u-b", **kwargs))))
    return first, second


def test_repeated_strings_are_one_object() -> None:
    a, b = _decoded_twice(namespace="team-x", node_name="node-7", images=["registry/app:1.2"])
    assert a.namespace == "team-x"
    for field in ("namespace", "node_name", "scheduler_name", "phase", "preemption_policy"):
        assert getattr(a, field) is getattr(b, field), field
    assert a.images[0] is b.images[0]


def test_pods_using_no_declared_feature_share_one_empty_set() -> None:
    a, b = _decoded_twice()
    assert a.required_features == frozenset()
    assert a.required_features is b.required_features
