from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import AiosError, ConfigError
from orchestrator.sandbox import bwrap as sandbox
from orchestrator.sandbox import git
from orchestrator.sandbox.bwrap import (
    CommandPolicy,
    CommandRefused,
    Limits,
    SandboxUnavailable,
    bwrap_available,
    run_command,
    split_command,
)

needs_bwrap = pytest.mark.skipif(
    not bwrap_available(),
    reason="bubblewrap is missing or cannot create namespaces here (apt-get install bubblewrap)",
)
FAST = Limits(timeout_s=20)
PY = "python"  # resolved from the running interpreter's venv, inside and outside the sandbox


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("x = 1\n")
    (root / ".env").write_text("API_KEY=main-repo-secret\n")
    git._git(root, "init", "-q", "-b", "main")
    git._git(root, "add", "app.py")
    git.commit_all(root, "init")
    return root


@pytest.fixture
def worktree(repo: Path) -> Path:
    return git.ensure_worktree(repo, "T1", "main")


def py(code: str) -> list[str]:
    return [PY, "-c", code]


# --- the allow-list -------------------------------------------------------------------------------

POLICY = CommandPolicy(["pytest", "python -m pytest", "ruff check", "make test"])


@pytest.mark.parametrize(
    "text",
    [
        "pytest",
        "pytest -q tests/test_x.py",
        "python -m pytest -x",
        "ruff check .",
        "make test",
        "pytest -k 'a or b'; rm -rf /",
    ],
)
def test_allowed_commands(text: str) -> None:
    POLICY.check(split_command(text))


@pytest.mark.parametrize(
    "text",
    [
        "sh -c pytest",
        "bash -c 'pytest'",
        "/usr/bin/pytest",
        "/bin/sh",
        "python -c 'import os'",
        "python",
        "ruff format .",
        "ruff",
        "make install",
        "env pytest",
        "pytest;",
        "./pytest",
        "PYTEST=1 pytest",
    ],
)
def test_refused_commands(text: str) -> None:
    with pytest.raises(CommandRefused) as err:
        POLICY.check(split_command(text))
    assert err.value.message.startswith("command not allowed: ")
    assert err.value.fix == (
        "use a command starting with one of: `pytest`, `python -m pytest`, `ruff check`, `make test`"
    )


def test_split_command_quotes_like_a_shell_but_runs_none() -> None:
    assert split_command("pytest -k 'a and not b' $(id) ;") == ["pytest", "-k", "a and not b", "$(id)", ";"]
    with pytest.raises(CommandRefused, match="cannot parse command"):
        split_command("pytest 'unbalanced")
    with pytest.raises(CommandRefused, match="empty command"):
        split_command("   ")


def test_a_bad_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bad allow-list pattern"):
        CommandPolicy(["pytest", ""])


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError) as err:
        Limits(timeout_s=0)
    assert err.value.field == "timeout_s"


# --- without bubblewrap ---------------------------------------------------------------------------


def test_missing_bwrap_refuses_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sandbox, "_bwrap_path", lambda: None)
    problem = sandbox._bwrap_problem.__wrapped__()
    monkeypatch.setattr(sandbox, "_bwrap_problem", lambda: problem)
    assert not bwrap_available()
    with pytest.raises(SandboxUnavailable) as err:
        run_command(["true"], worktree=tmp_path, limits=FAST)
    assert err.value.render() == (
        "bubblewrap (`bwrap`) is not installed, so commands cannot run in a sandbox\n"
        "  fix: install bubblewrap (`apt-get install bubblewrap`), or pass `--no-sandbox` to run "
        "commands without a sandbox (only for code you trust)"
    )
    assert run_command(["true"], worktree=tmp_path, limits=FAST, sandbox=False).sandboxed is False


# --- both modes -----------------------------------------------------------------------------------

MODES = [pytest.param(True, id="sandboxed", marks=needs_bwrap), pytest.param(False, id="plain")]


@pytest.mark.parametrize("sandboxed", MODES)
def test_a_command_runs_in_the_worktree(worktree: Path, sandboxed: bool) -> None:
    result = run_command(
        py("import os; print(os.getcwd())"), worktree=worktree, limits=FAST, sandbox=sandboxed
    )
    assert result.ok, result.stderr
    assert result.stdout == f"{worktree}\n"
    assert result.sandboxed is sandboxed
    assert result.argv == (PY, "-c", "import os; print(os.getcwd())")


