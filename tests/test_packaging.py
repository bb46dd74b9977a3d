"""aios installs like any tool: the shipped personas, prompts, workflows and demo recording travel
inside the package, so a wheel (pip, pipx, uv tool) finds them without the repository."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import orchestrator
from orchestrator import resources
from orchestrator.resources import SHIPPED_ROOT

REPO = Path(__file__).resolve().parents[1]
in_checkout = pytest.mark.skipif(
    not (REPO / "pyproject.toml").is_file(),
    reason="needs the source checkout (the suite also runs against an installed wheel)",
)
SHIPPED = {
    "personas": [f"{area}_expert.yaml" for area in ("architecture", "domain", "performance", "security")]
    + ["testing_expert.yaml"],
    "prompts": ["builder.md", "dimensions.yaml", "review.md"],
    "workflows": ["escalation.yaml", "models.yaml", "pair_programming.yaml", "prices.yaml"],
}


def test_the_shipped_data_lives_inside_the_package() -> None:
    assert Path(orchestrator.__file__).parent / "data" == SHIPPED_ROOT
    for kind, names in SHIPPED.items():
        assert set(names) <= set(resources.available(kind)), kind
    assert (SHIPPED_ROOT / "demo.jsonl").is_file()


def test_a_zipped_package_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imported from a zip, every persona would look missing; the import says why instead."""
    archive = tmp_path / "aios.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("orchestrator/data/personas/x.yaml", "")
    monkeypatch.setattr(resources, "files", lambda package: zipfile.Path(archive, f"{package}/"))
    with pytest.raises(ImportError) as err:
        resources._shipped_root()
    assert str(err.value).startswith("aios must be installed as files (pip, pipx, uv tool), not run from ")
    assert "aios.zip" in str(err.value)


@in_checkout
def test_the_package_data_folders_are_the_repository_root_folders() -> None:
    """One copy: what people edit at the root is what the wheel ships (no second copy to drift)."""
    for kind in resources.KINDS:
        link = REPO / "orchestrator" / "data" / kind
        assert link.is_symlink() and link.resolve() == (REPO / kind).resolve(), kind


@in_checkout
def test_every_data_file_at_the_root_is_declared_package_data() -> None:
    """A new file (say ``prompts/planner.txt``) must not work in the checkout and vanish from the wheel."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = setuptools["package-data"]["orchestrator"]
    for kind in resources.KINDS:
        for path in (REPO / kind).iterdir():
            if path.name != "README.md":
                assert any(fnmatch.fnmatch(f"data/{kind}/{path.name}", p) for p in patterns), path


@in_checkout
def test_a_wheel_carries_the_data_and_runs_the_demo_outside_the_checkout(tmp_path: Path) -> None:
    pytest.importorskip("setuptools", minversion="77", reason="the [test] extra installs the build backend")
    wheel = _build_wheel(_copy_source(tmp_path / "src"), tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"orchestrator/data/{kind}/{name}" for kind, files in SHIPPED.items() for name in files}
    assert expected | {"orchestrator/data/demo.jsonl"} <= names
    assert not [name for name in names if name.endswith("README.md")]

    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The wheel's package first on the path; its dependencies come from this environment.
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = "import orchestrator; print(orchestrator.__file__)"
    where = _run([sys.executable, "-c", probe], cwd=elsewhere, env=env)
    assert Path(where.strip()).is_relative_to(site)
    demo = _run([sys.executable, "-m", "orchestrator", "demo", "--yes"], cwd=elsewhere, env=env)
    assert "merged into main" in demo


def _copy_source(dest: Path) -> Path:
    """What a build reads, copied so building writes nothing into the checkout; symlinks stay symlinks."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("orchestrator", *resources.KINDS):
        shutil.copytree(REPO / folder, dest / folder, symlinks=True, ignore=ignore)
    return dest


def _build_wheel(source: Path, dist: Path) -> Path:
    pytest.importorskip("pip", reason="builds with pip, as .ci/run does")
    # No build isolation: the backend comes from this environment, so no index is needed.
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), "."]
    _run([sys.executable, "-m", "pip", *build], cwd=source)
    (wheel,) = dist.glob("*.whl")
    return wheel


def _run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout
