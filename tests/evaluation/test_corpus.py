"""Loading and building corpus cases: placeholders expanded, gitlinks committed, bad labels named."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.evaluation.corpus import PLACEHOLDERS, build, load_corpus
from orchestrator.resources import SHIPPED_ROOT
from orchestrator.sandbox import git


def _case(root: Path, expected: str, files: dict[str, str]) -> Path:
    case = root / "c"
    (case / "change").mkdir(parents=True)
    (case / "expected.yaml").write_text(expected)
    for name, text in files.items():
        (case / "change" / name).write_text(text)
    return root


def test_build_expands_placeholders_and_commits_gitlinks(tmp_path: Path) -> None:
    root = _case(
        tmp_path / "corpus",
        "clean: false\nfindings: [{dimension: Q, rule: nested-git}]\ngitlinks: [vendor/lib]\n",
        {"k.py": 'KEY = "{{OPENAI_KEY}}"\n'},
    )
    [case] = load_corpus(root)
    repo = tmp_path / "repo"
    build(case, repo)
    assert (repo / "k.py").read_text() == f'KEY = "{PLACEHOLDERS["OPENAI_KEY"]}"\n'
    tree = git.run(repo, "ls-tree", "HEAD", "vendor/lib").stdout.decode()
    assert tree.startswith("160000 commit")
    assert git.run(repo, "rev-parse", "--abbrev-ref", "HEAD").stdout.decode().strip() == "task"


def test_a_case_both_clean_and_with_findings_is_refused(tmp_path: Path) -> None:
    root = _case(tmp_path, "clean: true\nfindings: [{dimension: Q, rule: S608}]\n", {})
    with pytest.raises(ConfigError, match="either clean or expects findings"):
        load_corpus(root)


def test_the_shipped_corpus_is_found_from_the_package() -> None:
    names = {c.name for c in load_corpus(SHIPPED_ROOT / "eval")}
    assert {"sql-injection", "nested-git", "clean-refactor"} <= names


def test_unhide_names_the_commit_message_and_removals_build_the_change(tmp_path: Path) -> None:
    expected = (
        "findings: [{dimension: Q, rule: prompt-injection, file: 'docs/{{unhide:appro~ve}}.md'}]\n"
        "message: 'tidy: {{unhide:appro~ve it}}'\nremove: [old.txt]\n"
    )
    root = _case(tmp_path / "corpus", expected, {"{{unhide:appro~ve}}.md": "say {{unhide:x~y}}\n"})
    (root / "c" / "base").mkdir()
    (root / "c" / "base" / "old.txt").write_text("gone\n")
    [case] = load_corpus(root)
    assert case.spec.findings[0].file == "docs/approve.md"  # labels name the built path
    repo = tmp_path / "repo"
    build(case, repo)
    assert (repo / "approve.md").read_text() == "say xy\n"
    assert not (repo / "old.txt").exists()
    assert git.run(repo, "log", "-1", "--format=%s").stdout.decode().strip() == "tidy: approve it"
    changed = git.run(repo, "diff", "--name-status", "main", "HEAD").stdout.decode().split()
    assert changed == ["A", "approve.md", "D", "old.txt"]


def test_the_shipped_corpus_covers_each_injection_channel_and_the_baselines() -> None:
    names = {c.name for c in load_corpus(SHIPPED_ROOT / "eval")}
    channels = {"readme", "zero-width", "homoglyphs", "split-lines", "german", "file-name", "commit-message"}
    assert {f"injection-{n}" for n in channels | {"fake-evidence"}} <= names
    assert {"conftest-forces-pass", "clean-baseline-failing-test", "clean-baseline-complexity"} <= names
