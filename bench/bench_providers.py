"""Per-call overhead of the provider layer over the bare SDK call, against a stub server on 127.0.0.1.

Both sides share one SDK client (same connection pool), calls alternate so drift hits both, and
the figure is the median of many paired differences, printed beside both medians.

    .venv/bin/python bench/bench_providers.py [--calls 2000] [--smoke]

``--smoke``: 20 paired calls per case.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "llm")]

import wire  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from stub_server import StubServer  # noqa: E402

from orchestrator.llm import get_model  # noqa: E402
from orchestrator.llm.structured import strict_schema  # noqa: E402

PLAN = json.dumps({"steps": ["write a test", "make it pass"], "done": False})
MESSAGES = [{"role": "user", "content": "Plan the change."}]


class Plan(BaseModel):
    steps: list[str]
    done: bool


SCHEMA = strict_schema(Plan.model_json_schema())  # what the layer sends, so both bodies are alike


def paired(bare: Callable[[], Any], layer: Callable[[], Any], calls: int) -> tuple[float, float, float]:
    """Medians of bare, layer, and layer − bare (per pair), in microseconds."""
    for _ in range(min(200, calls)):  # warm up connections, imports, caches
        bare(), layer()
    t_bare, t_layer, diffs = [], [], []
    for i in range(calls):
        order = (bare, layer) if i % 2 else (layer, bare)
        took = {}
        for fn in order:
            start = time.perf_counter()
            fn()
            took[fn] = time.perf_counter() - start
        t_bare.append(took[bare])
        t_layer.append(took[layer])
        diffs.append(took[layer] - took[bare])
    us = 1e6
    return statistics.median(t_bare) * us, statistics.median(t_layer) * us, statistics.median(diffs) * us


def openai_cases(url: str) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    import openai

    client = openai.OpenAI(api_key="sk-bench", base_url=url + "/v1", max_retries=0)
    model = get_model("openai:bench", client=client)

    def bare_complete() -> Any:
        return client.chat.completions.create(model="bench", messages=MESSAGES, max_completion_tokens=4096)

    def bare_structured() -> Plan:
        raw = client.chat.completions.create(
            model="bench",
            messages=MESSAGES,
            max_completion_tokens=4096,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Plan", "schema": SCHEMA, "strict": True},
            },
        )
        return Plan.model_validate_json(raw.choices[0].message.content or "")

    return {
        "openai chat: complete": (bare_complete, lambda: model.complete(MESSAGES, node="bench")),
        "openai chat: structured": (bare_structured, lambda: model.structured(MESSAGES, Plan, node="bench")),
    }


def anthropic_cases(url: str) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    import anthropic

    client = anthropic.Anthropic(api_key="sk-ant-bench", base_url=url, max_retries=0)
    model = get_model("anthropic:bench", client=client)

    def bare() -> Any:
        return client.messages.create(model="bench", max_tokens=4096, messages=MESSAGES)

    return {"anthropic messages: complete": (bare, lambda: model.complete(MESSAGES, node="bench"))}


def layer_alone(calls: int) -> float:
    """Median µs of ``Model.complete`` over an injected client that answers instantly (no HTTP at all)."""
    from types import SimpleNamespace

    from openai.types.chat import ChatCompletion

    canned = ChatCompletion.model_validate(wire.chat_completion(PLAN))
    client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=lambda **_: canned)))
    model = get_model("openai:bench", client=client)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model.complete(MESSAGES, node="bench")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="paired calls per case (default 2000)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI smoke test)")
    args = parser.parse_args()
    calls = 20 if args.smoke else args.calls
    print(f"provider layer vs bare SDK, stub server on 127.0.0.1, {calls} paired calls per case, medians")
    print(f"{'case':<30} {'bare SDK':>10} {'layer':>10} {'overhead':>10}")
    with StubServer() as oai, StubServer() as ant:
        for stub, body in ((oai, wire.chat_completion(PLAN)), (ant, wire.anthropic_message(PLAN))):
            stub.always, stub.record_requests = (200, body, {}, 0.0), False
        cases = {**openai_cases(oai.url), **anthropic_cases(ant.url)}
        for name, (bare, layer) in cases.items():
            b, lay, d = paired(bare, layer, calls)
            print(f"{name:<30} {b:>8.0f}µs {lay:>8.0f}µs {d:>+8.0f}µs")
    print(f"{'layer alone (no HTTP)':<30} {'':>10} {layer_alone(calls):>8.0f}µs")


if __name__ == "__main__":
    main()
