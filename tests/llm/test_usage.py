"""The meter, the price table and the budget."""

from __future__ import annotations

import threading

import pytest

from orchestrator.errors import ConfigError
from orchestrator.llm import Budget, BudgetExceeded, Usage, UsageMeter, get_model, load_prices
from orchestrator.llm.fake import FakeModel, install_fake


def test_meter_aggregates_per_node_and_model_and_round_trips():
    meter = UsageMeter()
    meter.record(
        model="openai:a",
        usage=Usage(input_tokens=100, output_tokens=10, cached_tokens=40),
        cost_usd=0.5,
        latency_s=1.0,
        node="builder",
    )
    meter.record(
        model="openai:b",
        usage=Usage(input_tokens=5, output_tokens=5),
        cost_usd=None,
        latency_s=0.5,
        node="check_q",
    )
    meter.record(model="openai:a", usage=Usage(input_tokens=1, output_tokens=1), cost_usd=0.25, latency_s=0.1)

    data = meter.to_dict()

    assert data["total"] == {
        "calls": 3,
        "input_tokens": 106,
        "output_tokens": 16,
        "cached_tokens": 40,
        "cost_usd": 0.75,
        "unpriced_calls": 1,
        "latency_s": 1.6,
    }
    assert set(data["by_node"]) == {"builder", "check_q", "(no node)"}
    assert data["by_model"]["openai:a"]["calls"] == 2
    assert UsageMeter.from_dict(data).to_dict() == data


def test_meter_is_thread_safe():
    meter = UsageMeter()

    def work():
        for _ in range(500):
            meter.record(
                model="m", usage=Usage(input_tokens=1, output_tokens=1), cost_usd=0.0, latency_s=0.0, node="n"
            )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert meter.total.calls == 2000 and meter.by_node["n"].input_tokens == 2000


def test_prices_most_specific_pattern_and_cached_tokens():
    table = load_prices()
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cached_tokens=500_000)

    assert table.cost("openai:gpt-4o-mini", usage) == pytest.approx(0.5 * 0.15 + 0.5 * 0.075 + 0.60)
    assert table.cost("anthropic:claude-sonnet-4-5-20250929", usage) == pytest.approx(1.5 + 0.15 + 15)
    assert table.cost("openai-compatible:anything", usage) == 0
    assert table.cost("openai:unknown-model", usage) is None


def test_workspace_prices_override(workspace):
    (workspace / "workflows" / "prices.yaml").write_text(
        "schema_version: 1\nmodels:\n  'fake*': {input_per_mtok: 1000000, output_per_mtok: 0}\n"
    )
    with install_fake(FakeModel().enqueue("x", "y")):
        model = get_model("fake", workspace=workspace, budget={"max_usd": 1.0})
        model.complete("a" * 40)  # 11 input tokens at $1/token
        assert model.meter.total.cost_usd == 11
        with pytest.raises(BudgetExceeded) as caught:
            model.complete("again")
    assert "$11.0000 of its $1.00 budget" in caught.value.reason


def test_a_usd_budget_needs_a_price(workspace):
    with pytest.raises(ConfigError) as caught:
        get_model("openai:unknown-model", workspace=workspace, budget=Budget(max_usd=1), client=object())
    assert "prices.yaml" in caught.value.fix


def test_a_bad_budget_is_a_config_error(workspace):
    with install_fake(FakeModel()), pytest.raises(ConfigError) as caught:
        get_model("fake", workspace=workspace, budget={"max_tokns": 5})
    assert caught.value.field == "max_tokns"


def test_meters_are_shared_between_models_of_a_task(workspace):
    meter = UsageMeter()
    with (
        install_fake(FakeModel().enqueue("a", "b")),
        install_fake(FakeModel().enqueue("c"), spec="fake:reviewer"),
    ):
        get_model("fake", workspace=workspace, meter=meter).complete("hi", node="builder")
        get_model("fake:reviewer", workspace=workspace, meter=meter).complete("hi", node="check_q")
    assert meter.total.calls == 2 and set(meter.by_model) == {"fake", "fake:reviewer"}
