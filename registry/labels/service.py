"""Evaluate, attach and revoke eco-labels (生态标签).

- :func:`evaluate_label` (admin or bureau staff): judges every active stand of a project against
  a label's criteria (:mod:`.criteria`, layers :mod:`.layers`) — per stand pass or fail with the
  reason — and the project by the share of its area or ex-ante credits that qualifies. Reads
  only; its digest (SHA-256 of the label's criteria, the layers' file hashes and the judgement)
  identifies it.
- :func:`attach_label` (admin): the label must be active, the project must qualify, and the
  label's validity must cover the verification (monitoring) period of every issuance of the
  vintage — a label valid for less than the verification period is refused. Then the ledger's
  ``relabel`` operation closes the project's live active and pledged blocks of that vintage and
  writes them again with the label (retired and cancelled credits are never rewritten), and
  ``label_attachment`` records the operation, the stored evaluation's digest and the evidence
  document's hash. Labels are attached after issuance: issuance takes no labels (this is the
  supported path).
- :func:`revoke_label` (admin): marks the catalogue entry revoked and detaches the label from
  every live unretired block carrying it; retired credits keep it as it stood, and certificates
  show it as revoked since the revocation date.

Both changes take an idempotency key: the same key and request return the first result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event, canonical_json
from registry.db import DriverSQL
from registry.errors import LabelConflict
from registry.labels.catalogue import LabelEntry, get_label, mark_revoked
from registry.labels.criteria import ProjectJudgement, StandFacts, judge_project, layers_of
from registry.labels.layers import inside_shares, layer_digest
from registry.ledger.labels import relabel
from registry.request_keys import KeyedRequest
from registry.results import Result, transient
from registry.vocabulary import Role

__all__ = [
    "AttachResult",
    "Detached",
    "Evaluation",
    "RevokeResult",
    "attach_label",
    "detach_key",
    "evaluate_label",
    "revoke_label",
]

EVALUATORS = (Role.ADMIN, Role.BUREAU_STAFF)
ATTRIBUTES = ("land_class", "forest_use", "origin", "forest_category", "dominant_species",
              "species_group", "age_group", "site_class", "land_tenure", "tree_tenure", "township",
              "village", "age_years", "canopy_closure", "mean_dbh_cm", "mean_height_m",
              "stems_per_ha", "volume_m3_per_ha", "slope_deg", "area_ha")  # fmt: skip


@dataclass(frozen=True)
class Evaluation(Result):
    """A label's criteria judged for a project; ``digest`` identifies it."""

    label: str
    project: str
    judgement: ProjectJudgement
    layers: dict[str, str]  # layer name → SHA-256 of the file it was loaded from
    credits_note: str
    digest: str


@dataclass(frozen=True)
class AttachResult(Result):
    label: str
    project: str
    vintage: int | None
    quantity: int
    serials: tuple[str, ...]
    untouched_final: int
    op_id: int | None
    evaluation_digest: str
    share_area: float
    share_credits: float | None
    replayed: bool = transient()


@dataclass(frozen=True)
class Detached(Result):
    project: str
    quantity: int
    serials: tuple[str, ...]
    untouched_final: int
    op_id: int | None


@dataclass(frozen=True)
class RevokeResult(Result):
    label: str
    revoked_at: str
    reason: str
    detached: tuple[Detached, ...] = field(metadata={"of": Detached})
    replayed: bool = transient()


def _stand_facts(session: Session, project_code: str) -> tuple[list[StandFacts], dict[str, Any]]:
    """The project's active stands (current versions): attributes, owner kind, geometry."""
    columns = ", ".join(f"s.{c}" for c in ATTRIBUTES)
    rows = DriverSQL(session).rows(
        f"SELECT s.stand_key, {columns}, o.kind, ST_AsBinary(s.geom) FROM project p "
        "JOIN project_stand ps ON ps.project_id = p.id AND ps.active "
        "JOIN stand s ON s.stand_key = ps.stand_key AND s.is_current "
        "LEFT JOIN owner o ON o.id = s.owner_id WHERE p.code = :p ORDER BY s.stand_key",
        {"p": project_code},
    )  # fmt: skip
    facts, geoms = [], {}
    for r in rows:
        attrs = dict(zip(ATTRIBUTES, r[1 : 1 + len(ATTRIBUTES)], strict=True))
        attrs["owner_kind"] = r[1 + len(ATTRIBUTES)]
        geoms[str(r[0])] = shapely.from_wkb(bytes(r[-1]))
        facts.append(StandFacts(str(r[0]), float(attrs["area_ha"]), attrs))
    return facts, geoms


