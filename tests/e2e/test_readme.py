"""The README's quickstart works exactly as written (only the port differs)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import DevServer, user_env


def _quickstart() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the quickstart has a bash block"
    return match.group(1)


def test_readme_quickstart_runs_verbatim(dev_server: DevServer) -> None:
    script = _quickstart()
    assert "API=http://127.0.0.1:8000/api/v1" in script
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{dev_server.port}")
    # The README runs in the checkout, where `make run` made .venv.
    (dev_server.workdir / ".venv").symlink_to(Path(REPO_ROOT / ".venv"))

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=dev_server.workdir,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^created [0-9a-f]{32}$", out, re.M)
    assert '"Posts the summary to #eng"' in out
    assert '"revision":2' in out
    assert re.search(r"^409$", out, re.M)
    assert '"workflow deleted"' in out
    # The execution ran as a state machine (the fetch fails without network and the flow goes
    # on: on_error is continue), and the ASL came back with its cost.
    assert re.search(r'"execution_id":"[0-9T]+-[0-9a-f]{8}"', out)
    assert '"StartAt":"fetch"' in out
    assert '"estimated_transitions":' in out
    # Deployed; the signed webhook call started a run, the unsigned one was refused, the event
    # log shows the firing, and the rollback answered with version 1.
    assert re.search(r"^deployed dep_[0-9a-f]{24}$", out, re.M)
    assert re.search(r'^\{"execution_id":"[0-9T]+-[0-9a-f]{8}","status":"running"\}$', out, re.M)
    assert re.search(r"^401$", out, re.M)
    assert '"status":"started"' in out
    assert '"source_ip":"127.0.0.1"' in out
    assert '"rolled back to version 1' in out
    # Plain words became a saved workflow; the chat started a generation in the agent worker
    # (the embedded Lambda), whose stream ended complete; the query turn dry-ran it.
    assert re.search(r"^generated [0-9a-f]{32} \[", out, re.M)
    assert 'data: {"type":"done"' in out
    assert re.search(r'^id: \d+\ndata: \{"type":"complete","workflow_id":"[0-9a-f]{32}"', out, re.M)
    assert '"tool_calls":[{"id":"offline-1","name":"dry_run_workflow"' in out
