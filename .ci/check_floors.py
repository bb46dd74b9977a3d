"""Check that this environment holds the lowest versions pyproject.toml allows, and print them.

Run with the interpreter of the lowest-direct venv: ``python .ci/check_floors.py pyproject.toml``.
A floor ``>=9.2`` is met by 9.2 or 9.2.1 (a yanked or missing .0 release), never by 9.3: so a
resolver that quietly installed the newest versions fails here instead of proving nothing.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

FLOOR = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)")


def release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


def main(pyproject: Path) -> int:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    wrong = []
    for spec in specs:
        if match := FLOOR.match(spec):
            name, floor = match.groups()
            installed = version(name)
            print(f"  {name}>={floor}: {installed}")
            if release(installed)[: len(release(floor))] != release(floor):
                wrong.append(f"{name} {installed} is not the floor {floor}")
    for line in wrong:
        print(f"error: {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