def _exante_credits(session: Session, project_code: str) -> tuple[dict[str, float] | None, str]:
    """Each stand's ex-ante net removals over the crediting period (t CO2e), recomputed as
    registration computed them (the project's methodology, the stored growth curves); None
    (with the reason) for a project not registered yet."""
    from registry.projects.core import find_project
    from registry.projects.lifecycle import ex_ante

    project = find_project(session, project_code)
    if project.exante_json is None:
        return None, "项目尚未登记，无事前估算 / not registered: no ex-ante credits"
    result, _ = ex_ante(session, project)
    per_stand = np.asarray(result.net_removals).sum(axis=1)
    credits = {str(k): float(v) for k, v in zip(result.stand_ids, per_stand, strict=True)}
    note = (f"事前估算按项目方法学与当前生长曲线重算（登记时冻结总量 {project.exante_total_tco2e or 0:,.1f} t）"
            f" / ex-ante net removals per stand, recomputed with the methodology and the current growth "
            f"curves (frozen total at registration {project.exante_total_tco2e or 0:,.1f} t)")  # fmt: skip
    return credits, note


def evaluate_label(session: Session, actor: Actor, project: str, label: str) -> Evaluation:
    """Judge the project's active stands against the label's criteria (admin or bureau staff)."""
    from registry.projects.core import find_project

    require_any_role(actor, EVALUATORS, "评估生态标签 / evaluate an eco-label")
    entry = get_label(session, label)
    find_project(session, project)  # a bilingual "no such project"
    facts, geoms = _stand_facts(session, project)
    needed = sorted(layers_of(entry.criteria["stand"]))
    layer_hashes = {name: layer_digest(session, name) for name in needed}
    shares = {name: inside_shares(session, name, geoms) for name in needed}
    credits, note = _exante_credits(session, project)
    facts = [
        StandFacts(f.key, f.area_ha, f.attributes, {n: shares[n][f.key] for n in needed},
                   None if credits is None else credits.get(f.key, 0.0))
        for f in facts
    ]  # fmt: skip
    judgement = judge_project(entry.criteria, facts)
    body = {"label": entry.code, "criteria": entry.criteria, "layers": layer_hashes,
            "project": project, "judgement": judgement.to_dict()}  # fmt: skip
    digest = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    return Evaluation(entry.code, project, judgement, layer_hashes, note, digest)


def _periods(db: DriverSQL, project: str, vintage: int | None) -> list[tuple[int, date, date]]:
    sql = ("SELECT i.vintage, m.start_date, m.end_date FROM issuance i JOIN monitoring_period m "
           "ON m.id = i.monitoring_period_id WHERE i.project_code = :p")  # fmt: skip
    params: dict[str, Any] = {"p": project}
    if vintage is not None:
        sql += " AND i.vintage = :v"
        params["v"] = vintage
    out = []
    for v, start, end in db.rows(sql + " ORDER BY i.vintage, m.start_date", params):
        out.append((int(v), date.fromisoformat(str(start)[:10]), date.fromisoformat(str(end)[:10])))
    return out


def _check_validity(entry: LabelEntry, periods: list[tuple[int, date, date]]) -> None:
    start, end = date.fromisoformat(entry.valid_from), entry.valid_to
    for vintage, p_start, p_end in periods:
        if start > p_start or (end is not None and date.fromisoformat(end) < p_end):
            shown = f"{entry.valid_from}–{end or '长期'}"
            raise LabelConflict(
                f"标签 {entry.code} 的有效期 {shown} 短于 {vintage} 年份的核证期 {p_start}–{p_end}：标签须覆盖整个核证期，不能附加。",
                f"label {entry.code} is valid {entry.valid_from}–{end or 'open-ended'}, shorter "
                f"than the verification period {p_start}–{p_end} of vintage {vintage}: a label "
                "must cover the whole verification period, so it is not attached.",
            )  # fmt: skip


def _op_id(db: DriverSQL, key: str) -> int | None:
    row = db.first("SELECT id FROM ledger_operation WHERE idempotency_key = :k", {"k": key})
    return None if row is None else int(row[0])


