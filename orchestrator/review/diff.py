"""Unified git diffs: which new-side lines a change touched, rendering for prompts, grounding.

A line is *changed* when it appears on the new side with a ``+`` (added, or the new text of a
modified line): unified diffs show a modification as a removal followed by an addition.

Grounding rule (``is_grounded``): a finding is grounded when

- it has no file (a change-wide remark such as "no tests were added"), or
- its file is in the change and not deleted, and either it has no line, or the line is within the
  file's new length (when known) and within ``near`` lines of a changed hunk.

The nearness rule is deliberate: a remark 200 lines away from any edit is about code the builder
did not touch, and reviewers' false positives concentrate there. ``near=None`` turns it off.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from orchestrator.review.findings import Finding
from orchestrator.sandbox import git as _git


class FileStatus(StrEnum):
    """What the change did to a file."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: ``kind`` is ``+``, ``-`` or a space (context)."""

    kind: str
    old: int | None
    new: int | None
    text: str


@dataclass
class Hunk:
    """One ``@@`` block."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str = ""
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def new_end(self) -> int:
        """Last new-side line the hunk covers (``new_start - 1`` for a pure deletion)."""
        return self.new_start + self.new_count - 1


@dataclass
class FileDiff:
    """The change to one file; ``path`` is the new path (the old one for a deleted file)."""

    path: str
    status: FileStatus
    old_path: str | None = None
    hunks: list[Hunk] = field(default_factory=list)
    binary: bool = False
    gitlink: bool = False
    """A nested repository's commit (mode 160000), not a file."""
    line_count: int | None = None
    """Lines in the new version, when known (filled by ``git_diff``)."""

    @cached_property
    def changed_lines(self) -> frozenset[int]:
        """New-side numbers of the added or modified lines."""
        return frozenset(ln.new for h in self.hunks for ln in h.lines if ln.kind == "+" and ln.new)

    @property
    def added(self) -> int:
        """Number of ``+`` lines."""
        return len(self.changed_lines)

    @property
    def removed(self) -> int:
        """Number of ``-`` lines."""
        return sum(1 for h in self.hunks for ln in h.lines if ln.kind == "-")

    def near_change(self, line: int, margin: int) -> bool:
        """True when ``line`` lies within ``margin`` lines of a hunk's new side."""
        return any(h.new_start - margin <= line <= h.new_end + margin for h in self.hunks)


@dataclass
class Diff:
    """A parsed unified diff: the changed files by new path."""

    files: dict[str, FileDiff] = field(default_factory=dict)

    def __iter__(self) -> Iterator[FileDiff]:
        return iter(self.files.values())

    def get(self, path: str | None) -> FileDiff | None:
        """The file's change, accepting ``./x`` and ``b/x`` spellings a model might use."""
        if path is None:
            return None
        for candidate in (path, path.removeprefix("./"), path.removeprefix("b/")):
            if candidate in self.files:
                return self.files[candidate]
        return None

    def present(self) -> list[FileDiff]:
        """Files that exist after the change (not deleted, not binary, not a gitlink)."""
        return [f for f in self if f.status is not FileStatus.DELETED and not f.binary and not f.gitlink]

    def python_files(self) -> list[str]:
        """Paths of the changed Python files that still exist."""
        return [f.path for f in self.present() if f.path.endswith(".py")]

    @property
    def added(self) -> int:
        """Lines added over all files."""
        return sum(f.added for f in self)

    @property
    def removed(self) -> int:
        """Lines removed over all files."""
        return sum(f.removed for f in self)


# ---------------------------------------------------------------- parsing

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
# "new file mode 160000", "new mode 160000" or "index a..b 160000": the new side is a gitlink.
_GITLINK = re.compile(r"^(?:new file mode|new mode|index \S+) 160000$")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v"}


def parse_diff(text: str) -> Diff:
    """Parse ``git diff`` output (any ``-U`` context, renames with ``-M``) into a ``Diff``.

    Example:
        >>> d = parse_diff(open("change.diff").read())
        >>> sorted(d.get("app/db.py").changed_lines)
        [12, 13]
    """
    diff = Diff()
    for block in _file_blocks(text.splitlines()):
        fd = _parse_file(block)
        diff.files[fd.path] = fd
    return diff


