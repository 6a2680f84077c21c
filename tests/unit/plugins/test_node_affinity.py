"""NodeAffinity: PreFilter/Filter, scoring, the node-change hint and
``addedAffinity`` decoding (upstream ``node_affinity_test.go`` and the
NodeAffinityArgs validation table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.registry import ArgsError
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import ActionType, PreFilterResult, QueueingHint, Resource, event
from py_scheduler.model import PodInfo
from py_scheduler.model.raw import Fields
from py_scheduler.plugins.node_affinity import (
    SPEC,
    NodeAffinity,
    NodeAffinityArgs,
    decode_args,
)
from tests.builders import make_node, make_pod, node_info
from tests.fakes import FakeHandle

Raw = dict[str, Any]

REJECTED_POD = Status.unresolvable("node(s) didn't match Pod's node affinity/selector")
REJECTED_ENFORCED = Status.unresolvable("node(s) didn't match scheduler-enforced node affinity")
CONFLICT = Status.unresolvable("pod affinity terms conflict")


def expr(key: str, operator: str, *values: str) -> Raw:
    return {"key": key, "operator": operator, **({"values": list(values)} if values else {})}


def name_in(*names: str) -> Raw:
    return {"key": "metadata.name", "operator": "In", "values": list(names)}


def term(*exprs: Raw, fields: tuple[Raw, ...] = ()) -> Raw:
    out: Raw = {"matchExpressions": list(exprs)} if exprs else {}
    if fields:
        out["matchFields"] = list(fields)
    return out


def required(*terms: Raw) -> Raw:
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}


def preferred(*weighted: tuple[int, Raw]) -> Raw:
    return {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": weight, "preference": preference} for weight, preference in weighted
        ]
    }


def pod(*, selector: dict[str, str] | None = None, node_affinity: Raw | None = None) -> PodInfo:
    affinity = {"nodeAffinity": node_affinity} if node_affinity is not None else None
    return make_pod("p", node_selector=selector, affinity=affinity)


def args(added: Raw | None = None) -> NodeAffinityArgs:
    return decode_args(Fields({"addedAffinity": added} if added is not None else {}, "args"))


def plugin(added: Raw | None = None) -> NodeAffinity:
    return NodeAffinity(args(added), FakeHandle())


@dataclass(frozen=True)
class FilterCase:
    name: str
    pod: PodInfo
    labels: dict[str, str] = field(default_factory=dict)
    node: str = "node"
    added: Raw | None = None
    run_pre_filter: bool = True
    pre_filter_status: Status = SUCCESS
    pre_filter_result: PreFilterResult | None = None
    status: Status = SUCCESS


NODE1_OR_NODE2_IN_ONE_TERM = term(fields=(name_in("node1"), name_in("node2")))

FILTER = [
    FilterCase("missing labels", pod(selector={"foo": "bar"}), status=REJECTED_POD),
    FilterCase("same labels", pod(selector={"foo": "bar"}), labels={"foo": "bar"}),
    FilterCase(
        "node labels are a superset", pod(selector={"foo": "bar"}), {"foo": "bar", "baz": "blah"}
    ),
    FilterCase(
        "node labels are a subset",
        pod(selector={"foo": "bar", "baz": "blah"}),
        {"foo": "bar"},
        status=REJECTED_POD,
    ),
    FilterCase(
        "a selector entry with an empty value needs the label present",
        pod(selector={"foo": ""}),
        status=REJECTED_POD,
    ),
    FilterCase(
        "a pod with matchExpressions using In that matches the node fits",
        pod(node_affinity=required(term(expr("foo", "In", "bar", "value2")))),
        {"foo": "bar"},
    ),
    FilterCase(
        "a pod with matchExpressions using Gt that matches the node fits",
        pod(node_affinity=required(term(expr("kernel-version", "Gt", "0204")))),
        {"kernel-version": "0206"},
    ),
    FilterCase(
        "a pod with matchExpressions using NotIn that matches the node fits",
        pod(node_affinity=required(term(expr("mem-type", "NotIn", "DDR", "DDR2")))),
        {"mem-type": "DDR3"},
    ),
    FilterCase(
        "a pod with matchExpressions using Exists that matches the node fits",
        pod(node_affinity=required(term(expr("GPU", "Exists")))),
        {"GPU": "NVIDIA-GRID-K1"},
    ),
    FilterCase(
        "a pod whose affinity doesn't match the node's labels doesn't fit",
        pod(node_affinity=required(term(expr("foo", "In", "value1", "value2")))),
        {"foo": "bar"},
        status=REJECTED_POD,
    ),
    FilterCase(
        "a pod with empty matchExpressions matches no node",
        pod(node_affinity=required({"matchExpressions": []})),
        {"foo": "bar"},
        status=REJECTED_POD,
    ),
    FilterCase(
        "a pod with no affinity fits and PreFilter skips",
        pod(),
        {"foo": "bar"},
        pre_filter_status=Status.skip(),
    ),
    FilterCase(
        "a pod with node affinity but no required selector fits and PreFilter skips",
        pod(node_affinity={}),
        {"foo": "bar"},
        pre_filter_status=Status.skip(),
    ),
    FilterCase(
        "a pod with several matchExpressions ANDed that match the node fits",
        pod(
            node_affinity=required(
                term(expr("GPU", "Exists"), expr("GPU", "NotIn", "AMD", "INTER"))
            )
        ),
        {"GPU": "NVIDIA-GRID-K1"},
    ),
    FilterCase(
        "a pod with several matchExpressions ANDed that don't all match doesn't fit",
        pod(node_affinity=required(term(expr("GPU", "Exists"), expr("GPU", "In", "AMD", "INTER")))),
        {"GPU": "NVIDIA-GRID-K1"},
        status=REJECTED_POD,
    ),
    FilterCase(
        "a pod with several terms ORed fits when one of them matches",
        pod(
            node_affinity=required(
                term(expr("foo", "In", "bar", "value2")),
                term(expr("diffkey", "In", "wrong", "value2")),
            )
        ),
        {"foo": "bar"},
    ),
    FilterCase(
        "a pod whose affinity and nodeSelector are both satisfied fits",
        pod(selector={"foo": "bar"}, node_affinity=required(term(expr("foo", "Exists")))),
        {"foo": "bar"},
    ),
    FilterCase(
        "a pod whose affinity matches but whose nodeSelector doesn't, doesn't fit",
        pod(selector={"foo": "bar"}, node_affinity=required(term(expr("foo", "Exists")))),
        {"foo": "barrrrrr"},
        status=REJECTED_POD,
    ),
    FilterCase(
        "a term with an invalid label value never matches",
        pod(node_affinity=required(term(expr("foo", "NotIn", "invalid value: ___@#$%^")))),
        {"foo": "bar"},
        status=REJECTED_POD,
    ),
    FilterCase(
        "an invalid term does not stop a valid term from matching",
        pod(
            node_affinity=required(
                term(expr("invalid key", "Exists")), term(expr("foo", "In", "bar"))
            )
        ),
        {"foo": "bar"},
    ),
    FilterCase(
        "a pod with matchFields using In that matches the node fits",
        pod(node_affinity=required(term(fields=(name_in("node1"),)))),
        node="node1",
        pre_filter_result=PreFilterResult(frozenset({"node1"})),
    ),
    FilterCase(
        "a pod with matchFields using In that doesn't match the node doesn't fit",
        pod(node_affinity=required(term(fields=(name_in("node1"),)))),
        node="node2",
        pre_filter_result=PreFilterResult(frozenset({"node1"})),
        status=REJECTED_POD,
    ),
    FilterCase(
        "with two terms, an unmatched matchFields term and a matching matchExpressions term fit",
        pod(node_affinity=required(NODE1_OR_NODE2_IN_ONE_TERM, term(expr("foo", "In", "bar")))),
        {"foo": "bar"},
        node="node2",
    ),
    FilterCase(
        "with one term, unmatched matchFields and matching matchExpressions don't fit",
        pod(node_affinity=required(term(expr("foo", "In", "bar"), fields=(name_in("node1"),)))),
        {"foo": "bar"},
        node="node2",
        pre_filter_result=PreFilterResult(frozenset({"node1"})),
        status=REJECTED_POD,
    ),
    FilterCase(
        "with one term, matching matchFields and matchExpressions fit",
        pod(node_affinity=required(term(expr("foo", "In", "bar"), fields=(name_in("node1"),)))),
        {"foo": "bar"},
        node="node1",
        pre_filter_result=PreFilterResult(frozenset({"node1"})),
    ),
    FilterCase(
        "with two terms, neither matchFields nor matchExpressions matching don't fit",
        pod(
            node_affinity=required(
                term(fields=(name_in("node1"),)), term(expr("foo", "In", "not-match-to-bar"))
            )
        ),
        {"foo": "bar"},
        node="node2",
        status=REJECTED_POD,
    ),
    FilterCase(
        "two terms of node name affinity restrict PreFilter to both names",
        pod(
            node_affinity=required(
                term(fields=(name_in("node1"),)), term(fields=(name_in("node2"),))
            )
        ),
        node="node2",
        pre_filter_result=PreFilterResult(frozenset({"node1", "node2"})),
    ),
    FilterCase(
        "two conflicting matchFields requirements in one term fail PreFilter",
        pod(node_affinity=required(NODE1_OR_NODE2_IN_ONE_TERM)),
        {"foo": "bar"},
        node="node2",
        pre_filter_status=CONFLICT,
        status=REJECTED_POD,
    ),
    FilterCase(
        "a matchFields requirement with several names restricts PreFilter but never matches",
        pod(node_affinity=required(term(fields=(name_in("node1", "node2"),)))),
        node="node2",
        pre_filter_result=PreFilterResult(frozenset({"node1", "node2"})),
        status=REJECTED_POD,
    ),
    FilterCase(
        "a pod with required affinity but no terms matches no node",
        pod(node_affinity=required()),
        status=REJECTED_POD,
    ),
    FilterCase(
        "a node matching both the added affinity and the pod's affinity fits",
        pod(node_affinity=required(term(expr("zone", "In", "foo")))),
        {"zone": "foo"},
        node="node2",
        added=required(term(fields=(name_in("node2"),))),
    ),
    FilterCase(
        "a node matching the added affinity but not the pod's affinity doesn't fit",
        pod(node_affinity=required(term(expr("zone", "In", "bar")))),
        {"zone": "foo"},
        node="node2",
        added=required(term(fields=(name_in("node2"),))),
        status=REJECTED_POD,
    ),
    FilterCase(
        "a node not matching the added affinity doesn't fit",
        pod(),
        {"zone": "foo"},
        node="node2",
        added=required(term(expr("zone", "In", "bar"))),
        status=REJECTED_ENFORCED,
    ),
    FilterCase(
        "the node selector is matched even if PreFilter is not called",
        pod(selector={"foo": "bar"}),
        {"foo": "bar", "baz": "blah"},
        run_pre_filter=False,
    ),
    FilterCase(
        "node affinity is matched even if PreFilter is not called",
        pod(
            node_affinity=required(
                term(expr("GPU", "Exists"), expr("GPU", "NotIn", "AMD", "INTER"))
            )
        ),
        {"GPU": "NVIDIA-GRID-K1"},
        run_pre_filter=False,
    ),
    FilterCase(
        "a mismatch is found even if PreFilter is not called",
        pod(selector={"foo": "bar"}),
        {"foo": "baz"},
        run_pre_filter=False,
        status=REJECTED_POD,
    ),
]


@pytest.mark.parametrize("case", FILTER, ids=[c.name for c in FILTER])
def test_pre_filter_and_filter(case: FilterCase) -> None:
    p = plugin(case.added)
    node = node_info(case.node, labels=case.labels)
    state = CycleState()
    if case.run_pre_filter:
        result, status = p.pre_filter(state, case.pod, [node])
        assert status == case.pre_filter_status
        assert result == case.pre_filter_result
    assert p.filter(state, case.pod, node) == case.status


def test_pre_filter_has_no_extensions() -> None:
    assert plugin().pre_filter_extensions() is None


def test_pre_filter_does_not_skip_when_only_the_added_affinity_applies() -> None:
    p = plugin(required(term(expr("zone", "In", "foo"))))
    assert p.pre_filter(CycleState(), pod(), [node_info("n")]) == (None, SUCCESS)


LABEL1 = {"foo": "bar"}
LABEL2 = {"key": "value"}
LABEL3 = {"az": "az1"}
LABEL4 = {"abc": "az11", "def": "az22"}
LABEL5 = {"foo": "bar", "key": "value", "az": "az1"}

AFFINITY1 = preferred((2, term(expr("foo", "In", "bar"))))
AFFINITY2 = preferred(
    (2, term(expr("foo", "In", "bar"))),
    (4, term(expr("key", "In", "value"))),
    (5, term(expr("foo", "In", "bar"), expr("key", "In", "value"), expr("az", "In", "az1"))),
)


@dataclass(frozen=True)
class ScoreCase:
    name: str
    pod: PodInfo
    nodes: tuple[tuple[str, dict[str, str]], ...]
    scores: tuple[int, ...]
    added: Raw | None = None
    run_pre_score: bool = True


SCORE = [
    ScoreCase(
        "all nodes score the same when the pod has no node affinity",
        pod(),
        (("node1", LABEL1), ("node2", LABEL2), ("node3", LABEL3)),
        (0, 0, 0),
        run_pre_score=False,
    ),
    ScoreCase(
        "no node matching the preferred terms gives every node zero",
        pod(node_affinity=AFFINITY1),
        (("node1", LABEL4), ("node2", LABEL2), ("node3", LABEL3)),
        (0, 0, 0),
    ),
    ScoreCase(
        "only node1 matches the preferred term",
        pod(node_affinity=AFFINITY1),
        (("node1", LABEL1), ("node2", LABEL2), ("node3", LABEL3)),
        (100, 0, 0),
    ),
    ScoreCase(
        "all nodes match preferred terms but with different weights",
        pod(node_affinity=AFFINITY2),
        (("node1", LABEL1), ("node5", LABEL5), ("node2", LABEL2)),
        (18, 100, 36),
    ),
    ScoreCase(
        "added preferred affinity scores a pod without affinity",
        pod(),
        (("node1", LABEL1), ("node2", LABEL2)),
        (100, 0),
        added=AFFINITY1,
    ),
    ScoreCase(
        "added preferred affinity adds to the pod's own preferred terms",
        pod(node_affinity=AFFINITY1),
        (("node1", LABEL1), ("node2", LABEL2), ("node3", LABEL5)),
        (40, 60, 100),
        added=preferred((3, term(expr("key", "In", "value")))),
    ),
    ScoreCase(
        "the scores are the same even if PreScore is not called",
        pod(node_affinity=AFFINITY2),
        (("node1", LABEL1), ("node5", LABEL5), ("node2", LABEL2)),
        (18, 100, 36),
        run_pre_score=False,
    ),
    ScoreCase(
        "a preferred term on the node name scores that node",
        pod(node_affinity=preferred((7, term(fields=(name_in("node2"),))))),
        (("node1", LABEL1), ("node2", LABEL1)),
        (0, 100),
    ),
]


@pytest.mark.parametrize("case", SCORE, ids=[c.name for c in SCORE])
def test_score(case: ScoreCase) -> None:
    p = plugin(case.added)
    nodes = [node_info(name, labels=labels) for name, labels in case.nodes]
    state = CycleState()
    if case.run_pre_score:
        assert p.pre_score(state, case.pod, nodes) == SUCCESS
    scores = [p.score(state, case.pod, node) for node in nodes]
    p.normalize_scores(state, case.pod, scores)
    assert tuple(scores) == case.scores


def test_pre_score_skips_when_no_preferred_terms_apply() -> None:
    assert plugin().pre_score(CycleState(), pod(), [node_info("node1")]) == Status.skip()


def test_pre_score_fails_when_a_preferred_term_is_broken() -> None:
    broken = pod(node_affinity=preferred((2, term(expr("invalid key", "In", "bar")))))
    status = plugin().pre_score(CycleState(), broken, [node_info("node1")])
    assert status.code is Code.ERROR
    assert status.message.startswith('[0].matchExpressions[0].key: Invalid value: "invalid key"')


def test_a_non_integer_preferred_lt_fails_pre_score_with_upstreams_message() -> None:
    # What kube-scheduler v1.35.4 answers (a SchedulerError once wrapped by the
    # framework); it never gets here with a single feasible node.
    broken = pod(
        node_affinity=preferred((3, term(expr("n", "Exists"))), (5, term(expr("gen", "Lt", "1.5"))))
    )
    status = plugin().pre_score(CycleState(), broken, [node_info("node1")])
    assert status == Status.error(
        '[1].matchExpressions[0].values[0]: Invalid value: "1.5": '
        "for 'Gt', 'Lt' operators, the value must be an integer"
    )


def test_a_required_gt_that_is_not_an_integer_matches_no_node() -> None:
    # Upstream's lazy-error node selector: the term never matches, the pod
    # stays unschedulable with the usual reason.
    bad = pod(node_affinity=required(term(expr("n", "Gt", "many"))))
    p = plugin()
    for labels in ({"n": "5"}, {"n": "many"}, {}):
        node = node_info("node1", labels=labels)
        state = CycleState()
        assert p.pre_filter(state, bad, [node]) == (None, SUCCESS)
        assert p.filter(state, bad, node) == REJECTED_POD


def test_another_term_still_matches_beside_a_non_integer_gt() -> None:
    ored = pod(node_affinity=required(term(expr("n", "Gt", "many")), term(expr("zone", "In", "a"))))
    node = node_info("node1", labels={"zone": "a"})
    assert plugin().filter(CycleState(), ored, node) == SUCCESS


def test_a_non_integer_gt_queues_the_pod_on_node_changes_as_upstream() -> None:
    # Upstream's hint sees the parse error and queues rather than skips.
    bad = pod(node_affinity=required(term(expr("n", "Gt", "many"))))
    hint = plugin()._after_node_change(bad, None, make_node("node1", labels={"n": "9"}))
    assert hint is QueueingHint.QUEUE


def test_registers_node_adds_and_label_updates() -> None:
    (registered,) = plugin().events_to_register()
    assert registered.event == event(Resource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)
    assert registered.hint is not None


WANTS_FOO_BAR = pod(node_affinity=required(term(expr("foo", "In", "bar"))))
ENFORCE_FOO_BAR = required(term(expr("foo", "In", "bar")))

HINTS: list[tuple[str, Raw | None, object | None, object | None, QueueingHint]] = [
    ("an event without a node object queues the pod", None, None, "not-a-node", QueueingHint.QUEUE),
    (
        "an event whose old object is not a node queues the pod",
        None,
        "not-a-node",
        make_node("n"),
        QueueingHint.QUEUE,
    ),
    (
        "a non-matching node being added does not queue the pod",
        None,
        None,
        make_node("n"),
        QueueingHint.SKIP,
    ),
    (
        "a matching node being added queues the pod",
        None,
        None,
        make_node("n", labels={"foo": "bar"}),
        QueueingHint.QUEUE,
    ),
    (
        "an update unrelated to labels does not queue the pod",
        None,
        make_node("n"),
        make_node("n", unschedulable=True),
        QueueingHint.SKIP,
    ),
    (
        "an unrelated label change does not queue the pod",
        None,
        make_node("n"),
        make_node("n", labels={"k": "v"}),
        QueueingHint.SKIP,
    ),
    (
        "a node going from suitable to unsuitable does not queue the pod",
        None,
        make_node("n", labels={"foo": "bar"}),
        make_node("n", labels={"k": "v"}),
        QueueingHint.SKIP,
    ),
    (
        "a label change that makes the node match queues the pod",
        None,
        make_node("n"),
        make_node("n", labels={"foo": "bar"}),
        QueueingHint.QUEUE,
    ),
    (
        "a label update on a node that already matched does not queue the pod",
        None,
        make_node("n", labels={"foo": "bar"}),
        make_node("n", labels={"foo": "bar", "k": "v"}),
        QueueingHint.SKIP,
    ),
    (
        "a node added outside the enforced affinity does not queue the pod",
        ENFORCE_FOO_BAR,
        None,
        make_node("n"),
        QueueingHint.SKIP,
    ),
    (
        "a node added inside the enforced affinity queues the pod",
        ENFORCE_FOO_BAR,
        None,
        make_node("n", labels={"foo": "bar"}),
        QueueingHint.QUEUE,
    ),
]


@pytest.mark.parametrize(("name", "added", "old", "new", "want"), HINTS, ids=[c[0] for c in HINTS])
def test_node_change_hint(
    name: str, added: Raw | None, old: object | None, new: object | None, want: QueueingHint
) -> None:
    (registered,) = plugin(added).events_to_register()
    assert registered.hint is not None
    assert registered.hint(WANTS_FOO_BAR, old, new) is want


VALID_ADDED = {
    **required(term(expr("label-1", "In", "label-1-val"))),
    **preferred((1, term(fields=(name_in("node-1"),)))),
}


def test_decoding_no_args_gives_no_added_affinity() -> None:
    assert decode_args(Fields({}, "args")) == NodeAffinityArgs()
    assert SPEC.args(None) == NodeAffinityArgs()


def test_decoding_a_valid_added_affinity_keeps_both_parts() -> None:
    decoded = SPEC.args(
        {"apiVersion": "v1", "kind": "NodeAffinityArgs", "addedAffinity": VALID_ADDED}
    )
    assert decoded.added_required is not None
    assert len(decoded.added_required.terms) == 1
    assert [w.weight for w in decoded.added_preferred] == [1]


def test_zero_weight_added_preferences_are_dropped() -> None:
    decoded = args(preferred((0, term(expr("foo", "Exists"))), (3, term(expr("bar", "Exists")))))
    assert [w.weight for w in decoded.added_preferred] == [3]


ARGS_ERRORS: list[tuple[str, object, str]] = [
    (
        "an invalid label key in a required term is rejected",
        required(term(expr("invalid/label/key", "In", "label-1-val"))),
        r"args\.addedAffinity\.requiredDuringSchedulingIgnoredDuringExecution"
        r"\.nodeSelectorTerms\[0\]\.matchExpressions\[0\]\.key",
    ),
    (
        "a node name field with two values in a preferred term is rejected",
        preferred((1, term(fields=(name_in("node-1", "node-2"),)))),
        r"preferredDuringSchedulingIgnoredDuringExecution\[0\]\.preference"
        r"\.matchFields\[0\]\.values: .*must have one element",
    ),
    (
        "every invalid requirement is reported at once",
        {
            **required(term(expr("invalid/label/key", "In", "v"))),
            **preferred((1, term(fields=(name_in("a", "b"),)))),
        },
        r"matchExpressions\[0\]\.key.*; .*matchFields\[0\]\.values",
    ),
    (
        "an invalid label value is rejected",
        required(term(expr("foo", "In", "bad value"))),
        r"matchExpressions\[0\]\.values\[0\]\[foo\]: Invalid value: \"bad value\"",
    ),
    (
        "a non-integer Gt value is rejected",
        required(term(expr("foo", "Gt", "ten"))),
        r"matchExpressions\[0\]\.values\[0\]: Invalid value: \"ten\": for 'Gt', 'Lt' "
        r"operators, the value must be an integer",
    ),
    (
        "an unknown operator is rejected",
        required(term(expr("foo", "Near", "bar"))),
        r"matchExpressions\[0\]\.operator",
    ),
    (
        "a field operator other than In or NotIn is rejected",
        required(term(fields=({"key": "metadata.name", "operator": "Exists"},))),
        r"matchFields\[0\]\.operator: Unsupported value: \"Exists\"",
    ),
    (
        "a field other than metadata.name is rejected",
        required(term(fields=({"key": "spec.unschedulable", "operator": "In", "values": ["x"]},))),
        r"matchFields\[0\]\.key",
    ),
    (
        "a negative preferred weight is rejected",
        preferred((-1, term(expr("foo", "Exists")))),
        r"preferredDuringSchedulingIgnoredDuringExecution\[0\]\.weight",
    ),
    (
        "an unknown field in the added affinity is rejected",
        {"requiredDuringScheduling": {}},
        r"args\.addedAffinity\.requiredDuringScheduling: unknown field",
    ),
    (
        "an unknown field in a term is rejected",
        required({"matchExpression": [expr("foo", "Exists")]}),
        r"nodeSelectorTerms\[0\]\.matchExpression: unknown field",
    ),
    ("an added affinity that is not an object is rejected", "zone=a", r"args\.addedAffinity"),
]


@pytest.mark.parametrize(("name", "added", "error"), ARGS_ERRORS, ids=[c[0] for c in ARGS_ERRORS])
def test_invalid_added_affinity_is_rejected(name: str, added: object, error: str) -> None:
    with pytest.raises(ArgsError, match=error):
        decode_args(Fields({"addedAffinity": added}, "args"))


def test_unknown_top_level_args_are_rejected_with_the_plugin_name() -> None:
    with pytest.raises(ArgsError, match=r"^plugin NodeAffinity: args\.addedAffinty: unknown field"):
        SPEC.args({"addedAffinty": VALID_ADDED})
