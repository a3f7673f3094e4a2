"""How long-running services report progress; the CLI draws it with rich, tests ignore it."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullProgress", "ProgressReporter"]


class ProgressReporter(Protocol):
    def stage(self, description: str, total: int | None = None) -> None:
        """Start a new stage of work (``total`` units, or unknown)."""

    def advance(self, units: int = 1) -> None:
        """Record ``units`` of the current stage as done."""


class NullProgress:
    def stage(self, description: str, total: int | None = None) -> None:
        return None

    def advance(self, units: int = 1) -> None:
        return None
