"""Seeded random nodes and pods for the index equivalence tests: a few
workloads, namespaces (one that does not exist), topology keys that some
nodes lack, taints, terminating pods, and every kind of affinity term and
spread constraint, so that a miscount anywhere shows up in some seed.
``scenario`` builds whole small clusters with one pending pod, for explain."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from py_scheduler.model import HOSTNAME_LABEL, ZONE_LABEL, Node, NodeName, PodInfo
from py_scheduler.model.selectors import LabelSelector
from py_scheduler.scheduling.cache import Cache
from tests.builders import make_node, make_pod, raw_node, raw_pod
from tests.fakes import FakeObjects

Raw = dict[str, Any]

APPS = ("web", "db", "cache")
NAMESPACE_LABELS: dict[str, dict[str, str]] = {
    "default": {"team": "a"},
    "other": {"team": "b"},
    "bare": {},
}
# "gone" holds pods but has no Namespace object.
NAMESPACES = (*NAMESPACE_LABELS, "gone")
TOPOLOGY_KEYS = (HOSTNAME_LABEL, ZONE_LABEL, "rack")
_TAINT: Raw = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}


def objects() -> FakeObjects:
    # A Service selecting the web pods gives them the default spread constraints.
    web = LabelSelector((("app", "web"),))
    return FakeObjects(namespaces=dict(NAMESPACE_LABELS), owners=[web])


def node(rng: random.Random, name: str) -> Node:
    labels: dict[str, str] = {}
    if rng.random() < 0.85:
        labels[ZONE_LABEL] = f"z{rng.randrange(3)}"
    if rng.random() < 0.7:
        labels["rack"] = f"r{rng.randrange(4)}"
    if rng.random() < 0.3:
        labels["disk"] = "ssd"
    taints = [_TAINT] if rng.random() < 0.2 else []
    return make_node(name, labels=labels, taints=taints)


def selector(rng: random.Random) -> Raw:
    roll = rng.random()
    if roll < 0.6:
        return {"matchLabels": {"app": rng.choice(APPS)}}
    if roll < 0.8:
        apps = rng.sample(APPS, 2)
        return {"matchExpressions": [{"key": "app", "operator": "In", "values": apps}]}
    if roll < 0.9:
        return {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}
    return {}


def term(rng: random.Random) -> Raw:
    out: Raw = {"topologyKey": rng.choice(TOPOLOGY_KEYS)}
    if rng.random() < 0.95:
        out["labelSelector"] = selector(rng)
    roll = rng.random()
    if roll < 0.2:
        out["namespaces"] = rng.sample(NAMESPACES, 2)
    elif roll < 0.3:
        out["namespaceSelector"] = {}
    elif roll < 0.4:
        out["namespaceSelector"] = {"matchLabels": {"team": rng.choice("ab")}}
    return out


def affinity(rng: random.Random) -> Raw | None:
    if rng.random() < 0.4:
        return None
    out: Raw = {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section: Raw = {}
        if rng.random() < 0.4:
            terms = [term(rng) for _ in range(rng.choice((1, 1, 2)))]
            section["requiredDuringSchedulingIgnoredDuringExecution"] = terms
        if rng.random() < 0.4:
            section["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": rng.randint(1, 100), "podAffinityTerm": term(rng)}
                for _ in range(rng.choice((1, 2)))
            ]
        if section:
            out[kind] = section
    return out or None


def spread(rng: random.Random) -> list[Raw]:
    out: list[Raw] = []
    if rng.random() < 0.3:
        return out
    seen: set[tuple[str, str]] = set()
    for _ in range(rng.choice((1, 2))):
        key = rng.choice(TOPOLOGY_KEYS)
        when = rng.choice(("DoNotSchedule", "ScheduleAnyway"))
        if (key, when) in seen:
            continue
        seen.add((key, when))
        constraint: Raw = {
            "maxSkew": rng.randint(1, 3),
            "topologyKey": key,
            "whenUnsatisfiable": when,
            "labelSelector": selector(rng),
        }
        if when == "DoNotSchedule" and rng.random() < 0.2:
            constraint["minDomains"] = rng.randint(1, 5)
        if rng.random() < 0.3:
            constraint["nodeAffinityPolicy"] = rng.choice(("Honor", "Ignore"))
        if rng.random() < 0.3:
            constraint["nodeTaintsPolicy"] = rng.choice(("Honor", "Ignore"))
        out.append(constraint)
    return out


def pod(rng: random.Random, name: str, node: str = "", *, incoming: bool = False) -> PodInfo:
    labels = {"app": rng.choice(APPS)}
    if rng.random() < 0.4:
        labels["tier"] = rng.choice(("front", "back"))
    return make_pod(
        name,
        namespace=rng.choice(NAMESPACES),
        labels=labels,
        node_name=node,
        affinity=affinity(rng),
        spread=spread(rng) if incoming else (),
        node_selector={"disk": "ssd"} if incoming and rng.random() < 0.2 else None,
        tolerations=[{"key": "dedicated", "operator": "Exists"}] if rng.random() < 0.3 else (),
        deleting=not incoming and rng.random() < 0.15,
    )


class Churn:
    """Random cache changes through every entry point: watch add, update and
    delete, assume, confirm, forget, node delete (leaving a ghost) and re-add."""

    def __init__(self, rng: random.Random, cache: Cache, nodes: int) -> None:
        self.rng = rng
        self.cache = cache
        self.removed: dict[str, Node] = {}
        self._serial = 0
        for i in range(nodes):
            cache.add_node(node(rng, f"node-{i}"))

    def _name(self) -> str:
        self._serial += 1
        return f"pod-{self._serial}"

    def _node(self) -> str:
        names = [str(n) for n in self.cache.node_names()]
        # Now and then a pod on a node the cache has not seen (it waits on a ghost).
        if not names or self.rng.random() < 0.05:
            return "node-unseen"
        return self.rng.choice(names)

    def populate(self, pods: int) -> None:
        for _ in range(pods):
            self.cache.add_pod(pod(self.rng, self._name(), self._node()))

    def step(self) -> str:
        rng, cache = self.rng, self.cache
        pods = list(cache.pods())
        assumed = [p for p in pods if cache.is_assumed(p.uid)]
        bound = [p for p in pods if not cache.is_assumed(p.uid)]
        op = rng.choice(("add", "add", "assume", "confirm", "forget", "update", "remove", "node"))
        if op == "add" or (op in ("update", "remove") and not bound):
            cache.add_pod(pod(rng, self._name(), self._node()))
            return "add"
        if op == "assume" or (op in ("confirm", "forget") and not assumed):
            cache.assume(pod(rng, self._name()), NodeName(self._node()))
            return "assume"
        if op == "confirm":
            cache.add_pod(rng.choice(assumed))
        elif op == "forget":
            cache.forget(rng.choice(assumed))
        elif op == "update":
            old = rng.choice(bound)
            labels = {"app": rng.choice(APPS)} if rng.random() < 0.7 else dict(old.labels)
            cache.update_pod(replace(old, labels=labels, deleting=rng.random() < 0.3))
        elif op == "remove":
            cache.remove_pod(rng.choice(bound))
        elif self.removed and rng.random() < 0.5:
            name = rng.choice(sorted(self.removed))
            cache.add_node(self.removed.pop(name))
        else:
            name = self._node()
            node_info = cache.get(name)
            if node_info is None:
                return "noop"
            self.removed[name] = node_info.node
            cache.remove_node(name)
        return op


# -- whole snapshots, for explain's property test --------------------------------------

TARGET = "default/incoming"
ZONES = ("z0", "z1", "z2")


def raw_pdb(name: str, app: str, allowed: int, namespace: str = "default") -> Raw:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": app}}},
        "status": {"disruptionsAllowed": allowed},
    }


def _requests(rng: random.Random, most: int) -> dict[str, str]:
    return {"cpu": f"{rng.randint(1, most) * 250}m", "memory": f"{rng.randint(1, 8) * 512}Mi"}


def scenario(rng: random.Random) -> list[Raw]:
    """A small cluster as listed documents: nodes of a few shapes (zones, a
    disk label, now and then a taint or a cordon), pods bound to them with
    priorities and owners' labels, budgets over some apps, and one pending
    pod (``TARGET``) with requests and, at random, a node selector,
    tolerations, a zone spread constraint, anti-affinity, a priority."""
    docs: list[Raw] = []
    nodes = rng.randint(2, 7)
    names = []
    for i in range(nodes):
        name = f"node-{i}"
        names.append(name)
        labels = {ZONE_LABEL: rng.choice(ZONES)}
        if rng.random() < 0.4:
            labels["disk"] = "ssd"
        cpu = rng.choice((2, 4, 8))
        docs.append(
            raw_node(
                name,
                labels=labels,
                allocatable={"cpu": str(cpu), "memory": f"{cpu * 2}Gi", "pods": "110"},
                taints=[_TAINT] if rng.random() < 0.2 else (),
                unschedulable=rng.random() < 0.05,
            )
        )
    for i in range(rng.randint(0, nodes * 3)):
        app = rng.choice(APPS)
        docs.append(
            raw_pod(
                f"bound-{i}",
                labels={"app": app},
                requests=_requests(rng, 8),
                node_name=rng.choice(names),
                priority=rng.choice((0, 0, 10, 100)),
                start_time="2026-01-01T00:00:00Z",
            )
        )
    for app in APPS:
        if rng.random() < 0.3:
            docs.append(raw_pdb(f"pdb-{app}", app, rng.choice((0, 0, 1))))
    spec: dict[str, Any] = {
        "labels": {"app": "web"},
        "requests": _requests(rng, 16),
        "priority": rng.choice((0, 50, 1000)),
    }
    if rng.random() < 0.3:
        spec["node_selector"] = {"disk": "ssd"}
    if rng.random() < 0.3:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    if rng.random() < 0.3:
        spec["spread"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ]
    if rng.random() < 0.3:
        spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "topologyKey": HOSTNAME_LABEL,
                        "labelSelector": {"matchLabels": {"app": rng.choice(APPS)}},
                    }
                ]
            }
        }
    docs.append(raw_pod("incoming", created="2026-01-02T00:00:00Z", **spec))
    return docs