def _file_blocks(lines: list[str]) -> Iterator[list[str]]:
    block: list[str] = []
    for line in lines:
        if line.startswith("diff --git ") and block:
            yield block
            block = []
        block.append(line)
    if block and block[0].startswith("diff --git "):
        yield block


def _parse_file(block: list[str]) -> FileDiff:
    old, new = _header_paths(block[0])
    fd = FileDiff(path=new, status=FileStatus.MODIFIED, old_path=old)
    body_start = _parse_meta(block, fd)
    fd.hunks = list(_parse_hunks(block[body_start:]))
    if fd.status is FileStatus.DELETED:
        fd.path = fd.old_path or fd.path
    if fd.status is FileStatus.MODIFIED and fd.old_path == fd.path:
        fd.old_path = None
    return fd


def _parse_meta(block: list[str], fd: FileDiff) -> int:
    """Read the extended header lines; return the index of the first hunk."""
    for i, line in enumerate(block[1:], start=1):
        if line.startswith("@@"):
            return i
        _apply_meta(line, fd)
    return len(block)


def _apply_meta(line: str, fd: FileDiff) -> None:
    if _GITLINK.match(line):
        fd.gitlink = True
    if line.startswith("new file mode"):
        fd.status = FileStatus.ADDED
    elif line.startswith("deleted file mode"):
        fd.status = FileStatus.DELETED
    elif line.startswith("rename from "):
        fd.old_path, fd.status = _unquote(line[12:]), FileStatus.RENAMED
    elif line.startswith("rename to "):
        fd.path = _unquote(line[10:])
    elif line.startswith("--- ") and line[4:] != "/dev/null":
        fd.old_path = _unquote(line[4:]).removeprefix("a/")
    elif line.startswith("+++ ") and line[4:] != "/dev/null":
        fd.path = _unquote(line[4:]).removeprefix("b/")
    elif line.startswith("Binary files ") or line == "GIT binary patch":
        fd.binary = True


def _parse_hunks(lines: list[str]) -> Iterator[Hunk]:
    hunk: Hunk | None = None
    old = new = 0
    for line in lines:
        if m := _HUNK.match(line):
            if hunk:
                yield hunk
            hunk = _new_hunk(m)
            old, new = hunk.old_start, hunk.new_start
        elif hunk is not None and _inside(hunk, old, new) and line[:1] in ("+", "-", " ", ""):
            kind = line[:1] or " "  # some tools strip the space of an empty context line
            old_no = old if kind != "+" else None
            hunk.lines.append(DiffLine(kind, old_no, new if kind != "-" else None, line[1:]))
            old += kind != "+"
            new += kind != "-"
    if hunk:
        yield hunk


def _inside(hunk: Hunk, old: int, new: int) -> bool:
    # The header's counts say where the hunk ends; anything after belongs to no hunk.
    return old < hunk.old_start + hunk.old_count or new < hunk.new_start + hunk.new_count


def _new_hunk(m: re.Match[str]) -> Hunk:
    def count(group: str | None) -> int:
        return 1 if group is None else int(group)

    return Hunk(int(m[1]), count(m[2]), int(m[3]), count(m[4]), m[5])


def _header_paths(header: str) -> tuple[str, str]:
    """Paths from ``diff --git a/X b/Y``; later ``---``/``+++``/rename lines override them."""
    rest = header[len("diff --git ") :]
    if rest.startswith('"'):
        parts = re.findall(r'"(?:\\.|[^"\\])*"|\S+', rest)
        old, new = _unquote(parts[0]), _unquote(parts[-1])
    else:
        # Unquoted and unchanged names: "a/P b/P" is split exactly in half.
        half = (len(rest) - 1) // 2
        old, new = rest[:half], rest[half + 1 :]
    return old.removeprefix("a/"), new.removeprefix("b/")


def _unquote(path: str) -> str:
    """Undo git's C-style quoting of unusual path names (and drop a trailing tab)."""
    path = path.rstrip("\t")
    if not (path.startswith('"') and path.endswith('"')):
        return path
    raw, out, i = path[1:-1], bytearray(), 0
    while i < len(raw):
        if raw[i] == "\\" and raw[i + 1 : i + 4].isdigit():
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        elif raw[i] == "\\" and i + 1 < len(raw):
            out += _ESCAPES.get(raw[i + 1], raw[i + 1]).encode()
            i += 2
        else:
            out += raw[i].encode()
            i += 1
    return out.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- line mapping and grounding


