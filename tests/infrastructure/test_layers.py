"""The layer bundler: pip for Lambda's platform, no Docker; the AI layer holds only what the
shared layer lacks."""

from __future__ import annotations

import tomllib
from pathlib import Path

import aws_cdk as cdk
import pytest

from flowlane_cdk import layers
from flowlane_cdk.layers import PipLayerBundling, requirements

ROOT = Path(__file__).resolve().parents[2]
IMAGE = cdk.DockerImage.from_registry("unused")


def test_requirements_come_from_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requirements() == project["dependencies"]
    agent = requirements(("agent",))
    names = {r.split(">")[0].split("=")[0].split("[")[0] for r in agent}
    assert {"openai", "anthropic", "langgraph"} <= names
    assert not any(r.startswith("flowlane") for r in agent)  # self-references are expanded


class FakePip:
    """Stands in for `pip install --target`: writes a dist-info with a RECORD per package."""

    def __init__(self, universe: dict[str, str]) -> None:
        self.universe = universe  # name -> version
        self.calls: list[tuple[Path, list[str], str | None]] = []

    def __call__(self, target: Path, reqs: list[str], constraints: Path | None = None) -> None:
        self.calls.append((target, reqs, constraints.read_text() if constraints else None))
        for req in reqs:
            name = req.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip()
            version = self.universe.get(name, "1.0")
            package = target / name.replace("-", "_")
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").write_text(f"# {name} {version}\n")
            info = target / f"{name.replace('-', '_')}-{version}.dist-info"
            info.mkdir(exist_ok=True)
            (info / "RECORD").write_text(f"{package.name}/__init__.py,,\n{info.name}/RECORD,,\n")


def test_shared_layer_is_the_dependencies_and_the_package(tmp_path, monkeypatch) -> None:
    pip = FakePip({})
    monkeypatch.setattr(layers, "_pip_install", pip)
    assert PipLayerBundling(extras=(), with_package=True).try_bundle(str(tmp_path), image=IMAGE)
    ((target, reqs, _),) = pip.calls
    assert target == tmp_path / "python"
    assert reqs == requirements()
    site = tmp_path / "python"
    assert (site / "flowlane" / "runtime" / "node_runner.py").is_file()
    assert not list(site.rglob("__pycache__"))
    assert not list(site.rglob("*.pyc"))


def test_ai_layer_keeps_only_what_the_shared_layer_lacks(tmp_path, monkeypatch) -> None:
    pip = FakePip({"pydantic": "2.9.0", "httpx": "0.28.1", "openai": "1.99.0"})
    monkeypatch.setattr(layers, "_pip_install", pip)
    assert PipLayerBundling(extras=("agent",), with_package=False).try_bundle(
        str(tmp_path), image=IMAGE
    )
    base_call, full_call = pip.calls
    # The full install is pinned to what the shared layer resolved.
    assert base_call[2] is None
    assert "pydantic==2.9.0" in full_call[2].splitlines()
    assert "httpx==0.28.1" in full_call[2].splitlines()
    site = tmp_path / "python"
    top = {p.name for p in site.iterdir()}
    assert {"openai", "anthropic", "langgraph"} <= top
    assert not {"pydantic", "httpx", "fastapi", "flowlane"} & top


def test_pip_is_asked_for_lambdas_platform_wheels_only(tmp_path, monkeypatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(layers.subprocess, "run", lambda command, check: seen.append(command))
    layers._pip_install(tmp_path, ["tzdata"])
    (command,) = seen
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in command
    assert "--no-compile" in command
    assert command[command.index("--target") + 1] == str(tmp_path)


def test_layer_hash_follows_requirements_and_sources(tmp_path, monkeypatch) -> None:
    base = layers._source_digest(["a>=1"], with_package=True)
    assert layers._source_digest(["a>=1"], with_package=True) == base
    assert layers._source_digest(["a>=2"], with_package=True) != base
    package = tmp_path / "flowlane"
    package.mkdir()
    (package / "m.py").write_text("x = 1\n")
    monkeypatch.setattr(layers, "PACKAGE_DIR", tmp_path)
    before = layers._source_digest(["a>=1"], with_package=True)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert layers._source_digest(["a>=1"], with_package=True) == before  # bytecode is not source
    (package / "m.py").write_text("x = 2\n")
    assert layers._source_digest(["a>=1"], with_package=True) != before


@pytest.mark.timeout(300)
def test_real_pip_fetches_arm64_wheels_for_python_312(tmp_path) -> None:
    """The real command, on a package with a compiled extension: what lands is Lambda's build
    (this machine may be x86_64 and run another Python). Needs the package index, like
    `make install`."""
    layers._pip_install(tmp_path, ["pydantic-core"])
    (extension,) = (tmp_path / "pydantic_core").glob("_pydantic_core.*.so")
    assert "cpython-312-aarch64-linux-gnu" in extension.name
