"""Node selection, after upstream's schedule_one_test.go (TestNumFeasibleNodesToFind,
TestSelectHost, TestFairEvaluationForNodes, TestFindFitAllError/SomeError,
TestFindFitPredicateCallCounts and the PreFilter cases of TestSchedulerSchedulePod)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework
from py_scheduler.framework.status import SUCCESS, Status
from py_scheduler.framework.types import NO_NODES_AVAILABLE, FitError
from py_scheduler.model import NodeInfo, NodeName, PodInfo
from py_scheduler.scheduling.algorithm import (
    NO_NODES_REJECTOR,
    Algorithm,
    ScheduleResult,
    SchedulingError,
    num_feasible_nodes_to_find,
)
from tests.builders import make_pod, node_info
from tests.fakes import FakeNominator, FakeSnapshot
from tests.unit.helpers_core import FakeFilter, FakePreFilter, FakeScore, framework, named

U = Status.unschedulable
UU = Status.unresolvable
FAKE_REASON = "injected filter failure"


def algorithm(percentage: int = 0, seed: int = 0) -> Algorithm:
    return Algorithm(percentage_of_nodes_to_score=percentage, rng=random.Random(seed))


def nodes(*names: str) -> list[NodeInfo]:
    return [node_info(name) for name in names]


def numbered(count: int) -> list[NodeInfo]:
    return [node_info(f"n{i:03d}") for i in range(count)]


def schedule(
    fwk: Framework, snapshot: FakeSnapshot, pod: PodInfo, alg: Algorithm | None = None
) -> ScheduleResult:
    return (alg or algorithm()).schedule(fwk, CycleState(), pod, snapshot)


def fit_error(
    fwk: Framework, snapshot: FakeSnapshot, pod: PodInfo, alg: Algorithm | None = None
) -> FitError:
    with pytest.raises(FitError) as caught:
        schedule(fwk, snapshot, pod, alg)
    return caught.value


class MatchFilter(FakeFilter):
    """Upstream's MatchFilter: a node fits only the pod named like it."""

    name = "MatchFilter"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        self.calls.append(node.name)
        return SUCCESS if node.name == pod.name else U(FAKE_REASON)


# -- numFeasibleNodesToFind ----------------------------------------------------------------------

NUM_FEASIBLE = [
    pytest.param(
        0, 10, 10, id="not set percentageOfNodesToScore and nodes number not more than 50"
    ),
    pytest.param(40, 10, 10, id="set percentageOfNodesToScore and nodes number not more than 50"),
    pytest.param(0, 1000, 420, id="not set percentageOfNodesToScore and nodes number more than 50"),
    pytest.param(40, 1000, 400, id="set percentageOfNodesToScore and nodes number more than 50"),
    pytest.param(
        0, 6000, 300, id="not set percentageOfNodesToScore and nodes number more than 50*125"
    ),
    pytest.param(
        40, 6000, 2400, id="set percentageOfNodesToScore and nodes number more than 50*125"
    ),
    pytest.param(0, 99, 99, id="below one hundred nodes every node is evaluated"),
    pytest.param(0, 100, 100, id="at one hundred nodes the minimum of one hundred applies"),
    pytest.param(10, 150, 100, id="a small percentage never goes below one hundred nodes"),
    pytest.param(0, 10000, 500, id="the adaptive percentage bottoms out at five percent"),
    pytest.param(100, 6000, 6000, id="one hundred percent evaluates every node"),
]  # fmt: skip


