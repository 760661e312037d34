"""`flowlane compile FILE` and `flowlane run FILE --input JSON` (CONTRACT.md section 7) as a
user runs them: a fresh process, the user's environment, moto executing the machine for real."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import FLOWLANE, user_env

EXAMPLES = REPO_ROOT / "examples"


def flowlane(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLOWLANE, *args],
        capture_output=True,
        text=True,
        env=user_env(),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_compile_prints_the_definition_and_its_cost() -> None:
    result = flowlane("compile", str(EXAMPLES / "order-batch.json"))
    assert result.returncode == 0, result.stderr
    definition: dict[str, Any] = json.loads(result.stdout)
    assert definition["StartAt"]
    assert any(state["Type"] == "Map" for state in definition["States"].values())
    assert "states" in result.stderr
    assert "transitions" in result.stderr
    with_stats = json.loads(
        flowlane("compile", "--stats", str(EXAMPLES / "order-batch.json")).stdout
    )
    assert with_stats["definition"] == definition
    assert with_stats["stats"]["machines"] == 1


def test_run_executes_an_example_and_prints_its_record(tmp_path: Path) -> None:
    orders = {
        "orders": [
            {"id": "A1", "customer": "ann", "lines": [{"qty": 3, "price": 40}]},
            {"id": "A2", "customer": "bo", "lines": [{"qty": 1, "price": 20}]},
        ]
    }
    result = flowlane(
        "run", str(EXAMPLES / "order-batch.json"), "--input", json.dumps(orders), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)  # stdout is the record and nothing else
    assert record["status"] == "SUCCEEDED"
    assert record["output"]["big_ids"] == ["A1"]
    totals = [r for r in record["node_runs"] if r["node_id"] == "total"]
    assert sorted(r["iteration"] for r in totals) == [[0], [1]]  # iterations run concurrently
    assert not (tmp_path / ".flowlane").exists()  # nothing persists


def test_run_exits_one_when_the_execution_fails(tmp_path: Path) -> None:
    document = {
        "name": "stops",
        "nodes": [
            {"id": "start", "type": "TRIGGER", "subtype": "MANUAL"},
            {
                "id": "boom",
                "type": "ACTION",
                "subtype": "TRANSFORM",
                "on_error": "stop",
                "parameters": {"expression": "{{ $number(input.text) }}"},
            },
        ],
        "connections": {
            "connections": {
                "start": {"connection_types": {"main": {"connections": [{"node": "boom"}]}}}
            }
        },
    }
    path = tmp_path / "stops.json"
    path.write_text(json.dumps(document))
    result = flowlane("run", str(path), "--input", '{"text": "not a number"}')
    assert result.returncode == 1, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "FAILED"
    assert record["error"]["node_id"] == "boom"


def test_run_refuses_bad_input_and_files(tmp_path: Path) -> None:
    assert flowlane("run", str(tmp_path / "missing.json")).returncode == 2
    bad_input = flowlane("run", str(EXAMPLES / "order-batch.json"), "--input", "{nope")
    assert bad_input.returncode == 2
    assert "--input is not JSON" in bad_input.stderr
