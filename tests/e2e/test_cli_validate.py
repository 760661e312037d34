"""`flowlane validate FILE` (CONTRACT.md section 7) as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import FLOWLANE, user_env


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLOWLANE, "validate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=user_env(),
        timeout=60,
        check=False,
    )


def test_a_valid_example_exits_zero_with_a_report() -> None:
    result = run(str(REPO_ROOT / "examples" / "github-issues-digest.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"valid": True, "errors": [], "warnings": []}


def test_an_invalid_document_exits_one_naming_the_problem(tmp_path: Path) -> None:
    document = {
        "name": "broken",
        "nodes": [
            {
                "id": "start",
                "type": "TRIGGER",
                "subtype": "SCHEDULE",
                "parameters": {"expression": "cron(0 9 * * MON *)"},
            },
        ],
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    result = run(str(path))
    assert result.returncode == 1
    errors = json.loads(result.stdout)["errors"]
    assert errors[0]["code"] == "INVALID_SCHEDULE"
    assert errors[0]["field"] == "parameters.expression"


def test_standard_input_and_unreadable_files() -> None:
    assert run("-", stdin='{"workflow": {"name": "x", "nodes": []}}').returncode == 1
    missing = run("/no/such/file.json")
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