@pytest.mark.parametrize("sandboxed", MODES)
def test_clean_environment(worktree: Path, sandboxed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    code = "import os; print(sorted(k for k in os.environ if k != 'PWD')); print(os.environ['EXTRA'])"
    result = run_command(py(code), worktree=worktree, limits=FAST, sandbox=sandboxed, env={"EXTRA": "1"})
    assert result.stdout.splitlines() == [
        "['EXTRA', 'HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE']",
        "1",
    ]
    assert "sk-parent-secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("sandboxed", MODES)
def test_venv_tools_resolve(worktree: Path, sandboxed: bool) -> None:
    result = run_command(
        py("import sys; print(sys.prefix)"), worktree=worktree, limits=FAST, sandbox=sandboxed
    )
    assert result.stdout == f"{sys.prefix}\n"
    assert run_command(["ruff", "--version"], worktree=worktree, limits=FAST, sandbox=sandboxed).ok


@pytest.mark.parametrize("sandboxed", MODES)
def test_a_missing_executable_is_127(worktree: Path, sandboxed: bool) -> None:
    for argv in (["no-such-tool", "x"], ["./missing.sh"]):
        result = run_command(argv, worktree=worktree, limits=FAST, sandbox=sandboxed)
        assert result.returncode == 127
        where = "inside the sandbox" if sandboxed else "on this machine"
        assert f"aios: command not found {where}: {argv[0]!r}" in result.stderr


@pytest.mark.parametrize("sandboxed", MODES)
def test_the_time_limit_kills_the_whole_tree(worktree: Path, sandboxed: bool) -> None:
    # A grandchild that would write a file later must die with the command.
    code = (
        "import subprocess, time; print('started', flush=True);"
        "subprocess.Popen(['sh', '-c', 'sleep 0.6; touch late']); time.sleep(30)"
    )
    start = time.monotonic()
    result = run_command(py(code), worktree=worktree, limits=Limits(timeout_s=0.4), sandbox=sandboxed)
    assert time.monotonic() - start < 3
    assert result.timed_out and result.returncode is None and not result.ok
    assert result.stdout == "started\n"
    time.sleep(0.5)
    assert not (worktree / "late").exists()


@pytest.mark.parametrize("sandboxed", MODES)
@pytest.mark.parametrize("use_prlimit", [True, False], ids=["prlimit", "preexec_fn"])
def test_the_file_size_limit(
    worktree: Path, sandboxed: bool, use_prlimit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not use_prlimit:
        monkeypatch.setattr(sandbox, "_prlimit", lambda: None)
    elif sandbox._prlimit() is None:
        pytest.skip("prlimit (util-linux) is not installed")
    code = (
        "import os\nfd = os.open('big', os.O_WRONLY | os.O_CREAT)\n"
        "for _ in range(10): os.write(fd, b'x' * 1000)"
    )
    limits = Limits(timeout_s=20, max_file_bytes=2000)
    result = run_command(py(code), worktree=worktree, limits=limits, sandbox=sandboxed)
    assert result.returncode != 0
    assert "File too large" in result.stderr
    assert (worktree / "big").stat().st_size == 2000


@pytest.mark.parametrize("sandboxed", MODES)
def test_output_is_a_capped_tail(worktree: Path, sandboxed: bool) -> None:
    code = "import sys; print('A' * 5000 + 'END'); print('e' * 300, file=sys.stderr)"
    limits = Limits(timeout_s=20, max_output_bytes=100)
    result = run_command(py(code), worktree=worktree, limits=limits, sandbox=sandboxed)
    assert result.ok
    assert len(result.stdout) <= 100 and len(result.stderr) <= 100
    assert result.stdout.startswith("[... ") and result.stdout.endswith("AEND\n")
    dropped = int(result.stdout.split()[1])
    assert dropped + len(result.stdout.split("\n", 1)[1]) == 5004
    assert result.stderr.endswith("e\n")


def test_arguments_never_reach_a_shell(worktree: Path) -> None:
    argv = py("import sys; print(sys.argv[1:])") + ["$(touch pwned)", ";", "|", "`id`"]
    result = run_command(argv, worktree=worktree, limits=FAST, sandbox=False)
    assert result.stdout == "['$(touch pwned)', ';', '|', '`id`']\n"
    assert not (worktree / "pwned").exists()


def test_a_missing_worktree_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AiosError, match="worktree does not exist"):
        run_command(["true"], worktree=tmp_path / "nope", limits=FAST, sandbox=False)


# --- only in the sandbox --------------------------------------------------------------------------


@needs_bwrap
def test_runs_as_uid_1000_without_capabilities(worktree: Path) -> None:
    code = (
        "import os; caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0];"
        "print(os.getuid(), os.getgid(), caps)"
    )
    assert run_command(py(code), worktree=worktree, limits=FAST).stdout == "1000 1000 0000000000000000\n"


@needs_bwrap
def test_writes_outside_the_worktree_fail(worktree: Path, repo: Path, tmp_path: Path) -> None:
    targets = [
        repo / "evil.txt",
        repo / ".git" / "hooks" / "pre-commit",
        worktree.parent / "evil.txt",
        Path("/etc/aios-evil"),
        Path("/usr/aios-evil"),
        Path.home() / "aios-evil",  # the host's home, not the sandbox's HOME=/tmp
    ]
    code = (
        "import sys\nfor t in sys.argv[1:]:\n"
        "    try: open(t, 'w').write('pwned'); print('WROTE', t)\n"
        "    except OSError as e: print('refused', e.strerror)\n"
        "open('inside.txt', 'w').write('ok')"
    )
    result = run_command([*py(code), *map(str, targets)], worktree=worktree, limits=FAST)
    assert result.ok, result.stderr
    assert "WROTE" not in result.stdout
    assert result.stdout.count("refused") == len(targets)
    assert not any(t.exists() for t in targets)
    assert (worktree / "inside.txt").read_text() == "ok"


@needs_bwrap
def test_tmp_is_private(worktree: Path, tmp_path: Path) -> None:
    code = f"open({str(tmp_path / 'x.txt')!r}, 'w').write('private'); print(open('/tmp/' + 'x', 'w').name)"
    assert run_command(py(code), worktree=worktree, limits=FAST).ok
    assert not (tmp_path / "x.txt").exists()


@needs_bwrap
def test_the_main_repository_is_hidden(worktree: Path, repo: Path) -> None:
    # The worktree sits inside the main repo, whose untracked files (.env) may hold secrets.
    code = f"import os; print(os.path.exists({str(repo / '.env')!r}), os.path.exists({str(repo / '.git')!r}))"
    assert run_command(py(code), worktree=worktree, limits=FAST).stdout == "False True\n"


@needs_bwrap
def test_no_network(worktree: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('OK')"
        result = run_command(py(code), worktree=worktree, limits=FAST)
        assert result.returncode != 0
        assert "OK" not in result.stdout
        assert "ConnectionRefusedError" in result.stderr or "unreachable" in result.stderr
        with pytest.raises(BlockingIOError):
            listener.accept()


@needs_bwrap
def test_git_reads_work_but_commits_fail(worktree: Path, repo: Path) -> None:
    (worktree / "app.py").write_text("x = 2\n")
    status = run_command(["git", "status", "--short"], worktree=worktree, limits=FAST)
    assert status.ok, status.stderr
    assert status.stdout == " M app.py\n"
    changes = run_command(["git", "diff"], worktree=worktree, limits=FAST)
    assert "-x = 1\n+x = 2" in changes.stdout
    head = git.head(worktree)
    commit = run_command(["git", "commit", "-qam", "sneaky"], worktree=worktree, limits=FAST)
    assert commit.returncode != 0
    assert "Read-only file system" in commit.stderr
    assert git.head(worktree) == head


@needs_bwrap
def test_read_only_paths_are_visible_but_not_writable(worktree: Path, tmp_path: Path) -> None:
    data = tmp_path / "fixtures"
    data.mkdir()
    (data / "in.txt").write_text("data")
    code = f"print(open({str(data / 'in.txt')!r}).read()); open({str(data / 'out.txt')!r}, 'w')"
    result = run_command(py(code), worktree=worktree, limits=FAST, read_only_paths=[data])
    assert result.stdout == "data\n"
    assert "Read-only file system" in result.stderr
    assert not (data / "out.txt").exists()


@needs_bwrap
def test_the_worktree_gitfile_is_read_only_in_the_sandbox(worktree: Path) -> None:
    before = (worktree / ".git").read_text()
    code = "open('.git', 'w').write('gitdir: .evil\\n')"
    result = run_command(py(code), worktree=worktree, limits=FAST)
    assert not result.ok
    assert (worktree / ".git").read_text() == before
