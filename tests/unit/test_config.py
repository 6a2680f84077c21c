"""KubeSchedulerConfiguration loading, after upstream's apis/config/v1
default_plugins_test.go (TestMergePlugins), defaults_test.go and
validation_test.go."""

from __future__ import annotations

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
    # The same plugins with the same weights; only the order differs.
    assert sorted(profile.multi_point, key=lambda r: r.name) == sorted(
        plugins.DEFAULT_MULTI_POINT, key=lambda r: r.name
    )
    assert cfg.release == release


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
    # Back to a release with the same defaults: nothing to decode again.
    assert config.for_release(older, V1_35) is older
    assert config.for_release(newest, V1_37) is newest


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
