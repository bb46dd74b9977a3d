"""Governance records (decisions, proposals, deviations): dated Markdown with validated front matter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.errors import StateError
from orchestrator.state import _frontmatter, decisions, deviations, proposals
from orchestrator.state.workspace import Workspace

#: Each kind: (module, how to write one, its folder).
KINDS: dict[str, tuple[object, Callable[[Workspace], object], Callable[[Workspace], Path]]] = {
    "decision": (
        decisions,
        lambda ws: decisions.new(
            ws, title="Use pytest", by="alice", body="Why: it is there.\n", tasks=["TASK_DEV_0001"]
        ),  # fmt: skip
        lambda ws: ws.decisions_dir,
    ),
    "proposal": (
        proposals,
        lambda ws: proposals.new(
            ws, title="Add a queue", by="bob", queue="governance", specs=["workflows/x.yaml"]
        ),
        lambda ws: ws.proposals_dir,
    ),
    "deviation": (
        deviations,
        lambda ws: deviations.new(
            ws,
            reason="hotfix",
            by="alice",
            expires_at="2999-01-01T00:00:00Z",
            tasks=["TASK_DEV_0001"],
            paths=["src/"],
        ),  # fmt: skip
        lambda ws: ws.deviations_dir,
    ),
}
LOADERS = {"decision": decisions.get, "proposal": proposals.get, "deviation": deviations.get}


@pytest.mark.parametrize("kind", KINDS)
def test_a_record_round_trips_through_its_dated_file(ws: Workspace, kind: str) -> None:
    _, write, folder = KINDS[kind]
    first, second = write(ws), write(ws)
    assert (first.id[-4:], second.id[-4:]) == ("0001", "0002")  # type: ignore[attr-defined]
    path = folder(ws) / f"{first.at[:10]}-{first.id}.md"  # type: ignore[attr-defined]
    text = path.read_text()
    assert text.startswith(f"---\nid: {first.id}\n")  # type: ignore[attr-defined]
    assert LOADERS[kind](ws, first.id) == first  # type: ignore[attr-defined]
    assert _frontmatter.render(first) == text  # type: ignore[arg-type]


def _broken(ws: Workspace, kind: str, edit: Callable[[str], str]) -> StateError:
    _, write, folder = KINDS[kind]
    record = write(ws)
    path = next(folder(ws).glob(f"*-{record.id}.md"))  # type: ignore[attr-defined]
    path.write_text(edit(path.read_text()))
    with pytest.raises(StateError) as caught:
        LOADERS[kind](ws, record.id)  # type: ignore[attr-defined]
    return caught.value


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_key_names_file_line_and_the_known_keys(ws: Workspace, kind: str) -> None:
    error = _broken(ws, kind, lambda text: text.replace("\nby: ", "\nsigned_off: x\nby: ", 1))
    assert error.file and error.file.startswith(f"ops/{KINDS[kind][2](ws).name}/")
    assert (error.field, error.line, error.message) == ("signed_off", 4, "unknown field")
    assert error.fix and error.fix.startswith(
        "remove the field or correct its spelling: use one of id, at, by"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_bad_yaml_and_missing_fences_name_the_line(ws: Workspace, kind: str) -> None:
    error = _broken(ws, kind, lambda text: text.replace("\nby: ", "\nby: [unclosed\n", 1))
    assert error.line is not None and error.line >= 4 and "not valid YAML" in error.message
    assert error.fix
    error = _broken(ws, kind, lambda text: text.removeprefix("---\n"))
    assert (error.line, error.fix) == (1, "put `---` on the first line, the fields, then `---` and the text")


def test_a_bad_value_names_its_field_and_line(ws: Workspace) -> None:
    error = _broken(
        ws, "deviation", lambda text: text.replace("expires_at: '2999-01-01T00:00:00Z'", "expires_at: soon")
    )
    assert (error.field, error.line) == ("expires_at", 10)
    assert "'soon' is not an ISO 8601 time" in error.message
    error = _broken(ws, "decision", lambda text: text.replace("- TASK_DEV_0001", "- dev-1"))
    assert (error.field, error.line) == ("tasks[0]", 7)
    assert "'dev-1' is not a task id" in error.message


def test_a_changed_id_is_refused(ws: Workspace) -> None:
    error = _broken(ws, "proposal", lambda text: text.replace("id: PROP-0001", "id: PROP-0009"))
    assert (error.field, error.line) == ("id", 2)
    assert error.message == "the file's name says PROP-0001, but its id is PROP-0009"


def test_an_unknown_id_says_how_to_list_them(ws: Workspace) -> None:
    with pytest.raises(StateError) as caught:
        deviations.get(ws, "DEV-0042")
    assert caught.value.render() == (
        "no deviation DEV-0042\n  fix: `aios deviation list` shows the deviations (ids look like DEV-0001)"
    )


def test_problems_lists_each_broken_record(ws: Workspace) -> None:
    decisions.new(ws, title="ok", by="alice")
    bad = decisions.new(ws, title="will break", by="alice")
    path = next(ws.decisions_dir.glob(f"*-{bad.id}.md"))
    path.write_text(path.read_text().replace("title:", "titel:"))
    found = decisions.problems(ws)
    assert [(e.file, e.field) for e in found] == [(ws.rel(path), "title")]  # missing, then unknown
    assert found[0].message == "this field is required but missing (1 more problem after this one)"