def map_line(fd: FileDiff | None, old_line: int) -> int | None:
    """Where an old-side line of ``fd`` ended up on the new side; None when the change removed it.

    A file the diff does not touch (``fd`` None) keeps its numbering.
    """
    if fd is None:
        return old_line
    if fd.status is FileStatus.DELETED:
        return None
    shift = 0
    for h in fd.hunks:
        if old_line < h.old_start or (h.old_count == 0 and old_line == h.old_start):
            break
        if old_line < h.old_start + h.old_count:
            return next((ln.new for ln in h.lines if ln.old == old_line and ln.kind == " "), None)
        shift += h.new_count - h.old_count
    return old_line + shift


def is_grounded(finding: Finding, diff: Diff, *, near: int | None = 10) -> bool:
    """True when ``finding`` points into the change (see the module docstring for the rule).

    Args:
        finding: a finding, typically from a model.
        diff: the change under review.
        near: how many lines away from a changed hunk a line may be; None allows any line in the file.
    """
    if finding.file is None:
        return True
    fd = diff.get(finding.file)
    if fd is None or fd.status is FileStatus.DELETED:
        return False
    if finding.line is None:
        return True
    if fd.line_count is not None and finding.line > fd.line_count:
        return False
    return near is None or fd.near_change(finding.line, near)


def ground(
    findings: Iterable[Finding], diff: Diff, *, near: int | None = 10
) -> tuple[list[Finding], list[Finding]]:
    """Split findings into (grounded, dropped); grounded ones get the diff's spelling of the path."""
    kept: list[Finding] = []
    dropped: list[Finding] = []
    for f in findings:
        if not is_grounded(f, diff, near=near):
            dropped.append(f)
            continue
        fd = diff.get(f.file)
        kept.append(f if fd is None or fd.path == f.file else f.model_copy(update={"file": fd.path}))
    return kept, dropped


# ---------------------------------------------------------------- rendering


def render_numbered(diff: Diff, *, max_lines: int | None = None) -> str:
    """The diff as a model should read it: each kept or added line prefixed by its new-side number.

    Removed lines have no number: a finding can only point at a line that exists after the change.

    Example:
        ``  12 + query = "SELECT ..." + name`` is new line 12; ``     - old text`` was removed.
    """
    out: list[str] = []
    for fd in diff:
        out.extend(_render_file(fd))
    if max_lines is not None and len(out) > max_lines:
        out = [*out[:max_lines], f"... ({len(out) - max_lines} more diff lines not shown)"]
    return "\n".join(out)


def _render_file(fd: FileDiff) -> Iterator[str]:
    renamed = f" (renamed from {fd.old_path})" if fd.status is FileStatus.RENAMED else ""
    yield f"=== {fd.path} ({fd.status.value}){renamed}"
    if fd.binary:
        yield "    (binary file)"
    for h in fd.hunks:
        yield f"@@ -{h.old_start},{h.old_count} +{h.new_start},{h.new_count} @@ {h.section}".rstrip()
        for ln in h.lines:
            number = f"{ln.new:>5}" if ln.new is not None else " " * 5
            yield f"{number} {ln.kind} {ln.text}".rstrip()


# ---------------------------------------------------------------- git helpers

GIT_DIFF = (
    "diff",
    "--no-color",
    "--no-ext-diff",  # a repository's own diff drivers and textconv filters must not run here
    "--no-textconv",
    "--submodule=short",  # a gitlink is one line; git never opens the nested repository
    "--ignore-submodules=none",  # and never hides one (the hardened runner's default is all)
    "-M",
    "--src-prefix=a/",  # fixed prefixes whatever diff.noprefix / diff.mnemonicPrefix say
    "--dst-prefix=b/",
)


