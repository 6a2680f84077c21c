"""Device selectors in the Kubernetes CEL environment, after upstream's
``dynamic-resource-allocation/cel/compile_test.go``."""

from __future__ import annotations

from fractions import Fraction

import pytest

from py_scheduler.model.dra import cel
from py_scheduler.model.dra.objects import AttributeValue, Device, parse_semver
from py_scheduler.model.quantity import parse_quantity

DRIVER = "dra.example.com"
EXPENSIVE = (
    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(x, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(y, "
    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(z, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(z2, "
    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(z3, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(z4, "
    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(z5, int('1'.find('[0-9]*')) < 100)))))))"
)


def device(
    attributes: dict[str, AttributeValue] | None = None,
    capacity: dict[str, str] | None = None,
) -> Device:
    return Device(
        "d",
        attributes or {},
        {k: parse_quantity(v) for k, v in (capacity or {}).items()},
    )


V1 = parse_semver("1.0.0")
CASES = [
    pytest.param("true", device(), True, "", id="true"),
    pytest.param("false", device(), False, "", id="false"),
    pytest.param("?!", device(), None, "Syntax error", id="syntax-error"),
    pytest.param(
        "1", device(), None, "must evaluate to bool or the unknown type, not int", id="type-error"
    ),
    pytest.param(
        'device.attributes["dra.example.com"].noSuchAttr.isGreaterThan(quantity("0"))',
        device(),
        None,
        "no such key: noSuchAttr",
        id="runtime-error-lookup-identifier",
    ),
    pytest.param(
        '"no-such-domain" in device.attributes', device(), False, "", id="domain-check-negative"
    ),
    pytest.param(
        '"dra.example.com" in device.attributes',
        device({"dra.example.com/something": True}),
        True,
        "",
        id="domain-check-positive",
    ),
    pytest.param('device.driver == "dra.example.com"', device(), True, "", id="real-driver-name"),
    pytest.param(
        'device.attributes["dra.example.com"].name',
        device({"name": True}),
        True,
        "",
        id="driver-name-qualifier",
    ),
    pytest.param(
        'device.attributes["dra.example.com"]["name"]',
        device({"name": True}),
        True,
        "",
        id="driver-name-qualifier-map-lookup",
    ),
    pytest.param(
        'cel.bind(dra, device.attributes["dra.example.com"], dra.name)',
        device({"name": True}),
        True,
        "",
        id="bind",
    ),
    pytest.param(
        'device.attributes["other.example.com"].name',
        device({"other.example.com/name": True}),
        True,
        "",
        id="qualified-attribute-name",
    ),
    pytest.param(
        'device.attributes["dra.example.com"].name > 0', device({"name": 1}), True, "", id="int"
    ),
    pytest.param(
        'device.attributes["dra.example.com"].name == "fish"',
        device({"name": "fish"}),
        True,
        "",
        id="string",
    ),
    pytest.param(
        'device.attributes["dra.example.com"].name.isGreaterThan(semver("0.0.1"))',
        device({"name": V1}),
        True,
        "",
        id="version",
    ),
    pytest.param(
        'device.attributes["dra.example.com"].name == semver("1.0.0+build.5")',
        device({"name": V1}),
        True,
        "",
        id="version equality ignores build metadata",
    ),
    pytest.param(
        'device.capacity["dra.example.com"].name.isGreaterThan(quantity("1Ki"))',
        device(capacity={"name": "1Mi"}),
        True,
        "",
        id="quantity",
    ),
    pytest.param(
        'device.capacity["dra.example.com"].memory == quantity("1024Ki")',
        device(capacity={"memory": "1Mi"}),
        True,
        "",
        id="quantity equality is by value",
    ),
    pytest.param(
        'device.capacity["dra.example.com"].memory.compareTo(quantity("40Gi")) >= 0',
        device(capacity={"memory": "80Gi"}),
        True,
        "",
        id="compareTo",
    ),
    pytest.param(
        '!("name" in device.capacity["dra.example.com"]) || '
        'device.capacity["dra.example.com"].name.isGreaterThan(quantity("1Ki"))',
        device(),
        True,
        "",
        id="check-negative",
    ),
    pytest.param(
        'device.attributes["dra.example.com"].services.matches("[^a]?sym")',
        device({"services": "asymetric"}),
        True,
        "",
        id="regexp_attribute",
    ),
    pytest.param(
        'device.attributes["dra.example.com"].services.split("example").size() >= 2',
        device({"services": "some_example_value"}),
        True,
        "",
        id="split_attribute",
    ),
    pytest.param(
        'device.attributes.exists_one(x, x == "dra.example.com")',
        device({"services": "x"}),
        True,
        "",
        id="check_attribute_domains",
    ),
    pytest.param(
        "device.allowMultipleAllocations == false",
        device(),
        True,
        "",
        id="allow_multiple_allocations_default",
    ),
    pytest.param(EXPENSIVE, device(), None, "actual cost limit exceeded", id="expensive"),
    pytest.param(
        'device.attributes["dra.example.com"].names',
        device({"names": "fish"}),
        None,
        "CEL result of type string could not be converted to bool",
        id="a non-bool result",
    ),
    pytest.param(
        'quantity("nonsense").sign() == 1', device(), None, "nonsense", id="a bad quantity"
    ),
]


@pytest.mark.parametrize(("expression", "dev", "want", "error"), CASES)
def test_selector(expression: str, dev: Device, want: bool | None, error: str) -> None:
    cache = cel.SelectorCache()
    selector = cache.get(expression)
    if error:
        with pytest.raises(cel.CelError) as info:
            cache.matches(selector, DRIVER, dev)
        assert error in str(info.value)
        return
    assert cache.matches(selector, DRIVER, dev) is want


def test_each_expression_is_compiled_once() -> None:
    cache = cel.SelectorCache()
    assert cache.get("true") is cache.get("true")


def test_results_are_remembered_per_device_object() -> None:
    cache = cel.SelectorCache()
    selector = cache.get('device.attributes["dra.example.com"].n > 1')
    first = device({"n": 2})
    assert cache.matches(selector, DRIVER, first) is True
    # A new Device (a slice update) is evaluated afresh.
    assert cache.matches(selector, DRIVER, device({"n": 0})) is False


def test_estimated_cost_counts_literal_comprehensions() -> None:
    assert cel.compile_selector("[1, 2, 3].all(x, x > 0)").max_cost < 100
    assert cel.compile_selector(EXPENSIVE).max_cost > cel.MAX_COST


def test_quantities_keep_exact_values() -> None:
    assert cel.quantity_value(Fraction(1, 3)) == {"__quantity__": "1/3"}
