"""Diff parsing, line mapping, grounding, rendering and the git helpers."""

from __future__ import annotations

import pytest

from orchestrator.review.diff import (
    Diff,
    FileStatus,
    commit_messages,
    delta_since,
    git_diff,
    ground,
    is_grounded,
    map_line,
    merge_base,
    parse_diff,
    render_numbered,
)
from orchestrator.review.findings import Dimension, Finding, Severity

from .sample import SampleRepo

SAMPLE = """\
diff --git a/app/db.py b/app/db.py
index 1111111..2222222 100644
--- a/app/db.py
+++ b/app/db.py
@@ -1,5 +1,6 @@ import os
 import os
-x = 1
+x = 2
+y = 3

 def f():
     return x
@@ -20,3 +21,2 @@ def g():
 a = 1
-b = 2
 c = 3
diff --git a/new.py b/new.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+print("hi")
+print("there")
\\ No newline at end of file
diff --git a/old.py b/old.py
deleted file mode 100644
index 4444444..0000000
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-gone = True
diff --git a/pkg/a.py b/pkg/b.py
similarity index 90%
rename from pkg/a.py
rename to pkg/b.py
index 5555555..6666666 100644
--- a/pkg/a.py
+++ b/pkg/b.py
@@ -3 +3 @@
-old = 1
+new = 1
diff --git a/pkg/same.py b/pkg/moved.py
similarity index 100%
rename from pkg/same.py
rename to pkg/moved.py
diff --git a/logo.png b/logo.png
index 7777777..8888888 100644
Binary files a/logo.png and b/logo.png differ
diff --git "a/sp ace/\\303\\251t\\303\\251.py" "b/sp ace/\\303\\251t\\303\\251.py"
new file mode 100644
--- /dev/null
+++ "b/sp ace/\\303\\251t\\303\\251.py"
@@ -0,0 +1 @@
+summer = 1
"""


@pytest.fixture
def diff() -> Diff:
    return parse_diff(SAMPLE)


def test_files_and_statuses(diff: Diff) -> None:
    assert {p: f.status for p, f in diff.files.items()} == {
        "app/db.py": FileStatus.MODIFIED,
        "new.py": FileStatus.ADDED,
        "old.py": FileStatus.DELETED,
        "pkg/b.py": FileStatus.RENAMED,
        "pkg/moved.py": FileStatus.RENAMED,
        "logo.png": FileStatus.MODIFIED,
        "sp ace/été.py": FileStatus.ADDED,
    }
    assert diff.files["pkg/b.py"].old_path == "pkg/a.py"
    assert diff.files["logo.png"].binary
    assert diff.python_files() == ["app/db.py", "new.py", "pkg/b.py", "pkg/moved.py", "sp ace/été.py"]


def test_changed_lines_are_new_side_additions(diff: Diff) -> None:
    assert diff.files["app/db.py"].changed_lines == {2, 3}
    assert diff.files["new.py"].changed_lines == {1, 2}
    assert diff.files["old.py"].changed_lines == set()
    assert diff.files["pkg/b.py"].changed_lines == {3}
    assert (diff.added, diff.removed) == (6, 4)


def test_map_line_follows_insertions_and_removals(diff: Diff) -> None:
    fd = diff.files["app/db.py"]
    assert map_line(fd, 1) == 1  # unchanged, before the edit
    assert map_line(fd, 2) is None  # removed
    assert map_line(fd, 4) == 5  # shifted down by the extra line
    assert map_line(fd, 10) == 11  # between hunks
    assert map_line(fd, 21) is None  # removed in the second hunk
    assert map_line(fd, 22) == 22  # back in step after one added and one removed line
    assert map_line(fd, 40) == 40
    assert map_line(None, 7) == 7
    assert map_line(diff.files["old.py"], 1) is None


def test_map_line_around_a_pure_insertion() -> None:
    d = parse_diff("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -5,0 +6,2 @@\n+a\n+b\n")
    fd = d.files["x.py"]
    assert [map_line(fd, n) for n in (5, 6, 7)] == [5, 8, 9]


