"""`{{ JSONata }}` in parameters: typed when alone, text otherwise, bounded, errors name the
parameter (CONTRACT.md section 3)."""

from __future__ import annotations

from typing import Any

import pytest

from flowlane.config import EngineSettings
from flowlane.engine.expressions import (
    parse_template,
    referenced_nodes,
    resolve,
    syntax_errors,
)
from flowlane.nodes.base import NodeError

SETTINGS = EngineSettings()
SCOPE: dict[str, Any] = {
    "input": {"count": 3, "name": "Ada", "items": [{"price": 5}, {"price": 15}]},
    "nodes": {"fetch-issues": {"body": [{"title": "a"}, {"title": "b"}]}, "set": {"x": 1}},
    "trigger": {"who": "bo"},
    "item": None,
    "index": None,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ input.count * 2 }}", 6),
        ("  {{ input.count * 2 }}  ", 6),
        ("{{ input.items[price > 10] }}", {"price": 15}),
        ("{{ $count(nodes.`fetch-issues`.body) }}", 2),
        ("{{ input.missing }}", None),
        ('{{ {"a": {"b": [1, 2]}} }}', {"a": {"b": [1, 2]}}),
        ("{{ input.count > 2 }}", True),
        ("{{ 7 / 2 }}", 3.5),
        ("plain text", "plain text"),
    ],
)
def test_a_lone_expression_keeps_its_json_type(template: str, expected: Any) -> None:
    assert resolve(template, SCOPE, "p", SETTINGS) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{ input.name }}!", "Hello Ada!"),
        ("{{ input.count }} issues", "3 issues"),
        ("n={{ input.missing }}.", "n=."),
        ("{{ input.count > 2 }} / {{ nodes.set }}", 'true / {"x":1}'),
        ("{{ trigger.who }}{{ trigger.who }}", "bobo"),
    ],
)
def test_mixed_text_renders_each_result_in_place(template: str, expected: str) -> None:
    assert resolve(template, SCOPE, "p", SETTINGS) == expected


def test_nested_values_are_resolved_with_their_path() -> None:
    value = {"a": ["{{ input.count }}", {"b": "x{{ input.name }}"}], "c": 1}
    assert resolve(value, SCOPE, "values", SETTINGS) == {"a": [3, {"b": "xAda"}], "c": 1}
    with pytest.raises(NodeError) as caught:
        resolve({"a": [1, "{{ $nope( }}"]}, SCOPE, "values", SETTINGS)
    assert caught.value.code == "EXPRESSION_ERROR"
    assert caught.value.details["parameter"] == "values.a[1]"
    assert "values.a[1]" in caught.value.message


@pytest.mark.parametrize(
    "template",
    ["{{ (1 }}", "{{ }}", "{{ 1", "{{ input. }}", "{{ $unknownFunction() }}"],
)
def test_bad_expressions_fail_with_expression_error(template: str) -> None:
    with pytest.raises(NodeError) as caught:
        resolve(template, SCOPE, "url", SETTINGS)
    assert caught.value.code == "EXPRESSION_ERROR"
    assert "url" in caught.value.message


def test_a_runaway_expression_is_stopped_in_time() -> None:
    settings = EngineSettings(expression_timeout_ms=50)
    with pytest.raises(NodeError) as caught:
        resolve("{{ $sum([1..5000000]) }}", SCOPE, "p", settings)
    assert caught.value.code == "EXPRESSION_ERROR"


def test_an_endless_recursion_is_stopped() -> None:
    with pytest.raises(NodeError) as caught:
        resolve("{{ ($f := function($n) { $f($n + 1) }; $f(0)) }}", SCOPE, "p", SETTINGS)
    assert caught.value.code == "EXPRESSION_ERROR"


def test_a_result_too_large_is_refused() -> None:
    settings = EngineSettings(expression_max_bytes=2_000)
    with pytest.raises(NodeError) as caught:
        resolve("{{ [1..1000] }}", SCOPE, "p", settings)
    assert "bytes" in caught.value.message


def test_no_python_is_reachable() -> None:
    # JSONata has no access to the host: these are just names that do not exist.
    assert resolve("{{ __import__ }}", SCOPE, "p", SETTINGS) is None
    with pytest.raises(NodeError):
        resolve("{{ $eval(input) }}", {**SCOPE, "input": "__import__('os')"}, "p", SETTINGS)


def test_syntax_errors_name_the_parameter_path() -> None:
    errors = syntax_errors({"values": {"ok": "{{ 1 }}", "bad": "x {{ (1 }}"}}, "parameters")
    assert [path for path, _ in errors] == ["parameters.values.bad"]


def test_templates_are_split_into_text_and_expressions() -> None:
    template = parse_template("a {{ x }} b {{ y }}")
    assert [e.source for e in template.expressions] == ["x", "y"]
    assert template.single is None
    assert parse_template("{{ '}}' }}").single is not None  # a }} inside a string literal


def test_referenced_nodes_are_found_for_loading() -> None:
    assert referenced_nodes({"a": "{{ nodes.`fetch-issues`.body }}", "b": "{{ nodes.set.x }}"}) == {
        "fetch-issues",
        "set",
    }
    assert referenced_nodes({"a": "{{ $keys(nodes) }}"}) is None
    assert referenced_nodes({"a": "no expressions"}) == set()
