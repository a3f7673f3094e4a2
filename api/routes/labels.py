"""Eco-labels (生态标签) over HTTP: the catalogue and the loaded layers (any signed-in user),
a label's evaluation for a project (admin, bureau staff), adding, attaching and revoking labels
(admin; attaching and revoking need an ``Idempotency-Key``). Layers are loaded on the command
line (``tanhui labels layers add``). Labels are attached after issuance."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, IdempotencyKey, scoped_key
from registry.errors import BadLabelInput

__all__ = ["router"]

router = APIRouter(prefix="/labels", tags=["labels 生态标签"])
CODE = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class LabelCreate(BaseModel):
    """A catalogue entry and its evidence document (its bytes, base64; only the file name and
    SHA-256 are kept)."""

    model_config = ConfigDict(extra="forbid")
    code: str = CODE
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=40)
    issuer: str = Field(min_length=1, max_length=200)
    valid_from: date
    valid_to: date | None = None
    criteria: dict[str, Any]
    evidence_name: str = Field(min_length=1, max_length=200)
    evidence_base64: str = Field(min_length=1, max_length=14_000_000)


class AttachCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: str = Field(min_length=1, max_length=64)
    vintage: int | None = Field(default=None, ge=1900, le=2200)


class RevokeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.get("")
def catalogue(caller: CallerDep) -> list[dict[str, Any]]:
    """标签目录 / the label catalogue (active and revoked)."""
    from registry.labels.catalogue import list_labels

    return [e.to_dict() for e in caller.read(lambda s, a: list_labels(s))]


@router.get("/layers")
def layers(caller: CallerDep) -> list[dict[str, Any]]:
    """已载入的标签图层 / the polygon layers loaded for the spatial tests."""
    from registry.labels.layers import list_layers

    return [x.to_dict() for x in caller.read(lambda s, a: list_layers(s))]


@router.post("", status_code=201)
def add(body: LabelCreate, caller: CallerDep) -> dict[str, Any]:
    """添加标签（管理员） / add a label to the catalogue (admin); entries are never edited."""
    from registry.labels.catalogue import add_label

    try:
        blob = base64.b64decode(body.evidence_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadLabelInput(
            "证明文件须为 base64 编码。", "the evidence document must be base64-encoded."
        ) from exc
    entry = body.model_dump(exclude={"evidence_name", "evidence_base64"})
    evidence = (body.evidence_name, hashlib.sha256(blob).hexdigest())
    return caller.write(lambda s, a: add_label(s, a, entry, evidence)).to_dict()


@router.get("/{code}/evaluation")
def evaluation(
    code: str, caller: CallerDep, project: str = Query(min_length=1, max_length=64)
) -> dict[str, Any]:
    """评估标签条件（管理员、局工作人员） / a project's stands judged against the label."""
    from registry.labels.service import evaluate_label

    return caller.read(lambda s, a: evaluate_label(s, a, project, code)).to_dict()


@router.post("/{code}/attach")
def attach(code: str, body: AttachCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """为已签发积分附加标签（管理员） / attach the label to a project's issued credits (admin)."""
    from registry.labels.service import attach_label

    found = caller.write(
        lambda s, a: attach_label(s, a, scoped_key(a, key), body.project, body.vintage, code)
    )
    return {**found.to_dict(), "replayed": found.replayed}


@router.post("/{code}/revoke")
def revoke(code: str, body: RevokeCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """撤销标签并从未退役积分上移除（管理员） / revoke the label; live credits lose it (admin)."""
    from registry.labels.service import revoke_label

    found = caller.write(lambda s, a: revoke_label(s, a, scoped_key(a, key), code, body.reason))
    return {**found.to_dict(), "replayed": found.replayed}
