"""The CDK app: how long a synth takes, what the template holds, how large the layers are.

- synth: fresh processes each running `cdk/app.py --no-bundling` (jsii and Node start, the
  stack, cdk-nag), what the infrastructure tests and a `cdk diff` pay; median of `--runs`.
- the template: resources by type, routes (open and protected), statements per function role.
- layers: unzipped sizes of the layer assets a `make synth` left in cdk.out (Lambda allows
  250 MB per function with its layers); skipped when cdk.out holds no bundled layer.

Printed, never asserted (issue 7 gives no budget).

    python benchmarks/synth.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _synth_once(outdir: Path) -> float:
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "cdk" / "app.py"), "--no-bundling", "--outdir", str(outdir)],
        check=True, env=env, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    return time.perf_counter() - started


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _layer_sizes(cdk_out: Path, template: dict) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::LayerVersion":
            continue
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        folder = cdk_out / asset if asset else None
        if folder is not None and (folder / "python").is_dir():
            sizes[resource["Properties"]["LayerName"]] = _size(folder)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        times = [_synth_once(Path(scratch) / f"run{i}") for i in range(args.runs)]
        template = json.loads((Path(scratch) / "run0" / "flowlane-dev.template.json").read_text())
    print(f"synth without bundling (fresh process, {args.runs} runs): "
          f"median {statistics.median(times):.1f} s, min {min(times):.1f} s")  # fmt: skip

    kinds = Counter(r["Type"] for r in template["Resources"].values())
    print(f"template: {sum(kinds.values())} resources, {len(json.dumps(template)) // 1024} KB")
    for kind, count in kinds.most_common(8):
        print(f"  {count:4d}  {kind}")
    routes = [r["Properties"] for r in template["Resources"].values()
              if r["Type"] == "AWS::ApiGatewayV2::Route"]  # fmt: skip
    open_routes = sum(1 for r in routes if r["AuthorizationType"] == "NONE")
    print(f"routes: {len(routes)} ({len(routes) - open_routes} behind the JWT authorizer, "
          f"{open_routes} open)")  # fmt: skip
    for logical_id, resource in sorted(template["Resources"].items()):
        if resource["Type"] == "AWS::IAM::Policy" and "Function" in logical_id:
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            actions = sum(
                len(s["Action"]) if isinstance(s["Action"], list) else 1 for s in statements
            )
            print(f"  {logical_id[: logical_id.index('Function')]:<16} "
                  f"{len(statements):2d} statements, {actions:2d} actions")  # fmt: skip

    cdk_out = ROOT / "cdk.out"
    bundled = cdk_out / "flowlane-dev.template.json"
    if bundled.is_file():
        sizes = _layer_sizes(cdk_out, json.loads(bundled.read_text()))
        if sizes:
            for name, size in sorted(sizes.items()):
                print(f"layer {name}: {size / 1e6:.0f} MB unzipped")
            print(f"largest function (all layers): {sum(sizes.values()) / 1e6:.0f} MB of 250 MB")
            return
    print("layers: run `make synth` first to measure them")


if __name__ == "__main__":
    main()
