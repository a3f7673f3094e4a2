"""Exceptions of the science package: each names the record (stand, plot, stratum) and value."""

from __future__ import annotations

__all__ = ["InputError", "MethodologyError", "ParameterError"]


class MethodologyError(Exception):
    """Base of every methodology error; bilingual (zh-CN first)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh}\n{message_en}")


class InputError(MethodologyError):
    """An input record is outside what the equations accept (negative area, unknown group…)."""


class ParameterError(MethodologyError):
    """A parameter table is missing a value the computation needs."""
