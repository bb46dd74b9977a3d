"""The package's public names (httpx `test_exported_members.py`)."""

from __future__ import annotations


def test_package_exports() -> None:
    import orchestrator

    assert orchestrator.__all__ == ["__version__"]
    assert orchestrator.__version__
