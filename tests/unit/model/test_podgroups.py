"""Pod groups in the model: which group a pod names, and the group objects of
both APIs decoded, with the field named in every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from py_scheduler.model.podgroups import (
    PLUGINS_API,
    WORKLOAD_API,
    GroupKey,
    decode_plugins_pod_group,
    decode_workload,
    decode_workload_pod_group,
    pod_group_ref,
)
from py_scheduler.model.raw import DecodeError
from py_scheduler.model.resources import Resources


def ref(**kwargs: Any) -> Any:
    fields: dict[str, Any] = {
        "namespace": "ns",
        "labels": {},
        "scheduling_group": "",
        "workload": "",
        "workload_group": "",
        "replica_key": "",
    }
    fields.update(kwargs)
    return pod_group_ref(**fields)


REFS = [
    ("no label and no field: no group", {}, None, ""),
    (
        "the label names a scheduler-plugins group",
        {"labels": {"scheduling.x-k8s.io/pod-group": "g"}},
        GroupKey(PLUGINS_API, "ns", "g"),
        "",
    ),
    (
        "spec.schedulingGroup names a Workload API group",
        {"scheduling_group": "g"},
        GroupKey(WORKLOAD_API, "ns", "g"),
        "",
    ),
    (
        "1.35's workloadRef names a group inside a Workload",
        {"workload": "job", "workload_group": "workers"},
        GroupKey(WORKLOAD_API, "ns", "job/workers"),
        "",
    ),
    (
        "a replica key makes each replica a group of its own",
        {"workload": "job", "workload_group": "workers", "replica_key": "r1"},
        GroupKey(WORKLOAD_API, "ns", "job/workers/r1"),
        "",
    ),
    (
        "the label and the field naming the same group are the Workload API's",
        {"labels": {"scheduling.x-k8s.io/pod-group": "g"}, "scheduling_group": "g"},
        GroupKey(WORKLOAD_API, "ns", "g"),
        "",
    ),
    (
        "the label and the field naming different groups are a conflict",
        {"labels": {"scheduling.x-k8s.io/pod-group": "a"}, "scheduling_group": "b"},
        None,
        "the pod names two pod groups: label scheduling.x-k8s.io/pod-group='a' and "
        "spec.schedulingGroup 'b'; name one",
    ),
    (
        "the label and a workloadRef of another name are a conflict",
        {
            "labels": {"scheduling.x-k8s.io/pod-group": "a"},
            "workload": "job",
            "workload_group": "w",
        },
        None,
        "the pod names two pod groups: label scheduling.x-k8s.io/pod-group='a' and "
        "spec.workloadRef 'job/w'; name one",
    ),
]


@pytest.mark.parametrize(("name", "given", "key", "conflict"), REFS, ids=[c[0] for c in REFS])
def test_the_group_a_pod_names(
    name: str, given: dict[str, Any], key: GroupKey | None, conflict: str
) -> None:
    got = ref(**given)
    assert (got.key, got.conflict) == (key, conflict)


def plugins_group(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.x-k8s.io/v1alpha1",
        "kind": "PodGroup",
        "metadata": {
            "name": "g",
            "namespace": "ns",
            "uid": "u",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def test_a_scheduler_plugins_pod_group_is_decoded() -> None:
    policy = decode_plugins_pod_group(
        plugins_group(
            {
                "minMember": 3,
                "minResources": {"cpu": "3", "memory": "1Gi", "pods": "4"},
                "scheduleTimeoutSeconds": 60,
            }
        )
    )
    assert policy.key == GroupKey(PLUGINS_API, "ns", "g")
    assert (policy.min_member, policy.gang, policy.min_pods, policy.timeout) == (3, True, 4, 60.0)
    assert policy.min_resources == Resources(milli_cpu=3000, memory=1024**3)
    assert policy.status == {"phase": "Pending"}
    assert policy.created == 1767225600.0


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        pytest.param({}, "spec.minMember: must be at least 1, got 0", id="no minMember"),
        pytest.param(
            {"minMember": -2}, "spec.minMember: must be at least 1, got -2", id="negative"
        ),
        pytest.param(
            {"minMember": 2, "scheduleTimeoutSeconds": -1},
            "spec.scheduleTimeoutSeconds: must not be negative, got -1",
            id="a negative timeout",
        ),
        pytest.param(
            {"minMember": 2, "minResources": {"cpu": "lots"}},
            "spec.minResources.cpu",
            id="a quantity that is none",
        ),
    ],
)
def test_a_scheduler_plugins_pod_group_that_cannot_be_used_is_refused(
    spec: dict[str, Any], problem: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_plugins_pod_group(plugins_group(spec))
    assert str(caught.value).startswith(problem)


@pytest.mark.parametrize(
    ("policy", "min_member", "gang"),
    [
        pytest.param({"gang": {"minCount": 4}}, 4, True, id="a gang"),
        pytest.param({"basic": {}}, 1, False, id="basic: not a gang"),
    ],
)
def test_a_workload_api_pod_group_is_decoded(
    policy: dict[str, Any], min_member: int, gang: bool
) -> None:
    got = decode_workload_pod_group(
        {"metadata": {"name": "g", "namespace": "ns"}, "spec": {"schedulingPolicy": policy}}
    )
    assert (got.key, got.min_member, got.gang) == (
        GroupKey(WORKLOAD_API, "ns", "g"),
        min_member,
        gang,
    )


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        pytest.param({}, "spec.schedulingPolicy: one of basic or gang must be set", id="neither"),
        pytest.param(
            {"gang": {"minCount": 0}},
            "spec.schedulingPolicy.gang.minCount: must be at least 1, got 0",
            id="minCount 0",
        ),
    ],
)
def test_a_workload_api_pod_group_that_cannot_be_used_is_refused(
    policy: dict[str, Any], problem: str
) -> None:
    with pytest.raises(DecodeError, match=problem):
        decode_workload_pod_group(
            {"metadata": {"name": "g", "namespace": "ns"}, "spec": {"schedulingPolicy": policy}}
        )


def test_a_135_workload_gives_each_of_its_groups_a_policy() -> None:
    workload = decode_workload(
        {
            "metadata": {"name": "job", "namespace": "ns"},
            "spec": {
                "podGroups": [
                    {"name": "workers", "policy": {"gang": {"minCount": 3}}},
                    {"name": "launcher", "policy": {"basic": {}}},
                ]
            },
        }
    )
    key = GroupKey(WORKLOAD_API, "ns", "job/workers")
    workers = workload.policy("workers", key)
    assert workers is not None
    assert (workers.min_member, workers.gang) == (3, True)
    launcher = workload.policy("launcher", key)
    assert launcher is not None
    assert launcher.gang is False
    assert workload.policy("missing", key) is None
