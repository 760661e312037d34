"""The agent in process, on the embedded runtime: what a generation costs and how many model calls.

1. Offline generation: `POST /api/v1/workflows/generate` through the whole app (TestClient on
   `create_app(None, services)`, AgentSettings(provider="offline")) over the requests of
   tests/data/automation_requests.json. The first call is the cold one (in process: LangGraph and
   the agent's modules are imported by it); it is also the warm-up. Then every request runs
   `--rounds` times; per request the median of its rounds, and over the requests p50/p95/max.
   The time inside a generation is split by timing the pieces where the service calls them
   (wrappers cost microseconds): the offline planner (`flowlane.agent.offline.plan`, and `mend`
   when a repair round runs), the checks (validation, dry run), and the rest (understand and
   catalogue search, graph build, save, and what is left: HTTP, auth, LangGraph, models).
   Budget (issue 6): warm p50 <= 300 ms.
2. Model calls per generation on a scripted provider: the real openai SDK against
   tests/fakes/llm_server.FakeLLM, over scenarios whose first draft is valid (1 call), needs one
   repair (2 calls) or two (3 calls). The scripted drafts are the offline planner's drafts of the
   first requests of the data set, valid as they are, or with a fault put in (a port the source
   node does not have, a node subtype that does not exist). Budget: "1 draft + repairs".

Budgets are printed, never asserted.

    python benchmarks/agent.py [--rounds 3] [--first-time 6] [--one-repair 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes

os.environ.setdefault("FLOWLANE_RUNTIME", "embedded")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("FLOWLANE_DEV_JWT_SECRET", "bench-secret-0123456789abcdef0123")

from fastapi.testclient import TestClient  # noqa: E402

from flowlane.api.app import create_app  # noqa: E402
from flowlane.api.auth import issue_dev_token  # noqa: E402
from flowlane.config import (  # noqa: E402
    AgentSettings,
    ApiSettings,
    EngineSettings,
    IntegrationSettings,
    LocalSettings,
    StoreSettings,
)
from flowlane.runtime.embedded import EmbeddedRuntime  # noqa: E402
from flowlane.runtime.node_services import RuntimeNodeServices  # noqa: E402
from flowlane.runtime.services import Services  # noqa: E402

GENERATE = "/api/v1/workflows/generate"
REQUESTS = ROOT / "tests/data/automation_requests.json"
OFFLINE_P50_BUDGET = 0.300


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def make_services(runtime: EmbeddedRuntime) -> Services:
    secret = os.environ["FLOWLANE_DEV_JWT_SECRET"]
    api = ApiSettings(auth_mode="dev", dev_jwt_secret=secret)
    return Services(api=api, aws=runtime.aws, store=runtime.store, clients=runtime.clients)


def auth(user: str) -> dict[str, str]:
    token = issue_dev_token(os.environ["FLOWLANE_DEV_JWT_SECRET"], user)
    return {"Authorization": f"Bearer {token}"}


# -- part 1: offline generation -----------------------------------------------------------------


@dataclass
class Split:
    """Seconds spent in each timed piece during one generation."""

    pieces: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    in_planner: bool = False


PIECES = {
    "planner": "planner (offline.plan, mend)",
    "validate": "checks: validate",
    "dry_run": "checks: dry run",
    "understand": "understand + catalogue search",
    "graph": "graph build",
    "save": "save (DynamoDB + S3)",
}


@contextmanager
def timed_pieces(services: Services, split: Split) -> Iterator[list[str]]:
    """Wrap the pieces where the generation calls them; yield which could not be wrapped."""
    import importlib

    patched: list[tuple[Any, str, Any]] = []
    missing: list[str] = []

    def wrap(module_name: str, attribute: str, piece: str, *, planner: bool = False) -> None:
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            missing.append(f"{module_name}.{attribute}")
            return
        original = getattr(owner, attribute, None)
        if original is None:
            missing.append(f"{module_name}.{attribute}")
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            if split.in_planner:  # the planner's own understand counts as the planner's
                return original(*args, **kwargs)
            split.in_planner = planner
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                split.pieces[piece] += time.perf_counter() - started
                split.in_planner = False

        setattr(owner, attribute, timed)
        patched.append((owner, attribute, original))

    # Each is looked up where the generation finds it at call time.
    wrap("flowlane.agent.offline", "plan", "planner", planner=True)
    wrap("flowlane.agent.drafting", "mend", "planner", planner=True)
    wrap("flowlane.agent.checks", "validate_workflow", "validate")
    wrap("flowlane.agent.checks", "dry_run", "dry_run")
    wrap("flowlane.agent.offline", "understand", "understand")
    wrap("flowlane.agent.generation", "search_catalogue", "understand")
    wrap("flowlane.agent.generation", "catalogue_digest", "understand")
    wrap("flowlane.agent.generation", "build_generation_graph", "graph")
    wrap_save = services.workflows
    original_create = wrap_save.create

    def create(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_create(*args, **kwargs)
        finally:
            split.pieces["save"] += time.perf_counter() - started

    wrap_save.create = create  # type: ignore[method-assign]
    try:
        yield missing
    finally:
        for owner, attribute, original in patched:
            setattr(owner, attribute, original)
        del wrap_save.create


def offline_generation(runtime: EmbeddedRuntime, rounds: int) -> None:
    requests = json.loads(REQUESTS.read_text())["requests"]
    services = make_services(runtime)
    services.agent = AgentSettings(provider="offline")
    headers = auth("bench-offline")
    with TestClient(create_app(None, services)) as client:

        def generate(text: str) -> tuple[float, dict[str, Any]]:
            started = time.perf_counter()
            response = client.post(GENERATE, json={"description": text}, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return elapsed, body

        langgraph_before = "langgraph" in sys.modules
        cold, _ = generate(requests[0]["text"])  # the cold call is the warm-up
        per_request: dict[str, list[float]] = defaultdict(list)
        splits: dict[str, list[dict[str, float]]] = defaultdict(list)
        outcomes: dict[str, tuple[bool, int]] = {}
        split = Split()
        with timed_pieces(services, split) as missing:
            for _ in range(rounds):
                for request in requests:
                    split.pieces = defaultdict(float)
                    elapsed, body = generate(request["text"])
                    per_request[request["id"]].append(elapsed)
                    splits[request["id"]].append({**split.pieces, "total": elapsed})
                    outcomes[request["id"]] = (bool(body["success"]), int(body["repair_rounds"]))

    medians = {rid: statistics.median(values) for rid, values in per_request.items()}
    values = list(medians.values())
    p50 = statistics.median(values)
    saved = sum(ok for ok, _ in outcomes.values())
    repaired = sum(rounds_ > 0 for _, rounds_ in outcomes.values())
    print(
        f"1. offline generation, POST {GENERATE} in process "
        f"({len(requests)} requests x {rounds} rounds, median per request)"
    )
    print(f"   {'':<34} {'figure':>10}   budget")
    verdict = "within" if p50 <= OFFLINE_P50_BUDGET else "OVER"
    print(f"   {'warm p50':<34} {ms(p50):>10}   <= 300 ms: {verdict}")
    print(f"   {'warm p95':<34} {ms(percentile(values, 0.95)):>10}")
    print(f"   {'warm max':<34} {ms(max(values)):>10}")
    cold_label = "first call (cold, in process)"
    note = "" if langgraph_before else " (imports LangGraph)"
    print(f"   {cold_label:<34} {ms(cold):>10}{note}")
    print(
        f"   saved {saved}/{len(requests)} requests; "
        f"{repaired} needed an offline repair round (mend)"
    )

    # The split: per piece, the median over every warm generation of the time in it.
    everything = [s for samples in splits.values() for s in samples]
    totals = [s["total"] for s in everything]
    median_total = statistics.median(totals)
    print("   where a warm generation's time goes (median over all generations):")
    accounted = 0.0
    for piece, label in PIECES.items():
        seconds = statistics.median(s.get(piece, 0.0) for s in everything)
        accounted += seconds
        print(f"     {label:<32} {ms(seconds):>10}  {seconds / median_total:5.0%}")
    # The rest: HTTP, auth, request/response models, LangGraph's own run, the drafter.
    rest = statistics.median(
        s["total"] - sum(v for k, v in s.items() if k != "total") for s in everything
    )
    share = rest / median_total
    print(f"     {'rest (HTTP, auth, LangGraph run)':<32} {ms(rest):>10}  {share:5.0%}")
    print(f"     {'whole generation':<32} {ms(median_total):>10}")
    checks = [s.get("validate", 0.0) + s.get("dry_run", 0.0) for s in everything]
    planner = [s.get("planner", 0.0) for s in everything]
    others = [s["total"] - p - c for s, p, c in zip(everything, planner, checks, strict=True)]
    print(
        f"   planner / checks / rest: {ms(statistics.median(planner)).strip()} / "
        f"{ms(statistics.median(checks)).strip()} / {ms(statistics.median(others)).strip()}"
    )
    if missing:
        print(f"   (not timed, not found: {', '.join(missing)})")
    slowest = sorted(medians, key=medians.__getitem__, reverse=True)[:5]
    print("   slowest requests (median):")
    for rid in slowest:
        sample = splits[rid][len(splits[rid]) // 2]
        pieces = ", ".join(
            f"{key} {value * 1000:.0f}" for key, value in sample.items() if key != "total"
        )
        print(f"     {rid:<44} {ms(medians[rid]):>10}   ({pieces} ms)")


# -- part 3: model calls per generation ---------------------------------------------------------


@dataclass
class Scenario:
    name: str
    replies: list[dict[str, Any]]  # the submit_workflow arguments, in order

    @property
    def repairs(self) -> int:
        return len(self.replies) - 1


def _with_bad_port(draft: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(draft)
    broken["edges"][0]["port"] = "no-such-port"
    return broken


def _with_bad_subtype(draft: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(draft)
    node = next(n for n in broken["nodes"] if n["type"] != "TRIGGER")
    node["subtype"] = "NO_SUCH_NODE"
    return broken


def scenarios(first_time: int, one_repair: int) -> list[Scenario]:
    """The offline planner's drafts of the data set's requests that pass the checks as drafted,
    used as what the model submits, valid or with a fault put in."""
    from flowlane.agent.checks import check
    from flowlane.agent.offline import plan

    requests = json.loads(REQUESTS.read_text())["requests"]
    valid: list[tuple[str, dict[str, Any]]] = []
    for request in requests:
        planned = plan(request["text"])
        if len(planned.edges) == 0 or check(planned.to_workflow(), owner="bench").errors:
            continue
        valid.append((request["id"], planned.model_dump(mode="json", exclude_defaults=True)))
    needed = first_time + one_repair + 1
    assert len(valid) >= needed, f"only {len(valid)} usable drafts for {needed} scenarios"
    made: list[Scenario] = []
    for rid, draft in valid[:first_time]:
        made.append(Scenario(f"valid: {rid}", [draft]))
    for i, (rid, draft) in enumerate(valid[first_time : first_time + one_repair]):
        fault, label = (_with_bad_port, "port") if i % 2 == 0 else (_with_bad_subtype, "subtype")
        made.append(Scenario(f"1 repair ({label}): {rid}", [fault(draft), draft]))
    rid, draft = valid[first_time + one_repair]
    made.append(
        Scenario(
            f"2 repairs (port, subtype): {rid}",
            [_with_bad_port(draft), _with_bad_subtype(draft), draft],
        )
    )
    return made


@contextmanager
def timed_model_calls(in_calls: list[float], in_setup: list[float]) -> Iterator[None]:
    """Time the drafter's model calls (the SDK and the fake server) and, within them, the SDK
    client's creation (once per generation: the provider is opened for each)."""
    from flowlane.agent.drafting import ModelDrafter
    from flowlane.nodes.llm.openai_provider import OpenAIProvider

    patched: list[tuple[type, str, Any]] = []

    def wrap(cls: type, name: str, spent: list[float]) -> None:
        original = getattr(cls, name)

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                spent[-1] += time.perf_counter() - started

        setattr(cls, name, timed)
        patched.append((cls, name, original))

    wrap(ModelDrafter, "_submit", in_calls)
    wrap(OpenAIProvider, "_create", in_setup)
    try:
        yield
    finally:
        for cls, name, original in patched:
            setattr(cls, name, original)


