"""Model providers behind one small interface: messages in; text, tool calls or a validated object out.

    from orchestrator.llm import get_model
    model = get_model("openai:gpt-4o-mini", meter=meter, budget={"max_tokens": 200_000})
    reply = model.complete([{"role": "user", "content": "hi"}], node="builder")
    plan = model.structured("Plan the change.", Plan, node="builder")

Every call is budget-checked, retried on transient failures, recorded (``record=``) and metered.
Importing this package loads neither SDK: the adapters import ``openai`` / ``anthropic`` when a
model of theirs is first built.
"""

from __future__ import annotations

from orchestrator.llm.base import (
    MECHANISMS,
    ChatRequest,
    ChatResponse,
    Mechanism,
    Message,
    OutputSpec,
    Provider,
    ToolCall,
    ToolSpec,
    Usage,
)
from orchestrator.llm.errors import (
    BudgetExceeded,
    MissingApiKey,
    ModelError,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderResponseError,
    ProviderUnavailable,
    RemoteRequestsDisabled,
    ReplayMismatch,
    StructuredOutputError,
    UnknownModel,
)
from orchestrator.llm.model import Model
from orchestrator.llm.registry import choose_model, get_model, parse_spec
from orchestrator.llm.settings import ModelSettings, RetrySettings, settings_for
from orchestrator.llm.usage import Budget, PriceTable, UsageMeter, UsageTotals, load_prices

__all__ = [
    "MECHANISMS",
    "Budget",
    "BudgetExceeded",
    "ChatRequest",
    "ChatResponse",
    "Mechanism",
    "Message",
    "MissingApiKey",
    "Model",
    "ModelError",
    "ModelSettings",
    "OutputSpec",
    "PriceTable",
    "Provider",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderResponseError",
    "ProviderUnavailable",
    "RemoteRequestsDisabled",
    "ReplayMismatch",
    "RetrySettings",
    "StructuredOutputError",
    "ToolCall",
    "ToolSpec",
    "UnknownModel",
    "Usage",
    "UsageMeter",
    "UsageTotals",
    "choose_model",
    "get_model",
    "load_prices",
    "parse_spec",
    "settings_for",
]