def attach_label(
    session: Session, actor: Actor, key: str, project: str, vintage: int | None, label: str
) -> AttachResult:
    """Attach ``label`` to the project's live credits of ``vintage`` (None: every vintage) —
    admin only; see the module's docstring for the checks."""
    require_any_role(actor, (Role.ADMIN,), "附加生态标签 / attach an eco-label")
    request = KeyedRequest(session, key, "label.attach",
                           {"label": label, "project": project, "vintage": vintage}, actor.label)  # fmt: skip
    if request.previous is not None:
        return AttachResult.from_dict(request.previous, replayed=True)
    entry = get_label(session, label)
    if entry.status != "active":
        raise LabelConflict(
            f"标签 {label} 已于 {entry.revoked_at} 撤销，不能附加。",
            f"label {label} was revoked on {entry.revoked_at}; it cannot be attached.",
        )
    db = DriverSQL(session)
    periods = _periods(db, project, vintage)
    if not periods:
        which = "任何年份" if vintage is None else f"{vintage} 年份"
        raise LabelConflict(
            f"项目 {project} 的{which}尚未签发积分：标签在签发后附加。",
            f"project {project} has no credits issued{'' if vintage is None else f' for vintage {vintage}'}: "
            "labels are attached after issuance.",
        )
    _check_validity(entry, periods)
    evaluation = evaluate_label(session, actor, project, label)
    j = evaluation.judgement
    if not j.qualifies:
        share = j.share_area if j.basis == "area" else j.share_credits
        shown = "无" if share is None else f"{share:.1%}"
        raise LabelConflict(
            f"项目 {project} 不符合标签 {label}：合格小班占{'面积' if j.basis == 'area' else '事前碳汇量'} {shown}，需 ≥ {j.min_share:.0%}（{j.n_passed}/{j.n_stands} 个小班合格）。",
            f"project {project} does not qualify for {label}: qualifying stands hold "
            f"{'no' if share is None else f'{share:.1%} of the'} {j.basis}, it needs ≥ "
            f"{j.min_share:.0%} ({j.n_passed} of {j.n_stands} stands pass).",
        )  # fmt: skip
    now = datetime.now(UTC)
    stored = db.first(
        "INSERT INTO label_evaluation (label_code, project_code, qualifies, result_json, digest, "
        "evaluated_by, evaluated_at) VALUES (:l, :p, :q, :r, :d, :by, :t) RETURNING id",
        {"l": label, "p": project, "q": j.qualifies, "r": canonical_json(evaluation.to_dict()),
         "d": evaluation.digest, "by": actor.label, "t": now},
    )  # fmt: skip
    assert stored is not None
    moved = relabel(session, actor, key, project, label, vintage=vintage, attach=True)
    op_id = _op_id(db, key)
    db.rows(
        "INSERT INTO label_attachment (label_code, project_code, vintage, attached, op_id, quantity, "
        "evaluation_id, evaluation_digest, evidence_sha256, created_by, created_at) VALUES "
        "(:l, :p, :v, :a, :o, :q, :e, :d, :h, :by, :t)",
        {"l": label, "p": project, "v": vintage, "a": True, "o": op_id, "q": int(moved.quantity),
         "e": int(stored[0]), "d": evaluation.digest, "h": entry.evidence_sha256, "by": actor.label, "t": now},
    )  # fmt: skip
    result = AttachResult(label, project, vintage, int(moved.quantity), tuple(moved.serials),
                          int(moved.untouched_final), op_id, evaluation.digest, j.share_area,
                          j.share_credits)  # fmt: skip
    append_event(session, actor=actor.label, action="label.attached", entity_type="label_attachment",
                 entity_id=f"{label}/{project}/{vintage if vintage is not None else '*'}",
                 payload={**result.to_dict(), "evidence_sha256": entry.evidence_sha256,
                          "unverified": list(j.unverified)})  # fmt: skip
    request.finish(result.to_dict())
    return result


def _carrying(db: DriverSQL, label: str) -> list[str]:
    """Projects with live active or pledged blocks that carry ``label``."""
    rows = db.rows(
        "SELECT DISTINCT project_code, labels FROM credit_block WHERE closed_op_id IS NULL "
        "AND state IN ('active', 'pledged') AND labels LIKE :like",
        {"like": f'%"{label}"%'},
    )
    return sorted({str(p) for p, labels in rows if label in json.loads(labels or "[]")})


def detach_key(key: str, project: str) -> str:
    """The ledger key of a revocation's detachment from one project: ``label-revoke-`` and the
    SHA-256 (hex) of the revocation's key and the project code — 77 characters whatever the key
    (the ledger takes keys of up to 200), distinct per key and project, the same on a retry."""
    digest = hashlib.sha256(f"{key}\n{project}".encode()).hexdigest()
    return f"label-revoke-{digest}"


def revoke_label(session: Session, actor: Actor, key: str, label: str, reason: str) -> RevokeResult:
    """Revoke a catalogue entry (admin) and detach it from every live unretired block."""
    require_any_role(actor, (Role.ADMIN,), "撤销生态标签 / revoke an eco-label")
    request = KeyedRequest(session, key, "label.revoke", {"label": label, "reason": reason},
                           actor.label)  # fmt: skip
    if request.previous is not None:
        return RevokeResult.from_dict(request.previous, replayed=True)
    entry = mark_revoked(session, actor, label, reason)
    db = DriverSQL(session)
    detached = []
    now = datetime.now(UTC)
    for project in _carrying(db, label):
        op_key = detach_key(key, project)
        moved = relabel(session, actor, op_key, project, label, attach=False)
        op_id = _op_id(db, op_key)
        db.rows(
            "INSERT INTO label_attachment (label_code, project_code, vintage, attached, op_id, quantity, "
            "evidence_sha256, created_by, created_at) VALUES (:l, :p, NULL, :a, :o, :q, :h, :by, :t)",
            {"l": label, "p": project, "a": False, "o": op_id, "q": int(moved.quantity),
             "h": entry.evidence_sha256, "by": actor.label, "t": now},
        )  # fmt: skip
        detached.append(Detached(project, int(moved.quantity), tuple(moved.serials),
                                 int(moved.untouched_final), op_id))  # fmt: skip
    result = RevokeResult(label, str(entry.revoked_at), reason.strip(), tuple(detached))
    request.finish(result.to_dict())
    return result
