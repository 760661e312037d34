"""The documentation keeps up with the code: every node subtype of the catalogue has its section
in docs/nodes.md naming each of its parameters and ports, with an example that validates; the
validation codes in docs/engine.md are the validator's; and every engine and integration setting
is in README.md's configuration table."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from flowlane.config import (
    AgentSettings,
    EngineSettings,
    ExecutionSettings,
    IntegrationSettings,
    RuntimeSettings,
)
from flowlane.engine import validation
from flowlane.models.workflow import ConnectionsMapData, NodeData
from flowlane.nodes.base import RETRYABLE_CODES, Node
from flowlane.nodes.registry import catalogue
from tests.conftest import REPO_ROOT

NODES_MD = REPO_ROOT / "docs" / "nodes.md"
ENGINE_MD = REPO_ROOT / "docs" / "engine.md"
README = REPO_ROOT / "README.md"
CATALOGUE_HEADING = "## The catalogue"
_HEADING = re.compile(r"^(#{1,3}) (.+?)\s*$", re.MULTILINE)
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def _registered() -> list[Node[Any]]:
    # Tests may register nodes of their own for a while; only the product's are documented.
    return [n for n in catalogue().values() if type(n).__module__.startswith("flowlane.nodes.")]


def _title(node: Node[Any]) -> str:
    return f"{node.type.value} / {node.subtype}"


@cache
def _sections() -> dict[str, str]:
    """Level-3 headings under "The catalogue" -> their text (up to the next heading)."""
    text = NODES_MD.read_text(encoding="utf-8")
    start = text.index(CATALOGUE_HEADING)
    headings = list(_HEADING.finditer(text, start + len(CATALOGUE_HEADING)))
    sections: dict[str, str] = {}
    for n, match in enumerate(headings):
        if len(match.group(1)) < 3:
            break  # the next level-2 heading ends the catalogue
        end = headings[n + 1].start() if n + 1 < len(headings) else len(text)
        sections[match.group(2)] = text[match.end() : end]
    return sections


def _ids(nodes: list[Node[Any]]) -> list[str]:
    return [n.id for n in nodes]


NODES = _registered()


def test_the_catalogue_is_not_empty() -> None:
    assert len(NODES) >= 20


@pytest.mark.parametrize("node", NODES, ids=_ids(NODES))
def test_every_subtype_has_a_section(node: Node[Any]) -> None:
    assert _title(node) in _sections(), f"docs/nodes.md has no '### {_title(node)}' heading"


@pytest.mark.parametrize("node", NODES, ids=_ids(NODES))
def test_every_parameter_is_named_in_its_section(node: Node[Any]) -> None:
    section = _sections().get(_title(node), "")
    missing = [name for name in node.parameters_model.model_fields if f"`{name}`" not in section]
    assert not missing, f"'### {_title(node)}' in docs/nodes.md does not name {missing}"


@pytest.mark.parametrize("node", NODES, ids=_ids(NODES))
def test_every_output_port_is_named_in_its_section(node: Node[Any]) -> None:
    section = _sections().get(_title(node), "")
    missing = [port for port in node.outputs if f"`{port}`" not in section]
    assert not missing, f"'### {_title(node)}' in docs/nodes.md does not name ports {missing}"


@pytest.mark.parametrize("node", NODES, ids=_ids(NODES))
def test_the_example_is_a_valid_node_of_its_subtype(node: Node[Any]) -> None:
    blocks = _JSON_BLOCK.findall(_sections().get(_title(node), ""))
    assert len(blocks) == 1, f"'### {_title(node)}' should hold one JSON example"
    example = NodeData.model_validate(json.loads(blocks[0]))
    assert (example.type, example.subtype) == (node.type, node.subtype)
    unknown = set(example.parameters) - set(node.parameters_model.model_fields)
    assert not unknown, f"the example of {_title(node)} uses unknown parameters {unknown}"
    # The workflow validator checks parameters as a saved workflow would be checked
    # (expressions standing for values); issues about the missing trigger are not the node's.
    report = validation.validate_workflow([example], ConnectionsMapData())
    errors = [i.message for i in report.errors if i.node_id == example.id]
    assert not errors, f"the example of {_title(node)} is invalid: {errors}"


def test_no_section_describes_a_subtype_that_is_not_registered() -> None:
    registered = {_title(n) for n in NODES}
    stale = [title for title in _sections() if title not in registered]
    assert not stale, f"docs/nodes.md describes subtypes the catalogue does not have: {stale}"


def test_the_overview_table_lists_every_subtype() -> None:
    text = NODES_MD.read_text(encoding="utf-8")
    overview = text[text.index("## Overview") : text.index(CATALOGUE_HEADING)]
    missing = [_title(n) for n in NODES if f"| {_title(n)} |" not in overview]
    assert not missing, f"the overview of docs/nodes.md lacks {missing}"


def test_the_retried_codes_are_the_code_s() -> None:
    text = NODES_MD.read_text(encoding="utf-8")
    section = text[text.index("## Errors and retries") :]
    section = section[: section.index("\n## ", 1)]
    retried = set(re.findall(r"^\| `([A-Z_]+)` \|[^|]+\| yes \|$", section, re.MULTILINE))
    assert retried == set(RETRYABLE_CODES)


def test_the_validation_codes_are_the_validator_s() -> None:
    row = re.compile(r"^\| `?([A-Z_]+)`? \| (error|warning) \|", re.MULTILINE)
    in_code = set(row.findall(validation.__doc__ or ""))
    in_docs = set(row.findall(ENGINE_MD.read_text(encoding="utf-8")))
    assert in_code, "the validator's docstring no longer has its table of codes"
    assert in_docs == in_code


def _env_names(settings: type[BaseSettings]) -> list[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = []
    for field_name, info in settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.append(str(alias.choices[0]))
        elif isinstance(alias, str):
            names.append(alias)
        else:
            names.append(f"{prefix}{field_name}".upper())
    return names


@pytest.mark.parametrize(
    "settings",
    [EngineSettings, IntegrationSettings, ExecutionSettings, RuntimeSettings, AgentSettings],
)
def test_every_setting_is_in_the_readme(settings: type[BaseSettings]) -> None:
    readme = README.read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration") : readme.index("## Command line")]
    missing = [name for name in _env_names(settings) if f"| `{name}`" not in table]
    assert not missing, f"README.md's configuration table lacks {missing}"
