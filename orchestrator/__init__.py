"""AI Workflow OS: TaskCards, a builder/reviewer loop under expert personas, human checkpoints.

Importing the package is cheap: submodules load on first use, so the CLI's state commands never
pull in the workflow or model SDK stacks.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
