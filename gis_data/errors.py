"""Exceptions of the ``gis_data`` package.

Every message is bilingual (zh-CN first, then English) and names the file, the record and the
value that is wrong, and what to do about it.
"""

from __future__ import annotations

__all__ = ["CrsError", "EncodingError", "GisDataError", "InventoryReadError", "UsageError"]


class GisDataError(Exception):
    """Base class of every error raised by ``gis_data``."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh}\n{message_en}")


class InventoryReadError(GisDataError):
    """The inventory file cannot be opened or read at all."""


class CrsError(GisDataError):
    """The coordinate reference system is missing, unknown or inconsistent with the data."""


class EncodingError(GisDataError):
    """The attribute table's text cannot be decoded."""


class UsageError(GisDataError):
    """The command was used wrongly (an option is missing or unusable): bad usage, exit 2."""
