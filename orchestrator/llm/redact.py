"""Kept for imports written before the redactor moved: everything lives in ``orchestrator.redact``."""

from __future__ import annotations

from orchestrator.redact import (
    KEY_VARIABLES,
    MASK,
    RedactingFilter,
    install_log_filter,
    known_secrets,
    redact,
    redact_data,
)

__all__ = [
    "KEY_VARIABLES",
    "MASK",
    "RedactingFilter",
    "install_log_filter",
    "known_secrets",
    "redact",
    "redact_data",
]
