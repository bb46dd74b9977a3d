"""User lookups."""

from __future__ import annotations


def normalise(name: str) -> str:
    return name.strip().lower()
