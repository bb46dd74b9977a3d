"""Record a run's model calls to JSONL, and play them back: offline demos and deterministic tests.

A recording is one JSON object per line::

    {"v": 1, "turn": 1, "model": "openai:gpt-4o-mini", "request": {...}, "response": {...}}

Keys never reach it: requests carry no key, and every string is scrubbed (``redact``) before it
is written. Replay compares what decides the answer (messages, tools, tool choice, the output
schema), not how it was asked for (mechanism, max_tokens, temperature), so a recording replays
under any model settings. What differs between two runs of the same review (commit ids, times,
durations, the workspace path, temp dirs: ``_volatile``) is normalised on both sides, so a
recording replays in any workspace. Parallel nodes may call in any order, so a request matching a
later unused turn is served too; a request matching none raises ``ReplayMismatch``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.llm._volatile import normalise, with_root_placeholder
from orchestrator.llm.base import MECHANISMS, ChatRequest, ChatResponse
from orchestrator.llm.errors import ReplayMismatch, UnknownModel
from orchestrator.redact import known_secrets, redact_data

FORMAT_VERSION = 1
_IGNORED = {"max_tokens": True, "temperature": True, "output": {"mechanism"}}


def comparable(
    request: ChatRequest, secrets: list[str] | None = None, *, root: Path | None = None
) -> dict[str, Any]:
    """The parts of ``request`` a replay must match, as scrubbed and normalised JSON data.

    Args:
        request: the request.
        secrets: values to scrub (``None``: the keys in the environment).
        root: the workspace the request was made in, written as ``<workspace>``.
    """
    data = request.model_dump(mode="json", exclude=_IGNORED)  # type: ignore[arg-type]
    data = redact_data(data, known_secrets() if secrets is None else secrets)
    return normalise(data, root=root)  # type: ignore[no-any-return]


class Recorder:
    """Appends request/response pairs to a JSONL file. One per file per process; thread-safe.

    Args:
        path: the JSONL file (started empty).
        secret_env: variables whose values are scrubbed, besides the usual key variables.
        workspace: the run's workspace; its path is written as ``<workspace>`` in requests.
    """

    def __init__(
        self, path: Path, *, secret_env: tuple[str, ...] = (), workspace: Path | None = None
    ) -> None:
        self.path = path
        self.secret_env = secret_env
        self.workspace = workspace
        self._lock = threading.Lock()
        self._turn = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")  # a recording is one run: start it empty

    def write(self, *, model: str, request: ChatRequest, response: ChatResponse) -> None:
        """Append one turn, with every string scrubbed of keys."""
        secrets = known_secrets(self.secret_env)
        entry = {
            "model": model,
            "request": with_root_placeholder(
                request.model_dump(mode="json", exclude_defaults=True), self.workspace
            ),
            "response": response.model_dump(mode="json", exclude_defaults=True),
        }
        entry = redact_data(entry, secrets)
        with self._lock:
            self._turn += 1
            line = json.dumps({"v": FORMAT_VERSION, "turn": self._turn, **entry}, ensure_ascii=False)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")


_recorders: dict[Path, Recorder] = {}
_recorders_lock = threading.Lock()


def open_recorder(path: Path, *, secret_env: tuple[str, ...] = (), workspace: Path | None = None) -> Recorder:
    """The process's recorder for ``path``: every model of a run appends to the same transcript."""
    key = path.resolve()
    with _recorders_lock:
        recorder = _recorders.get(key)
        if recorder is None:
            recorder = _recorders[key] = Recorder(key, secret_env=secret_env, workspace=workspace)
        return recorder


def close_recorder(path: Path) -> None:
    """Forget the recorder for ``path``; the next ``open_recorder`` starts the file afresh."""
    with _recorders_lock:
        _recorders.pop(path.resolve(), None)


@dataclass(frozen=True, slots=True)
class _Turn:
    number: int
    model: str
    request: dict[str, Any]
    """As ``comparable`` gives it."""
    response: ChatResponse


class ReplayProvider:
    """Plays back a recording made with ``--record``.

    Args:
        path: the JSONL recording.
        spec: the model string (``replay:<path>``), for error messages.
        workspace: the workspace this run is in: its path matches the recording's ``<workspace>``.
    """

    name = "replay"
    supports_tools = True
    structured_mechanisms: frozenset[str] = frozenset(MECHANISMS)

    def __init__(self, path: Path, *, spec: str | None = None, workspace: Path | None = None) -> None:
        self.model = str(path)
        self.spec = spec or f"replay:{path}"
        self.workspace = workspace
        self._turns = load_recording(path, spec=self.spec)
        self._used: set[int] = set()
        self._lock = threading.Lock()

    def complete(self, request: ChatRequest) -> ChatResponse:
        """The recorded reply to ``request``.

        Raises:
            ReplayMismatch: no unused turn of the recording holds this request.
        """
        wanted = comparable(request, root=self.workspace)
        with self._lock:
            index = self._find(wanted)
            self._used.add(index)
            return self._turns[index].response

    def _find(self, wanted: dict[str, Any]) -> int:
        unused = [i for i in range(len(self._turns)) if i not in self._used]
        if not unused:
            raise ReplayMismatch(len(self._turns) + 1, "the recording has no more turns", **self._fields())
        for i in unused:  # the next turn first; a later one when parallel nodes ran in another order
            if self._turns[i].request == wanted:
                return i
        expected = self._turns[unused[0]]
        raise ReplayMismatch(expected.number, first_difference(expected.request, wanted), **self._fields())

    def _fields(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.spec}


def load_recording(path: Path, *, spec: str) -> list[_Turn]:
    """The turns of a recording.

    Raises:
        UnknownModel: the file is missing or a line is not a turn (a ConfigError naming the line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UnknownModel(
            f"cannot read the recording {path}: {exc.strerror}",
            model=spec,
            file=path,
            fix=f"record one with --record {path}, or check the path",
        ) from None
    return [_turn(line, n, path, spec) for n, line in enumerate(lines, 1) if line.strip()]


def _turn(line: str, lineno: int, path: Path, spec: str) -> _Turn:
    try:
        data = json.loads(line)
        if data.get("v") != FORMAT_VERSION:
            raise ValueError(f"unsupported recording version {data.get('v')!r}")
        request = ChatRequest.model_validate(data["request"])
        response = ChatResponse.model_validate(data["response"])
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise UnknownModel(
            f"line {lineno} is not a recorded turn ({type(exc).__name__}: {str(exc)[:200]})",
            model=spec,
            file=path,
            line=lineno,
            fix="record the run again with --record",
        ) from None
    return _Turn(int(data.get("turn", lineno)), str(data.get("model", "")), comparable(request, []), response)


def first_difference(recorded: Any, now: Any, path: str = "") -> str:
    """Where two JSON values first differ: ``messages[1].content: recorded 'a…' / now 'b…'``."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in [*recorded, *(k for k in now if k not in recorded)]:
            if recorded.get(key) != now.get(key):
                return first_difference(recorded.get(key), now.get(key), f"{path}.{key}" if path else key)
    if isinstance(recorded, list) and isinstance(now, list):
        for i, (a, b) in enumerate(zip(recorded, now, strict=False)):
            if a != b:
                return first_difference(a, b, f"{path}[{i}]")
        if len(recorded) != len(now):
            return f"{path or 'request'}: recorded {len(recorded)} items / now {len(now)}"
    return f"{path or 'request'}: recorded {_brief(recorded)} / now {_brief(now)}"


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"
