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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
