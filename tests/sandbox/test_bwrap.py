from __future__ import annotations

import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orchestrator.errors import AiosError, ConfigError
from orchestrator.sandbox import _limits, _mounts, git
from orchestrator.sandbox import bwrap as sandbox
from orchestrator.sandbox.bwrap import (
    CommandPolicy,
    CommandRefused,
    CommandResult,
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


# --- what the sandbox shows: an allow-list ----------------------------------------------------------

TOKEN = "ghp_aiosTestToken0123456789abcdefABCDEF"


@pytest.fixture
def host_secrets(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Secret files outside tmp_path, where the old sandbox showed them; removed afterwards."""
    tag = uuid.uuid4().hex[:12]
    roots = [Path(f"/var/lib/aios-test-ci-{tag}"), Path(f"/srv/aios-test-{tag}"),
             Path(f"/opt/aios-test-{tag}")]  # fmt: skip
    files = {
        "ci_home_key": roots[0] / ".ssh" / "id_rsa",  # a CI home outside /home (/var/lib/jenkins)
        "var_tmp": Path(f"/var/tmp/aios-test-{tag}.secret"),  # noqa: S108 -- the host's, on purpose
        "other_tree_srv": roots[1] / "app" / ".env",
        "other_tree_opt": roots[2] / "src" / "settings.py",
    }
    try:
        for path in files.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"SECRET-{tag}\n")
        yield files
    finally:
        files["var_tmp"].unlink(missing_ok=True)
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)


READ_ALL = (
    "import sys\nfor p in sys.argv[1:]:\n"
    "    try: print('READ', p, open(p).read().strip())\n"
    "    except OSError as e: print('refused', p, type(e).__name__)"
)


@needs_bwrap
def test_host_files_outside_the_allow_list_are_unreachable(
    worktree: Path, host_secrets: dict[str, Path]
) -> None:
    targets = [Path("/etc/shadow"), Path("/etc/gshadow"), Path("/root/.bashrc"), *host_secrets.values()]
    targets = [t for t in targets if t.exists()]
    assert len(targets) >= 5  # shadow plus the four planted files
    plain = run_command([*py(READ_ALL), *map(str, targets)], worktree=worktree, limits=FAST, sandbox=False)
    assert plain.stdout.count("READ") == len(targets)  # the files are there to be stolen
    result = run_command([*py(READ_ALL), *map(str, targets)], worktree=worktree, limits=FAST)
    assert result.ok, result.stderr
    assert "READ" not in result.stdout
    assert result.stdout.count("refused") == len(targets)
    assert "SECRET-" not in result.stdout + result.stderr


@needs_bwrap
def test_only_the_allow_list_exists(worktree: Path) -> None:
    # A folder on the way to the interpreter (a pyenv in /root) exists, holding only that way.
    prefixes = {sys.prefix, sys.base_prefix}
    dirs = ["/var", "/opt", "/srv", "/home", "/root", "/run", "/mnt", "/media", "/boot", "/sys",
            "/etc/ssl/private"]  # fmt: skip
    ways = {d: sorted({p[len(d) + 1 :].split("/")[0] for p in prefixes if p.startswith(d + "/")})
            for d in dirs}  # fmt: skip
    code = (
        "import os, sys; print({d: sorted(os.listdir(d)) for d in sys.argv[1:] if os.path.exists(d)});"
        "print(open('/etc/passwd').read())"
    )
    result = run_command([*py(code), *dirs], worktree=worktree, limits=FAST)
    assert result.ok, result.stderr
    shown, passwd = result.stdout.split("\n", 1)
    assert shown == str({d: way for d, way in ways.items() if way})
    assert passwd.splitlines()[0] == "sandbox:x:1000:1000:sandbox:/tmp:/usr/sbin/nologin"
    assert "root:" not in passwd


@needs_bwrap
def test_a_token_in_the_main_repository_config_is_hidden(worktree: Path, repo: Path) -> None:
    git._git(repo, "remote", "add", "origin", f"https://x-access-token:{TOKEN}@github.com/o/r.git")
    git._git(repo, "config", "core.sshCommand", f"ssh -i /keys/{TOKEN}")
    (worktree / "app.py").write_text("x = 2\n")
    code = f"print(open({str(repo / '.git' / 'config')!r}).read())"
    shown = run_command(py(code), worktree=worktree, limits=FAST)
    assert shown.ok, shown.stderr
    assert TOKEN not in shown.stdout
    assert "repositoryformatversion = 0" in shown.stdout
    remote = run_command(["git", "config", "--get", "remote.origin.url"], worktree=worktree, limits=FAST)
    assert remote.returncode == 1 and remote.stdout == ""
    status = run_command(["git", "status", "--short"], worktree=worktree, limits=FAST)
    assert status.stdout == " M app.py\n", status.stderr
    assert TOKEN in (repo / ".git" / "config").read_text()  # the host's file is untouched


def test_the_sanitized_git_config_keeps_only_what_git_needs(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[core]\n\trepositoryformatversion = 1\n\tbare = false\n\tsshCommand = ssh -i key\n"
        "\tfsmonitor = ./evil\n[extensions]\n\tobjectFormat = sha256\n"
        f'[remote "origin"]\n\turl = https://u:{TOKEN}@example.com/r.git\n'
        "[include]\n\tpath = /root/.secrets\n"
        f'[core "x"] bare = {TOKEN}\n[credential] helper = store\n'
    )
    assert _mounts.sanitized_git_config(str(config)) == (
        "[core]\n\trepositoryformatversion = 1\n\tbare = false\n[extensions]\n\tobjectformat = sha256\n"
    )


@needs_bwrap
def test_unix_sockets_outside_are_unreachable(worktree: Path, tmp_path: Path) -> None:
    paths = [Path(f"/var/tmp/aios-test-{uuid.uuid4().hex[:12]}.sock"), tmp_path / "agent.sock"]  # noqa: S108
    abstract = f"\0aios-test-{uuid.uuid4().hex[:12]}"
    listeners = []
    try:
        for address in [*map(str, paths), abstract]:
            listener = socket.socket(socket.AF_UNIX)
            listeners.append(listener)
            listener.bind(address)
            listener.listen()
            listener.setblocking(False)
        code = (
            "import socket, sys\nfor a in sys.argv[1:]:\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            "    try: s.connect(a.replace('@', chr(0), 1)); print('CONNECTED', a)\n"
            "    except OSError as e: print('refused', type(e).__name__)"
        )
        argv = [*py(code), *map(str, paths), "@" + abstract[1:]]
        result = run_command(argv, worktree=worktree, limits=FAST)
        assert result.ok, result.stderr
        assert result.stdout.count("refused") == 3 and "CONNECTED" not in result.stdout
        for listener in listeners:
            with pytest.raises(BlockingIOError):
                listener.accept()
    finally:
        for listener in listeners:
            listener.close()
        paths[0].unlink(missing_ok=True)


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the sandbox maps to that user")
def test_the_sandboxed_code_never_runs_as_host_root(worktree: Path) -> None:
    code = "import os; print(open('/proc/self/uid_map').read().split()); open('made.txt', 'w').write('x')"
    result = run_command(py(code), worktree=worktree, limits=FAST)
    assert result.ok, result.stderr
    assert result.stdout == "['1000', '65534', '1']\n"  # uid 1000 inside is nobody outside
    made = (worktree / "made.txt").stat()
    assert (made.st_uid, made.st_gid) == (65534, 65534)
    # The orchestrator, as root, still reads and commits what the sandbox wrote.
    assert git.commit_all(worktree, "sandbox output") is not None


# --- resource limits --------------------------------------------------------------------------------


FORK_400 = (
    "import os, time\nforked = 0\ntry:\n    for _ in range(400):\n"
    "        if os.fork() == 0:\n            time.sleep(30); os._exit(0)\n        forked += 1\n"
    "finally:\n    print('forked', forked, flush=True)"
)


@needs_bwrap
def test_the_process_limit_stops_a_fork_bomb_promptly(worktree: Path) -> None:
    start = time.monotonic()
    result = run_command(py(FORK_400), worktree=worktree, limits=Limits(timeout_s=20, max_processes=50))
    assert time.monotonic() - start < 5  # the sleeping children die with the command
    assert not result.ok and not result.timed_out
    assert 0 < int(result.stdout.split()[1]) < 50
    assert result.limit_hit == "processes"
    assert result.limit_message == (
        "the command exceeded the limit of 50 processes; "
        "the workflow's `builder.limits.max_processes` sets it"
    )


@needs_bwrap
def test_two_sandboxes_count_their_processes_apart(worktree: Path) -> None:
    # RLIMIT_NPROC counts per user: each sandbox has a user namespace of its own, so one command's
    # 30 processes do not use up the next command's limit of 40.
    code = (
        "import os, time\nfor _ in range(30):\n"
        "    if os.fork() == 0:\n        time.sleep(3); os._exit(0)\nprint('ok')"
    )
    limits = Limits(timeout_s=20, max_processes=40)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_command(py(code), worktree=worktree, limits=limits), range(2)))
    assert [r.stdout for r in results] == ["ok\n", "ok\n"], [r.stderr for r in results]


@pytest.mark.parametrize("sandboxed", MODES)
def test_the_memory_limit(worktree: Path, sandboxed: bool) -> None:
    limits = Limits(timeout_s=20, max_memory_bytes=512 * 1024**2)
    small = run_command(py("b = bytearray(100 * 2**20); print(len(b))"), worktree=worktree, limits=limits,
                        sandbox=sandboxed)  # fmt: skip
    assert small.stdout == f"{100 * 2**20}\n", small.stderr
    big = run_command(py("b = bytearray(1536 * 2**20); print('allocated')"), worktree=worktree, limits=limits,
                      sandbox=sandboxed)  # fmt: skip
    assert "allocated" not in big.stdout and "MemoryError" in big.stderr
    assert not big.ok and big.limit_hit == "memory"
    assert big.limit_message == (
        "the command exceeded the memory limit of 512 MiB per process; "
        "the workflow's `builder.limits.max_memory_bytes` sets it"
    )


WRITE_600MB = (
    "for i in range(3):\n    with open(f'big{i}', 'wb') as f:\n"
    "        for _ in range(200): f.write(b'x' * 2**20)\nprint('wrote 600 MB')"
)


@pytest.mark.parametrize("sandboxed", MODES)
def test_the_disk_limit_stops_a_writer(worktree: Path, sandboxed: bool) -> None:
    limits = Limits(timeout_s=60, max_disk_bytes=32 * 1024**2)
    start = time.monotonic()
    result = run_command(py(WRITE_600MB), worktree=worktree, limits=limits, sandbox=sandboxed)
    assert time.monotonic() - start < 20
    written = sum(p.stat().st_size for p in worktree.glob("big*"))
    assert "wrote 600 MB" not in result.stdout
    assert 32 * 2**20 < written < 600 * 2**20  # stopped past the limit, well before the end
    assert not result.ok and result.limit_hit == "disk"
    assert result.limit_message.startswith(
        "the command exceeded the disk limit of 32 MiB (the worktree grew by "
    )
    assert result.limit_message.endswith("); the workflow's `builder.limits.max_disk_bytes` sets it")


@pytest.mark.parametrize("sandboxed", MODES)
def test_a_write_past_the_disk_limit_is_reported_even_when_quick(
    worktree: Path, sandboxed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if it all happened between two polls: the check after the command still catches it.
    monkeypatch.setattr(_limits.DiskWatch, "poll", lambda self, now: False)
    code = "open('blob', 'wb').write(b'x' * 3 * 2**20)"
    result = run_command(py(code), worktree=worktree, limits=Limits(timeout_s=20, max_disk_bytes=2**20),
                         sandbox=sandboxed)  # fmt: skip
    assert result.returncode == 0 and not result.ok
    assert result.limit_hit == "disk"


@needs_bwrap
def test_the_private_tmp_is_capped_by_the_disk_limit(worktree: Path) -> None:
    code = "open('/tmp/blob', 'wb').write(b'x' * 3 * 2**20)"
    result = run_command(py(code), worktree=worktree, limits=Limits(timeout_s=20, max_disk_bytes=2**20))
    assert "No space left on device" in result.stderr
    assert result.limit_hit == "disk"
    assert "(its /tmp or /dev/shm is full)" in result.limit_message


@needs_bwrap
def test_a_failure_that_is_no_limit_names_none(worktree: Path) -> None:
    result = run_command(py("raise SystemExit('plain failure')"), worktree=worktree, limits=FAST)
    assert result.returncode == 1 and result.limit_hit is None and result.limit_message == ""


def test_new_limits_must_be_positive() -> None:
    for name in ("max_processes", "max_memory_bytes", "max_disk_bytes"):
        with pytest.raises(ConfigError) as err:
            Limits(**{name: 0})
        assert err.value.field == name


def test_the_workflow_sets_every_limit(tmp_path: Path) -> None:
    from orchestrator.workflow.settings import load_workflow

    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "pair_programming.yaml").write_text(
        "builder:\n  limits:\n    max_processes: 64\n"
        "    max_memory_bytes: 536870912\n    max_disk_bytes: 1048576\n"
    )
    limits = load_workflow(workspace=tmp_path).builder.limits
    assert (limits.max_processes, limits.max_memory_bytes, limits.max_disk_bytes) == (64, 512 * 2**20, 2**20)
    assert limits.timeout_s == 300  # the others keep their defaults
    assert load_workflow().builder.limits.max_memory_bytes == 2 * 1024**3  # the shipped file


def test_a_limit_hit_reaches_the_builder_and_the_evidence() -> None:
    from orchestrator.review.evidence._base import attempt
    from orchestrator.workflow.builder import _check_report

    message = "the command exceeded the memory limit of 512 MiB per process; the workflow's ..."
    hit = CommandResult(("pytest",), 1, "", "MemoryError\n", 0.5, limit_hit="memory", limit_message=message)
    assert _check_report(hit, FAST).splitlines()[0] == f"exit code 1; stopped by a limit: {message}"
    assert attempt(lambda argv: hit, ["pytest"]).reason == message
    plain = CommandResult(("pytest",), 1, "", "", 0.5)
    assert _check_report(plain, FAST).splitlines()[0] == "exit code 1"
    assert attempt(lambda argv: plain, ["pytest"]).reason is None


@pytest.mark.parametrize("sandboxed", MODES)
def test_the_cpu_and_time_limits_are_named(worktree: Path, sandboxed: bool) -> None:
    spin = run_command(py("while True: pass"), worktree=worktree, limits=Limits(timeout_s=20, cpu_s=1),
                       sandbox=sandboxed)  # fmt: skip
    assert spin.limit_hit == "cpu"
    assert spin.limit_message == (
        "the command used more than its CPU limit of 1 s; the workflow's `builder.limits.cpu_s` sets it"
    )
    slow = run_command(py("import time; time.sleep(5)"), worktree=worktree, limits=Limits(timeout_s=0.3),
                       sandbox=sandboxed)  # fmt: skip
    assert slow.timed_out and slow.limit_hit == "time"
    assert slow.limit_message == "the command ran past its time limit of 0.3 s"


@pytest.mark.parametrize(
    ("returncode", "stderr", "processes_limited", "expected"),
    [
        (1, "Traceback ...\nMemoryError\n", True, "memory"),
        (101, "memory allocation of 1073741824 bytes failed\n", True, "memory"),
        (1, "BlockingIOError: [Errno 11] Resource temporarily unavailable\n", True, "processes"),
        (1, "BlockingIOError: [Errno 11] Resource temporarily unavailable\n", False, None),
        (1, "OSError: [Errno 27] File too large\n", True, "file"),
        (-25, "", True, "file"),  # SIGXFSZ, for programs that do not ignore it as Python does
        (152, "", True, "cpu"),  # 128 + SIGXCPU, as a shell reports it
        (1, "OSError: [Errno 28] No space left on device\n", True, "disk"),
        (0, "MemoryError (caught and handled)\n", True, None),  # a success hit no limit
        (1, "AssertionError: 1 != 2\n", True, None),
    ],
)
def test_recognising_the_limit_a_command_hit(
    returncode: int, stderr: str, processes_limited: bool, expected: str | None
) -> None:
    found = _limits.recognise(returncode, stderr, Limits(), processes_limited=processes_limited)
    assert found == expected


def test_sizes_read_plainly() -> None:
    assert [_limits.size(n) for n in (2000, 2**20, 512 * 2**20, 1536 * 2**20, 2**31)] == [
        "2000 bytes", "1 MiB", "512 MiB", "1.5 GiB", "2 GiB"
    ]  # fmt: skip
