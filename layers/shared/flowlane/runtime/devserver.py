"""`flowlane dev`: every domain router in one app, on the embedded runtime."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from fastapi import FastAPI

from flowlane.api.app import create_app
from flowlane.config import ApiSettings, LocalSettings, StoreSettings, api_settings, aws_settings
from flowlane.runtime.dev_scheduler import DevScheduler
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.services import Services

DEV_SECRET_FILE = "dev-jwt-secret"


def dev_jwt_secret(api: ApiSettings, state_dir: Path) -> str:
    """FLOWLANE_DEV_JWT_SECRET when set; else a random secret kept in the state folder, so
    `flowlane token` and `flowlane dev` run from the same folder agree without configuration."""
    if api.dev_jwt_secret:
        return api.dev_jwt_secret
    path = state_dir / DEV_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def build_dev_app(runtime: EmbeddedRuntime, state_dir: Path) -> FastAPI:
    api = api_settings().model_copy(
        update={"auth_mode": "dev", "dev_jwt_secret": dev_jwt_secret(api_settings(), state_dir)}
    )
    services = Services(api=api, aws=runtime.aws, store=runtime.store, clients=runtime.clients)
    return create_app(None, services)


def _command() -> str:
    """How this process was started (`.venv/bin/flowlane` under `make run`), for the banner."""
    invoked = Path(sys.argv[0])
    if invoked.name == "flowlane":
        try:
            return str(invoked.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(invoked)
    return "flowlane"


def serve(host: str, port: int, state_dir: Path) -> None:
    import uvicorn

    # Handlers invoked in process (Step Functions -> Lambda) read their settings as on Lambda;
    # they must reach this process's moto, whatever the shell says.
    os.environ["FLOWLANE_RUNTIME"] = "embedded"
    # CloudWatch metrics (EMF) have no CloudWatch here: keep them out of the console.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    aws_settings.cache_clear()
    local = LocalSettings()
    runtime = EmbeddedRuntime(
        state_dir=state_dir, store=StoreSettings(), local=local, region=aws_settings().region
    )
    runtime.start()
    scheduler: DevScheduler | None = None
    try:
        app = build_dev_app(runtime, state_dir)
        restored = runtime.restored.get("dynamodb", 0)
        # moto stores EventBridge Scheduler schedules but never fires them: this server does.
        scheduler = DevScheduler(
            runtime.clients,
            state_dir / "scheduler.json",
            interval=local.scheduler_interval_seconds,
        ).start()
        print(f"Flowlane dev server on http://{host}:{port}")
        print(f"  API docs:  http://{host}:{port}/docs")
        print(f"  state:     {state_dir.resolve()} ({restored} records restored)")
        print(f"  schedules: fired by this server ({scheduler.count_schedules()})")
        print(f"  a token:   {_command()} token --user alice   (in this folder)")
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if scheduler is not None:
            scheduler.stop()
        runtime.stop()