def _finding(file: str | None, line: int | None) -> Finding:
    return Finding(dimension=Dimension.QUALITY, severity=Severity.MAJOR, message="m", file=file, line=line)


@pytest.mark.parametrize(
    ("file", "line", "grounded"),
    [
        ("app/db.py", 3, True),  # on a changed line
        ("app/db.py", 12, True),  # within 10 lines of the first hunk
        ("app/db.py", 16, True),  # within 10 lines of the second hunk (21-22)
        ("app/db.py", 40, False),  # far from any change
        ("app/db.py", None, True),  # file-level remark
        ("other.py", 1, False),  # not in the change
        ("old.py", 1, False),  # deleted
        (None, None, True),  # change-wide remark
        ("./app/db.py", 3, True),  # a model's spelling of the path
    ],
)
def test_grounding(diff: Diff, file: str | None, line: int | None, grounded: bool) -> None:
    assert is_grounded(_finding(file, line), diff) is grounded


def test_grounding_rejects_lines_past_the_end_of_the_file(diff: Diff) -> None:
    diff.files["new.py"].line_count = 2
    assert is_grounded(_finding("new.py", 2), diff)
    assert not is_grounded(_finding("new.py", 3), diff)
    assert not is_grounded(_finding("new.py", 300), diff, near=None)


def test_grounding_without_the_nearness_rule(diff: Diff) -> None:
    assert is_grounded(_finding("app/db.py", 40), diff, near=None)


def test_ground_splits_and_normalises_paths(diff: Diff) -> None:
    kept, dropped = ground([_finding("./app/db.py", 2), _finding("nope.py", 1)], diff)
    assert [(f.file, f.line) for f in kept] == [("app/db.py", 2)]
    assert [f.file for f in dropped] == ["nope.py"]


def test_render_numbers_new_side_lines(diff: Diff) -> None:
    text = render_numbered(diff)
    assert "=== app/db.py (modified)" in text
    assert "    2 + x = 2" in text
    assert "      - x = 1" in text
    assert "    5   def f():" in text
    assert "=== pkg/b.py (renamed) (renamed from pkg/a.py)" in text
    assert "(binary file)" in text
    short = render_numbered(diff, max_lines=3)
    assert short.splitlines()[-1].startswith("... (")


def test_git_diff_on_a_real_repository(sample_repo: SampleRepo) -> None:
    sample_repo.commit({"app/users.py": "x = 1\n" * 30, "tests/test_users.py": None}, "first\n\nbody")
    first = sample_repo.commit({"app/users.py": "x = 1\n" * 10 + "y = 2\n" + "x = 1\n" * 20}, "second")
    repo = sample_repo.path
    assert merge_base(repo, "main") == sample_repo.base
    diff = git_diff(repo, sample_repo.base, "HEAD")
    assert diff.files["app/users.py"].line_count == 31
    assert diff.files["tests/test_users.py"].status is FileStatus.DELETED
    delta = delta_since(repo, f"{first}~1", first)
    assert list(delta.files) == ["app/users.py"]
    assert delta.files["app/users.py"].changed_lines == {11}
    assert commit_messages(repo, sample_repo.base) == ["second", "first\n\nbody"]


def test_a_python_file_in_latin_1_is_read_in_its_declared_encoding(sample_repo: SampleRepo) -> None:
    text = "# -*- coding: latin-1 -*-\nNAME = 'café'\n"
    (sample_repo.path / "app/latin.py").write_bytes(text.encode("latin-1"))
    (sample_repo.path / "app/utf.py").write_text("NAME = 'naïve'\n")
    head = sample_repo.commit({})
    diff = git_diff(sample_repo.path, sample_repo.base, head)
    added = {fd.path: [ln.text for h in fd.hunks for ln in h.lines] for fd in diff}
    assert added["app/latin.py"] == ["# -*- coding: latin-1 -*-", "NAME = 'café'"]
    assert added["app/utf.py"] == ["NAME = 'naïve'"]