def git(repo: Path, *args: str) -> str:
    """Run a read-only git command in ``repo`` (outside any sandbox) and return its stdout.

    It goes through `orchestrator.sandbox.git.run`, the hardened runner: the worktree's content runs nothing.

    Raises:
        GitError: git failed.
    """
    # quotepath off keeps UTF-8 names readable; the diff options disable repo-configured drivers.
    return _git.run(repo, "-c", "core.quotepath=off", *args).stdout.decode("utf-8", "replace")


def git_diff(repo: Path, base: str, head: str = "HEAD", *, context: int = 3) -> Diff:
    """The change from commit ``base`` to ``head`` in ``repo``, with each file's new line count.

    Args:
        repo: a repository or worktree.
        base: the commit the change starts from (the branch point, or the last reviewed commit).
        head: the commit under review.
        context: lines of context around each hunk.
    """
    raw = _git.run(repo, "-c", "core.quotepath=off", *GIT_DIFF, f"-U{context}", base, head, "--").stdout
    diff = parse_diff(_decode_diff(repo, head, raw))
    _attach_line_counts(repo, head, diff)
    return diff


_FILE_START = re.compile(rb"^(?=diff --git )", re.M)
_NEW_PATH = re.compile(r" b/(.+)$")


def _decode_diff(repo: Path, head: str, raw: bytes) -> str:
    """The diff as text, each file's part in its own encoding (PEP 263 for Python files).

    A part that is valid UTF-8 is read as UTF-8; only a Python file that is not costs a look at
    its coding cookie (``# -*- coding: latin-1 -*-``) in ``head``.
    """
    return "".join(_decode_part(repo, head, part) for part in _FILE_START.split(raw))


def _decode_part(repo: Path, head: str, part: bytes) -> str:
    try:
        return part.decode("utf-8")
    except UnicodeDecodeError:
        pass
    found = _NEW_PATH.search(part.split(b"\n", 1)[0].decode("utf-8", "replace"))
    encoding = "utf-8"
    if found and found[1].endswith((".py", ".pyi")):
        blob = _git.run(repo, "cat-file", "blob", f"{head}:{found[1]}", check=False).stdout
        encoding = _declared_encoding(blob)
    return part.decode(encoding, errors="replace")


def _declared_encoding(source: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        "".encode(encoding)  # an unknown codec name raises LookupError here
    except (SyntaxError, LookupError):
        return "utf-8"
    return encoding


def delta_since(repo: Path, last_reviewed: str, head: str = "HEAD") -> Diff:
    """What changed since the last reviewed commit: the part a round-2 reviewer must read."""
    return git_diff(repo, last_reviewed, head)


def merge_base(repo: Path, a: str, b: str = "HEAD") -> str:
    """The commit where ``b`` branched from ``a`` (the base of a task branch)."""
    return git(repo, "merge-base", a, b).strip()


def commit_messages(repo: Path, base: str, head: str = "HEAD") -> list[str]:
    """Messages of the commits in ``base..head``, newest first."""
    raw = git(repo, "log", "--format=%B%x00", f"{base}..{head}")
    return [m.strip() for m in raw.split("\0") if m.strip()]


def _attach_line_counts(repo: Path, head: str, diff: Diff) -> None:
    present = diff.present()
    if not present:
        return
    # One `git cat-file --batch` reads every blob in a single process instead of one `git show` each.
    request = "".join(f"{head}:{fd.path}\n" for fd in present).encode()
    out = _git.run(repo, "cat-file", "--batch", stdin=request).stdout
    for fd, blob in zip(present, _blobs(out), strict=False):
        if blob is not None:
            fd.line_count = blob.count(b"\n") + (0 if not blob or blob.endswith(b"\n") else 1)


def _blobs(out: bytes) -> Iterator[bytes | None]:
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        pos = end + 1
        # "<oid> blob <size>" when found, "<object> missing" (or another type) otherwise.
        if len(header) != 3 or header[1] != b"blob":
            yield None
            continue
        size = int(header[2])
        yield out[pos : pos + size]
        pos += size + 1


def changed_lines_of(diff: Diff, paths: Sequence[str]) -> dict[str, frozenset[int]]:
    """``{path: changed new-side lines}`` for the given paths (empty set for untouched ones)."""
    return {p: (fd.changed_lines if (fd := diff.get(p)) else frozenset()) for p in paths}
