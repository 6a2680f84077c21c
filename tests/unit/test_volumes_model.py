"""Decoding PersistentVolumeClaims, PersistentVolumes, StorageClasses and CSINodes.

We test these aspects: the fields the volume plugins read, storage classes
resolved as storagehelpers does, allowed topologies as a node selector, and
errors that name the offending field.
"""

from __future__ import annotations

from typing import Any

import pytest

from py_scheduler.model import DecodeError
from py_scheduler.model import volumes as vol
from py_scheduler.simulation.snapshot import parse

HOSTNAME = "kubernetes.io/hostname"


def raw_pvc(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "data", "namespace": "ns", "uid": "c1", "resourceVersion": "7"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


def raw_pv(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "pv1", "uid": "v1", "labels": {"topology.kubernetes.io/zone": "a"}},
        "spec": {
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
            **spec,
        },
    }


def test_a_claim_keeps_what_binding_needs() -> None:
    claim = vol.decode_pvc(
        {
            **raw_pvc(storageClassName="local", volumeName="pv1"),
            "status": {"phase": "Bound"},
        }
    )
    assert (claim.key, claim.uid, claim.resource_version) == ("ns/data", "c1", "7")
    assert claim.storage_class_name == "local"
    assert claim.requested_storage == 2**30
    assert claim.access_modes == {"ReadWriteOnce"}
    assert claim.is_bound
    assert claim.phase == "Bound"
    assert claim.volume_mode == "Filesystem"


@pytest.mark.parametrize(
    ("spec", "annotations", "want"),
    [
        pytest.param({"storageClassName": "fast"}, {}, "fast", id="spec class"),
        pytest.param({}, {vol.ANN_BETA_STORAGE_CLASS: "old"}, "old", id="beta annotation fills in"),
        pytest.param(
            {"storageClassName": ""},
            {vol.ANN_BETA_STORAGE_CLASS: "old"},
            "",
            id="an explicit empty class wins over the annotation",
        ),
        pytest.param({}, {}, "", id="no class at all"),
    ],
)
def test_claim_storage_class(spec: dict[str, Any], annotations: dict[str, str], want: str) -> None:
    raw = raw_pvc(**spec)
    raw["metadata"]["annotations"] = annotations
    assert vol.decode_pvc(raw).storage_class_name == want


def test_a_claim_shows_its_selected_node_and_owner() -> None:
    raw = raw_pvc()
    raw["metadata"]["annotations"] = {vol.ANN_SELECTED_NODE: "n1"}
    raw["metadata"]["ownerReferences"] = [
        {"kind": "Pod", "name": "p", "uid": "pod-uid", "controller": True}
    ]
    claim = vol.decode_pvc(raw)
    assert claim.selected_node == "n1"
    assert claim.controller_uid == "pod-uid"
    assert not claim.is_bound


def test_a_volume_keeps_affinity_claim_and_zone() -> None:
    pv = vol.decode_pv(
        raw_pv(
            storageClassName="local",
            claimRef={"namespace": "ns", "name": "data", "uid": "c1"},
            nodeAffinity={
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": HOSTNAME, "operator": "In", "values": ["n1"]}
                            ]
                        }
                    ]
                }
            },
            csi={"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"},
        )
    )
    assert pv.capacity == 5 * 2**30
    assert pv.claim_ref == vol.ClaimRef("ns", "data", "c1")
    assert pv.fits_node("n1", {"kubernetes.io/hostname": "n1"})
    assert not pv.fits_node("n2", {"kubernetes.io/hostname": "n2"})
    assert pv.zone_labels == {"topology.kubernetes.io/zone": "a"}
    assert (pv.csi_driver, pv.csi_volume_handle) == ("ebs.csi.aws.com", "vol-1")


def test_a_volume_without_affinity_fits_every_node() -> None:
    assert vol.decode_pv(raw_pv()).fits_node("any", {})


def test_a_storage_class_with_allowed_topologies() -> None:
    sc = vol.decode_storage_class(
        {
            "metadata": {"name": "wffc"},
            "provisioner": "example.com/disk",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [
                {"matchLabelExpressions": [{"key": "zone", "values": ["a", "b"]}]}
            ],
        }
    )
    assert sc.waits_for_first_consumer
    assert sc.allowed_topologies is not None
    assert sc.allowed_topologies.matches("n", {"zone": "b"})
    assert not sc.allowed_topologies.matches("n", {"zone": "c"})


def test_a_storage_class_binds_immediately_by_default() -> None:
    sc = vol.decode_storage_class({"metadata": {"name": "s"}, "provisioner": "p"})
    assert sc.volume_binding_mode == vol.BINDING_IMMEDIATE
    assert sc.allowed_topologies is None


def test_a_csi_node_reports_limits_per_driver() -> None:
    node = vol.decode_csi_node(
        {
            "metadata": {"name": "n1"},
            "spec": {
                "drivers": [
                    {"name": "a", "nodeID": "i-1", "allocatable": {"count": 3}},
                    {"name": "b", "nodeID": "i-1"},
                ]
            },
        }
    )
    assert node.volume_limit("a") == 3
    assert node.volume_limit("b") is None
    assert node.volume_limit("missing") is None


@pytest.mark.parametrize(
    ("decode", "raw", "path"),
    [
        pytest.param(
            vol.decode_pvc,
            raw_pvc(accessModes=["ReadWriteSometimes"]),
            "spec.accessModes[0]",
            id="unknown access mode",
        ),
        pytest.param(
            vol.decode_pvc,
            raw_pvc(resources={"requests": {"storage": "lots"}}),
            "spec.resources.requests.storage",
            id="bad quantity",
        ),
        pytest.param(
            vol.decode_pv,
            raw_pv(claimRef="ns/data"),
            "spec.claimRef",
            id="claimRef not an object",
        ),
        pytest.param(
            vol.decode_storage_class,
            {"metadata": {"name": "s"}, "volumeBindingMode": "Later"},
            "volumeBindingMode",
            id="unknown binding mode",
        ),
        pytest.param(
            vol.decode_csi_node,
            {"metadata": {"name": "n"}, "spec": {"drivers": [{"allocatable": {"count": 1}}]}},
            "spec.drivers[0].name",
            id="driver without a name",
        ),
        pytest.param(vol.decode_pv, {"metadata": {}}, "metadata.name", id="no name"),
    ],
)
def test_malformed_objects_name_the_field(decode: Any, raw: dict[str, Any], path: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(raw)
    assert caught.value.path == path


def test_a_snapshot_carries_storage_objects() -> None:
    snap = parse(
        """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: ns}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce]}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: n1}
spec: {drivers: [{name: d, nodeID: n1, allocatable: {count: 2}}]}
"""
    )
    assert [c.key for c in snap.claims] == ["ns/data"]
    assert [v.name for v in snap.volumes] == ["pv1"]
    assert [c.name for c in snap.storage_classes] == ["local"]
    assert [c.name for c in snap.csi_nodes] == ["n1"]
    assert snap.ignored == []
