from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from orchestrator.sandbox import confined_fs
from orchestrator.sandbox.confined_fs import ConfinedDir, FileToolError, PathEscape, SearchHit


class _NoOpenat2:
    """Stands in for a kernel without openat2: answers ENOSYS, as old kernels and seccomp do."""

    def __init__(self) -> None:
        self.supported = True
        self.calls = 0

    def __call__(self, dir_fd: int, path: str, flags: int, mode: int) -> int:
        self.calls += 1
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))


@pytest.fixture(params=["openat2", "fallback"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test once with openat2 and once with the portable walk, each alone."""
    if request.param == "fallback":
        monkeypatch.setattr(confined_fs, "_openat2", _NoOpenat2())
    else:
        if not confined_fs._openat2.supported:
            pytest.skip("this kernel has no openat2")

        def no_walk(*args: object) -> int:
            raise AssertionError("the fallback ran although openat2 is available")

        monkeypatch.setattr(confined_fs, "_walk_open", no_walk)
    return str(request.param)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_text("TOP SECRET\n")
    return out


@pytest.fixture
def root(tmp_path: Path, outside: Path, resolver: str) -> Path:
    wt = tmp_path / "wt"
    (wt / "src" / "pkg").mkdir(parents=True)
    (wt / ".git").mkdir()
    (wt / ".git" / "config").write_text("[core]\n")
    (wt / "src" / "app.py").write_text("import os\n\ndef main():\n    return os.getcwd()\n")
    (wt / "src" / "pkg" / "util.py").write_text("def helper():\n    return 1\n")
    (wt / "README.md").write_text("# demo\n")
    return wt


@pytest.fixture
def fs(root: Path) -> ConfinedDir:
    return ConfinedDir(root)


def test_the_fallback_is_taken_once_openat2_says_enosys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = _NoOpenat2()
    monkeypatch.setattr(confined_fs, "_openat2", fake)
    (tmp_path / "a.txt").write_text("hi")
    fs = ConfinedDir(tmp_path)
    assert fs.read_text("a.txt") == "hi"
    assert fs.read_text("a.txt") == "hi"
    assert fake.calls == 1
    assert fake.supported is False


# --- reading and writing --------------------------------------------------------------------------


def test_read_text(fs: ConfinedDir) -> None:
    assert fs.read_text("src/pkg/util.py") == "def helper():\n    return 1\n"
    assert fs.read_text("./src/../src/pkg/util.py").startswith("def helper")


def test_write_text_creates_parents_atomically(fs: ConfinedDir, root: Path) -> None:
    fs.write_text("src/new/deep/mod.py", "x = 1\n")
    assert (root / "src" / "new" / "deep" / "mod.py").read_text() == "x = 1\n"
    fs.write_text("src/new/deep/mod.py", "x = 2\n")
    assert fs.read_text("src/new/deep/mod.py") == "x = 2\n"
    assert os.listdir(root / "src" / "new" / "deep") == ["mod.py"]  # no temp file left


def test_write_text_keeps_the_file_mode(fs: ConfinedDir, root: Path) -> None:
    script = root / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    fs.write_text("run.sh", "#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_missing_file_is_a_tool_error_not_an_escape(fs: ConfinedDir) -> None:
    with pytest.raises(FileToolError) as err:
        fs.read_text("nope.py")
    assert type(err.value) is FileToolError
    assert err.value.render() == "nope.py: No such file or directory"


def test_large_and_binary_files_are_refused(fs: ConfinedDir, root: Path) -> None:
    (root / "big.txt").write_text("x" * 100)
    (root / "blob.bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FileToolError, match="larger than 10 bytes"):
        fs.read_text("big.txt", max_bytes=10)
    with pytest.raises(FileToolError, match="not a UTF-8 text file"):
        fs.read_text("blob.bin")
    with pytest.raises(FileToolError, match="not a regular file"):
        fs.read_text("src")


# --- escapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", ["../outside/secret.txt", "src/../../outside/secret.txt", "..", "src/../.."])
def test_dotdot_escape_is_refused(fs: ConfinedDir, rel: str) -> None:
    with pytest.raises(PathEscape):
        fs.read_text(rel)


@pytest.mark.parametrize("rel", ["../outside/new.txt", "src/../../outside/new.txt", "newdir/../../x.txt"])
def test_dotdot_escape_on_write_creates_nothing(fs: ConfinedDir, root: Path, outside: Path, rel: str) -> None:
    before = sorted(p.name for p in root.rglob("*"))
    with pytest.raises(PathEscape):
        fs.write_text(rel, "pwned")
    assert sorted(p.name for p in root.rglob("*")) == before
    assert sorted(os.listdir(outside)) == ["secret.txt"]


@pytest.mark.parametrize("rel", ["/etc/passwd", "/proc/self/root/etc/passwd"])
def test_absolute_path_is_refused(fs: ConfinedDir, rel: str) -> None:
    with pytest.raises(PathEscape) as err:
        fs.read_text(rel)
    assert err.value.message == "absolute paths are not allowed"
    with pytest.raises(PathEscape):
        fs.write_text(rel, "x")


def test_absolute_path_inside_the_root_is_refused_too(fs: ConfinedDir, root: Path) -> None:
    with pytest.raises(PathEscape):
        fs.read_text(str(root / "README.md"))


@pytest.mark.parametrize(
    "link",
    [
        "/proc/self/root/etc/passwd",  # a magic link, absolute
        "/proc/self/cwd/README.md",  # even when it leads back inside
        "../../../../../../../../../proc/self/root/etc/passwd",
    ],
)
def test_proc_self_root_through_a_symlink_is_refused(fs: ConfinedDir, root: Path, link: str) -> None:
    (root / "sneaky").symlink_to(link)
    with pytest.raises(PathEscape):
        fs.read_text("sneaky")


def test_symlink_escape_on_read(fs: ConfinedDir, root: Path, outside: Path) -> None:
    (root / "rel_link").symlink_to("../outside/secret.txt")
    (root / "abs_link").symlink_to(outside / "secret.txt")
    (root / "src" / "dir_link").symlink_to("../../outside")
    for rel in ("rel_link", "abs_link", "src/dir_link/secret.txt"):
        with pytest.raises(PathEscape):
            fs.read_text(rel)


def test_symlink_escape_on_write_leaves_the_target_alone(fs: ConfinedDir, root: Path, outside: Path) -> None:
    (root / "rel_link").symlink_to("../outside/secret.txt")
    (root / "abs_link").symlink_to(outside / "secret.txt")
    for rel in ("rel_link", "abs_link"):
        with pytest.raises(PathEscape) as err:
            fs.write_text(rel, "pwned")
        assert err.value.file == rel
    assert (outside / "secret.txt").read_text() == "TOP SECRET\n"


def test_symlink_escape_on_create(fs: ConfinedDir, root: Path, outside: Path) -> None:
    (root / "dangling").symlink_to("../outside/created.txt")
    (root / "dangling_abs").symlink_to(outside / "created_abs.txt")
    (root / "out_dir").symlink_to("../outside")
    for rel in ("dangling", "dangling_abs", "out_dir/created.txt", "out_dir/sub/created.txt"):
        with pytest.raises(PathEscape):
            fs.write_text(rel, "pwned")
    assert sorted(os.listdir(outside)) == ["secret.txt"]


def test_in_tree_symlinks_are_followed(fs: ConfinedDir, root: Path) -> None:
    (root / "lib").symlink_to("src/pkg")
    (root / "src" / "alias.py").symlink_to("pkg/util.py")
    assert fs.read_text("lib/util.py").startswith("def helper")
    assert fs.read_text("src/alias.py").startswith("def helper")
    fs.write_text("src/alias.py", "changed = True\n")
    assert (root / "src" / "alias.py").is_symlink()  # written through, the link survives
    assert (root / "src" / "pkg" / "util.py").read_text() == "changed = True\n"
    fs.write_text("lib/fresh.py", "x = 1\n")
    assert (root / "src" / "pkg" / "fresh.py").read_text() == "x = 1\n"


def test_symlink_loops_are_refused(fs: ConfinedDir, root: Path) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    with pytest.raises(FileToolError):
        fs.read_text("a")
    with pytest.raises(FileToolError):
        fs.write_text("a", "x")


@pytest.mark.parametrize("rel", [".git/config", ".git/hooks/pre-commit", "src/.git/x", ".GIT/config", ".git"])
def test_writes_into_git_are_refused(fs: ConfinedDir, root: Path, rel: str) -> None:
    with pytest.raises(PathEscape, match="writing into .git is not allowed"):
        fs.write_text(rel, "pwned")
    assert (root / ".git" / "config").read_text() == "[core]\n"
    assert not (root / ".git" / "hooks").exists()


def test_writes_into_git_through_a_symlink_are_refused(fs: ConfinedDir, root: Path) -> None:
    (root / "g").symlink_to(".git")
    (root / "cfg").symlink_to(".git/config")
    for rel in ("g/config", "g/hooks/pre-commit", "cfg"):
        with pytest.raises(PathEscape, match="writing into .git is not allowed"):
            fs.write_text(rel, "pwned")
    assert (root / ".git" / "config").read_text() == "[core]\n"
    assert sorted(os.listdir(root / ".git")) == ["config"]


def test_confining_the_root_of_a_linked_worktree(tmp_path: Path, resolver: str) -> None:
    wt = tmp_path / "linked"
    wt.mkdir()
    (wt / ".git").write_text("gitdir: /elsewhere/.git/worktrees/linked\n")
    with pytest.raises(PathEscape):
        ConfinedDir(wt).write_text(".git", "gitdir: /tmp/evil\n")


# --- listing and searching ------------------------------------------------------------------------


def test_list_dir(fs: ConfinedDir, root: Path) -> None:
    (root / "lib").symlink_to("src/pkg")
    assert fs.list_dir() == ["README.md", "lib", "src/"]
    assert fs.list_dir("src") == ["app.py", "pkg/"]
    with pytest.raises(PathEscape):
        fs.list_dir("..")


def test_walk_skips_git_and_matches_globs(fs: ConfinedDir, root: Path) -> None:
    (root / "src" / "pkg" / ".git").mkdir()
    (root / "src" / "pkg" / ".git" / "x.py").write_text("")
    (root / "lib").symlink_to("src/pkg")  # listed nowhere twice: symlinked dirs are not entered
    assert fs.walk() == ["README.md", "src/app.py", "src/pkg/util.py"]
    assert fs.walk(glob="*.py") == ["src/app.py", "src/pkg/util.py"]
    assert fs.walk("src/pkg") == ["src/pkg/util.py"]
    assert fs.walk(glob="src/pkg/*") == ["src/pkg/util.py"]
    with pytest.raises(PathEscape):
        fs.walk("..")


def test_search(fs: ConfinedDir, root: Path) -> None:
    (root / "blob.bin").write_bytes(b"return\x00\xff")
    (root / "leak").symlink_to("../outside/secret.txt")
    assert fs.search(r"return") == [
        SearchHit("src/app.py", 4, "    return os.getcwd()"),
        SearchHit("src/pkg/util.py", 2, "    return 1"),
    ]
    assert fs.search(r"return", glob="*/pkg/*") == [SearchHit("src/pkg/util.py", 2, "    return 1")]
    assert fs.search("SECRET") == []
    assert len(fs.search(r".", max_hits=3)) == 3


def test_search_with_a_bad_pattern(fs: ConfinedDir) -> None:
    with pytest.raises(FileToolError, match="bad regular expression"):
        fs.search("(")
