"""What differs between two runs of one review is normalised before a replay compares requests:
commit ids, times, durations and paths; everything else still has to match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.llm import ChatRequest, Message, ReplayMismatch
from orchestrator.llm._volatile import normalise, normalise_text
from orchestrator.llm.fake import FakeModel
from orchestrator.llm.model import Model
from orchestrator.llm.replay import ReplayProvider, close_recorder, open_recorder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Changes since (a99084b33b14..69244649ed8e)", "Changes since (<sha>..<sha>)"),
        ("git diff 1234567...7654321", "git diff <sha>...<sha>"),
        ("commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "commit <sha>"),
        ("HEAD 1234567 is all digits", "HEAD <sha> is all digits"),
        ("- [566b6c9d240e] critical src/users.py:13", "- [<sha>] critical src/users.py:13"),
        ("1 passed in 0.53s", "1 passed in <duration>"),
        ("took 12 ms, then 3 seconds (0:00:01)", "took <duration>, then <duration> (<time>)"),
        ("at 2026-01-01T09:00:00+00:00, due 2026-02-03", "at <time>, due <time>"),
        ("run 123e4567-e89b-12d3-a456-426614174000", "run <uuid>"),
        ('File "/tmp/pytest-of-u/pytest-3/t0/x.py", line 3', 'File "<tmp>", line 3'),
        ("/var/folders/ab/cd/T/x.py:13: AssertionError", "<tmp>:13: AssertionError"),
        ("/home/alice/.venv/lib/site.py and /root/.cache/x", "~/.venv/lib/site.py and ~/.cache/x"),
    ],
)
def test_volatile_parts_become_placeholders(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "deadbeef and facade are words",  # hex letters only
        "1234567 rows, 123456789 bytes",  # numbers
        "wrote 414 bytes to src/users.py",
        "1 minor, 2 secrets, 3 items",  # units only as whole words
        "/tmpfile and /rooted and /usr/lib/python3",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # longer than a commit id
    ],
)
def test_what_decides_the_answer_is_kept(text: str) -> None:
    assert normalise_text(text) == text


def test_the_workspace_root_becomes_a_placeholder_and_its_neighbours_do_not(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    data = {"a": [f"rootdir: {root}/.aios/worktrees/T1", f"{root}b/x", str(root)]}

    assert normalise(data, root=root) == {
        "a": ["rootdir: <workspace>/.aios/worktrees/T1", "<tmp>", "<workspace>"]
    }


def request(text: str) -> ChatRequest:
    return ChatRequest(messages=(Message.system("You review."), Message.user(text)))


def record(path: Path, workspace: Path, *texts: str) -> None:
    model = Model(
        FakeModel(lambda messages, info: "ok"),
        spec="fake",
        recorder=open_recorder(path, workspace=workspace),
    )
    for text in texts:
        model.send(request(text))
    close_recorder(path)


def test_a_request_from_another_workspace_matches(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "ws", tmp_path / "elsewhere" / "project"
    path = tmp_path / "run.jsonl"
    record(path, a, f"Review {a}/src/x.py at a99084b33b14..69244649ed8e: 3 passed in 0.12s, 2026-01-01")

    replay = ReplayProvider(path, workspace=b)
    reply = replay.complete(
        request(f"Review {b}/src/x.py at 5c0ffee1234..0123abc4567: 3 passed in 9.9s, 2027-05-06")
    )

    assert reply.text == "ok"
    stored = json.loads(path.read_text())["request"]["messages"][1]["content"]
    assert str(a) not in stored and "<workspace>/src/x.py" in stored


def test_a_real_difference_is_still_a_mismatch_naming_the_turn(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    path = tmp_path / "run.jsonl"
    record(path, a, f"Review {a}/src/x.py at 1234abcd", f"Then {a}/src/y.py")
    replay = ReplayProvider(path, workspace=b)
    replay.complete(request(f"Review {b}/src/x.py at 9876fedc"))

    with pytest.raises(ReplayMismatch) as caught:
        replay.complete(request(f"Then {b}/src/z.py"))

    assert caught.value.turn == 2
    assert caught.value.difference == (
        'messages[1].content: recorded "Then <workspace>/src/y.py" / now "Then <workspace>/src/z.py"'
    )
