"""Retirement certificates: public, as the audit event recorded them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from api.deps import RegistryDep
from registry import ledger

__all__ = ["router"]

router = APIRouter(prefix="/certificates", tags=["certificates 退役证书"])


@router.get("/{certificate_id}")
def certificate(
    certificate_id: str = Path(max_length=40), *, registry: RegistryDep
) -> dict[str, Any]:
    """退役证书（公开） / a retirement certificate (public), with its audit event's hash."""
    return registry.read(lambda s: ledger.certificate(s, certificate_id)).to_dict()
