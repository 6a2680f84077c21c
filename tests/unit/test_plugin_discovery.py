"""Out-of-tree plugin discovery (``plugins/discovery.py``) over throw-away
distributions: what is found, and the one-line refusal for each way an
installed plugin can be unusable. ``py-scheduler plugins`` lists them."""

from __future__ import annotations

import argparse
import json
from importlib import metadata
from pathlib import Path

import pytest

from py_scheduler import config
from py_scheduler.app import plugins_cli
from py_scheduler.plugins import IN_TREE, discovery
from tests.distributions import filter_module, make_distribution


def entry_points(root: Path) -> list[metadata.EntryPoint]:
    found: list[metadata.EntryPoint] = []
    for dist in metadata.distributions(path=[str(root)]):
        found.extend(ep for ep in dist.entry_points if ep.group == discovery.GROUP)
    return found


def discover(root: Path, monkeypatch: pytest.MonkeyPatch) -> discovery.Discovered:
    monkeypatch.syspath_prepend(str(root))
    return discovery.discover(entry_points=entry_points(root))


def test_an_installed_plugin_joins_the_in_tree_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_distribution(
        tmp_path,
        "acme-plugins",
        version="2.3",
        entry_points={"AcmeFilter": "acme_found.plugin:SPEC"},
        modules={"acme_found.plugin": filter_module("AcmeFilter")},
    )
    found = discover(tmp_path, monkeypatch)
    assert set(found.registry) == set(IN_TREE) | {"AcmeFilter"}
    origin = found.origins["AcmeFilter"]
    assert (origin.package, origin.version, origin.in_tree) == ("acme-plugins", "2.3", False)
    assert origin.entry_point == "AcmeFilter = acme_found.plugin:SPEC"
    assert found.origins["NodeAffinity"].in_tree
    # A configuration names it like any other plugin.
    cfg = config.parse(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "profiles": [{"plugins": {"filter": {"enabled": [{"name": "AcmeFilter"}]}}}],
        },
        registry=found.registry,
    )
    assert "AcmeFilter" in cfg.profiles[0].plugin_names()


def test_without_discovery_an_out_of_tree_name_is_unknown() -> None:
    with pytest.raises(config.ConfigError, match="unknown plugin 'AcmeFilter'"):
        config.parse(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "AcmeFilter"}]}}}],
            }
        )


BROKEN = [
    pytest.param(
        {
            "broken-import": (
                {"Broken": "broken_imp.plugin:SPEC"},
                {"broken_imp.plugin": "import nope_missing\n"},
            )
        },
        "plugin entry point 'Broken = broken_imp.plugin:SPEC' of package broken-import 1.0"
        " failed to import: ModuleNotFoundError: No module named 'nope_missing'",
        id="fails to import",
    ),
    pytest.param(
        {
            "raising": (
                {"Raises": "raising_mod.plugin:SPEC"},
                {"raising_mod.plugin": "raise RuntimeError('boom\\n at load')\n"},
            )
        },
        "plugin entry point 'Raises = raising_mod.plugin:SPEC' of package raising 1.0"
        " failed to import: RuntimeError: boom at load",
        id="raises while importing",
    ),
    pytest.param(
        {
            "exits": (
                {"Exits": "exiting_mod.plugin:SPEC"},
                {"exiting_mod.plugin": "raise SystemExit(3)\n"},
            )
        },
        "plugin entry point 'Exits = exiting_mod.plugin:SPEC' of package exits 1.0"
        " failed to import: SystemExit: 3",
        id="exits while importing",
    ),
    pytest.param(
        {"missing-attr": ({"Missing": "attr_mod.plugin:SPEC"}, {"attr_mod.plugin": "OTHER = 1\n"})},
        "plugin entry point 'Missing = attr_mod.plugin:SPEC' of package missing-attr 1.0"
        " failed to import: AttributeError: module 'attr_mod.plugin' has no attribute 'SPEC'",
        id="names an attribute that is not there",
    ),
    pytest.param(
        {
            "wrong-type": (
                {"Wrong": "wrong_mod.plugin:SPEC"},
                {"wrong_mod.plugin": "SPEC = {'name': 'Wrong'}\n"},
            )
        },
        "plugin entry point 'Wrong = wrong_mod.plugin:SPEC' of package wrong-type 1.0"
        " names a builtins.dict, not a py_scheduler.framework.PluginSpec",
        id="a spec of the wrong type",
    ),
    pytest.param(
        {
            "renamed": (
                {"Outer": "renamed_mod.plugin:SPEC"},
                {"renamed_mod.plugin": filter_module("Inner")},
            )
        },
        "plugin 'Outer' from the entry point 'Outer = renamed_mod.plugin:SPEC' of package"
        " renamed 1.0: its PluginSpec is named 'Inner'; the entry point's name must be the"
        " plugin's name",
        id="a spec named other than its entry point",
    ),
    pytest.param(
        {
            "shadow": (
                {"NodeAffinity": "shadow_mod.plugin:SPEC"},
                {"shadow_mod.plugin": filter_module("NodeAffinity")},
            )
        },
        "plugin 'NodeAffinity' from the entry point 'NodeAffinity = shadow_mod.plugin:SPEC'"
        " of package shadow 1.0 clashes with an in-tree plugin; rename one or uninstall a package",
        id="clashes with an in-tree plugin",
    ),
    pytest.param(
        {
            "first-pkg": (
                {"Twice": "twice_a.plugin:SPEC"},
                {"twice_a.plugin": filter_module("Twice")},
            ),
            "second-pkg": (
                {"Twice": "twice_b.plugin:SPEC"},
                {"twice_b.plugin": filter_module("Twice")},
            ),
        },
        "plugin 'Twice' from the entry point 'Twice = twice_b.plugin:SPEC' of package second-pkg"
        " 1.0 clashes with the entry point 'Twice = twice_a.plugin:SPEC' of package first-pkg"
        " 1.0; rename one or uninstall a package",
        id="clashes with another package",
    ),
]


