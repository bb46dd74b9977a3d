"""A workspace's own persona, prompt and workflow files are checked with the loaders a run uses."""

from __future__ import annotations

import shutil

from orchestrator.resources import SHIPPED_ROOT
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.overrides import check_overrides


def override(ws: Workspace, rel: str, text: str | bytes) -> None:
    path = ws.root / rel
    path.parent.mkdir(exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def test_no_overrides_and_copies_of_the_shipped_files_pass(ws: Workspace) -> None:
    assert check_overrides(ws) == []
    for kind in ("personas", "prompts", "workflows"):
        shutil.copytree(SHIPPED_ROOT / kind, ws.root / kind)
    assert check_overrides(ws) == []


def test_each_broken_override_is_reported_with_its_file_and_field(ws: Workspace) -> None:
    persona = (SHIPPED_ROOT / "personas/testing_expert.yaml").read_text()
    override(ws, "personas/testing_expert.yaml", persona + "tone: friendly\n")
    override(ws, "personas/new_expert.yaml", "name: new_expert\ntitle: [unclosed\n")
    override(ws, "prompts/review.md", b"Review \xff\n")
    override(ws, "workflows/pair_programming.yaml", "rounds:\n  maximum: 3\n")
    override(ws, "workflows/models.yaml", "models:\n  'openai:*': {temprature: 0}\n")
    found = {p.file.rsplit("/", 2)[-2] + "/" + p.file.rsplit("/", 1)[-1]: p for p in check_overrides(ws)}
    assert sorted(found) == [
        "personas/new_expert.yaml",
        "personas/testing_expert.yaml",
        "prompts/review.md",
        "workflows/models.yaml",
        "workflows/pair_programming.yaml",
    ]
    assert found["personas/testing_expert.yaml"].field == "tone"
    assert "not valid YAML" in found["personas/new_expert.yaml"].message
    assert "not UTF-8" in found["prompts/review.md"].message
    assert found["workflows/pair_programming.yaml"].field == "rounds.maximum"
    assert "temprature" in (found["workflows/models.yaml"].field or "")
