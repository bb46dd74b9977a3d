"""Tokens and money: the price table, the per-task meter, and the budget that stops a run.

The meter is shared by every model of a task (builder and reviewers run in parallel threads), so
it takes a lock; ``to_dict`` gives plain data the workflow stores with the task.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator import _yaml, resources
from orchestrator.llm.base import Usage
from orchestrator.llm.errors import BudgetExceeded
from orchestrator.llm.settings import load_cached, matching_patterns

PRICES_FILE = "prices.yaml"
UNNAMED_NODE = "(no node)"


class Price(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    """Cache reads; the input price when not given."""

    def cost(self, usage: Usage) -> float:
        """The cost of ``usage`` in USD."""
        cached_price = (
            self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        )
        fresh = usage.input_tokens - usage.cached_tokens
        total = fresh * self.input_per_mtok + usage.cached_tokens * cached_price
        return (total + usage.output_tokens * self.output_per_mtok) / 1_000_000


class PriceTable(BaseModel):
    """``workflows/prices.yaml``: model patterns to prices."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    currency: Literal["USD"] = "USD"
    models: dict[str, Price] = Field(default_factory=dict)

    def price_for(self, spec: str) -> Price | None:
        """The price of the model string ``spec`` (the most specific matching pattern), if any."""
        found = matching_patterns(spec, self.models)
        return self.models[found[-1]] if found else None

    def cost(self, spec: str, usage: Usage) -> float | None:
        """The cost of ``usage`` on ``spec`` in USD, or None when the table has no price for it."""
        price = self.price_for(spec)
        return price.cost(usage) if price else None


_price_cache: dict[tuple[Path, int], PriceTable] = {}


def load_prices(workspace: Path | None = None) -> PriceTable:
    """The price table a workspace sees: its own ``workflows/prices.yaml`` or the shipped one."""
    path = resources.data_file("workflows", PRICES_FILE, workspace=workspace)
    return load_cached(path, PriceTable, _price_cache)


@dataclass
class UsageTotals:
    """Sums over calls."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    """Calls whose model has no price: ``cost_usd`` leaves them out."""
    latency_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def add(self, usage: Usage, cost_usd: float | None, latency_s: float) -> None:
        """Count one call."""
        self.calls += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cached_tokens += usage.cached_tokens
        self.latency_s += latency_s
        if cost_usd is None:
            self.unpriced_calls += 1
        else:
            self.cost_usd += cost_usd

    def to_dict(self) -> dict[str, Any]:
        """Plain data (cost and latency rounded so stored files stay readable)."""
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 6)
        data["latency_s"] = round(self.latency_s, 3)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageTotals:
        """Read back what ``to_dict`` wrote (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class UsageMeter:
    """Token and cost totals of one task, per node and per model. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = UsageTotals()
        self.by_node: dict[str, UsageTotals] = {}
        self.by_model: dict[str, UsageTotals] = {}

    def record(
        self, *, model: str, usage: Usage, cost_usd: float | None, latency_s: float, node: str | None = None
    ) -> None:
        """Count one call of ``model`` made for ``node``."""
        with self._lock:
            self.total.add(usage, cost_usd, latency_s)
            self.by_node.setdefault(node or UNNAMED_NODE, UsageTotals()).add(usage, cost_usd, latency_s)
            self.by_model.setdefault(model, UsageTotals()).add(usage, cost_usd, latency_s)

    def to_dict(self) -> dict[str, Any]:
        """Plain data to store with the task: ``total``, ``by_node``, ``by_model``."""
        with self._lock:
            return {
                "total": self.total.to_dict(),
                "by_node": {k: v.to_dict() for k, v in self.by_node.items()},
                "by_model": {k: v.to_dict() for k, v in self.by_model.items()},
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageMeter:
        """A meter continuing from stored totals (a resumed task keeps counting against its budget)."""
        meter = cls()
        meter.total = UsageTotals.from_dict(data.get("total", {}))
        meter.by_node = {k: UsageTotals.from_dict(v) for k, v in data.get("by_node", {}).items()}
        meter.by_model = {k: UsageTotals.from_dict(v) for k, v in data.get("by_model", {}).items()}
        return meter


class Budget(BaseModel):
    """A per-task limit: tokens (input + output) and/or USD. Checked before every call."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=1)
    max_usd: float | None = Field(default=None, gt=0)

    def check(self, meter: UsageMeter, *, model: str = "") -> None:
        """Refuse the next call once the task has spent its budget.

        Raises:
            BudgetExceeded: the meter's totals reached a limit.
        """
        total = meter.total
        if self.max_tokens is not None and total.total_tokens >= self.max_tokens:
            reason = f"the task used {total.total_tokens:,} tokens of its {self.max_tokens:,}-token budget"
            raise BudgetExceeded(reason, model=model)
        if self.max_usd is not None and total.cost_usd >= self.max_usd:
            reason = f"the task spent ${total.cost_usd:.4f} of its ${self.max_usd:.2f} budget"
            raise BudgetExceeded(reason, model=model)


def as_budget(budget: Budget | Mapping[str, Any] | None) -> Budget | None:
    """Accept a ``Budget`` or the plain mapping a workflow file holds (``{max_tokens: 200000}``)."""
    if budget is None or isinstance(budget, Budget):
        return budget
    return _yaml.validate(Budget, dict(budget), file="the workflow or TaskCard budget")