@pytest.mark.parametrize(("packages", "message"), BROKEN)
def test_an_unusable_plugin_is_refused_in_one_line_naming_it(
    packages: dict[str, tuple[dict[str, str], dict[str, str]]],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for package, (eps, modules) in packages.items():
        make_distribution(tmp_path, package, entry_points=eps, modules=modules)
    with pytest.raises(discovery.DiscoveryError) as raised:
        discover(tmp_path, monkeypatch)
    assert str(raised.value) == message
    assert "\n" not in str(raised.value)


def test_the_plugins_command_lists_in_tree_and_installed_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_distribution(
        tmp_path,
        "acme-plugins",
        version="2.3",
        entry_points={"AcmeFilter": "acme_listed.plugin:SPEC"},
        modules={"acme_listed.plugin": filter_module("AcmeFilter")},
    )
    found = discover(tmp_path, monkeypatch)
    monkeypatch.setattr(discovery, "discover", lambda: found)
    assert plugins_cli.main(argparse.Namespace(output="json")) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["plugins"]}
    assert rows["AcmeFilter"] == {
        "name": "AcmeFilter",
        "extensionPoints": ["filter"],
        "columnar": [],
        "queueingHints": False,
        "package": "acme-plugins",
        "version": "2.3",
        "inTree": False,
        "entryPoint": "AcmeFilter = acme_listed.plugin:SPEC",
    }
    fit = rows["NodeResourcesFit"]
    assert (fit["extensionPoints"], fit["columnar"], fit["inTree"]) == (
        ["preFilter", "filter", "preScore", "score"],
        ["filter", "score"],
        True,
    )
    assert plugins_cli.main(argparse.Namespace(output="text")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "EXTENSION", "POINTS", "PACKAGE", "VERSION"]
    assert lines[-1].split() == ["AcmeFilter", "filter", "acme-plugins", "2.3"]
    fit_line = next(line for line in lines if line.startswith("NodeResourcesFit "))
    assert fit_line.split()[1:] == [
        "preFilter,filter,preScore,score",
        "(columnar:",
        "filter,score)",
        "py-scheduler",
        "0.1.0",
        "(in-tree)",
    ]


def test_the_plugins_command_refuses_a_broken_package_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_distribution(
        tmp_path,
        "broken",
        entry_points={"Broken": "broken_listed.plugin:SPEC"},
        modules={"broken_listed.plugin": "import nope_missing\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real = discovery.discover
    monkeypatch.setattr(discovery, "discover", lambda: real(entry_points=entry_points(tmp_path)))
    assert plugins_cli.main(argparse.Namespace(output="text")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: plugin entry point 'Broken = broken_listed.plugin:SPEC'")