@contextmanager
def without_nagle() -> Iterator[None]:
    """The fake server writes a response's head and body in two sends; with Nagle's algorithm
    on, the body waits for the client's delayed ACK (about 40 ms a call on Linux loopback),
    which a real provider's server does not make a client wait. Off for this benchmark."""
    import socketserver

    before = socketserver.StreamRequestHandler.disable_nagle_algorithm
    socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    try:
        yield
    finally:
        socketserver.StreamRequestHandler.disable_nagle_algorithm = before


def model_calls(runtime: EmbeddedRuntime, first_time: int, one_repair: int) -> None:
    from tests.fakes.llm_server import FakeLLM, Reply

    made = scenarios(first_time, one_repair)
    services = make_services(runtime)
    headers = auth("bench-model")
    in_calls: list[float] = []
    in_setup: list[float] = []
    with without_nagle(), FakeLLM() as llm, timed_model_calls(in_calls, in_setup):
        services.agent = AgentSettings(provider="openai")
        services.node_services = RuntimeNodeServices(
            services,
            engine=EngineSettings(allow_private_network=True),
            integrations=IntegrationSettings(
                openai_api_key="sk-bench", openai_base_url=llm.openai_base_url
            ),
        )
        with TestClient(create_app(None, services)) as client:

            def run(scenario: Scenario) -> tuple[float, dict[str, Any], int]:
                before = len(llm.requests)
                in_calls.append(0.0)
                in_setup.append(0.0)
                llm.script(*(Reply.tool_call("submit_workflow", r) for r in scenario.replies))
                started = time.perf_counter()
                response = client.post(
                    GENERATE, json={"description": scenario.name}, headers=headers
                )
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text
                served = len(llm.requests) - before
                assert llm.pending == 0, f"{scenario.name}: {llm.pending} replies left"
                body: dict[str, Any] = response.json()
                return elapsed, body, served

            cold, _, _ = run(made[0])  # warm-up: imports the openai SDK
            results = [(scenario, *run(scenario)) for scenario in made]
    model_time = list(zip(in_calls[1:], in_setup[1:], strict=True))

    print(
        f"3. model calls per generation: openai SDK against the fake LLM server "
        f"({len(made)} scenarios)"
    )
    print(
        f"   {'scenario':<50} {'calls':>5} {'repairs':>7} {'saved':>5} {'wall':>10} "
        f"{'in calls':>10} {'of which client':>16}"
    )
    calls: list[int] = []
    repairs: list[int] = []
    plain = True
    for (scenario, elapsed, body, served), (in_model, setup) in zip(
        results, model_time, strict=True
    ):
        got_calls, got_repairs = int(body["model_calls"]), int(body["repair_rounds"])
        calls.append(got_calls)
        repairs.append(got_repairs)
        plain &= got_calls == 1 + got_repairs == 1 + scenario.repairs == served
        flag = "" if got_calls == 1 + scenario.repairs else f"  (scripted {1 + scenario.repairs})"
        print(
            f"   {scenario.name[:50]:<50} {got_calls:>5} {got_repairs:>7} "
            f"{'yes' if body['success'] else 'NO':>5} {ms(elapsed):>10} {ms(in_model):>10} "
            f"{ms(setup):>16}{flag}"
        )
    walls = [elapsed for _, elapsed, _, _ in results]
    print(
        f"   wall per generation: median {ms(statistics.median(walls)).strip()}, "
        f"max {ms(max(walls)).strip()}; first (cold, imports the SDK) {ms(cold).strip()}"
    )
    print(
        '   ("in calls": inside the drafter\'s model calls, the openai SDK and the fake server,'
        ' which runs with TCP_NODELAY (see without_nagle); "of which client": creating the'
        " openai client, on the generation's first call)"
    )
    median_calls = statistics.median(calls)
    median_repairs = statistics.median(repairs)
    print(
        f"   median calls = 1 + median repairs: {median_calls:g} = 1 + {median_repairs:g} "
        f'(budget "1 draft + repairs": '
        f"{'within' if plain and median_calls == 1 + median_repairs else 'OVER'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="warm runs of every request")
    parser.add_argument("--first-time", type=int, default=6, help="scenarios valid at once")
    parser.add_argument("--one-repair", type=int, default=3, help="scenarios needing one repair")
    args = parser.parse_args()
    with EmbeddedRuntime(state_dir=None, store=StoreSettings(), local=LocalSettings()) as runtime:
        offline_generation(runtime, args.rounds)
        print()
        model_calls(runtime, args.first_time, args.one_repair)


if __name__ == "__main__":
    main()
