"""Uploaded files as the routes receive them: streamed to a folder in 1 MiB blocks, bounded by
the registry's upload limits (size, type, a zip's or workbook's unpacked size) before anything
reads them (:func:`registry.uploads.receive_upload`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi import UploadFile

from registry.settings import Settings
from registry.uploads import UPLOAD_TYPES, UploadLimits, receive_upload

__all__ = ["received"]


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    while block := upload.file.read(1 << 20):
        yield block


def received(
    upload: UploadFile, settings: Settings, folder: Path, types: tuple[str, ...] = UPLOAD_TYPES
) -> Path:
    """The upload written into ``folder`` (the caller removes it); the path to read."""
    limits = UploadLimits(int(settings.upload_max_mb * (1 << 20)),
                          int(settings.upload_max_unzipped_mb * (1 << 20)))  # fmt: skip
    return receive_upload(upload.filename or "", _chunks(upload), limits, folder, types)