@pytest.mark.parametrize(("percentage", "num_nodes", "want"), NUM_FEASIBLE)
def test_num_feasible_nodes_to_find(percentage: int, num_nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(percentage, num_nodes) == want


# -- selectHost ----------------------------------------------------------------------------------

SELECT_HOST = [
    pytest.param([("node1.1", 1), ("node2.1", 2)], {"node2.1"}, id="the unique highest score wins"),
    pytest.param(
        [("node1.1", 1), ("node1.2", 2), ("node1.3", 2), ("node2.1", 2)],
        {"node1.2", "node1.3", "node2.1"},
        id="equal top scores tie",
    ),
    pytest.param(
        [("node1.1", 3), ("node1.2", 3), ("node2.1", 2), ("node3.1", 1), ("node1.3", 3)],
        {"node1.1", "node1.2", "node1.3"},
        id="top scores out of order still tie",
    ),
    pytest.param([("only", 0)], {"only"}, id="a single node is chosen"),
]


@pytest.mark.parametrize(("scores", "want"), SELECT_HOST)
def test_select_host(scores: Sequence[tuple[str, int]], want: set[str]) -> None:
    alg = algorithm(seed=7)
    infos = nodes(*(name for name, _ in scores))
    totals = [total for _, total in scores]
    chosen = {alg.select_host(infos, totals) for _ in range(200)}
    assert chosen == want


def test_select_host_breaks_ties_uniformly() -> None:
    alg = algorithm(seed=42)
    infos = nodes("low", "a", "b", "c", "lower")
    totals = [10, 90, 90, 90, 5]
    draws = 30_000
    counts = Counter(alg.select_host(infos, totals) for _ in range(draws))
    assert set(counts) == {"a", "b", "c"}
    # Six standard deviations of a binomial(30000, 1/3) either side of 10000.
    for name in "abc":
        assert abs(counts[NodeName(name)] - draws / 3) < 6 * (draws * 2 / 9) ** 0.5, counts


def test_select_host_is_reproducible_with_a_seed() -> None:
    infos = nodes("a", "b", "c", "d")
    totals = [1, 1, 1, 1]
    runs = [[a.select_host(infos, totals) for _ in range(20)] for a in (algorithm(3), algorithm(3))]
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 1


# -- the round-robin start -------------------------------------------------------------------


def test_fair_evaluation_for_nodes() -> None:
    all_nodes = numbered(500)
    snapshot = FakeSnapshot(all_nodes)
    fwk = framework(named(FakeFilter, "TrueFilter")(), named(FakeScore, "Equal")(1))
    alg = algorithm(percentage=30)
    to_find = num_feasible_nodes_to_find(30, 500)
    assert to_find == 150
    for i in range(2 * (500 // to_find + 1)):
        result = schedule(fwk, snapshot, make_pod("p"), alg)
        assert (result.feasible, result.evaluated) == (to_find, to_find)
        assert alg.next_start == (i + 1) * to_find % 500


def test_rejected_nodes_count_towards_the_next_start() -> None:
    all_nodes = numbered(200)
    rejected = {str(n.name): U("no") for n in all_nodes[:50]}
    check = named(FakeFilter, "Check")(per_node=rejected)
    fwk = framework(check, named(FakeScore, "Equal")(1))
    alg = algorithm()
    first = schedule(fwk, FakeSnapshot(all_nodes), make_pod("p"), alg)
    assert (first.evaluated, first.feasible, alg.next_start) == (150, 100, 150)
    assert check.calls[0] == "n000"
    second = schedule(fwk, FakeSnapshot(all_nodes), make_pod("p"), alg)
    assert (second.evaluated, second.feasible, alg.next_start) == (150, 100, 100)
    assert check.calls[150] == "n150"


def test_the_profile_percentage_overrides_the_global_one() -> None:
    fwk = framework(named(FakeScore, "Equal")(1), percentage=100)
    result = schedule(fwk, FakeSnapshot(numbered(300)), make_pod("p"), algorithm(percentage=10))
    assert (result.evaluated, result.feasible) == (300, 300)


def test_without_score_plugins_the_first_feasible_node_wins() -> None:
    check = named(FakeFilter, "Check")(per_node={"a": U("no")})
    fwk = framework(check)
    result = schedule(fwk, FakeSnapshot(nodes("a", "b", "c")), make_pod("p"))
    assert (result.node, result.evaluated, result.feasible) == ("b", 2, 1)
    assert check.calls == ["a", "b"]


def test_a_filter_error_still_advances_the_next_start() -> None:
    boom = named(FakeFilter, "Boom")(per_node={"a": U("no"), "b": Status.error("broken")})
    fwk = framework(boom, named(FakeScore, "Equal")(1))
    alg = algorithm()
    with pytest.raises(SchedulingError) as caught:
        schedule(fwk, FakeSnapshot(nodes("a", "b", "c")), make_pod("p"), alg)
    assert caught.value.status == Status.error("running 'Boom' filter plugin: broken").with_plugin(
        "Boom"
    )
    assert alg.next_start == 2


# -- scoring and selection -----------------------------------------------------------------------


def test_the_highest_weighted_total_wins() -> None:
    fwk = framework(
        named(FakeScore, "Cheap")({"a": 100, "b": 0, "c": 50}),
        named(FakeScore, "Heavy")({"a": 0, "b": 60, "c": 40}),
        weights={"Cheap": 1, "Heavy": 2},
    )
    result = schedule(fwk, FakeSnapshot(nodes("a", "b", "c")), make_pod("p"))
    assert (result.node, result.evaluated, result.feasible) == ("c", 3, 3)


def test_a_single_feasible_node_is_not_scored() -> None:
    scorer = named(FakeScore, "Scorer")(1)
    fwk = framework(MatchFilter(), scorer)
    result = schedule(fwk, FakeSnapshot(nodes("x", "p", "y")), make_pod("p"))
    assert result.node == "p"
    assert scorer.calls == 0


def test_a_score_error_is_a_scheduling_error() -> None:
    fwk = framework(named(FakeScore, "Broken")(101))
    with pytest.raises(SchedulingError, match=r"^plugin 'Broken' returns an invalid score 101"):
        schedule(fwk, FakeSnapshot(nodes("a", "b")), make_pod("p"))


# -- fit errors (TestFindFitAllError / TestFindFitSomeError) ---------------------------------------


def test_find_fit_all_error() -> None:
    fwk = framework(named(FakeFilter, "TrueFilter")(), MatchFilter())
    error = fit_error(fwk, FakeSnapshot(nodes("3", "2", "1")), make_pod("0"))
    diagnosis = error.diagnosis
    assert diagnosis.node_to_status.statuses == {
        NodeName(n): U(FAKE_REASON).with_plugin("MatchFilter") for n in ("1", "2", "3")
    }
    assert diagnosis.unschedulable_plugins == {"MatchFilter"}
    assert str(error) == f"0/3 nodes are available: 3 {FAKE_REASON}."


def test_find_fit_some_error() -> None:
    fwk = framework(named(FakeFilter, "TrueFilter")(), MatchFilter(), named(FakeScore, "S")(1))
    alg = algorithm()
    _, diagnosis = alg.find_nodes_that_fit(
        fwk, CycleState(), make_pod("1"), FakeSnapshot(), nodes("3", "2", "1")
    )
    assert len(diagnosis.node_to_status) == 2
    assert diagnosis.unschedulable_plugins == {"MatchFilter"}
    for name in ("2", "3"):
        assert diagnosis.node_to_status.get(NodeName(name)).reasons == (FAKE_REASON,)


def test_no_nodes_at_all() -> None:
    error = fit_error(framework(), FakeSnapshot(), make_pod("p"))
    assert error.num_all_nodes == 0
    assert error.diagnosis.pre_filter_msg == NO_NODES_AVAILABLE
    # Any node event may help, so the queue must treat this rejector as registering none.
    assert error.diagnosis.unschedulable_plugins == {NO_NODES_REJECTOR}


# -- PreFilter -----------------------------------------------------------------------------------


def test_a_pre_filter_restriction_limits_the_nodes_filtered() -> None:
    # upstream: "test prefilter plugin returning Node"
    check = named(FakeFilter, "TrueFilter")()
    fwk = framework(named(FakePreFilter, "FakePreFilter")(nodes={"node1", "node2"}), check)
    result = schedule(fwk, FakeSnapshot(nodes("node1", "node2", "node3")), make_pod("p"))
    assert result.node in {"node1", "node2"}
    assert result.evaluated == 1
    assert "node3" not in check.calls


def test_a_pre_filter_naming_only_unknown_nodes() -> None:
    # upstream: "test prefilter plugin returned an invalid node"
    fwk = framework(
        named(FakePreFilter, "FakePreFilter")(nodes={"invalid-node"}),
        named(FakeFilter, "TrueFilter")(),
    )
    error = fit_error(fwk, FakeSnapshot(nodes("1", "2")), make_pod("test-prefilter"))
    assert error.num_all_nodes == 2
    assert error.diagnosis.node_to_status.statuses == {}
    assert error.diagnosis.node_to_status.absent == UU(
        "node(s) didn't satisfy plugin(s) [FakePreFilter]"
    )
    assert (
        str(error) == "0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [FakePreFilter]."
    )


def test_a_pre_filter_that_restricts_the_nodes_is_an_unschedulable_plugin() -> None:
    fwk = framework(
        named(FakePreFilter, "FakePreFilter")(nodes={"invalid-node"}),
        named(FakeFilter, "TrueFilter")(),
    )
    error = fit_error(fwk, FakeSnapshot(nodes("1", "2")), make_pod("test-prefilter"))
    assert error.diagnosis.unschedulable_plugins == {"FakePreFilter"}


def test_filters_rejecting_restricted_nodes_are_reported_with_the_absent_ones() -> None:
    fwk = framework(
        named(FakePreFilter, "FakePreFilter")(nodes={"1", "2"}),
        named(FakeFilter, "No")(U("nope")),
    )
    error = fit_error(fwk, FakeSnapshot(nodes("1", "2", "3", "4")), make_pod("p"))
    assert str(error) == (
        "0/4 nodes are available: 2 node(s) didn't satisfy plugin(s) [FakePreFilter], 2 nope."
    )
    assert "No" in error.diagnosis.unschedulable_plugins


PRE_FILTER_REJECTIONS = [
    pytest.param(U("not now"), id="an Unschedulable PreFilter rejects every node"),
    pytest.param(UU("never"), id="an UnschedulableAndUnresolvable PreFilter rejects every node"),
]


@pytest.mark.parametrize("status", PRE_FILTER_REJECTIONS)
def test_a_pre_filter_rejection_applies_to_every_node(status: Status) -> None:
    check = named(FakeFilter, "Check")()
    fwk = framework(named(FakePreFilter, "Gate")(status), check)
    error = fit_error(fwk, FakeSnapshot(nodes("a", "b", "c")), make_pod("p"))
    assert error.diagnosis.pre_filter_msg == status.message
    assert error.diagnosis.node_to_status.absent == status.with_plugin("Gate")
    assert error.diagnosis.unschedulable_plugins == {"Gate"}
    assert str(error) == f"0/3 nodes are available: {status.message}."
    assert check.calls == []


def test_a_pre_filter_error_is_a_scheduling_error() -> None:
    fwk = framework(named(FakePreFilter, "Gate")(Status.error("broken")))
    with pytest.raises(SchedulingError) as caught:
        schedule(fwk, FakeSnapshot(nodes("a")), make_pod("p"))
    assert caught.value.status.message == "running PreFilter plugin 'Gate': broken"


# -- the nominated node ---------------------------------------------------------------------------


def test_a_nominated_node_that_fits_is_taken_without_looking_further() -> None:
    check = named(FakeFilter, "Check")()
    scorer = named(FakeScore, "Scorer")({"a": 100, "b": 0, "c": 0})
    fwk = framework(check, scorer)
    result = schedule(fwk, FakeSnapshot(nodes("a", "b", "c")), make_pod("p", nominated_node="b"))
    assert (result.node, result.evaluated, result.feasible) == ("b", 1, 1)
    assert check.calls == ["b"]
    assert scorer.calls == 0


def test_a_nominated_node_that_no_longer_fits_falls_back_to_every_node() -> None:
    check = named(FakeFilter, "Check")(per_node={"b": U("full")})
    fwk = framework(check, named(FakeScore, "Scorer")({"a": 100, "b": 0, "c": 0}))
    result = schedule(fwk, FakeSnapshot(nodes("a", "b", "c")), make_pod("p", nominated_node="b"))
    assert result.node == "a"
    assert check.calls == ["b", "a", "b", "c"]


def test_a_nominated_node_outside_the_pre_filter_result_is_skipped() -> None:
    check = named(FakeFilter, "Check")()
    fwk = framework(named(FakePreFilter, "Only")(nodes={"a"}), check)
    result = schedule(fwk, FakeSnapshot(nodes("a", "b")), make_pod("p", nominated_node="b"))
    assert result.node == "a"
    assert check.calls == ["a"]


def test_an_unknown_nominated_node_is_ignored() -> None:
    fwk = framework(named(FakeFilter, "Check")())
    result = schedule(fwk, FakeSnapshot(nodes("a")), make_pod("p", nominated_node="gone"))
    assert result.node == "a"


def test_an_error_on_the_nominated_node_is_a_scheduling_error() -> None:
    fwk = framework(named(FakeFilter, "Check")(per_node={"b": Status.error("broken")}))
    with pytest.raises(SchedulingError):
        schedule(fwk, FakeSnapshot(nodes("a", "b")), make_pod("p", nominated_node="b"))


NOMINATED_CALLS = [
    pytest.param(1000, 1, id="nominated pods have lower priority, predicate is called once"),
    pytest.param(0, 2, id="nominated pods have higher priority, predicate is called twice"),
]


@pytest.mark.parametrize(("priority", "want_calls"), NOMINATED_CALLS)
def test_find_fit_predicate_call_counts(priority: int, want_calls: int) -> None:
    nominated = make_pod("nominated", uid="nominated", priority=100)
    nominator = FakeNominator({"1": [nominated]})
    check = named(FakeFilter, "FakeFilter")()
    fwk = framework(check, nominator=nominator)
    alg = algorithm()
    alg.find_nodes_that_fit(
        fwk, CycleState(), make_pod("1", priority=priority), FakeSnapshot(), nodes("1")
    )
    assert len(check.calls) == want_calls
