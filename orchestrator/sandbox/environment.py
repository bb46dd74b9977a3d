"""The reviewed project's own Python environment: which one it is, and what the sandbox must show.

The project's commands (its tests, the acceptance ``check`` commands, the builder's ``run_check``)
run with the project's interpreter and dependencies, not aios's: a project whose tests import a
package installed only in its own venv must pass here as it passes on the developer's machine.

`resolve` looks, in this order:

1. an explicit interpreter, the workflow file's ``evidence.completeness.tests.python`` (the
   workspace's own copy of the workflow file is the per-workspace setting): an absolute path names
   the environment it belongs to; a bare command (``[python]``) is looked up on the PATH the
   sandbox gives aios's own tools, as before, so no project environment is used;
2. ``$UV_PROJECT_ENVIRONMENT`` (uv's setting; relative to the workspace root);
3. ``.venv/`` then ``venv/`` in the workspace root (``.venv`` is also uv's and an in-project
   poetry's default);
4. poetry's environment for the project (``poetry env info -p``), when the root's
   ``pyproject.toml`` has a ``[tool.poetry]`` table and ``poetry`` is installed;
5. else nothing: aios's own interpreter runs the commands, exactly as without this module.

The environment is found from the workspace root, never the task's worktree: a venv is untracked,
so it lives in the main checkout only. Nothing found here is ever run on the host (the poetry
lookup runs the user's own ``poetry``); the sandbox binds the environment read-only, so sandboxed
code can use it but not change it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

__all__ = ["STAND_IN_VARIABLES", "ProjectEnvironment", "pytest_variables", "resolve", "shares_aios"]

_VENV_DIRS = (".venv", "venv")
_POETRY_TIMEOUT_S = 20.0

STAND_IN_VARIABLES: Mapping[str, str] = MappingProxyType({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
"""Set for the project's commands when aios's own pytest stands in for one the project lacks.

Without it that pytest loads every plugin aios's environment installs (langsmith's costs 1-2 s
and doubles pytest's memory on each run; anyio's changes how async tests run), none of which the
project asked for. Turning entry-point autoloading off, rather than hiding aios's packages from
the import path, keeps what the project's tests could import before (aios's dependencies, with
no environment of their own) while dropping only the plugins; a plugin the project does rely on
still loads by name (``-p NAME`` in its pytest configuration, or ``pytest_plugins`` in a
conftest). Coverage needs no plugin: the test driver (``_covdriver``) calls its API itself.
"""


@dataclass(frozen=True)
class ProjectEnvironment:
    """A Python environment the project's own commands run in.

    Example:
        >>> env = resolve(ws.root, python=None)
        >>> env.source, env.python if env else "aios's own interpreter"
        ('.venv', PosixPath('/home/me/proj/.venv/bin/python'))
    """

    prefix: Path
    """The environment's folder (the venv), as found (symlinks kept)."""
    bin_dir: Path
    """Its scripts: first on PATH for the project's commands, so ``python`` and ``pytest`` are its own."""
    source: str
    """How it was found: ``evidence.completeness.tests.python``, ``$UV_PROJECT_ENVIRONMENT``,
    ``.venv``, ``venv`` or ``poetry``."""
    read_only: tuple[Path, ...]
    """What the sandbox binds read-only: the environment and the Python installation it was made
    from (a venv's interpreter is a symlink into that installation)."""

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return self.bin_dir / "python"

    def path(self, tail: str) -> str:
        """A PATH with this environment's scripts before ``tail``."""
        return f"{self.bin_dir}{os.pathsep}{tail}"

    def variables(self) -> dict[str, str]:
        """The variables an activated environment sets (besides PATH), for tools that read them."""
        return {"VIRTUAL_ENV": str(self.prefix)} if _is_venv(self.prefix) else {}

    def has_pytest(self) -> bool:
        """Whether the environment has a pytest of its own (its script, or the package installed)."""
        if (self.bin_dir / "pytest").exists():
            return True
        patterns = ("lib*/python3*/site-packages/pytest", "lib*/python3*/dist-packages/pytest")
        return any(p.is_dir() for pattern in patterns for p in self.prefix.glob(pattern))

    def describe(self) -> str:
        """One line for reports and notes: where the environment is and how it was found."""
        return f"{self.prefix} (from {self.source})"


def resolve(root: Path, *, python: Sequence[str] | None = None) -> ProjectEnvironment | None:
    """The project's environment for the workspace at ``root``, or None for aios's own.

    Args:
        root: the workspace root (the main checkout, where an untracked venv lives).
        python: the ``evidence.completeness.tests.python`` setting; None looks for one.

    Returns:
        The environment, or None when there is none to use (a bare command as the setting, no
        environment found, or the one found is the very environment aios runs in).
    """
    found = _found(root, python)
    if found is None or _same(found.prefix, Path(sys.prefix)):
        return None
    # pyvenv.cfg is the user's file, not ours: a `home` of ~/bin would show the whole home folder
    # (keys, tokens) to sandboxed code, one inside the workspace its untracked files.
    shown = tuple(p for p in found.read_only if not _too_wide(p, Path(root)))
    return dataclasses.replace(found, read_only=shown)


