"""The CDK app: `make synth` (no CLI, no Docker, no AWS account), `make deploy`, `make destroy`.

The CDK CLI runs this file (cdk.json "app") and passes context in CDK_CONTEXT_JSON. Run directly
(`make synth`), it reads cdk.json's context itself and takes `--stage`, `--context key=value`
and `--no-bundling` (tests and quick checks: layers are not built).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from flowlane_cdk.settings import SettingsError, StageSettings
from flowlane_cdk.stack import FlowlaneStack

ROOT = Path(__file__).resolve().parents[1]


def cdk_json_context() -> dict[str, object]:
    """cdk.json's context: the stage default and the CDK feature flags."""
    context: dict[str, object] = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    return context


def build_app(
    context: dict[str, object] | None = None,
    outdir: str | None = None,
    *,
    account: str | None = None,
    region: str | None = None,
) -> cdk.App:
    """The app with its one stack, cdk-nag's AwsSolutions pack applied to it.

    `context` is laid over cdk.json's, so the feature flags are the CLI's whoever synthesises;
    None: the CLI runs the app and has passed the merged context in CDK_CONTEXT_JSON. The
    account and region default to the CLI's (CDK_DEFAULT_*); none: an environment-agnostic
    template (`make synth`)."""
    if context is not None:
        context = {**cdk_json_context(), **context}
    app = cdk.App(context=context, outdir=outdir)
    settings = StageSettings.from_context(app.node)
    stack = FlowlaneStack(
        app,
        f"flowlane-{settings.stage}",
        settings=settings,
        description=f"Flowlane ({settings.stage}): serverless AI workflows",
        # The account and region of the CLI's credentials at deploy time; none at synth.
        env=cdk.Environment(
            account=account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=region or os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    cdk.Tags.of(stack).add("project", "flowlane")
    cdk.Tags.of(stack).add("stage", settings.stage)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app


def _direct_context(argv: list[str]) -> tuple[dict[str, object], str]:
    parser = argparse.ArgumentParser(description="Synthesise Flowlane's stack into cdk.out")
    parser.add_argument("--stage", help="the stage to synthesise (default: cdk.json's, dev)")
    parser.add_argument("--context", "-c", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-bundling", action="store_true", help="do not build the layers")
    parser.add_argument("--outdir", default=str(ROOT / "cdk.out"))
    args = parser.parse_args(argv)
    context: dict[str, object] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--context takes KEY=VALUE, not {item!r}")
        context[key] = value
    if args.stage:
        context["stage"] = args.stage
    if args.no_bundling:
        context["aws:cdk:bundling-stacks"] = []
    return context, args.outdir


def main(argv: list[str]) -> int:
    try:
        if "CDK_CONTEXT_JSON" in os.environ or "CDK_OUTDIR" in os.environ:
            app = build_app()  # run by the CDK CLI, which passes context and outdir
        else:
            context, outdir = _direct_context(argv)
            app = build_app(context, outdir)
        assembly = app.synth()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    errors = 0
    for stack in assembly.stacks:
        for message in stack.messages:
            if message.entry.type == "aws:cdk:error":
                errors += 1
                print(f"error: {message.id}: {message.entry.data}", file=sys.stderr)
        print(f"synthesised {stack.stack_name} -> {stack.template_full_path}", file=sys.stderr)
    if errors:
        # cdk-nag findings without a reasoned suppression: what `cdk synth` also refuses.
        print(
            f"{errors} error(s): the template is written but must not be deployed", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
