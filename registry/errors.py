"""Exceptions of the registry. Only ``api/`` maps them to HTTP status codes."""

from __future__ import annotations

__all__ = ["AuditChainBroken", "DatabaseSetupError", "ImportRejected", "RegistryError"]


class RegistryError(Exception):
    """Base of every registry error; messages are bilingual (zh-CN first)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh}\n{message_en}")


class DatabaseSetupError(RegistryError):
    """The database cannot be opened or prepared (driver, extension, migration)."""


class ImportRejected(RegistryError):
    """An inventory import was refused; nothing was written. ``report`` says why."""

    def __init__(self, message_zh: str, message_en: str, report: object) -> None:
        super().__init__(message_zh, message_en)
        self.report = report


class AuditChainBroken(RegistryError):
    """The audit log's hash chain does not verify."""
