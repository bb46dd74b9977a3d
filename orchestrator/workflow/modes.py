"""The builder and reviewer modes a review run can take.

Plain ``Literal`` types, kept apart from ``options.py`` so the CLI can offer them as choices
without importing pydantic at start-up.
"""

from __future__ import annotations

from typing import Literal

BuilderMode = Literal["agent", "external"]
"""``agent`` builds; ``external``: a person or another agent commits and submits."""
ReviewerMode = Literal["model", "static"]
"""``model``: evidence plus persona models; ``static``: evidence only."""
