"""Model strings → providers, and the choice of a model per role.

=============================  ==========================================================
``openai:<model>``             OpenAI; key ``$OPENAI_API_KEY``, base URL ``$OPENAI_BASE_URL``
``anthropic:<model>``          Anthropic; key ``$ANTHROPIC_API_KEY``, ``$ANTHROPIC_BASE_URL``
``openai-compatible:<model>``  the openai adapter at ``--base-url``, ``$AIOS_BASE_URL`` or settings
``langchain:<module>:<Class>``  any langchain-core chat model; keyword ``options`` in models.yaml
``replay:<file>``              plays back a recording made with ``--record``
``fake`` / ``fake:<name>``     the fake that ``orchestrator.llm.fake`` installed
=============================  ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from orchestrator.errors import ConfigError
from orchestrator.llm.base import Provider, ensure_allowed
from orchestrator.llm.errors import MissingApiKey, UnknownModel
from orchestrator.llm.model import Model
from orchestrator.llm.replay import open_recorder
from orchestrator.llm.retry import Sleep
from orchestrator.llm.settings import ModelSettings, settings_for
from orchestrator.llm.usage import Budget, UsageMeter, as_budget, load_prices

#: Placeholder key for local servers that accept any key (the openai SDK refuses an empty one).
LOCAL_KEY = "not-needed"
SPEC_HELP = (
    "openai:<model>, anthropic:<model>, openai-compatible:<model>, langchain:<module>:<Class>, "
    "replay:<file> or fake"
)


@dataclass(frozen=True)
class Target:
    """Everything a provider factory needs."""

    prefix: str
    name: str
    spec: str
    settings: ModelSettings
    base_url: str | None
    workspace: Path | None
    client: Any


Factory: TypeAlias = Callable[[Target], Provider]


def get_model(
    spec: str,
    *,
    base_url: str | None = None,
    record: Path | None = None,
    workspace: Path | None = None,
    meter: UsageMeter | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    sleep: Sleep | None = None,
    client: Any = None,
) -> Model:
    """The model named by ``spec``, ready to call.

    Args:
        spec: a model string (see the module docstring).
        base_url: overrides the settings and environment (``--base-url``).
        record: append every request/response pair of the run to this JSONL file.
        workspace: the workspace whose ``workflows/models.yaml`` and ``prices.yaml`` apply.
        meter: the task's meter, shared by all its models.
        budget: the task's budget (a ``Budget`` or ``{max_tokens: ..., max_usd: ...}``).
        sleep: what waits between retries (tests avoid real sleeps).
        client: an SDK client to use instead of building one (tests, benchmarks).

    Raises:
        UnknownModel: the string names no provider, or its settings cannot work.
        MissingApiKey: the key's environment variable is not set.
        ConfigError: models.yaml or prices.yaml is invalid.
    """
    prefix, name = parse_spec(spec)
    settings = settings_for(spec, workspace=workspace)
    target = Target(prefix, name, spec, settings, base_url, workspace, client)
    provider = FACTORIES[prefix](target)
    _check_mechanism(provider, spec, settings)
    price = load_prices(workspace).price_for(spec)
    checked_budget = as_budget(budget)
    _check_priced(spec, price, checked_budget)
    recorder = (
        open_recorder(Path(record), secret_env=_key_vars(settings), workspace=workspace) if record else None
    )
    return Model(
        provider,
        spec=spec,
        settings=settings,
        meter=meter,
        budget=checked_budget,
        price=price,
        recorder=recorder,
        sleep=sleep,
    )


def parse_spec(spec: str) -> tuple[str, str]:
    """``("openai", "gpt-4o")`` from ``"openai:gpt-4o"``; ``("fake", "")`` from ``"fake"``.

    Raises:
        UnknownModel: no known prefix, or nothing after it.
    """
    prefix, _, name = spec.strip().partition(":")
    if prefix == "fake":
        return prefix, name
    if prefix not in FACTORIES or not name:
        guess = f"; did you mean openai:{spec}?" if ":" not in spec and spec else ""
        raise UnknownModel(f"not a model string{guess}", model=spec, fix=f"use {SPEC_HELP}")
    return prefix, name


def choose_model(
    role: str,
    *,
    cli: str | None = None,
    card: Mapping[str, str] | None = None,
    workflow: Mapping[str, str] | None = None,
    default: str | None = None,
) -> str:
    """The model string for ``role``: command line > TaskCard > workflow > ``default``.

    ``cli`` is a model string for every role, or ``role=model[,role=model]`` (an entry without
    ``role=`` applies to the roles not named). In ``card`` and ``workflow`` a ``*`` key applies
    to roles without their own entry.

    Example:
        choose_model("security_expert", cli="builder=openai:gpt-4o-mini", workflow={"*": "anthropic:x"},
                     default="openai:gpt-4o")  # -> "anthropic:x"

    Raises:
        ConfigError: ``cli`` is malformed (``builder=`` with no model), or no level names a model
            for ``role`` and there is no ``default``.
    """
    for level in (parse_cli_models(cli) if cli else {}, card or {}, workflow or {}):
        if chosen := level.get(role) or level.get("*"):
            return chosen
    if default is None:
        raise ConfigError(
            f"no model is chosen for the {role!r} role",
            field="models",
            fix='name one under `models:` in workflows/pair_programming.yaml (`"*": openai:gpt-4o-mini`), '
            "in the TaskCard's `models:`, or with --model / AIOS_MODEL",
        )
    return default


def parse_cli_models(value: str) -> dict[str, str]:
    """``{"builder": "openai:x", "*": "anthropic:y"}`` from ``"builder=openai:x,anthropic:y"``."""
    chosen: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        role, sep, model = entry.partition("=")
        if not sep:
            role, model = "*", entry
        if not role.strip() or not model.strip():
            raise ConfigError(
                f"cannot read the model choice {entry!r}",
                field="--model",
                fix="give a model string, or role=model pairs separated by commas (builder=openai:gpt-4o)",
            )
        chosen[role.strip()] = model.strip()
    return chosen


# -- factories ------------------------------------------------------------------------------------


def _openai(target: Target) -> Provider:
    from orchestrator.llm.openai import OpenAIProvider

    base_url = _base_url(target)
    if target.prefix == "openai-compatible" and not base_url and target.client is None:
        raise UnknownModel(
            "needs the address of the server",
            model=target.spec,
            fix="pass --base-url http://HOST:PORT/v1, set AIOS_BASE_URL, "
            "or set base_url in workflows/models.yaml",
        )
    if target.client is None:  # an injected client decides where it sends requests
        ensure_allowed(base_url, provider="openai", model=target.spec)
    s = target.settings
    return OpenAIProvider(
        s.model or target.name,
        client=target.client,
        api_key=_api_key(target),
        base_url=base_url,
        timeout_s=s.timeout_s,
        connect_timeout_s=s.connect_timeout_s,
        api=s.api,
        spec=target.spec,
        key_env=s.api_key_env,
        max_tokens_field="max_completion_tokens" if target.prefix == "openai" else "max_tokens",
    )


def _anthropic(target: Target) -> Provider:
    from orchestrator.llm.anthropic import AnthropicProvider

    base_url = _base_url(target)
    if target.client is None:
        ensure_allowed(base_url, provider="anthropic", model=target.spec)
    s = target.settings
    return AnthropicProvider(
        s.model or target.name,
        client=target.client,
        api_key=_api_key(target),
        base_url=base_url,
        timeout_s=s.timeout_s,
        connect_timeout_s=s.connect_timeout_s,
        spec=target.spec,
        key_env=s.api_key_env,
    )


def _langchain(target: Target) -> Provider:
    from orchestrator.llm.langchain import (
        LangChainProvider,
        build_chat_model,
        check_chat_model,
        is_fake,
        server_url,
    )

    class_path, _, model = target.name.partition("/")  # a class path has no "/", a model name may
    chat = target.client  # an injected chat model instance (tests, or a model built in code)
    if chat is not None:
        check_chat_model(chat, spec=target.spec)
    else:
        s = target.settings
        options = dict(s.options)
        if s.model or model:
            options.setdefault("model", s.model or model)
        base_url = _base_url(target)
        if base_url and (target.base_url or "base_url" not in options):
            options["base_url"] = base_url
        key = _api_key(target) if s.api_key_env else None  # else the integration reads its own variable
        chat = build_chat_model(class_path, options, spec=target.spec, api_key=key, timeout_s=s.timeout_s)
    if not is_fake(chat):
        ensure_allowed(server_url(chat), provider="langchain", model=target.spec)
    return LangChainProvider(chat, spec=target.spec)


def _replay(target: Target) -> Provider:
    from orchestrator.llm.replay import ReplayProvider

    path = Path(target.name).expanduser()
    if not path.is_absolute() and not path.exists() and target.workspace is not None:
        path = target.workspace / path
    return ReplayProvider(path, spec=target.spec, workspace=target.workspace)


def _fake(target: Target) -> Provider:
    from orchestrator.llm.fake import installed_fake

    return installed_fake(target.spec)


FACTORIES: dict[str, Factory] = {
    "openai": _openai,
    "openai-compatible": _openai,  # an OpenAI-compatible server is configuration, not another adapter
    "anthropic": _anthropic,
    "langchain": _langchain,
    "replay": _replay,
    "fake": _fake,
}


def _base_url(target: Target) -> str | None:
    env = target.settings.base_url_env
    return target.base_url or (os.environ.get(env) if env else None) or target.settings.base_url or None


def _api_key(target: Target) -> str | None:
    """The key from the variable the settings name; a placeholder for local servers that need none."""
    if target.client is not None:
        return None
    env = target.settings.api_key_env
    key = os.environ.get(env) if env else None
    if key:
        return key
    if target.settings.api_key_required:
        raise MissingApiKey(target.spec, env or "the variable named by api_key_env in workflows/models.yaml")
    return LOCAL_KEY


def _key_vars(settings: ModelSettings) -> tuple[str, ...]:
    return (settings.api_key_env,) if settings.api_key_env else ()


def _check_mechanism(provider: Provider, spec: str, settings: ModelSettings) -> None:
    if settings.structured not in provider.structured_mechanisms:
        raise UnknownModel(
            f"the {provider.name} adapter cannot ask for structured output by {settings.structured}",
            model=spec,
            file="workflows/models.yaml",
            field="structured",
            fix=f"use one of {', '.join(sorted(provider.structured_mechanisms))} for {spec}",
        )


def _check_priced(spec: str, price: Any, budget: Budget | None) -> None:
    if budget is not None and budget.max_usd is not None and price is None:
        raise UnknownModel(
            f"no price for {spec}, so its USD budget cannot be kept",
            model=spec,
            file="workflows/prices.yaml",
            fix=f"add a price for {spec} to workflows/prices.yaml, or give the budget in max_tokens",
        )
