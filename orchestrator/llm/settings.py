"""Per-model settings from ``workflows/models.yaml``: mechanism, base URL, key variable, timeouts, retries.

A model string is matched against the file's patterns (``openai:*``, ``openai-compatible:smollm2``);
every matching entry applies, the most specific last. The workspace's own ``workflows/models.yaml``
replaces the shipped one (``orchestrator.resources``); each provider's key and base-URL variables
have built-in defaults, so a short workspace file still works.
"""

from __future__ import annotations

import fnmatch
import threading
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from orchestrator import _yaml, resources
from orchestrator._files import read_text
from orchestrator.errors import ConfigError
from orchestrator.llm.base import Mechanism

MODELS_FILE = "models.yaml"
M = TypeVar("M", bound=BaseModel)


class RetrySettings(BaseModel):
    """How transient failures (429, 5xx, timeouts, connection errors) are retried."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=4, ge=1, le=20)
    """Attempts in all, the first included; 1 means no retry."""
    initial_wait_s: float = Field(default=1.0, ge=0)
    max_wait_s: float = Field(default=30.0, ge=0)
    jitter_s: float = Field(default=1.0, ge=0)
    max_retry_after_s: float = Field(default=120.0, ge=0)
    """A server asking to wait longer than this is not retried: the run fails now instead of hanging."""


class ModelSettings(BaseModel):
    """The settings of one model (every field optional in the file; these are the defaults)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    """The name sent on the wire, when it differs from the part after ``provider:``."""
    structured: Mechanism = "json_schema"
    """How to ask for structured output: json_schema, json_mode, tool_call or text."""
    api: Literal["chat", "responses"] = "chat"
    """OpenAI only: Chat Completions or the Responses API."""
    base_url: str | None = None
    base_url_env: str | None = None
    """An environment variable that, when set, overrides ``base_url``."""
    api_key_env: str | None = None
    """The environment variable holding the key (keys are never written in files)."""
    api_key_required: bool = True
    """False for local servers that take any key."""
    timeout_s: float = Field(default=120.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_tokens: int = Field(default=4096, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    retry: RetrySettings = RetrySettings()
    options: dict[str, Any] = Field(default_factory=dict)
    """``langchain:`` models only: keyword arguments for the chat model's class (never a key:
    name its variable in ``api_key_env``)."""


class ModelsFile(BaseModel):
    """``workflows/models.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    """Pattern (``openai:*``, ``openai-compatible:smollm2``) to settings."""


#: Built-in per-provider defaults, below anything in the file.
PROVIDER_DEFAULTS: dict[str, dict[str, Any]] = {
    "openai": {"api_key_env": "OPENAI_API_KEY", "base_url_env": "OPENAI_BASE_URL"},
    "anthropic": {"api_key_env": "ANTHROPIC_API_KEY", "base_url_env": "ANTHROPIC_BASE_URL"},
    # Most langchain chat models can bind tools; one that cannot needs structured: text.
    "langchain": {"structured": "tool_call"},
    "openai-compatible": {
        "api_key_env": "AIOS_API_KEY",
        "api_key_required": False,
        "base_url_env": "AIOS_BASE_URL",
        "structured": "json_mode",
    },
}

_cache: dict[tuple[Path, int], ModelsFile] = {}
_cache_lock = threading.Lock()


def settings_for(spec: str, *, workspace: Path | None = None) -> ModelSettings:
    """The settings of the model string ``spec``: built-in defaults, then every matching entry.

    Raises:
        ConfigError: models.yaml is not valid YAML or has an unknown field or a bad value.
    """
    file = load_models_file(workspace)
    merged: dict[str, Any] = dict(PROVIDER_DEFAULTS.get(spec.partition(":")[0], {}))
    for pattern in matching_patterns(spec, file.models):
        _deep_merge(merged, file.models[pattern].model_dump(exclude_unset=True))
    return ModelSettings.model_validate(merged)


def matching_patterns(spec: str, patterns: dict[str, Any]) -> list[str]:
    """The patterns matching ``spec``, least specific first (an exact name always last)."""
    found = [p for p in patterns if fnmatch.fnmatchcase(spec, p)]
    return sorted(found, key=lambda p: (p == spec, len(p.replace("*", "").replace("?", ""))))


def load_models_file(workspace: Path | None = None) -> ModelsFile:
    """The models file a workspace sees, parsed once per file version."""
    path = resources.data_file("workflows", MODELS_FILE, workspace=workspace)
    return load_cached(path, ModelsFile, _cache)


def load_cached(path: Path, model: type[M], cache: dict[tuple[Path, int], M]) -> M:
    """Load and validate a YAML data file, reusing the result while its mtime is unchanged."""
    key = (path, path.stat().st_mtime_ns)
    with _cache_lock:
        if key in cache:
            return cache[key]
    text = read_text(path, error=ConfigError)
    parsed = _yaml.validate(model, _yaml.load(text, file=path) or {}, file=path, text=text)
    with _cache_lock:
        cache[key] = parsed
    return parsed


def _deep_merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
