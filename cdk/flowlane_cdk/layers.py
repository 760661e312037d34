"""The Lambda layers, built without Docker (DESIGN.md decision 9).

Two layers, because one would not fit: the shared layer (the `flowlane` package and the
dependencies every function imports, ~70 MB unzipped) goes on every function; the AI layer (the
LLM SDKs and LangGraph, ~120 MB more) only on the functions that run models. Lambda allows
250 MB unzipped per function with its layers.

Both are bundled by `pip install --platform manylinux2014_aarch64 --only-binary=:all:` into the
asset's output folder: wheels for Lambda's arm64 Python 3.12 whatever machine synthesises. The
AI layer is installed under a constraints file pinning what the shared layer resolved, and keeps
only the distributions the shared layer lacks, so no package exists in two versions under /opt.
Requirements come from pyproject.toml, so what is tested is what ships. Tests synthesise with
bundling skipped (context `aws:cdk:bundling-stacks` = []): no pip, no network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "layers" / "shared"
PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_aarch64"
# Only used if local bundling were ever refused; it never is (try_bundle always bundles).
_DOCKER_IMAGE = "public.ecr.aws/sam/build-python3.12:latest-arm64"
_EXCLUDED = ("__pycache__", "*.pyc", "*.egg-info")


def requirements(extras: tuple[str, ...] = ()) -> list[str]:
    """The project's runtime dependencies, plus those of `extras` (self-references expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    name = project["name"]
    chosen: list[str] = [] if extras else list(project["dependencies"])
    pending = list(extras)
    seen: set[str] = set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in optional[extra]:
            if requirement.startswith(f"{name}["):
                pending.extend(e.strip() for e in requirement[len(name) + 1 : -1].split(","))
            else:
                chosen.append(requirement)
    return chosen


def _pip_install(target: Path, reqs: list[str], constraints: Path | None = None) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--target", str(target), "--platform", PLATFORM, "--implementation", "cp",
        "--python-version", PYTHON_VERSION, "--only-binary=:all:",
        # Bytecode compiled here would be for this interpreter, not Lambda's 3.12.
        "--no-compile",
    ]  # fmt: skip
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    subprocess.run([*command, *reqs], check=True)


def _distributions(site: Path) -> dict[str, str]:
    """name -> version of every distribution pip installed into `site`."""
    found: dict[str, str] = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found[name.lower().replace("_", "-")] = version
    return found


def _installed_files(site: Path) -> set[Path]:
    """Every file (and top-level entry) the distributions in `site` own, from their RECORDs."""
    owned: set[Path] = set()
    for record in site.glob("*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            path = Path(line.split(",", 1)[0])
            # Console scripts are recorded outside the site ("../../bin/x"): no use in a layer.
            if path.parts and ".." not in path.parts:
                owned.add(path)
    return owned


def _copy_package(destination: Path) -> None:
    shutil.copytree(
        PACKAGE_DIR / "flowlane",
        destination / "flowlane",
        ignore=shutil.ignore_patterns(*_EXCLUDED),
        dirs_exist_ok=True,
    )


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundling:
    """Local bundling for a layer: `pip install --platform` into `<output>/python`."""

    def __init__(self, *, extras: tuple[str, ...], with_package: bool) -> None:
        self.extras = extras
        self.with_package = with_package

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        site = Path(output_dir) / "python"
        if not self.extras:
            _pip_install(site, requirements())
        else:
            self._install_extras(site)
        if self.with_package:
            _copy_package(site)
        return True

    def _install_extras(self, site: Path) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            base = Path(scratch) / "base"
            _pip_install(base, requirements())
            pins = Path(scratch) / "constraints.txt"
            pins.write_text(
                "".join(f"{name}=={version}\n" for name, version in _distributions(base).items())
            )
            full = Path(scratch) / "full"
            _pip_install(full, requirements() + requirements(self.extras), constraints=pins)
            # Keep what the shared layer does not already provide.
            shared = _installed_files(base)
            for path in sorted(_installed_files(full) - shared):
                source = full / path
                if source.is_file():
                    (site / path).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, site / path)


def _source_digest(reqs: list[str], with_package: bool) -> str:
    """The asset hash: the requirements, the target platform and the package's source files, so
    a new dependency or a changed module makes a new layer version and nothing else does."""
    digest = hashlib.sha256()
    digest.update(f"{PLATFORM} cp{PYTHON_VERSION}\n".encode())
    digest.update("\n".join(reqs).encode())
    if with_package:
        for path in sorted((PACKAGE_DIR / "flowlane").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


class Layers(Construct):
    """The shared layer (every function) and the AI layer (functions that run models)."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.shared = self._layer(
            "Shared",
            f"flowlane-{stage}-shared",
            "Flowlane: the flowlane package and the dependencies every function imports",
            extras=(),
            with_package=True,
        )
        self.ai = self._layer(
            "Ai",
            f"flowlane-{stage}-ai",
            "Flowlane: the OpenAI and Anthropic SDKs and LangGraph (imported on first use)",
            extras=("agent",),
            with_package=False,
        )

    def _layer(
        self, construct_id: str, name: str, description: str, *, extras: tuple[str, ...],
        with_package: bool,
    ) -> lambda_.LayerVersion:  # fmt: skip
        reqs = requirements() + requirements(extras) if extras else requirements()
        code = lambda_.Code.from_asset(
            str(PACKAGE_DIR),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            asset_hash=_source_digest(reqs, with_package),
            exclude=list(_EXCLUDED),
            bundling=cdk.BundlingOptions(
                image=cdk.DockerImage.from_registry(_DOCKER_IMAGE),
                local=PipLayerBundling(extras=extras, with_package=with_package),
            ),
        )
        return lambda_.LayerVersion(
            self,
            construct_id,
            layer_version_name=name,
            description=description,
            code=code,
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.ARM_64],
        )
