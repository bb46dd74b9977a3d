"""``orchestrator.workflow.worker``: workers take ready tasks, run each review once, stop cleanly.

Every review here is the static reviewer (evidence only, no model) of an external builder's
commit on a tiny real repository, without bubblewrap so a check can wait on a file in the test's
folder. Several worker processes share one workspace's YAML store (its state lock); the
PostgreSQL variants run once the PostgreSQL state backend exists.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import CALC, MUL_CHECK, calc_change, write

from orchestrator.errors import PermissionDenied, StateError
from orchestrator.governance import actions
from orchestrator.sandbox import git
from orchestrator.state import tasks
from orchestrator.state.lifecycle import HOLDS_SLOT, Status
from orchestrator.state.records import Event
from orchestrator.state.store import Store
from orchestrator.state.taskcard import Criterion, TaskCard
from orchestrator.state.workspace import Workspace
from orchestrator.workflow.options import RunOptions
from orchestrator.workflow.worker import (
    HANDED_BACK,
    Identity,
    Outcome,
    Verb,
    Worker,
    WorkerOptions,
    last_mark,
    marks,
    release,
)

STATIC = RunOptions(builder_mode="external", reviewer_mode="static", sandbox=False)
WORKER_ARGS = ["--builder", "external", "--reviewer", "static", "--no-sandbox", "--poll", "0.2", "--json"]


def based(ws: Workspace) -> Workspace:
    """``ws`` with the calculator committed on main, and dev's limit at ``limit``."""
    write(ws.root, CALC)
    git.commit_all(ws.root, "calc")
    return ws


def set_limit(ws: Workspace, queue: str, limit: int) -> Workspace:
    text = ws.project_file.read_text()
    old = f"  {queue}:\n    max_concurrent: "
    start = text.index(old) + len(old)
    end = text.index("\n", start)
    ws.project_file.write_text(text[:start] + str(limit) + text[end:])
    return Workspace(ws.root)


def ready_task(ws: Workspace, *, check: str = MUL_CHECK, priority: int = 3, queue: str = "dev") -> str:
    """An approved (ready) task whose change is committed on its branch; returns its id."""
    card = TaskCard(
        id=f"TASK_{queue.upper()}_0000",
        title="Add mul",
        queue=queue,
        priority=priority,
        acceptance_criteria=[Criterion(id="AC1", text="mul multiplies", check=check)],
    )
    tid = tasks.create(ws, card, actor="alice").id
    actions.transition(ws, tid, "approve", actor="alice")
    worktree = git.ensure_worktree(ws.root, tid, "main")
    write(worktree, calc_change())
    git.commit_all(worktree, "Add mul")
    git.remove_worktree(ws.root, tid)  # the branch stays; the run checks it out again
    return tid


def worker(ws: Workspace, **options) -> Worker:
    return Worker(ws, actor="alice", name="w1", options=WorkerOptions(run=STATIC, poll=0.1, **options))


