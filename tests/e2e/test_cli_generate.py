"""`flowlane generate "TEXT"` (CONTRACT.md section 7) as a user runs it: no key, no account."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.conftest import FLOWLANE, user_env

FLAGSHIP = (
    "every weekday at 9 fetch our open GitHub issues, summarise them with AI and post to "
    "Slack; if there are more than 10, ask my manager to approve first"
)


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    env = user_env()
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "FLOWLANE_OPENAI_API_KEY"):
        env.pop(name, None)
    return subprocess.run(
        [FLOWLANE, "generate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_flagship_request_prints_a_document_that_validates(tmp_path: Path) -> None:
    result = generate(FLAGSHIP)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    kinds = {f"{n['type']}.{n['subtype']}" for n in document["nodes"]}
    assert {
        "TRIGGER.SCHEDULE",
        "EXTERNAL_ACTION.GITHUB",
        "FLOW.IF",
        "HUMAN_IN_THE_LOOP.APPROVAL",
        "AI_AGENT.CHAT",
        "EXTERNAL_ACTION.SLACK",
    } <= kinds
    # What it had to assume is said, on stderr, apart from the document.
    assert "drafted by offline" in result.stderr
    assert "to fill in:" in result.stderr
    # The document is one the other commands take as it is.
    path = tmp_path / "digest.json"
    path.write_text(result.stdout)
    validated = subprocess.run(
        [FLOWLANE, "validate", str(path)],
        capture_output=True,
        text=True,
        env=user_env(),
        timeout=60,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout
    assert json.loads(validated.stdout)["valid"] is True


def test_a_time_zone_option_reaches_the_schedule() -> None:
    result = generate(
        "every monday morning send the weekly report by email", "--timezone", "Europe/Paris"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    trigger = next(n for n in document["nodes"] if n["type"] == "TRIGGER")
    assert trigger["parameters"]["timezone"] == "Europe/Paris"
    assert document["settings"]["timezone"] == "Europe/Paris"


def test_no_words_is_a_usage_error() -> None:
    result = generate("   ")
    assert result.returncode == 2
    assert "describe the automation" in result.stderr
    bad = generate("post to slack", "--preferences", "[1]")
    assert bad.returncode == 2
