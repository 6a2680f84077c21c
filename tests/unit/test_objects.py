"""ObjectStore.owner_selectors after upstream's helper.DefaultSelector
(pkg/scheduler/framework/plugins/helper/spread.go): Services that select the
pod by labels, then the pod's controller, found by its controller reference."""

from __future__ import annotations

from typing import Any

import pytest

from py_scheduler.model.selectors import LabelSelector, decode_owner_selector
from py_scheduler.scheduling.object_store import ObjectStore
from tests.builders import make_pod


def selector(**labels: str) -> LabelSelector:
    return LabelSelector(tuple(sorted(labels.items())))


def store() -> ObjectStore:
    objects = ObjectStore()
    objects.selectors[("Service", "default", "web")] = selector(app="web")
    objects.selectors[("Service", "other", "web")] = selector(app="web")
    objects.selectors[("Service", "default", "db")] = selector(app="db")
    objects.selectors[("StatefulSet", "default", "web")] = selector(app="web", set="web")
    objects.selectors[("ReplicaSet", "default", "web-abc")] = selector(app="web", hash="abc")
    objects.selectors[("ReplicationController", "default", "rc")] = selector(rc="yes")
    return objects


def owner(kind: str, name: str, *, api: str = "apps/v1", controller: bool = True) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "name": name, "uid": "u", "controller": controller}


@pytest.mark.parametrize(
    ("owners", "want"),
    [
        pytest.param([], [selector(app="web")], id="no controller: the matching Services only"),
        pytest.param(
            [owner("StatefulSet", "web")],
            [selector(app="web"), selector(app="web", set="web")],
            id="a StatefulSet controller adds its selector",
        ),
        pytest.param(
            [owner("ReplicaSet", "web-abc")],
            [selector(app="web"), selector(app="web", hash="abc")],
            id="a ReplicaSet controller adds its selector, even one the labels do not match",
        ),
        pytest.param(
            [owner("ReplicationController", "rc", api="v1")],
            [selector(app="web"), selector(rc="yes")],
            id="a ReplicationController controller adds its selector",
        ),
        pytest.param(
            [owner("StatefulSet", "web", controller=False)],
            [selector(app="web")],
            id="an owner that is not the controller is not followed",
        ),
        pytest.param(
            [owner("StatefulSet", "web", api="apps/v1beta1")],
            [selector(app="web")],
            id="another API version of the kind is not followed",
        ),
        pytest.param(
            [owner("StatefulSet", "gone")], [selector(app="web")], id="a controller not known"
        ),
    ],
)
def test_owner_selectors_follow_the_controller_reference(
    owners: list[dict[str, Any]], want: list[LabelSelector]
) -> None:
    pod = make_pod("web-0", labels={"app": "web"}, owners=owners)
    assert list(store().owner_selectors(pod)) == want


def test_a_statefulset_selecting_the_pods_labels_is_not_their_controller_by_that() -> None:
    # Labels alone used to pull in every RS/StatefulSet selecting the pod.
    pod = make_pod("bare", labels={"app": "web", "set": "web"})
    assert list(store().owner_selectors(pod)) == [selector(app="web")]


def test_owner_selectors_decode_each_kind() -> None:
    service = {"spec": {"selector": {"app": "web"}}}
    stateful = {"spec": {"selector": {"matchLabels": {"app": "web"}}}}
    assert decode_owner_selector("Service", service) == selector(app="web")
    assert decode_owner_selector("StatefulSet", stateful) == selector(app="web")
    assert decode_owner_selector("Service", {"spec": {}}) is None