def aios_worker(ws: Workspace, *args: str, name: str) -> subprocess.Popen[str]:
    """``aios worker`` in a process of its own, as alice, against ``ws``."""
    env = {**os.environ, "AIOS_ACTOR": "alice", "AIOS_ROOT": str(ws.root)}
    argv = [sys.executable, "-m", "orchestrator", "worker", "--name", name, *WORKER_ARGS, *args]
    return subprocess.Popen(
        argv, cwd=ws.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def all_events(ws: Workspace) -> list[tuple[str, Event]]:
    """Every task's events, in the order the store numbered them (``seq``)."""
    found = [(t.id, e) for t in Store(ws).all_tasks() for e in t.events]
    return sorted(found, key=lambda pair: pair[1].seq)


def most_running(ws: Workspace) -> dict[str, int]:
    """Replaying every event: the most tasks each queue ever held in its slots at once."""
    queue_of = {t.id: t.queue for t in Store(ws).all_tasks()}
    status: dict[str, Status] = {}
    peak: Counter[str] = Counter()
    for tid, event in all_events(ws):
        status[tid] = event.to
        queue = queue_of[tid]
        held = sum(1 for t, s in status.items() if queue_of[t] == queue and s in HOLDS_SLOT)
        peak[queue] = max(peak[queue], held)
    return dict(peak)


def reviewed_rounds(ws: Workspace, tid: str) -> list[str]:
    """The review reports written for ``tid`` (one per review round)."""
    folder = ws.root / "ops" / "reviews" / tid
    return sorted(p.name for p in folder.glob("round-*.json"))


def adopted(ws: Workspace, *, timeout: float = 30.0) -> Outcome:
    """What a worker in this process takes once the dead worker's run has let go (its run lock)."""
    end = time.monotonic() + timeout
    while (outcome := worker(ws).take(("dev",))) is None:
        assert time.monotonic() < end, "no worker adopted the task"
        time.sleep(0.1)
    assert outcome.adopted
    return outcome


def wait_started(proc: subprocess.Popen[str], started: Path, *, timeout: float = 120.0) -> None:
    """Wait until the worker's review runs its check (``started`` appears); fail if the worker ended."""
    end = time.monotonic() + timeout
    while not started.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the worker ended ({proc.returncode}): {proc.communicate()}")
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the review's check to start")
        time.sleep(0.1)


# ---- the trail marks ----


def test_a_mark_reads_back_what_the_worker_wrote(ws: Workspace) -> None:
    tid = ready_task(based(ws))
    me = Identity("w1", pid=42, host="build-1")
    actions.note(ws, tid, actor="alice", reason=me.says(Verb.HANDS_BACK, tid, ": stopped"))
    mark = last_mark(tasks.get(ws, tid))
    assert mark is not None
    assert (mark.worker, mark.verb, mark.pid, mark.host, mark.holds) == (
        "w1",
        Verb.HANDS_BACK,
        42,
        "build-1",
        False,
    )


def test_a_note_about_another_task_is_not_its_mark(ws: Workspace) -> None:
    tid = ready_task(based(ws))
    actions.note(ws, tid, actor="alice", reason=Identity("w1").says(Verb.CLAIMS, "TASK_DEV_0099"))
    assert marks(tasks.get(ws, tid)) == []


# ---- one worker ----


def test_a_worker_claims_the_most_urgent_task_runs_its_review_and_never_approves(ws: Workspace) -> None:
    based(ws)
    later, urgent = ready_task(ws, priority=3), ready_task(ws, priority=1)
    outcomes = list(worker(ws, max_tasks=1).run())
    assert [o.task for o in outcomes] == [urgent]
    found = outcomes[0].status
    assert found is not None, outcomes[0]
    assert (found.verdict, found.waiting_for, found.merged) == ("APPROVED", "human_review", None)
    task = tasks.get(ws, urgent)
    assert task.status is Status.REVIEWING  # waiting for a person: a worker never approves
    start = next(e for e in task.events if e.to is Status.RUNNING)
    assert (start.actor, start.reason) == ("alice", Identity("w1").says(Verb.CLAIMS, urgent))
    assert [m.verb for m in marks(task)] == [Verb.CLAIMS, Verb.LEAVES]
    assert tasks.get(ws, later).status is Status.READY
    log = ws.governance_log.read_text()
    assert "alice (human) · worker w1 starts" in log and "worker w1 stops" in log and "1 task(s) taken" in log


def test_exit_when_idle_takes_every_ready_task_then_stops(ws: Workspace) -> None:
    based(ws)
    ids = [ready_task(ws) for _ in range(2)]
    outcomes = list(worker(ws, exit_when_idle=True).run())
    assert sorted(o.task for o in outcomes) == ids
    assert all(tasks.get(ws, t).status is Status.REVIEWING for t in ids)


def test_a_worker_takes_only_its_queues(ws: Workspace) -> None:
    based(ws)
    dev, data = ready_task(ws), ready_task(ws, queue="data")
    outcomes = list(worker(ws, queues=("data",), exit_when_idle=True).run())
    assert [o.task for o in outcomes] == [data]
    assert tasks.get(ws, dev).status is Status.READY


def test_a_full_queue_starts_nothing_more(ws: Workspace) -> None:
    ws = set_limit(based(ws), "dev", 1)
    first, second = ready_task(ws), ready_task(ws)
    actions.transition(ws, first, "start", actor="alice")  # a person holds dev's one slot
    assert worker(ws).take(("dev",)) is None
    assert tasks.get(ws, second).status is Status.READY


def test_a_frozen_system_gives_a_worker_nothing(ws: Workspace) -> None:
    tid = ready_task(based(ws))
    actions.freeze(ws, actor="alice", reason="incident")
    assert worker(ws).take(("dev",)) is None
    assert tasks.get(ws, tid).status is Status.READY


def test_a_frozen_system_ends_a_worker_that_exits_when_idle(ws: Workspace) -> None:
    ready_task(based(ws))
    actions.freeze(ws, actor="alice", reason="incident")
    assert list(worker(ws, exit_when_idle=True).run()) == []
    assert list(worker(ws, once=True).run()) == []


def test_a_locked_queue_is_idle_but_a_full_one_is_waited_on(ws: Workspace) -> None:
    ws = set_limit(based(ws), "dev", 1)
    first, _ = ready_task(ws), ready_task(ws)
    actions.set_lock(ws, ["dev"], locked=True, actor="alice", reason="incident")
    assert list(worker(ws, exit_when_idle=True).run()) == []
    actions.set_lock(ws, ["dev"], locked=False, actor="alice")
    actions.transition(ws, first, "start", actor="alice")  # full: a slot frees up when it finishes
    assert worker(ws)._idle(("dev",)) is False


def test_an_unknown_queue_is_refused(ws: Workspace) -> None:
    with pytest.raises(StateError) as caught:
        list(worker(ws, queues=("nope",)).run())
    assert caught.value.message == "queue 'nope' is not defined"


def test_an_agent_cannot_run_a_worker(ws: Workspace) -> None:
    with pytest.raises(PermissionDenied) as caught:
        list(Worker(ws, actor="agent:builder", options=WorkerOptions(run=STATIC)).run())
    assert (
        caught.value.fix
        == "start the worker as a member who may start tasks and run reviews (`--actor NAME`)"
    )


def test_someone_who_is_not_a_member_cannot_run_a_worker(ws: Workspace) -> None:
    with pytest.raises(PermissionDenied):
        list(Worker(ws, actor="mallory", options=WorkerOptions(run=STATIC, exit_when_idle=True)).run())
    log = ws.governance_log.read_text()
    assert "by mallory · refused (membership): run a worker on the research queue" in log
    assert "worker mallory" not in log and "starts" not in log  # it never started


def test_a_bad_worker_name_is_refused_with_a_fix(ws: Workspace) -> None:
    with pytest.raises(StateError) as caught:
        Worker(ws, actor="alice", name="w 1")
    assert caught.value.message == "bad worker name 'w 1'"


# ---- a worker that is gone ----


def test_a_claim_of_a_live_worker_is_not_adopted(ws: Workspace) -> None:
    tid = ready_task(based(ws))
    live = Identity("w9")  # this very process: alive
    actions.transition(ws, tid, "start", actor="alice", reason=live.says(Verb.CLAIMS, tid))
    assert worker(ws).take(("dev",)) is None


def test_a_dead_workers_task_is_adopted_and_reviewed_once(ws: Workspace) -> None:
    tid = ready_task(based(ws))
    gone = Identity("w9", pid=dead_pid())
    actions.transition(ws, tid, "start", actor="alice", reason=gone.says(Verb.CLAIMS, tid))
    outcome = worker(ws).take(("dev",))
    assert outcome is not None and outcome.adopted and outcome.status is not None
    assert outcome.status.waiting_for == "human_review"
    assert [(m.worker, m.verb) for m in marks(tasks.get(ws, tid))] == [
        ("w9", Verb.CLAIMS),
        ("w1", Verb.ADOPTS),
        ("w1", Verb.LEAVES),
    ]
    assert reviewed_rounds(ws, tid) == ["round-1.json"]


def test_a_claim_from_another_host_waits_for_a_person_to_release_it(ws: Workspace) -> None:
    tid = ready_task(based(ws))
    elsewhere = Identity("w9", pid=dead_pid(), host="other-host")
    actions.transition(ws, tid, "start", actor="alice", reason=elsewhere.says(Verb.CLAIMS, tid))
    assert worker(ws).take(("dev",)) is None  # its pid means nothing here
    held = release(ws, tid, actor="alice", reason="build-2 was switched off")
    assert (held.worker, held.host) == ("w9", "other-host")
    outcome = worker(ws).take(("dev",))
    assert outcome is not None and outcome.adopted
    with pytest.raises(StateError) as caught:
        release(ws, tid, actor="alice", reason="again")
    assert caught.value.message == f"{tid} is not held by a worker"


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


# ---- worker processes ----


def slow_task(ws: Workspace, tmp_path: Path) -> tuple[str, Path, Path]:
    """A ready task whose check says it started, then waits while ``hold`` exists."""
    hold, started = tmp_path / "hold", tmp_path / "started"
    hold.touch()
    code = (
        f"import os, pathlib, time; pathlib.Path({str(started)!r}).touch(); "
        f"[time.sleep(0.05) for _ in iter(lambda: os.path.exists({str(hold)!r}), False)]"
    )
    check = f"{sys.executable} -c {json.dumps(code)}"
    return ready_task(ws, check=check), hold, started


def test_a_worker_killed_mid_review_leaves_a_task_the_next_worker_finishes(
    ws: Workspace, tmp_path: Path
) -> None:
    tid, hold, started = slow_task(based(ws), tmp_path)
    proc = aios_worker(ws, "--once", name="w1")
    wait_started(proc, started)
    proc.kill()  # SIGKILL: no chance to hand anything back
    proc.wait()
    hold.unlink()
    task = tasks.get(ws, tid)
    assert task.status in HOLDS_SLOT  # still claimed: the slot is not freed behind anyone's back
    mark = last_mark(task)
    assert mark is not None and (mark.worker, mark.verb, mark.pid) == ("w1", Verb.CLAIMS, proc.pid)
    outcome = adopted(ws)  # its review process died with it, letting go of the run lock
    assert outcome.status is not None
    assert (outcome.status.verdict, outcome.status.waiting_for) == ("APPROVED", "human_review")
    assert reviewed_rounds(ws, tid) == ["round-1.json"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_hands_the_task_back_and_the_run_resumes(ws: Workspace, tmp_path: Path, sig: int) -> None:
    tid, hold, started = slow_task(based(ws), tmp_path)
    proc = aios_worker(ws, name="w1")
    wait_started(proc, started)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    line = json.loads(out.strip().splitlines()[-1])
    assert (line["task"], line["error"]) == (tid, HANDED_BACK)
    task = tasks.get(ws, tid)
    assert [m.verb for m in marks(task)] == [Verb.CLAIMS, Verb.HANDS_BACK]
    assert task.status in HOLDS_SLOT
    hold.unlink()
    outcome = adopted(ws)
    assert outcome.status is not None and outcome.status.waiting_for == "human_review"
    assert reviewed_rounds(ws, tid) == ["round-1.json"]
    assert "worker w1 stops" in ws.governance_log.read_text()


def test_several_worker_processes_review_each_task_once_within_the_queue_limit(ws: Workspace) -> None:
    ws = set_limit(based(ws), "dev", 2)
    ids = [ready_task(ws) for _ in range(6)]
    procs = [aios_worker(ws, "--exit-when-idle", name=f"w{n}") for n in range(3)]
    taken: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        taken += [json.loads(line)["task"] for line in out.splitlines()]
    assert sorted(taken) == ids  # every task taken, none twice
    assert most_running(ws) == {"dev": 2}  # replaying the events: never over the limit
    for tid in ids:
        task = tasks.get(ws, tid)
        assert task.status is Status.REVIEWING
        assert [m.verb for m in marks(task)] == [Verb.CLAIMS, Verb.LEAVES]
        assert reviewed_rounds(ws, tid) == ["round-1.json"]
    seqs = [e.seq for _, e in all_events(ws)]
    assert seqs == list(range(1, len(seqs) + 1))  # no event lost


# ---- PostgreSQL (once the backend exists) ----

needs_postgres_state = pytest.mark.skipif(
    importlib.util.find_spec("orchestrator.state.postgres") is None,
    reason="needs the PostgreSQL state backend",
)


def pg_env(url: str, **more: str) -> dict[str, str]:
    return {**os.environ, "AIOS_ACTOR": "alice", "AIOS_STATE_URL": url, **more}


def store_of(ws: Workspace):
    """The store ``AIOS_STATE_URL`` selects (the PostgreSQL backend's factory)."""
    from orchestrator.state.stores import open_store

    return open_store(ws)


#: One of the 20 processes of start/finish: each task it can start, it starts and finishes at once.
START_FINISH = """
import json, sys
from pathlib import Path
from orchestrator.errors import QueueError, TransitionError
from orchestrator.governance import actions
from orchestrator.state.workspace import Workspace
ws, moves = Workspace(Path(sys.argv[1])), 0
for tid in sys.argv[2:]:
    try:
        actions.transition(ws, tid, "start", actor="alice", reason="started by hand")
    except (QueueError, TransitionError):
        continue
    actions.transition(ws, tid, "finish", actor="alice", reason="finished by hand")
    moves += 2
print(json.dumps({"moves": moves}))
"""


@needs_postgres_state
def test_four_workers_and_twenty_start_finish_processes_against_one_postgresql(
    ws: Workspace, postgres_url: str, monkeypatch
) -> None:
    """The issue's must-hold: replaying the events shows no queue over its limit, no lost event,
    no task run twice."""
    import random

    monkeypatch.setenv("AIOS_STATE_URL", postgres_url)
    ws = set_limit(based(ws), "dev", 3)
    ids = [ready_task(ws) for _ in range(24)]
    env = pg_env(postgres_url, AIOS_ROOT=str(ws.root))
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "worker",
                "--name",
                f"w{n}",
                "--exit-when-idle",
                *WORKER_ARGS,
            ],
            cwd=ws.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for n in range(4)
    ]
    hands = [
        subprocess.Popen(
            [sys.executable, "-c", START_FINISH, str(ws.root), *random.sample(ids, len(ids))],
            cwd=ws.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(20)
    ]
    reviewed: list[str] = []
    for proc in workers:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
        reviewed += [json.loads(line)["task"] for line in out.splitlines()]
    by_hand = 0
    for proc in hands:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
        by_hand += json.loads(out)["moves"]
    store = store_of(ws)
    every = sorted(((t.id, e) for t in store.all_tasks() for e in t.events), key=lambda pair: pair[1].seq)
    seqs = [e.seq for _, e in every]
    assert seqs == list(range(1, len(seqs) + 1))  # no lost event
    assert sum(1 for _, e in every if e.reason in ("started by hand", "finished by hand")) == by_hand
    starts = Counter(tid for tid, e in every if e.to is Status.RUNNING and e.from_ is Status.READY)
    assert set(starts) == set(ids) and set(starts.values()) == {1}  # every task started once
    assert len(reviewed) == len(set(reviewed))  # no task run twice
    for tid in reviewed:
        assert reviewed_rounds(ws, tid) == ["round-1.json"]
    queue_of = {t.id: t.queue for t in store.all_tasks()}
    status: dict[str, Status] = {}
    for tid, event in every:  # replay: never more than dev's 3 slots held at once
        status[tid] = event.to
        assert sum(1 for t, s in status.items() if queue_of[t] == "dev" and s in HOLDS_SLOT) <= 3


@needs_postgres_state
def test_workers_in_their_own_clones_share_one_repository_and_an_approver_merges_each_once(
    tmp_path: Path, postgres_url: str
) -> None:
    """Each worker has its own clone of a shared bare repository: it fetches before a task and
    pushes the task branch; an approver in yet another clone merges and pushes each task once."""
    from helpers import plain_git, run_aios

    bare = tmp_path / "shared.git"
    plain_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    env = {"AIOS_STATE_URL": postgres_url, "AIOS_CHECKPOINT_URL": postgres_url, "AIOS_GIT_REMOTE": "origin"}
    seed = tmp_path / "seed"
    plain_git(tmp_path, "clone", "-q", str(bare), str(seed))
    assert run_aios("init", cwd=seed, env=env).returncode == 0
    ws = Workspace(seed)
    write(seed, CALC)
    ids = []
    for n in range(4):
        done = run_aios("task", "new", "--queue", "dev", "--title", f"Add mul {n}", "--criterion",
                        "mul multiplies", "--check", MUL_CHECK, "--json", cwd=seed, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        ids.append(json.loads(done.stdout)["id"])
    plain_git(seed, "add", "-A")
    plain_git(seed, "commit", "-q", "-m", "calc, the project and its cards")
    plain_git(seed, "push", "-q", "origin", "HEAD:refs/heads/main")
    for tid in ids:  # each change, committed by an external builder and pushed to the shared repository
        assert run_aios("task", "approve", tid, cwd=seed, env=env).returncode == 0
        worktree = git.ensure_worktree(ws.root, tid, "main")
        write(worktree, calc_change())
        git.commit_all(worktree, f"Add mul for {tid}")  # distinct: equal commits would be one
        plain_git(seed, "push", "-q", "origin", f"{git.branch_name(tid)}")
    clones = []
    for name in ("w1", "w2", "w3", "approver"):
        plain_git(tmp_path, "clone", "-q", str(bare), str(tmp_path / name))
        clones.append(tmp_path / name)
    argv = [sys.executable, "-m", "orchestrator", "worker", "--exit-when-idle", *WORKER_ARGS]
    procs = [
        subprocess.Popen(
            [*argv, "--name", path.name],
            cwd=path,
            env=pg_env(postgres_url, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for path in clones[:3]
    ]
    reviewed = {}
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
        reviewed |= {json.loads(line)["task"]: json.loads(line) for line in out.splitlines()}
    assert sorted(reviewed) == sorted(ids)
    approver = clones[3]
    answers = {}
    for tid in ids:
        done = run_aios("review", "approve", tid, "--json", cwd=approver, env=env)
        assert done.returncode == 0, (done.stdout, reviewed[tid])
        answers[tid] = done.stdout
    log = plain_git(bare, "log", "--format=%s", "main")
    for tid in ids:
        assert log.count(f"Merge {tid}:") == 1, answers[tid]  # merged once, on the shared repository
        assert plain_git(bare, "merge-base", "--is-ancestor", git.branch_name(tid), "main") == ""
