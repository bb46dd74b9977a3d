"""``aios models check MODEL``: one tiny request and one structured request, before a long run.

The model stack is imported inside the command, so ``aios --help`` and the state commands stay fast.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli._context import state
from orchestrator.cli._output import JsonFlag, print_json
from orchestrator.errors import AiosError

if TYPE_CHECKING:
    from orchestrator.llm import Model

PING = "Reply with the single word: pong"
CAPITAL = "What is the capital of France? Answer as JSON with the fields country and capital."


@dataclass
class ProbeResult:
    """One check's outcome, as printed and as ``--json`` gives it."""

    name: str
    ok: bool
    latency_s: float
    input_tokens: int = 0
    output_tokens: int = 0
    detail: str = ""
    error: str | None = None


def register(app: typer.Typer) -> None:
    """Add the ``models`` command group to ``app``."""
    models_app = typer.Typer(help="Check and inspect model providers.", no_args_is_help=True)
    models_app.command("check")(check)
    app.add_typer(models_app, name="models")


def check(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="A model string: openai:<model>, anthropic:<model>, ...")],
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Server address, e.g. http://127.0.0.1:8080/v1.")
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Record the calls to this JSONL file.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send one tiny request and one structured request; exit 1 with the reason if either fails."""
    from orchestrator.llm import get_model

    llm = get_model(model, base_url=base_url, record=record, workspace=_workspace_root(ctx))
    results = [_check_text(llm), _check_structured(llm)]
    ok = all(r.ok for r in results)
    if as_json:
        print_json({"model": model, "ok": ok, "checks": [asdict(r) for r in results]})
    else:
        _print_human(model, llm, results)
    if not ok:
        raise typer.Exit(1)


def _check_text(llm: Model) -> ProbeResult:
    start = time.perf_counter()
    try:
        reply = llm.complete(PING, node="models check", max_tokens=16)
    except AiosError as exc:
        return _failed("text", start, exc)
    detail = reply.text.strip().replace("\n", " ")[:60] or "(empty reply)"
    return ProbeResult(
        "text", True, reply.latency_s, reply.usage.input_tokens, reply.usage.output_tokens, detail
    )


def _check_structured(llm: Model) -> ProbeResult:
    from pydantic import BaseModel

    class Capital(BaseModel):
        country: str
        capital: str

    before = llm.meter.total.input_tokens, llm.meter.total.output_tokens
    start = time.perf_counter()
    try:
        answer = llm.structured(CAPITAL, Capital, node="models check", max_tokens=128)
    except AiosError as exc:
        return _failed(f"structured ({llm.settings.structured})", start, exc)
    tokens_in, tokens_out = (
        llm.meter.total.input_tokens - before[0],
        llm.meter.total.output_tokens - before[1],
    )
    latency = time.perf_counter() - start
    name = f"structured ({llm.settings.structured})"
    return ProbeResult(name, True, latency, tokens_in, tokens_out, answer.model_dump_json()[:60])


def _failed(name: str, start: float, exc: AiosError) -> ProbeResult:
    return ProbeResult(name, False, time.perf_counter() - start, error=exc.render())


def _print_human(spec: str, llm: Model, results: list[ProbeResult]) -> None:
    out: list[str] = [f"{spec} ({llm.provider.name} adapter)"]
    for r in results:
        mark = "ok  " if r.ok else "FAIL"
        tokens = f"{r.input_tokens} in / {r.output_tokens} out" if r.ok else ""
        out.append(f"  {mark} {r.name:<26} {r.latency_s:7.2f} s  {tokens:<18} {r.detail}".rstrip())
    typer.echo("\n".join(out))
    for r in results:
        if r.error:
            typer.echo(f"error: {r.name}: {r.error}", err=True)


def _workspace_root(ctx: typer.Context) -> Path | None:
    """The workspace whose settings apply, or None outside one (checking a model needs no workspace)."""
    cli = state(ctx)
    try:
        return cli.workspace().root
    except AiosError:
        return cli.root
