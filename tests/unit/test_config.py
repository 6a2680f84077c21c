"""KubeSchedulerConfiguration loading, after upstream's apis/config/v1
default_plugins_test.go (TestMergePlugins), defaults_test.go and
validation_test.go."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from py_scheduler import config, plugins
from py_scheduler.config import ConfigError, LeaderElection, parse
from py_scheduler.framework.cycle_state import CycleState
from py_scheduler.framework.runtime import Framework, FrameworkError, PluginRef, PluginSet
from py_scheduler.framework.status import SUCCESS
from py_scheduler.model.server import NEWEST, ServerVersion, offline
from py_scheduler.plugins.noderesources.fit import NodeResourcesFitArgs
from tests.builders import make_pod, node_info
from tests.fakes import FakeCluster, FakeNominator, FakeObjects, FakeSnapshot
from tests.unit.helpers_core import default_framework

HEADER: dict[str, Any] = {"apiVersion": config.API_VERSION, "kind": config.KIND}
DEFAULT_NAMES = [ref.name for ref in plugins.DEFAULT_MULTI_POINT]


def with_header(**fields: Any) -> dict[str, Any]:
    return {**HEADER, **fields}


def one_profile(**profile: Any) -> dict[str, Any]:
    return with_header(profiles=[profile])


def multi_point(**plugin_set: Any) -> dict[str, Any]:
    return one_profile(plugins={"multiPoint": plugin_set})


def refs(*items: str | tuple[str, int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        name, weight = (item, None) if isinstance(item, str) else item
        out.append({"name": name} if weight is None else {"name": name, "weight": weight})
    return out


# -- defaults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [{}, None, HEADER],
    ids=[
        "an empty object gives the defaults",
        "null gives the defaults",
        "a bare header gives the defaults",
    ],
)
def test_defaults(raw: Mapping[str, Any] | None) -> None:
    cfg = parse(raw)
    (profile,) = cfg.profiles
    assert profile.scheduler_name == "py-scheduler"
    assert profile.multi_point == plugins.DEFAULT_MULTI_POINT
    assert profile.percentage_of_nodes_to_score is None
    assert all(plugin_set == PluginSet() for plugin_set in profile.points.values())
    assert set(profile.args) == set(DEFAULT_NAMES)
    assert profile.args["NodeResourcesFit"] == NodeResourcesFitArgs()
    assert (
        cfg.percentage_of_nodes_to_score,
        cfg.pod_initial_backoff,
        cfg.pod_max_backoff,
        cfg.parallelism,
    ) == (0, 1.0, 10.0, 16)
    assert cfg.leader_election == LeaderElection(
        leader_elect=True,
        lease_duration=15.0,
        renew_deadline=10.0,
        retry_period=2.0,
        resource_name="py-scheduler",
        resource_namespace="",
    )
    assert (cfg.client_connection.qps, cfg.client_connection.burst) == (50.0, 100)
    assert cfg.scheduler_names == frozenset({"py-scheduler"})
    assert cfg.profile("py-scheduler") is profile
    assert cfg.profile("default-scheduler") is None


def test_default_weights_are_kube_schedulers() -> None:
    weights = {ref.name: ref.weight for ref in plugins.DEFAULT_MULTI_POINT if ref.weight}
    assert weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "DynamicResources": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }


def test_the_default_profile_builds_every_extension_point() -> None:
    fwk = default_framework(FakeSnapshot())
    names = {point: [p.name for p in plugins_at] for point, plugins_at in fwk.refs.items()}
    assert [p.name for p in fwk.filter] == [
        "NodeName",
        "NodeUnschedulable",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeRestrictions",
        "NodeVolumeLimits",
        "VolumeBinding",
        "VolumeZone",
        "PodTopologySpread",
        "InterPodAffinity",
        "DynamicResources",
        "NodeDeclaredFeatures",
    ]
    assert fwk.weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "DynamicResources": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
        # A score plugin without a weight in multiPoint weighs 1 (its score: 1.37+).
        "VolumeBinding": 1,
    }
    assert names["queueSort"] == ["GangSort"]
    assert names["preEnqueue"] == ["SchedulingGates", "DynamicResources", "GangScheduling"]
    assert names["postFilter"] == ["DynamicResources", "GangScheduling", "DefaultPreemption"]
    assert names["bind"] == ["DefaultBinder"]
    assert names["reserve"] == ["VolumeBinding", "DynamicResources", "GangScheduling"]
    assert names["permit"] == ["GangScheduling"]
    # The gang's barrier comes after every other PreBind.
    assert names["preBind"] == ["VolumeBinding", "DynamicResources", "GangScheduling"]


@pytest.mark.parametrize(
    "plugins",
    [
        pytest.param({"queueSort": {"enabled": [{"name": "PrioritySort"}]}}, id="at queueSort"),
        pytest.param({"multiPoint": {"enabled": [{"name": "PrioritySort"}]}}, id="in multiPoint"),
    ],
)
def test_a_queue_sort_the_configuration_enables_takes_gang_sorts_place(
    plugins: dict[str, object],
) -> None:
    cfg = parse(with_header(profiles=[{"plugins": plugins}]))
    names = [ref.name for ref in cfg.profiles[0].multi_point]
    assert "GangSort" not in names
    assert "GangScheduling" in names
    fwk = Framework(
        cfg.profiles[0],
        cfg.registry,
        snapshot=FakeSnapshot(),
        objects=FakeObjects(),
        cluster=FakeCluster(),
        nominator=FakeNominator(),
    )
    assert fwk.queue_sort.name == "PrioritySort"


def test_several_profiles_with_their_own_names_and_percentages() -> None:
    cfg = parse(
        with_header(
            percentageOfNodesToScore=30,
            profiles=[
                {"schedulerName": "a"},
                {"schedulerName": "b", "percentageOfNodesToScore": 70},
            ],
        )
    )
    assert [(p.scheduler_name, p.percentage_of_nodes_to_score) for p in cfg.profiles] == [
        ("a", None),
        ("b", 70),
    ]
    assert cfg.percentage_of_nodes_to_score == 30


DURATIONS = [
    pytest.param("1500ms", 1.5, id="milliseconds are thousandths of a second"),
    pytest.param("30s", 30.0, id="seconds are taken as they are"),
    pytest.param("1m", 60.0, id="minutes are sixty seconds"),
    pytest.param("2h", 7200.0, id="hours are 3600 seconds"),
    pytest.param("2.5s", 2.5, id="a fractional duration is allowed"),
]


@pytest.mark.parametrize(("value", "seconds"), DURATIONS)
def test_lease_durations(value: str, seconds: float) -> None:
    election = {"leaseDuration": value, "renewDeadline": "2ms", "retryPeriod": "1ms"}
    cfg = parse(with_header(leaderElection=election))
    assert cfg.leader_election.lease_duration == seconds


# -- merging with the default plugins (TestMergePlugins) --------------------------------------

with_weight = {ref.name: ref for ref in plugins.DEFAULT_MULTI_POINT}


def merged(**replaced: int) -> list[PluginRef]:
    return [
        PluginRef(name, replaced[name]) if name in replaced else with_weight[name]
        for name in DEFAULT_NAMES
    ]


def without(*names: str) -> list[PluginRef]:
    return [with_weight[n] for n in DEFAULT_NAMES if n not in names]


MERGES = [
    pytest.param(
        multi_point(disabled=refs("*"), enabled=refs("NodePorts", "NodeName")),
        [PluginRef("NodePorts"), PluginRef("NodeName")],
        id="disabling all default plugins keeps only the enabled ones, in their order",
    ),
    pytest.param(
        multi_point(enabled=refs(("NodeResourcesFit", 2), ("ImageLocality", 3))),
        merged(NodeResourcesFit=2, ImageLocality=3),
        id="a custom plugin overrides a default plugin in place",
    ),
    pytest.param(
        multi_point(enabled=refs(("ImageLocality", 2), ("TaintToleration", 1))),
        merged(ImageLocality=2, TaintToleration=1),
        id="the default order is preserved after overriding",
    ),
    pytest.param(
        multi_point(disabled=refs("ImageLocality", "NodePorts")),
        without("ImageLocality", "NodePorts"),
        id="disabled default plugins are dropped",
    ),
    pytest.param(
        multi_point(disabled=refs("NodeResourcesFit"), enabled=refs(("NodeResourcesFit", 5))),
        [*without("NodeResourcesFit"), PluginRef("NodeResourcesFit", 5)],
        id="a default plugin disabled and enabled again moves to the end",
    ),
    pytest.param(
        multi_point(),
        merged(),
        id="an empty multiPoint keeps the defaults",
    ),
]


@pytest.mark.parametrize(("raw", "want"), MERGES)
def test_multi_point_merge(raw: dict[str, Any], want: list[PluginRef]) -> None:
    (profile,) = parse(raw).profiles
    assert list(profile.multi_point) == want


def test_specific_points_are_kept_apart_from_multi_point() -> None:
    raw = one_profile(
        plugins={
            "score": {"enabled": refs(("NodeResourcesFit", 5)), "disabled": refs("ImageLocality")}
        }
    )
    (profile,) = parse(raw).profiles
    assert profile.multi_point == plugins.DEFAULT_MULTI_POINT
    assert profile.points["score"] == PluginSet(
        (PluginRef("NodeResourcesFit", 5),), frozenset({"ImageLocality"})
    )
    fwk = default_framework(FakeSnapshot(), raw_config=raw)
    assert fwk.weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "DynamicResources": 2,
        "NodeResourcesBalancedAllocation": 1,
        "NodeResourcesFit": 5,
        "VolumeBinding": 1,
    }


def test_a_disabled_filter_no_longer_rejects() -> None:
    raw = one_profile(plugins={"filter": {"disabled": refs("NodeUnschedulable")}})
    fwk = default_framework(FakeSnapshot(), raw_config=raw)
    node = node_info("n", unschedulable=True)
    assert fwk.run_filters(CycleState(), make_pod("p"), node) == SUCCESS


def test_a_plugin_enabled_twice_at_one_point_is_refused() -> None:
    raw = one_profile(plugins={"score": {"enabled": refs("ImageLocality", "ImageLocality")}})
    with pytest.raises((ConfigError, FrameworkError)):
        default_framework(FakeSnapshot([node_info("n")]), raw_config=raw)


def test_a_plugin_enabled_twice_in_multi_point_is_refused() -> None:
    raw = multi_point(enabled=refs(("NodePorts", 1), ("NodePorts", 2)))
    with pytest.raises((ConfigError, FrameworkError)):
        default_framework(FakeSnapshot(), raw_config=raw)


# -- plugin arguments -----------------------------------------------------------------------


def test_plugin_args_drop_api_version_and_kind() -> None:
    raw = one_profile(
        pluginConfig=[
            {
                "name": "NodeResourcesFit",
                "args": {
                    "apiVersion": config.API_VERSION,
                    "kind": "NodeResourcesFitArgs",
                    "ignoredResources": ["example.com/foo"],
                },
            }
        ]
    )
    args = parse(raw).profiles[0].args["NodeResourcesFit"]
    assert args == NodeResourcesFitArgs(ignored_resources=("example.com/foo",))


@pytest.mark.parametrize(
    ("plugin", "args", "field"),
    [
        ("NodeResourcesFit", {"scoringStratgy": {"type": "MostAllocated"}}, "scoringStratgy"),
        ("NodeResourcesFit", {"scoringStrategy": {"typ": "MostAllocated"}}, "typ"),
        (
            "NodeResourcesFit",
            {"scoringStrategy": {"resources": [{"name": "cpu", "wieght": 2}]}},
            "wieght",
        ),
        ("NodeResourcesBalancedAllocation", {"resource": [{"name": "cpu"}]}, "resource"),
    ],
)
def test_an_unknown_plugin_argument_is_refused(
    plugin: str, args: dict[str, object], field: str
) -> None:
    raw = one_profile(pluginConfig=[{"name": plugin, "args": args}])
    with pytest.raises(ConfigError, match=f"{field}: unknown field"):
        parse(raw)


# -- errors -----------------------------------------------------------------------------------

KNOWN = ", ".join(sorted(plugins.IN_TREE))

ERRORS = [
    pytest.param(
        [],
        "configuration: <root>: expected an object, got list",
        id="a document that is not an object is refused",
    ),
    pytest.param(
        with_header(profile=[]),
        "configuration: profile: unknown field",
        id="an unknown field is refused",
    ),
    pytest.param(
        {"apiVersion": "kubescheduler.config.k8s.io/v1beta3", "kind": config.KIND},
        "configuration: apiVersion: must be 'kubescheduler.config.k8s.io/v1'",
        id="another API version is refused",
    ),
    pytest.param(
        {"apiVersion": config.API_VERSION},
        "configuration: kind: must be 'KubeSchedulerConfiguration'",
        id="a missing kind is refused",
    ),
    pytest.param(
        with_header(extenders=[{"urlPrefix": "http://x"}]),
        "configuration: extenders: scheduler extenders are not supported",
        id="extenders are refused",
    ),
    pytest.param(
        one_profile(plugin={}),
        "configuration: profiles[0].plugin: unknown field",
        id="an unknown profile field is refused",
    ),
    pytest.param(
        one_profile(plugins={"preFiltre": {}}),
        "configuration: profiles[0].plugins.preFiltre: unknown field",
        id="an unknown extension point is refused",
    ),
    pytest.param(
        one_profile(plugins={"filter": {"enabled": refs("Nope")}}),
        f"configuration: profiles[0].plugins.filter: unknown plugin 'Nope' (known: {KNOWN})",
        id="an unknown plugin at an extension point is refused",
    ),
    pytest.param(
        multi_point(enabled=refs("Nope")),
        f"configuration: profiles[0].plugins.multiPoint: unknown plugin 'Nope' (known: {KNOWN})",
        id="an unknown plugin in multiPoint is refused",
    ),
    pytest.param(
        one_profile(plugins={"score": {"enabled": [{"name": "ImageLocality", "wieght": 2}]}}),
        "configuration: profiles[0].plugins.score.enabled[0].wieght: unknown field",
        id="an unknown field in a plugin reference is refused",
    ),
    pytest.param(
        one_profile(plugins={"score": {"enabled": refs(("ImageLocality", -1))}}),
        "configuration: profiles[0].plugins.score.enabled[0].weight: must not be negative, got -1",
        id="a negative weight is refused",
    ),
    pytest.param(
        one_profile(plugins={"score": {"enabled": refs(("ImageLocality", 10**400))}}),
        "configuration: profiles[0].plugins.score.enabled[0].weight: expected a 32-bit integer, "
        "got 1000000000000000000000000000000000000000... (401 characters)",
        id="a weight of 10^400 is refused, and not echoed whole",
    ),
    pytest.param(
        one_profile(plugins={"score": {"enabled": refs(("ImageLocality", 2**63 - 1))}}),
        "configuration: profiles[0].plugins.score.enabled[0].weight: expected a 32-bit integer, "
        "got 9223372036854775807",
        id="a weight that overflows int32 (kube-scheduler's type) is refused",
    ),
    pytest.param(
        multi_point(enabled=refs(("TaintToleration", 2**31))),
        "configuration: profiles[0].plugins.multiPoint.enabled[0].weight: expected a 32-bit "
        "integer, got 2147483648",
        id="a multiPoint weight just above int32 is refused",
    ),
    pytest.param(
        one_profile(
            pluginConfig=[
                {"name": "DefaultPreemption", "args": {"minCandidateNodesAbsolute": 2**31}}
            ]
        ),
        "configuration: profiles[0].pluginConfig[0]: plugin DefaultPreemption: "
        "args.minCandidateNodesAbsolute: expected a 32-bit integer, got 2147483648",
        id="an int32 plugin argument out of range is refused",
    ),
    pytest.param(
        one_profile(
            pluginConfig=[{"name": "VolumeBinding", "args": {"bindTimeoutSeconds": 2**63}}]
        ),
        "configuration: profiles[0].pluginConfig[0]: plugin VolumeBinding: "
        "args.bindTimeoutSeconds: expected a 64-bit integer, got 9223372036854775808",
        id="an int64 plugin argument out of range is refused",
    ),
    pytest.param(
        one_profile(
            pluginConfig=[
                {
                    "name": "PodTopologySpread",
                    "args": {
                        "defaultingType": "List",
                        "defaultConstraints": [
                            {
                                "maxSkew": 10**30,
                                "topologyKey": "zone",
                                "whenUnsatisfiable": "ScheduleAnyway",
                            }
                        ],
                    },
                }
            ]
        ),
        "configuration: profiles[0].pluginConfig[0]: plugin PodTopologySpread: "
        "args.defaultConstraints[0].maxSkew: expected a 32-bit integer, "
        "got 1000000000000000000000000000000",
        id="a default constraint's maxSkew out of int32 is refused",
    ),
    pytest.param(
        with_header(parallelism=2**40),
        "configuration: parallelism: expected a 32-bit integer, got 1099511627776",
        id="parallelism out of int32 is refused",
    ),
    pytest.param(
        one_profile(plugins={"score": {"enabled": [{"weight": 1}]}}),
        "configuration: profiles[0].plugins.score.enabled[0].name: must be set",
        id="a plugin reference without a name is refused",
    ),
    pytest.param(
        one_profile(plugins={"score": {"enabled": [], "disable": []}}),
        "configuration: profiles[0].plugins.score.disable: unknown field",
        id="an unknown field in a plugin set is refused",
    ),
    pytest.param(
        one_profile(pluginConfig=[{"name": "Nope", "args": {}}]),
        "configuration: profiles[0].pluginConfig[0].name: unknown plugin 'Nope'",
        id="arguments for an unknown plugin are refused",
    ),
    pytest.param(
        one_profile(pluginConfig=[{"name": "NodeResourcesFit"}, {"name": "NodeResourcesFit"}]),
        "configuration: profiles[0].pluginConfig[1].name: repeated pluginConfig for "
        "'NodeResourcesFit'",
        id="repeated arguments for one plugin are refused",
    ),
    pytest.param(
        one_profile(pluginConfig=[{"name": "NodeResourcesFit", "arg": {}}]),
        "configuration: profiles[0].pluginConfig[0].arg: unknown field",
        id="an unknown field in a pluginConfig entry is refused",
    ),
    pytest.param(
        one_profile(
            pluginConfig=[{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "X"}}}]
        ),
        "configuration: profiles[0].pluginConfig[0]: plugin NodeResourcesFit: "
        "args.scoringStrategy.type: unsupported value 'X', must be one of LeastAllocated, "
        "MostAllocated, RequestedToCapacityRatio",
        id="invalid plugin arguments name the plugin and the field",
    ),
    pytest.param(
        one_profile(pluginConfig=[{"name": "NodeResourcesFit", "args": {"ignoredResources": 5}}]),
        "configuration: profiles[0].pluginConfig[0]: plugin NodeResourcesFit: "
        "args.ignoredResources: expected a list, got int",
        id="plugin arguments of the wrong type are refused",
    ),
    pytest.param(
        with_header(profiles=[{"schedulerName": "a"}, {"schedulerName": "a"}]),
        "configuration: profiles: duplicate schedulerName in ['a', 'a']",
        id="a repeated scheduler name is refused",
    ),
    pytest.param(
        with_header(profiles=[{"schedulerName": "a"}, {}]),
        "configuration: profiles[1].schedulerName: must be set when there are several profiles",
        id="a missing scheduler name among several profiles is refused",
    ),
    pytest.param(
        with_header(percentageOfNodesToScore=101),
        "configuration: percentageOfNodesToScore: must be in 0..100, got 101",
        id="a percentage of nodes to score above 100 is refused",
    ),
    pytest.param(
        with_header(percentageOfNodesToScore=-1),
        "configuration: percentageOfNodesToScore: must be in 0..100, got -1",
        id="a negative percentage of nodes to score is refused",
    ),
    pytest.param(
        one_profile(percentageOfNodesToScore=200),
        "configuration: profiles[0].percentageOfNodesToScore: must be in 0..100, got 200",
        id="a profile percentage of nodes to score above 100 is refused",
    ),
    pytest.param(
        with_header(podInitialBackoffSeconds=0),
        "configuration: podInitialBackoffSeconds: must be greater than 0",
        id="a zero initial backoff is refused",
    ),
    pytest.param(
        with_header(podInitialBackoffSeconds=5, podMaxBackoffSeconds=4),
        "configuration: podMaxBackoffSeconds: must be at least podInitialBackoffSeconds",
        id="a maximum backoff below the initial backoff is refused",
    ),
    pytest.param(
        with_header(parallelism=0),
        "configuration: parallelism: must be greater than 0",
        id="zero parallelism is refused",
    ),
    pytest.param(
        with_header(leaderElection={"leaseDuration": "10s", "renewDeadline": "10s"}),
        "configuration: leaderElection: need leaseDuration > renewDeadline > retryPeriod > 0",
        id="a lease no longer than the renew deadline is refused",
    ),
    pytest.param(
        with_header(leaderElection={"renewDeadline": "2s", "retryPeriod": "2s"}),
        "configuration: leaderElection: need leaseDuration > renewDeadline > retryPeriod > 0",
        id="a renew deadline no longer than the retry period is refused",
    ),
    pytest.param(
        with_header(leaderElection={"retryPeriod": "0s"}),
        "configuration: leaderElection: need leaseDuration > renewDeadline > retryPeriod > 0",
        id="a zero retry period is refused",
    ),
    pytest.param(
        with_header(leaderElection={"leaseDuration": 15}),
        "configuration: leaderElection.leaseDuration: expected a duration such as '15s', got 15",
        id="a duration that is a number is refused",
    ),
    pytest.param(
        with_header(leaderElection={"leaseDuration": "15"}),
        "configuration: leaderElection.leaseDuration: invalid duration '15'",
        id="a duration without a unit is refused",
    ),
    pytest.param(
        with_header(
            leaderElection={"resourceNamespace": "kube-system", "resourceName": "kube-scheduler"}
        ),
        "configuration: leaderElection.resourceName: kube-system/kube-scheduler is the default "
        "scheduler's lease; use our own",
        id="the default scheduler's own lease is refused",
    ),
    pytest.param(
        with_header(clientConnection={"qps": -1}),
        "configuration: clientConnection.qps: must be a non-negative number, got -1",
        id="a negative qps is refused",
    ),
    pytest.param(
        with_header(clientConnection={"qps": True}),
        "configuration: clientConnection.qps: must be a non-negative number, got True",
        id="a boolean qps is refused",
    ),
]


@pytest.mark.parametrize(("raw", "message"), ERRORS)
def test_errors(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert str(caught.value) == message


ACCEPTED = [
    pytest.param(with_header(percentageOfNodesToScore=0), id="percentage 0 means adaptive"),
    pytest.param(with_header(percentageOfNodesToScore=100), id="a percentage of 100 is accepted"),
    pytest.param(
        with_header(podInitialBackoffSeconds=3, podMaxBackoffSeconds=3),
        id="a maximum backoff equal to the initial backoff is accepted",
    ),
    pytest.param(
        with_header(leaderElection={"leaderElect": False, "leaseDuration": "1s"}),
        id="durations are not compared when leader election is off",
    ),
    pytest.param(with_header(clientConnection={"qps": 0.5}), id="a fractional qps is accepted"),
]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_accepted(raw: dict[str, Any]) -> None:
    parse(raw)


# -- files ------------------------------------------------------------------------------------


def test_the_largest_weight_kube_scheduler_accepts_scores_without_overflow() -> None:
    nodes = [node_info(f"n{i}", labels={"zone": "a"}) for i in range(3)]
    fwk = default_framework(
        FakeSnapshot(nodes),
        raw_config=multi_point(
            enabled=refs(("TaintToleration", 2**31 - 1), ("NodeAffinity", 2**31 - 1))
        ),
    )
    assert fwk.weights["TaintToleration"] == 2**31 - 1
    pod = make_pod("p")
    state = CycleState()
    assert fwk.run_pre_score(state, pod, nodes) == SUCCESS
    totals, status = fwk.run_score(state, pod, nodes)
    assert status == SUCCESS
    # Every node scores the same, and the totals stay positive (no wrap-around).
    assert len(set(totals)) == 1
    assert 0 < totals[0] < 2**63


def test_load_reads_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "podMaxBackoffSeconds: 20\n"
        "profiles:\n"
        "- schedulerName: mine\n"
    )
    cfg = config.load(path)
    assert (cfg.scheduler_names, cfg.pod_max_backoff) == (frozenset({"mine"}), 20.0)


def test_load_without_a_path_gives_the_defaults() -> None:
    assert config.load(None) == parse({})


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("apiVersion: v0\nkind: KubeSchedulerConfiguration\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(caught.value) == f"{path}: apiVersion: must be 'kubescheduler.config.k8s.io/v1'"


def test_load_refuses_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("profiles: [\n")
    with pytest.raises(ConfigError, match=rf"^{path}: not valid YAML: "):
        config.load(path)


def test_load_refuses_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(caught.value) == f"cannot read {path}: No such file or directory"


def test_a_point_with_every_default_disabled_runs_only_its_own_plugins() -> None:
    # A profile that disables every filter but NodeName accepts any node by name only.
    raw = one_profile(
        plugins={"filter": {"disabled": refs("*"), "enabled": refs("NodeName")}},
    )
    fwk = default_framework(FakeSnapshot(), raw_config=raw)
    assert [p.name for p in fwk.filter] == ["NodeName"]
    tiny = node_info("n", allocatable={"cpu": "1m", "memory": "1", "pods": "1"})
    assert fwk.run_filters(CycleState(), make_pod("p", requests={"cpu": "8"}), tiny) == SUCCESS


# -- hostile or broken input: one clear error, never a crash ------------------------------------

BILLION_LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
    "profiles: *i\n"
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"kind: \xff\xfe KubeSchedulerConfiguration\n",
            "{path}: not UTF-8 text (byte 0xff at offset 6)",
            id="a file that is not UTF-8",
        ),
        pytest.param(
            ("a: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
            "{path}: nested deeper than 64 levels",
            id="deep nesting",
        ),
        pytest.param(
            BILLION_LAUGHS.encode(),
            "{path}: aliases expand to more than 100000 values",
            id="an alias bomb",
        ),
        pytest.param(
            b"# " + b"x" * (1 << 20) + b"\n",
            "{path}: larger than 1048576 bytes",
            id="a file over 1 MiB",
        ),
        pytest.param(
            b"a: [1\n",
            "{path}: not valid YAML: ",
            id="broken YAML",
        ),
    ],
)
def test_load_refuses_hostile_files_with_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = str(caught.value)
    assert text.startswith(message.format(path=path))
    assert len(text) < 2000


def test_the_alias_check_counts_aliases_without_expanding_them(tmp_path: Path) -> None:
    # Aliases within the limit are fine (a shared args block, say).
    path = tmp_path / "config.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "profiles:\n"
        "- schedulerName: a\n"
        "  pluginConfig: &args [{name: NodeResourcesFit, args: {ignoredResources: [x]}}]\n"
        "- schedulerName: b\n"
        "  pluginConfig: *args\n"
    )
    assert config.load(path).scheduler_names == {"a", "b"}


def test_a_missing_kubeconfig_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    missing = tmp_path / "nope" / "kubeconfig"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        f"clientConnection: {{kubeconfig: {missing}}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(caught.value) == (
        f"{path}: clientConnection.kubeconfig: cannot read {missing}: No such file or directory"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            with_header(leaderElection={"leaderElekt": True}),
            "configuration: leaderElection.leaderElekt: unknown field",
            id="a misspelt leaderElection field",
        ),
        pytest.param(
            with_header(clientConnection={"qpss": 10}),
            "configuration: clientConnection.qpss: unknown field",
            id="a misspelt clientConnection field",
        ),
        pytest.param(
            with_header(leaderElection={"resourceLock": "endpointsleases"}),
            "configuration: leaderElection.resourceLock: must be 'leases', got 'endpointsleases'",
            id="a resource lock other than leases, as upstream",
        ),
        pytest.param(
            with_header(clientConnection={"qps": 0.000001}),
            "configuration: clientConnection.qps: must be 0 (the client default) or at least "
            "0.1, got 1e-06",
            id="an absurdly low qps",
        ),
        pytest.param(
            with_header(clientConnection={"burst": -1}),
            "configuration: clientConnection.burst: must not be negative, got -1",
            id="a negative burst",
        ),
        pytest.param(
            with_header(leaderElection={"leaseDuration": "1m30x"}),
            "configuration: leaderElection.leaseDuration: invalid duration '1m30x'",
            id="a duration with an unknown unit",
        ),
        pytest.param(
            with_header(leaderElection={"retryPeriod": "-2s"}),
            "configuration: leaderElection: need leaseDuration > renewDeadline > retryPeriod > 0",
            id="a negative duration",
        ),
    ],
)
def test_nested_fields_and_values_are_checked(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("1m30s", 90.0, id="minutes and seconds"),
        pytest.param("1h0m0.5s", 3600.5, id="hours, minutes and a fraction"),
        pytest.param("1.5h", 5400.0, id="a fractional hour"),
        pytest.param("250ms", 0.25, id="milliseconds"),
        pytest.param("1500us", 0.0015, id="microseconds"),
        pytest.param("2s500ms", 2.5, id="seconds and milliseconds"),
    ],
)
def test_go_durations_are_accepted(value: str, seconds: float) -> None:
    cfg = parse(with_header(leaderElection={"leaderElect": False, "retryPeriod": value}))
    assert cfg.leader_election.retry_period == pytest.approx(seconds)


def test_a_profile_named_default_scheduler_gives_a_warning() -> None:
    cfg = parse(with_header(profiles=[{"schedulerName": "default-scheduler"}]))
    assert cfg.warnings == (
        "profiles[0].schedulerName: default-scheduler is kube-scheduler's name; both "
        "schedulers would place the same pods",
    )
    assert parse({}).warnings == ()


def test_a_snapshot_is_read_within_the_same_bounds(tmp_path: Path) -> None:
    from py_scheduler.simulation import snapshot

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS)  # 9^9 values: over the snapshot bound too
    for content, message in (
        (b"kind: \xff\n", "not UTF-8 text (byte 0xff at offset 6)"),
        (("kind: List\nitems: " + "[" * 100 + "]" * 100).encode(), "nested deeper than 64"),
    ):
        path = tmp_path / "snapshot.yaml"
        path.write_bytes(content)
        with pytest.raises(snapshot.SnapshotError, match=re.escape(message)):
            snapshot.load(path)
    with pytest.raises(snapshot.SnapshotError, match="aliases expand to more than"):
        snapshot.load(bomb)


# -- pod-group extension points (v1 API: 1.36 placementGenerate/placementScore, 1.37
# podGroupPostFilter) ------------------------------------------------------------------------


def test_pod_group_points_may_disable_plugins_and_change_nothing() -> None:
    written_for_137 = one_profile(
        plugins={
            "placementGenerate": {"disabled": refs("*")},
            "placementScore": {"disabled": refs("NodeResourcesFit")},
            "podGroupPostFilter": {},
        }
    )
    got = parse(written_for_137).profiles[0]
    default = parse(with_header()).profiles[0]
    assert [ref.name for ref in got.multi_point] == DEFAULT_NAMES
    assert got.points == default.points


@pytest.mark.parametrize("point", config.POD_GROUP_POINTS)
def test_enabling_a_plugin_at_a_pod_group_point_is_refused(point: str) -> None:
    raw = one_profile(plugins={point: {"enabled": refs(("NodeResourcesFit", 1))}})
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert str(caught.value) == (
        f"configuration: profiles[0].plugins.{point}: cannot enable 'NodeResourcesFit': "
        "py-scheduler schedules a pod group's pods one by one (GangScheduling), so no plugin "
        "serves this extension point"
    )


def test_a_misspelt_pod_group_point_is_still_an_unknown_field() -> None:
    with pytest.raises(ConfigError, match=r"plugins\.placementScores: unknown field"):
        parse(one_profile(plugins={"placementScores": {}}))


# -- defaults by Kubernetes release ---------------------------------------------------------

V1_35, V1_36, V1_37 = ServerVersion(1, 35), ServerVersion(1, 36), ServerVersion(1, 37)


@pytest.mark.parametrize(
    ("release", "first_filters"),
    [
        pytest.param(V1_35, ["NodeUnschedulable", "NodeName"], id="1.35"),
        pytest.param(V1_36, ["NodeUnschedulable", "NodeName"], id="1.36"),
        pytest.param(V1_37, ["NodeName", "NodeUnschedulable"], id="1.37"),
        pytest.param(ServerVersion(1, 38), ["NodeName", "NodeUnschedulable"], id="1.38 as 1.37"),
    ],
)
def test_the_default_plugins_are_in_the_order_of_the_release(
    release: ServerVersion, first_filters: list[str]
) -> None:
    cfg = parse({}, release=release)
    (profile,) = cfg.profiles
    names = [ref.name for ref in profile.multi_point]
    assert names[:4] == ["SchedulingGates", "GangSort", *first_filters]
    # The same plugins with the same weights, but for NodeDeclaredFeatures (1.36+).
    declared = release.at_least(1, 36)
    newest = [
        r for r in plugins.DEFAULT_MULTI_POINT if declared or r.name != "NodeDeclaredFeatures"
    ]
    assert sorted(profile.multi_point, key=lambda r: r.name) == sorted(newest, key=lambda r: r.name)
    assert cfg.release == release


@pytest.mark.parametrize(
    ("release", "last"),
    [
        pytest.param(V1_35, "DefaultBinder", id="1.35: not a default"),
        pytest.param(V1_36, "NodeDeclaredFeatures", id="1.36: beta, on"),
        pytest.param(V1_37, "NodeDeclaredFeatures", id="1.37: GA"),
    ],
)
def test_node_declared_features_is_a_default_from_1_36(release: ServerVersion, last: str) -> None:
    (profile,) = parse({}, release=release).profiles
    assert profile.multi_point[-1].name == last
    names = [ref.name for ref in profile.multi_point]
    assert names.count("NodeDeclaredFeatures") == (last == "NodeDeclaredFeatures")


def test_node_declared_features_can_be_enabled_on_1_35() -> None:
    raw = one_profile(plugins={"multiPoint": {"enabled": refs("NodeDeclaredFeatures")}})
    (profile,) = parse(raw, release=V1_35).profiles
    assert profile.multi_point[-1].name == "NodeDeclaredFeatures"


def test_without_a_release_the_defaults_are_the_newest_releases() -> None:
    assert NEWEST == V1_37
    assert parse({}).profiles[0].multi_point == plugins.default_multi_point(V1_37)
    assert config.load(None).release == NEWEST


def test_for_release_merges_the_same_file_with_that_releases_defaults() -> None:
    raw = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "percentageOfNodesToScore": 40,
        "profiles": [
            {
                "schedulerName": "custom",
                "plugins": {
                    "multiPoint": {
                        "enabled": [{"name": "NodeResourcesFit", "weight": 5}],
                        "disabled": [{"name": "ImageLocality"}],
                    }
                },
            }
        ],
    }
    newest = parse(raw, source="custom.yaml")
    older = config.for_release(newest, V1_36)
    assert older == parse(raw, source="custom.yaml", release=V1_36)
    (profile,) = older.profiles
    names = [ref.name for ref in profile.multi_point]
    assert names.index("NodeUnschedulable") < names.index("NodeName")
    assert "ImageLocality" not in names
    assert {ref.name: ref.weight for ref in profile.multi_point}["NodeResourcesFit"] == 5
    assert older.percentage_of_nodes_to_score == 40
    assert older.release == V1_36
    assert "NodeDeclaredFeatures" in names
    oldest = config.for_release(older, V1_35)
    assert "NodeDeclaredFeatures" not in [ref.name for ref in oldest.profiles[0].multi_point]
    # A release with the same defaults: nothing to decode again.
    assert config.for_release(newest, V1_37) is newest
    assert config.for_release(newest, ServerVersion(1, 38)) is newest


def test_for_release_keeps_an_order_the_file_sets_itself() -> None:
    raw = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [
            {
                "plugins": {
                    "multiPoint": {
                        "enabled": [
                            {"name": "PrioritySort"},
                            {"name": "NodeName"},
                            {"name": "NodeUnschedulable"},
                            {"name": "DefaultBinder"},
                        ],
                        "disabled": [{"name": "*"}],
                    }
                }
            }
        ],
    }
    for release in (V1_35, V1_37):
        (profile,) = config.for_release(parse(raw), release).profiles
        assert [ref.name for ref in profile.multi_point] == [
            "PrioritySort",
            "NodeName",
            "NodeUnschedulable",
            "DefaultBinder",
        ]


def test_for_release_keeps_a_configuration_built_in_code() -> None:
    built = config.SchedulerConfig(profiles=parse({}).profiles)
    assert config.for_release(built, V1_35) is built


@pytest.mark.parametrize(
    ("release", "reason"),
    [
        pytest.param(V1_36, "node(s) were unschedulable", id="1.36"),
        pytest.param(V1_37, "node(s) didn't match the requested node name", id="1.37"),
    ],
)
def test_a_node_both_plugins_reject_gets_the_reason_of_the_releases_first(
    release: ServerVersion, reason: str
) -> None:
    """A pod naming another node, judged on a cordoned node: NodeUnschedulable and NodeName
    both reject it; which of them runs first is the release's."""
    fwk = Framework(
        parse({}, release=release).profiles[0],
        plugins.IN_TREE,
        snapshot=FakeSnapshot(),
        objects=FakeObjects(),
        cluster=FakeCluster(),
        nominator=FakeNominator(),
        server=offline(release),
    )
    pod = make_pod("p", node_name="elsewhere")
    status = fwk.run_filters(CycleState(), pod, node_info("cordoned", unschedulable=True))
    assert status.reasons == (reason,)
