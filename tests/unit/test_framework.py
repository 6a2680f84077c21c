"""The framework runtime, after upstream's framework_test.go (TestRunPreFilterPlugins,
TestFilterPlugins, TestRunScorePlugins, TestPostFilterPlugins, the PreFilter
extension tables) and types_test.go (TestFitError_Error)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.interface import Handle, Plugin
from py_scheduler.framework.registry import PluginSpec, no_args
from py_scheduler.framework.runtime import (
    Framework,
    FrameworkError,
    PluginRef,
    PluginSet,
    ProfileSpec,
)
from py_scheduler.framework.status import SUCCESS, Code, Status
from py_scheduler.framework.types import (
    NO_NODES_AVAILABLE,
    Diagnosis,
    FitError,
    NodeToStatus,
    PreFilterResult,
    fit_message,
    reason_histogram,
)
from py_scheduler.model import NodeName
from tests.builders import make_pod, node_info
from tests.fakes import FakeCluster, FakeNominator, FakeObjects, FakeSnapshot
from tests.unit.helpers_core import (
    PROFILE,
    FakeBind,
    FakeExtensions,
    FakeFilter,
    FakeNormalizedScore,
    FakePermit,
    FakePostFilter,
    FakePreFilter,
    FakePreScore,
    FakePreScoreAndScore,
    FakeScore,
    FakeSort,
    framework,
    named,
)

POD = make_pod("p")
NODES = [node_info("node1"), node_info("node2")]
INJECTED = "injected status"

U = Status.unschedulable
UU = Status.unresolvable


def tagged(status: Status, plugin: str) -> Status:
    return status.with_plugin(plugin)


# -- Status -----------------------------------------------------------------------------

STATUS_KINDS = [
    pytest.param(Code.SUCCESS, True, False, False, id="success is neither rejected nor skipped"),
    pytest.param(Code.ERROR, False, False, False, id="an error is not a rejection"),
    pytest.param(Code.UNSCHEDULABLE, False, True, False, id="unschedulable is a rejection"),
    pytest.param(Code.UNRESOLVABLE, False, True, False, id="unresolvable is a rejection"),
    pytest.param(Code.PENDING, False, True, False, id="pending is a rejection"),
    pytest.param(Code.SKIP, False, False, True, id="skip is only a skip"),
    pytest.param(Code.WAIT, False, False, False, id="wait is neither rejected nor skipped"),
]


@pytest.mark.parametrize(("code", "success", "rejected", "skip"), STATUS_KINDS)
def test_status_kinds(code: Code, success: bool, rejected: bool, skip: bool) -> None:
    status = Status(code)
    assert (status.is_success, status.is_rejected, status.is_skip) == (success, rejected, skip)


def test_status_message_joins_reasons_and_keeps_identity_when_tagged_twice() -> None:
    status = U("a", "b").with_plugin("X")
    assert status.message == "a, b"
    assert status.with_plugin("X") is status
    assert status.with_plugin("Y").plugin == "Y"


# -- FitError messages (types_test.go TestFitError_Error) ---------------------------------

FAILED_PREFILTER = "Node(s) failed PreFilter plugin FalsePreFilter"
FILTER_1 = "Node(s) failed Filter plugin FalseFilter-1"
FILTER_2 = "Node(s) failed Filter plugin FalseFilter-2"
POST_FILTER = "Error running PostFilter plugin FailedPostFilter"


def statuses(*reasons: str) -> NodeToStatus:
    return NodeToStatus({NodeName(f"node{i + 1}"): U(r) for i, r in enumerate(reasons)})


FIT_ERRORS = [
    pytest.param(
        3,
        Diagnosis(statuses(*[FAILED_PREFILTER] * 3), pre_filter_msg=FAILED_PREFILTER),
        "0/3 nodes are available: Node(s) failed PreFilter plugin FalsePreFilter.",
        id="nodes failed Prefilter plugin",
    ),
    pytest.param(
        3,
        Diagnosis(
            statuses(*[FAILED_PREFILTER] * 3),
            pre_filter_msg=FAILED_PREFILTER,
            post_filter_msg=POST_FILTER,
        ),
        "0/3 nodes are available: Node(s) failed PreFilter plugin FalsePreFilter. "
        "Error running PostFilter plugin FailedPostFilter",
        id="nodes failed Prefilter plugin and the preemption also failed",
    ),
    pytest.param(
        3,
        Diagnosis(statuses(*[FILTER_1] * 3)),
        "0/3 nodes are available: 3 Node(s) failed Filter plugin FalseFilter-1.",
        id="nodes failed one Filter plugin with an empty PostFilterMsg",
    ),
    pytest.param(
        3,
        Diagnosis(statuses(*[FILTER_1] * 3), post_filter_msg=POST_FILTER),
        "0/3 nodes are available: 3 Node(s) failed Filter plugin FalseFilter-1. "
        "Error running PostFilter plugin FailedPostFilter",
        id="nodes failed one Filter plugin with a non-empty PostFilterMsg",
    ),
    pytest.param(
        3,
        Diagnosis(statuses(FILTER_1, FILTER_1, FILTER_2)),
        "0/3 nodes are available: 1 Node(s) failed Filter plugin FalseFilter-2, "
        "2 Node(s) failed Filter plugin FalseFilter-1.",
        id="nodes failed two Filter plugins with an empty PostFilterMsg",
    ),
    pytest.param(
        3,
        Diagnosis(statuses(FILTER_1, FILTER_1, FILTER_2), post_filter_msg=POST_FILTER),
        "0/3 nodes are available: 1 Node(s) failed Filter plugin FalseFilter-2, "
        "2 Node(s) failed Filter plugin FalseFilter-1. "
        "Error running PostFilter plugin FailedPostFilter",
        id="nodes failed two Filter plugins with a non-empty PostFilterMsg",
    ),
    pytest.param(
        1,
        Diagnosis(statuses("Node failed Permit plugin Permit-1")),
        "0/1 nodes are available: 1 Node failed Permit plugin Permit-1.",
        id="failed to Permit on node",
    ),
    pytest.param(
        1,
        Diagnosis(statuses("Node failed Reserve plugin Reserve-1")),
        "0/1 nodes are available: 1 Node failed Reserve plugin Reserve-1.",
        id="failed to Reserve on node",
    ),
    pytest.param(
        12,
        Diagnosis(
            NodeToStatus(
                {NodeName("node1"): U("Insufficient cpu", "Insufficient memory")},
                absent=UU("node(s) didn't satisfy plugin(s) [FakePreFilter]"),
            )
        ),
        "0/12 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, "
        "11 node(s) didn't satisfy plugin(s) [FakePreFilter].",
        id="every reason of a node counts, and absent nodes share the absent status",
    ),
    pytest.param(
        12,
        Diagnosis(statuses(*["b"] * 10, "a", "a")),
        "0/12 nodes are available: 10 b, 2 a.",
        id="entries sort as strings, so 10 comes before 2",
    ),
    pytest.param(
        4,
        Diagnosis(statuses("x", "x")),
        "0/4 nodes are available: 2 x.",
        id="absent nodes with a reasonless absent status add nothing",
    ),
]


@pytest.mark.parametrize(("num_all", "diagnosis", "want"), FIT_ERRORS)
def test_fit_error_message(num_all: int, diagnosis: Diagnosis, want: str) -> None:
    assert fit_message(num_all, diagnosis) == want
    assert str(FitError(POD, num_all, diagnosis)) == want


def test_reason_histogram_counts_listed_and_absent_nodes() -> None:
    to_status = NodeToStatus({NodeName("a"): U("x", "y"), NodeName("b"): U("x")}, absent=UU("z"))
    assert reason_histogram(5, to_status) == {"x": 2, "y": 1, "z": 3}


def test_the_no_nodes_reason_is_kube_schedulers() -> None:
    assert NO_NODES_AVAILABLE == "no nodes available to schedule pods"


# -- PreFilterResult.merge ------------------------------------------------------------------

ALL = PreFilterResult()

MERGES = [
    pytest.param(ALL, None, None, id="all nodes merged with nothing is all nodes"),
    pytest.param(ALL, ALL, None, id="all nodes merged with all nodes is all nodes"),
    pytest.param(
        ALL, PreFilterResult(frozenset({"a"})), frozenset({"a"}), id="all nodes yield to a set"
    ),
    pytest.param(
        PreFilterResult(frozenset({"a", "b"})),
        ALL,
        frozenset({"a", "b"}),
        id="a set is kept when merged with all nodes",
    ),
    pytest.param(
        PreFilterResult(frozenset({"a", "b"})),
        PreFilterResult(frozenset({"b", "c"})),
        frozenset({"b"}),
        id="two sets intersect",
    ),
    pytest.param(
        PreFilterResult(frozenset({"a"})),
        PreFilterResult(frozenset({"b"})),
        frozenset(),
        id="disjoint sets leave no node",
    ),
]


@pytest.mark.parametrize(("left", "right", "want"), MERGES)
def test_pre_filter_result_merge(
    left: PreFilterResult, right: PreFilterResult | None, want: frozenset[str] | None
) -> None:
    assert left.merge(right).node_names == want


# -- RunPreFilterPlugins ----------------------------------------------------------------------

SKIP = Status.skip()
ERROR = Status.error(INJECTED)

PRE_FILTERS = [
    pytest.param(
        [("success1", SUCCESS, None), ("success2", SUCCESS, None)],
        None,
        frozenset(),
        Code.SUCCESS,
        id="all PreFilter returned success",
    ),
    pytest.param(
        [("success", SUCCESS, None), ("error", ERROR, None)],
        None,
        frozenset(),
        Code.ERROR,
        id="one PreFilter plugin returned success, but another PreFilter plugin returned "
        "non-success",
    ),
    pytest.param(
        [("skip1", SKIP, None), ("skip2", SKIP, None), ("skip3", SKIP, None)],
        None,
        frozenset({"skip1", "skip2", "skip3"}),
        Code.SUCCESS,
        id="all PreFilter plugins returned skip",
    ),
    pytest.param(
        [("skip1", SKIP, None), ("success1", SUCCESS, None), ("skip2", SKIP, None)],
        None,
        frozenset({"skip1", "skip2"}),
        Code.SUCCESS,
        id="some PreFilter plugins returned skip",
    ),
    pytest.param(
        [("unschedulable", U(INJECTED), None), ("skip", SKIP, None)],
        None,
        frozenset({"skip"}),
        Code.UNSCHEDULABLE,
        id="one PreFilter plugin returned Unschedulable, but another PreFilter plugin should "
        "be executed",
    ),
    pytest.param(
        [("unresolvable", UU(INJECTED), None), ("skip", SKIP, None)],
        None,
        frozenset(),
        Code.UNRESOLVABLE,
        id="one PreFilter plugin returned UnschedulableAndUnresolvable, and all other plugins "
        "aren't executed",
    ),
    pytest.param(
        [("reject-all-nodes", SUCCESS, ()), ("skip", SKIP, None)],
        frozenset(),
        frozenset(),
        Code.UNRESOLVABLE,
        id="all nodes are filtered out by prefilter result, but other plugins aren't executed "
        "because we consider all nodes are filtered out by UnschedulableAndUnresolvable",
    ),
    pytest.param(
        [("a", SUCCESS, ("node1", "node2")), ("b", SUCCESS, ("node2", "node3"))],
        frozenset({"node2"}),
        frozenset(),
        Code.SUCCESS,
        id="node names of several PreFilter plugins intersect",
    ),
]


def pre_filters(table: Sequence[tuple[str, Status, Sequence[str] | None]]) -> list[FakePreFilter]:
    return [named(FakePreFilter, name)(status, nodes=nodes) for name, status, nodes in table]


@pytest.mark.parametrize(("table", "want_nodes", "want_skipped", "want_code"), PRE_FILTERS)
def test_run_pre_filter(
    table: Sequence[tuple[str, Status, Sequence[str] | None]],
    want_nodes: frozenset[str] | None,
    want_skipped: frozenset[str],
    want_code: Code,
) -> None:
    plugins = pre_filters(table)
    state = CycleState()
    result, status, _ = framework(*plugins).run_pre_filter(state, POD, NODES)
    assert (result.node_names if result else None) == want_nodes
    assert status.code is want_code
    assert state.skip_filter == want_skipped
    # upstream's "skip" plugin proves by its skip whether the loop reached it
    if table[-1][0] == "skip" and want_code is not Code.UNSCHEDULABLE:
        assert plugins[-1].calls == 0


PRE_FILTER_STATUSES = [
    pytest.param(
        [("error", ERROR, None)],
        tagged(Status.error("running PreFilter plugin 'error': injected status"), "error"),
        set[str](),
        id="an Error status is wrapped with the plugin name",
    ),
    pytest.param(
        [("unresolvable", UU(INJECTED), None), ("later", U("x"), None)],
        tagged(UU(INJECTED), "unresolvable"),
        {"unresolvable"},
        id="an unresolvable rejection stops at once and names its plugin",
    ),
    pytest.param(
        [("first", U("one"), None), ("second", U("two"), None)],
        tagged(U("two"), "second"),
        {"first", "second"},
        id="unschedulable rejections keep running; every rejector is reported",
    ),
    pytest.param(
        [("reject-all-nodes", SUCCESS, ())],
        UU("node(s) didn't satisfy plugin reject-all-nodes"),
        {"reject-all-nodes"},
        id="one plugin that leaves no node is named alone",
    ),
    pytest.param(
        [("a", SUCCESS, ("node1",)), ("b", SUCCESS, ("node2",))],
        UU("node(s) didn't satisfy plugin(s) [a b] simultaneously"),
        {"a", "b"},
        id="plugins whose node sets do not intersect are named together",
    ),
]


@pytest.mark.parametrize(("table", "want", "want_rejectors"), PRE_FILTER_STATUSES)
def test_run_pre_filter_statuses(
    table: Sequence[tuple[str, Status, Sequence[str] | None]],
    want: Status,
    want_rejectors: set[str],
) -> None:
    _, status, rejectors = framework(*pre_filters(table)).run_pre_filter(CycleState(), POD, NODES)
    assert status == want
    assert rejectors == want_rejectors


def test_a_raising_pre_filter_becomes_an_error_status() -> None:
    plugin = named(FakePreFilter, "boom")(raises=ValueError("kaboom"))
    _, status, rejectors = framework(plugin).run_pre_filter(CycleState(), POD, NODES)
    # The crash report is wrapped like any other PreFilter error.
    want = "running PreFilter plugin 'boom': PreFilter plugin 'boom' raised ValueError('kaboom')"
    assert status == tagged(Status.error(want), "boom")
    assert rejectors == set()


def test_plugins_that_left_no_node_are_the_rejectors() -> None:
    fwk = framework(*pre_filters([("a", SUCCESS, ("node1",)), ("b", SUCCESS, ("node2",))]))
    _, _, rejectors = fwk.run_pre_filter(CycleState(), POD, NODES)
    assert rejectors == {"a", "b"}


def test_plugins_that_restrict_nodes_are_reported_on_success() -> None:
    fwk = framework(*pre_filters([("a", SUCCESS, ("node1",)), ("free", SUCCESS, None)]))
    _, status, rejectors = fwk.run_pre_filter(CycleState(), POD, NODES)
    assert status.is_success
    assert rejectors == {"a"}


def test_plugins_that_left_no_node_are_named_in_sorted_order() -> None:
    fwk = framework(*pre_filters([("b", SUCCESS, ("node1",)), ("a", SUCCESS, ("node2",))]))
    _, status, _ = fwk.run_pre_filter(CycleState(), POD, NODES)
    assert status.message == "node(s) didn't satisfy plugin(s) [a b] simultaneously"


# -- PreFilter extensions ---------------------------------------------------------------------

EXTENSIONS = [
    pytest.param(
        [SUCCESS, SUCCESS], frozenset(), Code.SUCCESS,
        id="no plugins are skipped and all extensions returned success",
    ),
    pytest.param(
        [SUCCESS, ERROR], frozenset(), Code.ERROR, id="one extension returned error"
    ),
    pytest.param(
        [SUCCESS, ERROR], frozenset({"skipped"}), Code.SUCCESS, id="one extension is skipped"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("results", "skipped", "want"), EXTENSIONS)
@pytest.mark.parametrize(
    "op", ["add", "remove"], ids=["when a pod is added", "when a pod is removed"]
)
def test_run_pre_filter_extensions(
    results: list[Status], skipped: frozenset[str], want: Code, op: str
) -> None:
    plugins = [
        named(FakePreFilter, name)(extensions=FakeExtensions(add=result, remove=result))
        for name, result in zip(["success1", "skipped"], results, strict=True)
    ]
    fwk = framework(*plugins)
    state = CycleState()
    state.skip_filter = skipped
    other = make_pod("other")
    if op == "add":
        status = fwk.run_pre_filter_add_pod(state, POD, other, NODES[0])
    else:
        status = fwk.run_pre_filter_remove_pod(state, POD, other, NODES[0])
    assert status.code is want
    if want is Code.ERROR:
        verb = "AddPod" if op == "add" else "RemovePod"
        assert status == tagged(
            Status.error(f"running {verb} on PreFilter plugin 'skipped': injected status"),
            "skipped",
        )


# -- RunFilterPlugins (TestFilterPlugins) -----------------------------------------------------


def filter_error(plugin: str) -> Status:
    return tagged(Status.error(f"running '{plugin}' filter plugin: {INJECTED}"), plugin)


FILTERS = [
    pytest.param(
        [("TestPlugin", SUCCESS)], frozenset(), SUCCESS, id="a successful filter admits the node"
    ),
    pytest.param(
        [("TestPlugin", ERROR)], frozenset(), filter_error("TestPlugin"),
        id="an Error filter status is wrapped with the plugin name",
    ),
    pytest.param(
        [("TestPlugin", U(INJECTED))], frozenset(), tagged(U(INJECTED), "TestPlugin"),
        id="an Unschedulable filter rejects the node",
    ),
    pytest.param(
        [("TestPlugin", UU(INJECTED))], frozenset(), tagged(UU(INJECTED), "TestPlugin"),
        id="an UnschedulableAndUnresolvable filter rejects the node",
    ),
    pytest.param(
        [("TestPlugin1", ERROR), ("TestPlugin2", ERROR)], frozenset(),
        filter_error("TestPlugin1"), id="of two erroring filters the first is reported",
    ),
    pytest.param(
        [("TestPlugin1", U(INJECTED)), ("TestPlugin2", U(INJECTED))], frozenset(),
        tagged(U(INJECTED), "TestPlugin1"), id="of two rejecting filters the first decides",
    ),
    pytest.param(
        [("TestPlugin1", UU(INJECTED)), ("TestPlugin2", U(INJECTED))], frozenset(),
        tagged(UU(INJECTED), "TestPlugin1"),
        id="an unresolvable first filter decides over an unschedulable second",
    ),
    pytest.param(
        [("TestPlugin1", SUCCESS), ("TestPlugin2", SUCCESS)], frozenset(), SUCCESS,
        id="two successful filters admit the node",
    ),
    pytest.param(
        [("TestPlugin1", SUCCESS), ("TestPlugin2", ERROR)], frozenset({"TestPlugin2"}), SUCCESS,
        id="a filter skipped in PreFilter is not run",
    ),
    pytest.param(
        [("TestPlugin1", ERROR), ("TestPlugin2", SUCCESS)], frozenset(),
        filter_error("TestPlugin1"), id="an error in the first filter stops the second",
    ),
    pytest.param(
        [("TestPlugin1", SUCCESS), ("TestPlugin2", ERROR)], frozenset(),
        filter_error("TestPlugin2"), id="an error in the second filter is reported",
    ),
    pytest.param(
        [("TestPlugin1", SUCCESS), ("TestPlugin2", U(INJECTED))], frozenset(),
        tagged(U(INJECTED), "TestPlugin2"), id="a rejection by the second filter is reported",
    ),
    pytest.param(
        [("TestPlugin1", Status.pending(INJECTED))], frozenset(),
        tagged(Status.pending(INJECTED), "TestPlugin1"), id="a Pending filter is a rejection",
    ),
    pytest.param(
        [("TestPlugin1", Status.wait())], frozenset(),
        tagged(Status.error("running 'TestPlugin1' filter plugin: "), "TestPlugin1"),
        id="a filter that returns Wait is an error",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("table", "skipped", "want"), FILTERS)
def test_run_filters(
    table: Sequence[tuple[str, Status]], skipped: frozenset[str], want: Status
) -> None:
    plugins = [named(FakeFilter, name)(status) for name, status in table]
    state = CycleState()
    state.skip_filter = skipped
    assert framework(*plugins).run_filters(state, POD, NODES[0]) == want


def test_filters_stop_at_the_first_rejection() -> None:
    first = named(FakeFilter, "First")(U("no"))
    second = named(FakeFilter, "Second")()
    assert framework(first, second).run_filters(CycleState(), POD, NODES[0]).plugin == "First"
    assert (first.calls, second.calls) == (["node1"], [])


def test_a_raising_filter_becomes_an_error_status_and_stops() -> None:
    boom = named(FakeFilter, "Boom")(raises=KeyError("k"))
    after = named(FakeFilter, "After")()
    status = framework(boom, after).run_filters(CycleState(), POD, NODES[0])
    assert status == tagged(Status.error("Filter plugin 'Boom' raised KeyError('k')"), "Boom")
    assert after.calls == []


# -- RunScorePlugins (TestRunScorePlugins) -----------------------------------------------------

SCORE_1 = "score-plugin-1"
NORMALIZE_1 = "score-with-normalize-plugin-1"
NORMALIZE_2 = "score-with-normalize-plugin-2"
WEIGHTS = {SCORE_1: 1, NORMALIZE_1: 1, NORMALIZE_2: 2}


def score(scores: int, name: str = SCORE_1) -> FakeScore:
    return named(FakeScore, name)(scores)


def normalized(scores: int, to: int, name: str = NORMALIZE_1) -> FakeNormalizedScore:
    return named(FakeNormalizedScore, name)(scores, normalized=to)


SCORES = [
    pytest.param([], frozenset(), [0, 0], id="without Score plugins every total is zero"),
    pytest.param([score(1)], frozenset(), [1, 1], id="a single Score plugin scores every node"),
    pytest.param(
        [normalized(10, 5)],
        frozenset(),
        [5, 5],
        id="a single normalizing Score plugin reports the normalized score",
    ),
    pytest.param(
        [score(1), normalized(3, 4), normalized(4, 5, NORMALIZE_2)],
        frozenset(),
        [15, 15],
        id="three Score plugins, two normalizing, add up by weight",
    ),
    pytest.param(
        [score(1), named(FakeScore, NORMALIZE_1)(0, raises=True)],
        frozenset({NORMALIZE_1}),
        [1, 1],
        id="a plugin skipped in PreScore adds nothing",
    ),
    pytest.param(
        [named(FakeScore, SCORE_1)(0, raises=True)],
        frozenset({SCORE_1}),
        [0, 0],
        id="with every plugin skipped in PreScore every total is zero",
    ),
    pytest.param(
        [score(1)],
        frozenset({SCORE_1, "score-plugin-unknown"}),
        [0, 0],
        id="skipping plugins that do not score is harmless",
    ),
    pytest.param(
        [named(FakeScore, SCORE_1)({"node1": 10, "node2": 30}), normalized(0, 50, NORMALIZE_2)],
        frozenset(),
        [110, 130],
        id="totals are per node and weighted",
    ),
]


@pytest.mark.parametrize(("plugins", "skipped", "want"), SCORES)
def test_run_score(plugins: list[FakeScore], skipped: frozenset[str], want: list[int]) -> None:
    state = CycleState()
    state.skip_score = skipped
    totals, status = framework(*plugins, weights=WEIGHTS).run_score(state, POD, NODES)
    assert status == SUCCESS
    assert totals == want


def invalid_score(plugin: str, value: int) -> Status:
    return tagged(
        Status.error(
            f"plugin '{plugin}' returns an invalid score {value}, it should in the range of "
            "[0, 100] after normalizing"
        ),
        plugin,
    )


SCORE_ERRORS = [
    pytest.param(
        [score(1), named(FakeScore, NORMALIZE_1)(0, raises=True)],
        tagged(
            Status.error(
                f"Score plugin '{NORMALIZE_1}' raised RuntimeError('injected score failure')"
            ),
            NORMALIZE_1,
        ),
        id="a Score plugin that raises is an error",
    ),
    pytest.param(
        [score(1), named(FakeNormalizedScore, NORMALIZE_1)(0, normalized=0, fail=True)],
        tagged(
            Status.error(
                f"Score plugin '{NORMALIZE_1}' raised RuntimeError('injected normalize failure')"
            ),
            NORMALIZE_1,
        ),
        id="a NormalizeScore that raises is an error",
    ),
    pytest.param(
        [score(101)], invalid_score(SCORE_1, 101),
        id="a score above MaxNodeScore is an error",
    ),
    pytest.param(
        [score(-1)], invalid_score(SCORE_1, -1),
        id="a score below MinNodeScore is an error",
    ),
    pytest.param(
        [normalized(0, 101)], invalid_score(NORMALIZE_1, 101),
        id="a normalized score above MaxNodeScore is an error",
    ),
    pytest.param(
        [normalized(0, -1)], invalid_score(NORMALIZE_1, -1),
        id="a normalized score below MinNodeScore is an error",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("plugins", "want"), SCORE_ERRORS)
def test_run_score_errors(plugins: list[FakeScore], want: Status) -> None:
    _, status = framework(*plugins, weights=WEIGHTS).run_score(CycleState(), POD, NODES)
    assert status == want


def test_a_raw_score_above_the_range_is_fine_once_normalized() -> None:
    # A raw score may exceed 100 when NormalizeScore brings it back into range.
    plugin = named(FakeNormalizedScore, NORMALIZE_1)(1000, normalized=100)
    totals, status = framework(plugin).run_score(CycleState(), POD, NODES)
    assert (totals, status) == ([100, 100], SUCCESS)


def test_a_score_plugin_without_weight_counts_once() -> None:
    fwk = framework(score(7), weights={SCORE_1: 0})
    assert fwk.weights == {SCORE_1: 1}
    assert fwk.run_score(CycleState(), POD, NODES)[0] == [7, 7]


def test_a_specific_extension_point_overrides_the_multi_point_weight() -> None:
    # upstream: "single Score plugin with MultiPointExpansion"
    fwk = framework(score(1), points={"score": PluginSet((PluginRef(SCORE_1, 3),))})
    assert fwk.run_score(CycleState(), POD, NODES)[0] == [3, 3]


def test_a_plugin_that_skips_pre_score_is_not_scored() -> None:
    skipper = named(FakePreScoreAndScore, "skipper")(50)
    fwk = framework(skipper, score(1))
    state = CycleState()
    assert fwk.run_pre_score(state, POD, NODES) == SUCCESS
    assert state.skip_score == frozenset({"skipper"})
    assert fwk.run_score(state, POD, NODES) == ([1, 1], SUCCESS)
    assert skipper.calls == 0


def test_a_failing_pre_score_is_an_error() -> None:
    fwk = framework(named(FakePreScore, "ps")(U("nope")))
    assert fwk.run_pre_score(CycleState(), POD, NODES) == tagged(
        Status.error('running PreScore plugin "ps": nope'), "ps"
    )


# -- RunPostFilterPlugins (TestPostFilterPlugins) -------------------------------------------------

POST_FILTERS = [
    pytest.param(
        [("TestPlugin", SUCCESS)], tagged(SUCCESS, "TestPlugin"),
        id="a single plugin makes a Pod schedulable",
    ),
    pytest.param(
        [("TestPlugin1", U(INJECTED)), ("TestPlugin2", SUCCESS)], tagged(SUCCESS, "TestPlugin2"),
        id="plugin1 failed to make a Pod schedulable, followed by plugin2 which makes the Pod "
        "schedulable",
    ),
    pytest.param(
        [("TestPlugin1", SUCCESS), ("TestPlugin2", U(INJECTED))], tagged(SUCCESS, "TestPlugin1"),
        id="plugin1 makes a Pod schedulable, followed by plugin2 which cannot make the Pod "
        "schedulable",
    ),
    pytest.param(
        [("TestPlugin1", U(INJECTED)), ("TestPlugin2", U(INJECTED))],
        tagged(U(INJECTED, INJECTED), "TestPlugin1"),
        id="plugin1 and plugin2 both failed to make a Pod schedulable",
    ),
    pytest.param(
        [("TestPlugin1", U(INJECTED)), ("TestPlugin2", UU(INJECTED))],
        tagged(UU(INJECTED), "TestPlugin2"),
        id="plugin1 failed to make a Pod schedulable, followed by plugin2 which makes the Pod "
        "unresolvable",
    ),
    pytest.param(
        [("TestPlugin1", ERROR), ("TestPlugin2", SUCCESS)],
        tagged(Status.error(INJECTED), "TestPlugin1"),
        id="plugin1 returns an error, so plugin2 never runs",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("table", "want"), POST_FILTERS)
def test_run_post_filter(table: Sequence[tuple[str, Status]], want: Status) -> None:
    plugins = [named(FakePostFilter, name)(status) for name, status in table]
    _, status = framework(*plugins).run_post_filter(CycleState(), POD, NodeToStatus())
    assert status == want


def test_post_filter_keeps_the_nomination_of_a_rejecting_plugin() -> None:
    plugin = named(FakePostFilter, "Preempt")(U("not enough"), nominated="node2")
    result, status = framework(plugin).run_post_filter(CycleState(), POD, NodeToStatus())
    assert result is not None
    assert result.nominated_node == "node2"
    assert status.code is Code.UNSCHEDULABLE


# -- Permit and Bind ------------------------------------------------------------------------------


WAITING = "one or more plugins asked to wait and no plugin rejected pod"

# upstream's TestPermitPlugins.
PERMITS = [
    pytest.param([], SUCCESS, {}, id="no permit plugin"),
    pytest.param([("A", SUCCESS, 0.0)], SUCCESS, {}, id="success"),
    pytest.param([("A", U(INJECTED), 0.0)], tagged(U(INJECTED), "A"), {}, id="unschedulable"),
    pytest.param([("A", UU(INJECTED), 0.0)], tagged(UU(INJECTED), "A"), {}, id="unresolvable"),
    pytest.param(
        [("A", Status.error(INJECTED), 0.0)],
        tagged(Status.error(f"running Permit plugin 'A': {INJECTED}"), "A"),
        {},
        id="error",
    ),
    pytest.param(
        [("A", Status(Code.WAIT, (INJECTED,)), 0.0), ("B", Status(Code.WAIT, (INJECTED,)), 1.0)],
        Status(Code.WAIT, (INJECTED, WAITING)),
        {"A": 0.0, "B": 1.0},
        id="every waiting plugin keeps its own timeout",
    ),
    pytest.param(
        [("A", Status.wait(), 10.0), ("B", Status.wait(), 3600.0)],
        Status(Code.WAIT, (WAITING,)),
        {"A": 10.0, "B": 900.0},
        id="a timeout over fifteen minutes is cut to fifteen",
    ),
    pytest.param([("A", SUCCESS, 0.0), ("B", SUCCESS, 0.0)], SUCCESS, {}, id="success and success"),
    pytest.param(
        [("A", Status.error(INJECTED), 0.0), ("B", Status.error(INJECTED), 0.0)],
        tagged(Status.error(f"running Permit plugin 'A': {INJECTED}"), "A"),
        {},
        id="the first error stops the others",
    ),
    pytest.param(
        [("A", Status.wait(), 10.0), ("B", U("denied"), 0.0)],
        tagged(U("denied"), "B"),
        {},
        id="a rejection wins over waiting",
    ),
    pytest.param(
        [("A", Status.skip(), 0.0)],
        tagged(Status.error("running Permit plugin 'A': unexpected status Skip"), "A"),
        {},
        id="skip is no answer at Permit",
    ),
]


@pytest.mark.parametrize(("plugins", "want", "waits"), PERMITS)
def test_run_permit(
    plugins: list[tuple[str, Status, float]], want: Status, waits: dict[str, float]
) -> None:
    fwk = framework(*(named(FakePermit, n)(status, t) for n, status, t in plugins))
    assert fwk.run_permit(CycleState(), POD, NodeName("node1")) == (want, waits)


class _WrongPermit:
    name = "Wrong"

    def permit(self, state: CycleState, pod: object, node: NodeName) -> object:
        return SUCCESS  # not a (Status, timeout) pair


def test_a_permit_plugin_returning_a_wrong_type_is_an_error_naming_it() -> None:
    fwk = framework(_WrongPermit())
    status, waits = fwk.run_permit(CycleState(), POD, NodeName("node1"))
    assert (status.code, status.plugin, waits) == (Code.ERROR, "Wrong", {})
    assert status.message.startswith("Permit plugin 'Wrong' raised")


async def test_bind_skips_to_the_next_binder_and_tags_the_status() -> None:
    skipper = named(FakeBind, "Skipper")(Status.skip())
    binder = named(FakeBind, "Binder")()
    status = await framework(skipper, binder).run_bind(CycleState(), POD, NodeName("node1"))
    assert status == tagged(SUCCESS, "Binder")
    assert (skipper.bound, binder.bound) == (["node1"], ["node1"])


async def test_bind_with_every_binder_skipping_is_skip() -> None:
    fwk = framework(named(FakeBind, "Skipper")(Status.skip()))
    assert await fwk.run_bind(CycleState(), POD, NodeName("node1")) == Status.skip()


async def test_a_raising_binder_is_an_error_status() -> None:
    fwk = framework(named(FakeBind, "Binder")(raises=OSError("down")))
    assert await fwk.run_bind(CycleState(), POD, NodeName("node1")) == tagged(
        Status.error("Bind plugin 'Binder' raised OSError('down')"), "Binder"
    )


# -- multiPoint resolution --------------------------------------------------------------------


class FilterAndScore(FakeFilter):
    name = "FilterAndScore"

    def score(self, state: CycleState, pod: object, node: object) -> int:
        return 10


def names(plugins: Sequence[object]) -> list[str]:
    return [getattr(p, "name", "") for p in plugins]


def multi_point_framework(**points: PluginSet) -> Framework:
    return framework(
        named(FakeFilter, "F1")(),
        FilterAndScore(),
        named(FakeScore, "S1")(1),
        named(FakeFilter, "Extra")(),
        multi_point=["F1", "FilterAndScore", "S1"],
        points=points,
    )


MULTI_POINT = [
    pytest.param(
        {}, ["F1", "FilterAndScore"], ["FilterAndScore", "S1"],
        id="a multiPoint plugin serves every extension point it implements",
    ),
    pytest.param(
        {"score": PluginSet(disabled=frozenset({"FilterAndScore"}))},
        ["F1", "FilterAndScore"], ["S1"],
        id="a plugin disabled at one point still serves the others",
    ),
    pytest.param(
        {"filter": PluginSet(disabled=frozenset({"*"}))}, [], ["FilterAndScore", "S1"],
        id="disabling all at a point drops every multiPoint plugin there",
    ),
    pytest.param(
        {"filter": PluginSet((PluginRef("Extra"),), frozenset({"*"}))},
        ["Extra"], ["FilterAndScore", "S1"],
        id="a point with all disabled keeps only its own plugins",
    ),
    pytest.param(
        {"filter": PluginSet((PluginRef("Extra"),))},
        ["F1", "FilterAndScore", "Extra"], ["FilterAndScore", "S1"],
        id="a plugin enabled at a point is appended after the multiPoint ones",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("points", "want_filter", "want_score"), MULTI_POINT)
def test_multi_point_resolution(
    points: dict[str, PluginSet], want_filter: list[str], want_score: list[str]
) -> None:
    fwk = multi_point_framework(**points)
    assert names(fwk.filter) == want_filter
    assert names(fwk.score) == want_score


def test_a_plugin_re_enabled_at_a_point_runs_before_the_multi_point_plugins() -> None:
    fwk = multi_point_framework(filter=PluginSet((PluginRef("FilterAndScore"),)))
    assert names(fwk.filter) == ["FilterAndScore", "F1"]


FRAMEWORK_ERRORS = [
    pytest.param(
        {"multi_point": ["Nope"]},
        "profile 'test-profile': unknown plugin 'Nope'",
        id="an unknown plugin is refused",
    ),
    pytest.param(
        {"points": {"score": PluginSet((PluginRef("F1"),))}},
        "profile 'test-profile': plugin 'F1' does not extend score",
        id="a plugin enabled at a point it does not implement is refused",
    ),
    pytest.param(
        {"points": {"queueSort": PluginSet(disabled=frozenset({"*"}))}},
        "profile 'test-profile': exactly one queueSort plugin is required, got 0",
        id="a profile without a queue sort is refused",
    ),
    pytest.param(
        {"points": {"queueSort": PluginSet((PluginRef("Sort2"),))}},
        "profile 'test-profile': exactly one queueSort plugin is required, got 2",
        id="a profile with two queue sorts is refused",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), FRAMEWORK_ERRORS)
def test_framework_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FrameworkError) as caught:
        framework(
            named(FakeFilter, "F1")(),
            named(FakeSort, "Sort2")(),
            **kwargs,  # type: ignore[arg-type]
        )
    assert str(caught.value) == message


def test_a_plugin_whose_factory_raises_stops_the_profile_naming_it() -> None:
    def broken(args: object, handle: Handle) -> Plugin:
        raise RuntimeError("no licence key")

    registry = {"FakeSort": PluginSpec("FakeSort", no_args, lambda a, h: FakeSort())}
    registry["Broken"] = PluginSpec("Broken", no_args, broken)
    spec = ProfileSpec(PROFILE, multi_point=(PluginRef("FakeSort"), PluginRef("Broken")))
    with pytest.raises(FrameworkError) as caught:
        Framework(
            spec,
            registry,
            snapshot=FakeSnapshot(),
            objects=FakeObjects(),
            cluster=FakeCluster(),
            nominator=FakeNominator(),
        )
    assert str(caught.value) == (
        "profile 'test-profile': plugin 'Broken' failed to build: RuntimeError: no licence key"
    )


def test_a_factory_returning_a_plugin_of_another_name_is_refused() -> None:
    registry = {
        "FakeSort": PluginSpec("FakeSort", no_args, lambda a, h: FakeSort()),
        "Alias": PluginSpec("Alias", no_args, lambda a, h: named(FakeFilter, "F1")()),
    }
    spec = ProfileSpec(PROFILE, multi_point=(PluginRef("FakeSort"), PluginRef("Alias")))
    with pytest.raises(FrameworkError, match="plugin 'Alias': its factory returned F1 named 'F1'"):
        Framework(
            spec,
            registry,
            snapshot=FakeSnapshot(),
            objects=FakeObjects(),
            cluster=FakeCluster(),
            nominator=FakeNominator(),
        )


def test_events_to_register_is_none_for_plugins_without_enqueue_extensions() -> None:
    events = framework(named(FakeFilter, "F1")()).events_to_register()
    assert events == {"FakeSort": None, "F1": None}


def test_the_queue_order_comes_from_the_queue_sort_plugin() -> None:
    fwk = framework()
    assert isinstance(fwk.queue_sort, FakeSort)