def shares_aios(root: Path, *, python: Sequence[str] | None = None) -> bool:
    """Whether the project's environment is the one aios runs in (aios installed into the project's
    own venv), which `resolve` reports as None like no environment at all: its plugins are the
    project's then, not aios's."""
    found = _found(root, python)
    return found is not None and _same(found.prefix, Path(sys.prefix))


def pytest_variables(environment: ProjectEnvironment | None, *, shares: bool = False) -> dict[str, str]:
    """Variables for the project's commands (tests, acceptance checks, the builder's checks).

    `STAND_IN_VARIABLES` when the pytest those commands get is aios's own standing in for the
    project's: no project environment (``environment`` None and not ``shares``), or one without
    pytest (``pytest`` then resolves to aios's, next on PATH). Empty when the project's own pytest
    runs, with every plugin the project installed.

    Args:
        environment: the project's environment (`resolve`), None for aios's own.
        shares: aios is installed in the project's environment (`shares_aios`).
    """
    own = shares or (environment is not None and environment.has_pytest())
    return {} if own else dict(STAND_IN_VARIABLES)


def _found(root: Path, python: Sequence[str] | None) -> ProjectEnvironment | None:
    return _explicit(python) if python is not None else _detected(Path(root))


def _too_wide(path: Path, root: Path) -> bool:
    """A folder the sandbox must not show whole: ``/``, a home folder, the workspace or above it."""
    real = Path(os.path.realpath(path))
    homes = {Path.home(), Path(os.path.realpath(Path.home()))}
    return real == real.parent or real in homes or Path(os.path.realpath(root)).is_relative_to(real)


def _explicit(python: Sequence[str]) -> ProjectEnvironment | None:
    """The environment an interpreter named by absolute path belongs to; None for a bare command."""
    if not python or not os.path.isabs(python[0]):
        return None
    exe = Path(python[0])
    bin_dir = exe.parent
    # A venv's interpreter is a symlink: its environment is the folder holding pyvenv.cfg, not
    # the installation the symlink leads to.
    prefix = bin_dir.parent if _is_venv(bin_dir.parent) else Path(os.path.realpath(exe)).parent.parent
    return _environment(prefix, "evidence.completeness.tests.python", bin_dir=bin_dir)


def _detected(root: Path) -> ProjectEnvironment | None:
    uv = os.environ.get("UV_PROJECT_ENVIRONMENT")
    if uv and _is_venv(root / uv):
        return _environment(root / uv, "$UV_PROJECT_ENVIRONMENT")
    for name in _VENV_DIRS:
        if _is_venv(root / name):
            return _environment(root / name, name)
    poetry = _poetry_env(root.resolve())
    return _environment(poetry, "poetry") if poetry is not None else None


def _environment(prefix: Path, source: str, *, bin_dir: Path | None = None) -> ProjectEnvironment:
    bin_dir = bin_dir or prefix / "bin"
    bases = {prefix, *_base_installations(prefix, bin_dir / "python")}
    ordered = sorted(bases, key=lambda p: (len(p.parts), str(p)))
    return ProjectEnvironment(prefix=prefix, bin_dir=bin_dir, source=source, read_only=tuple(ordered))


def _base_installations(prefix: Path, exe: Path) -> list[Path]:
    """The installation(s) a venv was made from: pyvenv.cfg's ``home`` and where the symlink leads."""
    found = [Path(os.path.realpath(exe)).parent.parent] if exe.exists() else []
    home = _venv_config(prefix).get("home")
    if home:
        found.append(Path(home).parent)
    # The venv's own folder may itself be a symlink; bind where it really is too.
    real = Path(os.path.realpath(prefix))
    return [*found, real] if real != prefix else found


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() and (folder / "bin" / "python").exists()


def _venv_config(prefix: Path) -> dict[str, str]:
    """pyvenv.cfg's ``key = value`` lines (a missing or unreadable file is empty)."""
    try:
        text = (prefix / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip().lower(): value.strip() for key, value in pairs}


def _same(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


@functools.lru_cache(maxsize=16)
def _poetry_env(root: Path) -> Path | None:
    """Poetry's environment for the project at ``root``; asked once per process (poetry is slow).

    Only for a poetry project, and only when poetry is installed: aios never requires it.
    """
    if not _is_poetry_project(root):
        return None
    poetry = shutil.which("poetry")
    if poetry is None:
        return None
    try:
        done = subprocess.run(
            [poetry, "env", "info", "--path"], cwd=root, capture_output=True, text=True,
            timeout=_POETRY_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    return path if path is not None and path.is_absolute() and _is_venv(path) else None


def _is_poetry_project(root: Path) -> bool:
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "[tool.poetry]" in text
