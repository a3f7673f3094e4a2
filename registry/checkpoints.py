"""Signed checkpoints of the audit chain's head, for others to keep.

The hash chain shows that no event was changed *relative to the others*; someone who can write
the tables could still rewrite the whole log from some event on and recompute every later hash.
A checkpoint closes that gap: the registry signs the head's sequence number and hash with an
Ed25519 key held outside the database, and publishes the signed checkpoint (the public pages and
dumps show it; anyone may keep a copy). A later rewrite of any event up to that sequence changes
the hash at that sequence, so it no longer matches a checkpoint made before — and the signature
shows the checkpoint is the registry's own, not the rewriter's.

A checkpoint is a small JSON document: ``{"registry", "seq", "hash", "made_at"}`` with an
Ed25519 ``signature`` over its canonical JSON and the signing key's ``key_id`` (SHA-256 of the
raw public key, first 16 hex digits). It is also stored (``audit_checkpoint``) and recorded as an
audit event, so the log lists its own checkpoints.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event, canonical_json, event_hash_at, verify_chain
from registry.errors import AuditChainBroken, Invalid
from registry.vocabulary import Role

__all__ = [
    "CHECKPOINT_SIGNERS",
    "Checkpoint",
    "CheckpointCheck",
    "CheckpointError",
    "check_checkpoint",
    "generate_key",
    "key_id",
    "load_checkpoint",
    "make_checkpoint",
]


class CheckpointError(Invalid):
    """A key or checkpoint file that cannot be used."""


@dataclass(frozen=True)
class Checkpoint:
    registry: str
    seq: int
    hash: str
    made_at: str
    key_id: str
    signature: str  # base64 Ed25519 signature over the canonical JSON of the four fields above

    def signed_part(self) -> bytes:
        return canonical_json(
            {"registry": self.registry, "seq": self.seq, "hash": self.hash, "made_at": self.made_at}
        ).encode()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"


@dataclass(frozen=True)
class CheckpointCheck:
    """What checking a checkpoint against the log found."""

    signature_ok: bool
    in_log: bool  # the log's event at ``seq`` has the checkpoint's hash
    chain_ok: bool
    message_zh: str
    message_en: str

    @property
    def ok(self) -> bool:
        return self.signature_ok and self.in_log and self.chain_ok


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key(path: Path) -> Path:
    """Write a new Ed25519 private key (PEM, readable by its owner only) and its public key
    beside it (``<path>.pub``); refuses to overwrite a key. Returns the public key's path."""
    if path.exists():
        raise CheckpointError(
            f"密钥文件 {path} 已存在，不会覆盖。",
            f"the key file {path} exists; it is never overwritten.",
        )
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = path.with_name(path.name + ".pub")
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    return public


def _read_key(path: Path, private: bool) -> object:
    """A PEM key file, or a refusal naming the file and why it cannot be read."""
    what_zh, what_en = ("签名私钥", "signing key") if private else ("公钥", "public key")
    try:
        data = path.read_bytes()
        if private:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"无法读取{what_zh} {path}：{exc}", f"cannot read the {what_en} {path}: {exc}"
        ) from exc


def _private_key(path: Path) -> Ed25519PrivateKey:
    key = _read_key(path, private=True)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(
            f"{path} 不是 Ed25519 私钥。", f"{path} is not an Ed25519 private key."
        )
    return key


def _public_key(path: Path) -> Ed25519PublicKey:
    key = _read_key(path, private=False)
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(
            f"{path} 不是 Ed25519 公钥。", f"{path} is not an Ed25519 public key."
        )
    return key


CHECKPOINT_SIGNERS = (Role.ADMIN,)


def make_checkpoint(session: Session, private_key: Path, registry: str, actor: Actor) -> Checkpoint:
    """Sign the chain's head (after verifying the whole chain), store the checkpoint and record
    it in the log, by a registry admin (before the key is even read). Refuses to sign a chain
    that does not verify."""
    require_any_role(actor, CHECKPOINT_SIGNERS, "签署检查点 / sign checkpoints")
    key = _private_key(private_key)
    report = verify_chain(session)
    if not report.ok:
        raise AuditChainBroken(f"审计链未通过校验，不签署检查点：{report.problem_zh}",
                               f"the audit chain does not verify; no checkpoint is signed: {report.problem_en}")  # fmt: skip
    unsigned = Checkpoint(registry, report.n_events, report.head_hash,
                          datetime.now(UTC).isoformat(timespec="seconds"), key_id(key.public_key()), "")  # fmt: skip
    signature = base64.b64encode(key.sign(unsigned.signed_part())).decode()
    checkpoint = Checkpoint(**{**asdict(unsigned), "signature": signature})
    session.execute(
        text("INSERT INTO audit_checkpoint (seq, hash, made_at, key_id, signature, registry) "
             "VALUES (:s, :h, :m, :k, :g, :r)"),
        {"s": checkpoint.seq, "h": checkpoint.hash, "m": checkpoint.made_at, "k": checkpoint.key_id,
         "g": checkpoint.signature, "r": registry},
    )  # fmt: skip
    append_event(session, actor=actor.label, action="audit.checkpoint", entity_type="audit_checkpoint",
                 entity_id=str(checkpoint.seq), payload={"hash": checkpoint.hash, "key_id": checkpoint.key_id,
                                                         "signature": checkpoint.signature})  # fmt: skip
    return checkpoint


def load_checkpoint(path: Path) -> Checkpoint:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Checkpoint(str(data["registry"]), int(data["seq"]), str(data["hash"]),
                          str(data["made_at"]), str(data["key_id"]), str(data["signature"]))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"无法读取检查点文件 {path}：{exc}", f"cannot read the checkpoint {path}: {exc}"
        ) from exc


def check_checkpoint(session: Session, checkpoint: Checkpoint, public_key: Path) -> CheckpointCheck:
    """Is the checkpoint the registry's (signature), and does today's log still hold, at its
    sequence number, the hash it signed (a rewrite of any earlier event changes it)?"""
    key = _public_key(public_key)
    try:
        key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_part())
        signature_ok = key_id(key) == checkpoint.key_id
    except (InvalidSignature, ValueError):
        signature_ok = False
    stored = event_hash_at(session, checkpoint.seq)
    in_log = stored == checkpoint.hash
    chain = verify_chain(session)
    if not signature_ok:
        zh, en = (
            "检查点的签名无效（不是该公钥签署的，或内容被改动）。",
            "the checkpoint's signature does not verify (another key, or the checkpoint was edited).",
        )
    elif not in_log:
        zh = f"日志已被改写：第 {checkpoint.seq} 个事件的哈希现在是 {stored}，检查点签署的是 {checkpoint.hash}。"
        en = (f"the log was rewritten: event {checkpoint.seq} now hashes to {stored}; the checkpoint "
              f"signed {checkpoint.hash}.")  # fmt: skip
    elif not chain.ok:
        zh, en = chain.problem_zh, chain.problem_en
    else:
        zh = f"检查点有效：第 {checkpoint.seq} 个事件的哈希与签署的一致，审计链完整（{chain.n_events} 个事件）。"
        en = f"checkpoint holds: event {checkpoint.seq} hashes as signed, and the chain verifies ({chain.n_events} events)."
    return CheckpointCheck(signature_ok, in_log, chain.ok, zh, en)
