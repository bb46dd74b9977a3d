"""Reading pytest's junit XML report: every failure, whole, with its node id and kind.

The report is written by pytest to a file outside the worktree and read in full, so nothing is lost
to the kept tail of stdout: node ids with spaces (``test_x[a b]``), collection errors told apart
from failing tests, and the whole assertion message (bounded where it is shown, not here).
pytest is run with ``junit_family=xunit1`` so each test case carries its ``file``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - pytest's own report; expat >= 2.4 refuses entity bombs
from dataclasses import dataclass
from typing import Literal

Kind = Literal["failed", "error", "collection"]

_COLLECTION = "collection failure"
"""pytest's ``message`` for a module that could not be collected (imported)."""


@dataclass(frozen=True)
class JunitFailure:
    """One test that failed or errored, or one file that could not be collected."""

    node: str
    """The pytest node id (``tests/test_a.py::TestX::test_y[a b]``), or the file for a collection error."""
    file: str | None
    kind: Kind
    message: str
    """pytest's one-line message and the full report text after it."""


def parse_junit(text: str) -> list[JunitFailure]:
    """Every failure and error in a pytest junit XML report, in report order.

    Raises:
        ValueError: the text is not a junit report (cut, empty, or not XML).
    """
    try:
        root = ET.fromstring(text)  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise ValueError(f"the junit report cannot be read: {exc}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError(f"not a junit report: its root is <{root.tag}>")
    return [f for case in root.iter("testcase") for f in _failures(case)]


def _failures(case: ET.Element) -> list[JunitFailure]:
    out = []
    for child in case:
        if child.tag not in ("failure", "error"):
            continue
        message = child.get("message") or ""
        detail = (child.text or "").strip()
        full = f"{message}\n{detail}".strip() if detail and detail != message else message
        if child.tag == "error" and message.startswith(_COLLECTION):
            file = case.get("file") or _module_file(case.get("name") or "")
            out.append(JunitFailure(file, file, "collection", detail or message))
            continue
        kind: Kind = "failed" if child.tag == "failure" else "error"
        out.append(JunitFailure(_node(case), case.get("file"), kind, full))
    return out


def _node(case: ET.Element) -> str:
    """The node id from ``file``, ``classname`` (dotted module and class) and ``name``."""
    name, file, classname = case.get("name") or "", case.get("file"), case.get("classname") or ""
    if not file:
        return f"{classname}::{name}" if classname else name
    module = file.removesuffix(".py").replace("/", ".")
    cls = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
    return "::".join(p for p in (file, *cls.split("."), name) if p)


def _module_file(dotted: str) -> str:
    """``tests.test_a`` -> ``tests/test_a.py`` (a collection error names the module, not the file)."""
    return dotted.replace(".", "/") + ".py" if dotted else ""
