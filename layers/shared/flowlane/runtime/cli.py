"""The `flowlane` command (CONTRACT.md section 7)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flowlane.config import api_settings, local_settings


def _dev(args: argparse.Namespace) -> int:
    from flowlane.runtime.devserver import serve
    from flowlane.runtime.embedded import StateDirInUse

    try:
        serve(args.host, args.port, Path(args.state_dir))
    except StateDirInUse as exc:
        print(f"flowlane dev: {exc}", file=sys.stderr)
        return 1
    return 0


def _token(args: argparse.Namespace) -> int:
    from flowlane.api.auth import issue_dev_token
    from flowlane.runtime.devserver import dev_jwt_secret

    secret = dev_jwt_secret(api_settings(), Path(args.state_dir))
    print(issue_dev_token(secret, args.user, ttl_seconds=args.ttl))
    return 0


def _read_json(path: str) -> object:
    import json

    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return json.loads(text)


def _validate(args: argparse.Namespace) -> int:
    """Print the validation report as JSON; exit 0 when valid, 1 when not, 2 on a bad file."""
    import json

    from flowlane.engine.validation import validate_document

    try:
        document = _read_json(args.file)
    except (OSError, ValueError) as exc:
        print(f"flowlane validate: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    # The file may be a bare document or a request body ({"workflow": ...}).
    if isinstance(document, dict) and isinstance(document.get("workflow"), dict):
        document = document["workflow"]
    report = validate_document(document)
    print(json.dumps(report.model_dump(mode="json"), indent=2))
    return 0 if report.valid else 1


def _document(path: str, command: str) -> dict[str, object] | None:
    try:
        document = _read_json(path)
    except (OSError, ValueError) as exc:
        print(f"flowlane {command}: cannot read {path}: {exc}", file=sys.stderr)
        return None
    if isinstance(document, dict) and isinstance(document.get("workflow"), dict):
        document = document["workflow"]
    if not isinstance(document, dict):
        print(f"flowlane {command}: {path} does not hold a workflow object", file=sys.stderr)
        return None
    return document


def _invalid(document: dict[str, object], command: str) -> bool:
    """Print the validation errors (stderr) of a document that cannot be compiled."""
    import json

    from flowlane.engine.validation import validate_document

    report = validate_document(document)
    if report.valid:
        return False
    print(f"flowlane {command}: the workflow is not valid", file=sys.stderr)
    print(json.dumps([e.model_dump(mode="json") for e in report.errors], indent=2), file=sys.stderr)
    return True


def _compile(args: argparse.Namespace) -> int:
    """Print the ASL the workflow compiles to; exit 1 when it cannot compile, 2 on a bad file."""
    import json

    from flowlane.config import aws_settings, local_settings
    from flowlane.engine.compiler import Target, compile_workflow
    from flowlane.errors import FlowlaneError
    from flowlane.models.workflow import WorkflowData
    from flowlane.runtime.launcher import EMBEDDED_ACCOUNT

    document = _document(args.file, "compile")
    if document is None:
        return 2
    if _invalid(document, "compile"):
        return 1
    workflow = WorkflowData.model_validate(
        {"id": "workflow", "created_at": 0, "updated_at": 0, **document}
    )
    region = aws_settings().region
    target = Target(
        node_runner_arn=args.node_runner_arn
        or f"arn:aws:lambda:{region}:{EMBEDDED_ACCOUNT}:function:"
        f"{local_settings().function_prefix}node-runner",
        state_machine_arn_prefix=f"arn:aws:states:{region}:{EMBEDDED_ACCOUNT}:stateMachine:",
    )
    try:
        compiled = compile_workflow(workflow, target)
    except FlowlaneError as exc:
        print(f"flowlane compile: {exc.message}", file=sys.stderr)
        return 1
    if args.stats:
        output: object = {
            "definition": compiled.machine.definition,
            "stats": compiled.stats,
            "children": [{"name": c.name, "definition": c.definition} for c in compiled.children],
        }
    else:
        output = compiled.machine.definition
    print(json.dumps(output, indent=2, ensure_ascii=False))
    stats = compiled.stats
    print(
        f"{stats['states']} states, {stats['bytes']:,} bytes, about "
        f"{stats['estimated_transitions']} transitions on the longest path, "
        f"{stats['machines']} machine(s)",
        file=sys.stderr,
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    """Execute on the embedded runtime; print the execution record; exit 0 when SUCCEEDED."""
    import json

    from pydantic import ValidationError

    from flowlane.errors import FlowlaneError
    from flowlane.runtime.local_run import RunTimedOut, run_document

    document = _document(args.file, "run")
    if document is None:
        return 2
    try:
        trigger_data = json.loads(args.input)
    except ValueError as exc:
        print(f"flowlane run: --input is not JSON: {exc}", file=sys.stderr)
        return 2
    if _invalid(document, "run"):
        return 1
    try:
        record = run_document(
            document, trigger_data, approvals=args.approvals, timeout_seconds=args.timeout
        )
    except ValidationError as exc:
        print(f"flowlane run: the workflow is not valid: {exc}", file=sys.stderr)
        return 1
    except (FlowlaneError, RunTimedOut) as exc:
        print(f"flowlane run: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0 if record.status.value == "SUCCEEDED" else 1


def _generate(args: argparse.Namespace) -> int:
    """Plain words to a workflow document on stdout; what it assumed or could not do on stderr.
    Exit 0 when the document validated and dry-ran, 1 otherwise (the last draft is printed)."""
    import json

    from flowlane.agent.standalone import generate_document
    from flowlane.errors import FlowlaneError

    text = " ".join(args.text).strip()
    if not text:
        print("flowlane generate: describe the automation in words", file=sys.stderr)
        return 2
    try:
        preferences = json.loads(args.preferences)
    except ValueError as exc:
        print(f"flowlane generate: --preferences is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(preferences, dict):
        print("flowlane generate: --preferences must be a JSON object", file=sys.stderr)
        return 2
    if args.timezone:
        preferences["timezone"] = args.timezone
    try:
        result = generate_document(text, provider=args.provider, preferences=preferences)
    except FlowlaneError as exc:
        print(f"flowlane generate: {exc.message}", file=sys.stderr)
        return 1
    if result.document is not None:
        body = result.document.model_dump(mode="json", exclude_none=True, exclude={"user_id"})
        print(json.dumps(body, indent=2, ensure_ascii=False))
    calls = f", {result.model_calls} model call(s)" if result.model_calls else ""
    print(f"drafted by {result.provider}{calls}", file=sys.stderr)
    for item in result.missing_info:
        print(f"to fill in: {item}", file=sys.stderr)
    for item in result.suggestions:
        print(f"note: {item}", file=sys.stderr)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    return 0 if result.valid else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowlane", description="Plain words to durable, serverless AI workflows."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    state_dir = str(local_settings().state_dir)

    dev = commands.add_parser("dev", help="serve the whole API on the embedded runtime")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--state-dir", default=state_dir, help="where state persists (.flowlane)")
    dev.set_defaults(run=_dev)

    token = commands.add_parser("token", help="print a dev token for `flowlane dev`")
    token.add_argument("--user", required=True, help="the token's subject (the caller's id)")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    token.add_argument("--state-dir", default=state_dir)
    token.set_defaults(run=_token)

    validate = commands.add_parser("validate", help="check a workflow document (JSON file or -)")
    validate.add_argument("file", help="the workflow document, or - for standard input")
    validate.set_defaults(run=_validate)

    compile_ = commands.add_parser("compile", help="print the ASL a workflow compiles to")
    compile_.add_argument("file", help="the workflow document, or - for standard input")
    compile_.add_argument(
        "--stats", action="store_true", help="print {definition, stats, children} instead"
    )
    compile_.add_argument("--node-runner-arn", help="the node runner's ARN (default: embedded)")
    compile_.set_defaults(run=_compile)

    run = commands.add_parser("run", help="execute a workflow on the embedded runtime")
    run.add_argument("file", help="the workflow document, or - for standard input")
    run.add_argument("--input", default="{}", help="the trigger data, as JSON")
    run.add_argument(
        "--approvals",
        choices=["approve", "reject", "wait"],
        default="approve",
        help="how to decide APPROVAL nodes (wait: until they time out)",
    )
    run.add_argument("--timeout", type=float, help="give up after this many seconds")
    run.set_defaults(run=_run)

    generate = commands.add_parser("generate", help="print a workflow drafted from plain words")
    generate.add_argument("text", nargs="+", help="the automation, in words")
    generate.add_argument(
        "--provider",
        choices=["auto", "openai", "anthropic", "offline"],
        help="who drafts it (default: FLOWLANE_AGENT_PROVIDER, auto)",
    )
    generate.add_argument("--timezone", help="IANA time zone for schedules (default UTC)")
    generate.add_argument(
        "--preferences", default="{}", help='JSON, e.g. {"slack_channel": "#ops"}'
    )
    generate.set_defaults(run=_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
