"""``aios task new`` on a terminal: a TaskCard template in $EDITOR, kept when it does not validate."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from orchestrator.errors import AiosError
from orchestrator.state.taskcard import TaskCard, parse, task_id
from orchestrator.state.workspace import Workspace

TEMPLATE = """\
---
# Fill in the fields; lines starting with # are ignored. The id is assigned when you save.
title: ""
queue: dev            # {queues}
priority: 3           # 1 (most urgent) .. 5
role_mode: builder    # architect, planner, executor, builder
acceptance_criteria:
  - id: AC1
    text: ""
    # check: pytest -q tests/test_feature.py
personas: []          # {personas}
paths: []             # folders/files in scope; empty = whole repository
# target_branch: main # default: the repository's default branch (the one checked out now)
---
Context for the builder: what and why, links, constraints.
"""


def card_from_editor(ws: Workspace) -> TaskCard:
    """Open the template in $EDITOR and parse the result.

    Raises:
        AiosError: the editor failed or the card does not validate; the draft is kept and named.
    """
    from orchestrator.review.personas import known_personas

    personas = ", ".join(known_personas(ws.root))
    fd, name = tempfile.mkstemp(prefix="aios-taskcard-", suffix=".md")
    draft = Path(name)
    with os.fdopen(fd, "w") as fh:
        fh.write(TEMPLATE.format(queues=", ".join(ws.project.queues), personas=personas or "none shipped"))
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    if subprocess.run([*editor, str(draft)], check=False).returncode != 0:
        raise AiosError(
            "the editor exited with an error",
            file=draft,
            fix=f"fix the draft and run `aios task new --file {draft}`",
        )
    return _parse_draft(draft)


def _parse_draft(draft: Path) -> TaskCard:
    text = draft.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    # The id is not the author's to choose; a placeholder for the card's queue keeps validation simple.
    queue = next(
        (ln.split(":", 1)[1].split("#")[0].strip() for ln in lines if ln.startswith("queue:")), "dev"
    )
    text = "".join([lines[0], f"id: {task_id(queue or 'dev', 0)}\n", *lines[1:]])
    try:
        card = parse(text, file=draft)
    except AiosError as exc:
        exc.fix = f"{exc.fix}; your draft is kept: edit {draft} and run `aios task new --file {draft}`"
        raise
    draft.unlink()
    return card
