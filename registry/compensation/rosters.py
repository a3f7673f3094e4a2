"""Payment rosters (补偿款发放名册) per monitoring period: the money given (e.g. credits sold ×
price) shared out by a project's sharing rule, each owner's amount with its stands, figures and
the rule version that produced it (:func:`registry.compensation.split.split_amount`).

Verified removals per stand (the ``removals`` basis): a period's verified total is a project
figure (stratified plots), and the strata of ``strata_csv`` are areas of species groups, not
lists of stands. So the verified total is apportioned to the stands by their modelled removals:
each stand's ex-ante net removals (the project's methodology, the registry's growth curves —
``registry.projects.lifecycle.ex_ante``) summed over the calendar years of the period, negative
sums counted as zero:

    removals(stand) = verified_tco2e × modelled(stand) / Σ modelled(stands of the project)

(stated in every roster's ``method``; the modelled removals are
``registry.projects.removals.modelled_removals``, shared with the reversals).

Owners and stands are those current when the roster is prepared (the stands' current rows and
their current owners, the project's active membership), not those of the monitoring period: a
stand sold or re-mapped since is paid to its owner at preparation (stated in ``method``). A stand
without a registered owner is counted in ``method`` and left out of every owner's figures; the
owners' part of the money is nevertheless shared out in full among the owned stands' owners
(by the basis), so the unowned stands' share is in effect divided among the owned stands.

Status: draft (bureau staff prepare; re-preparing replaces a draft) → approved (admin; refused
when an owner to be paid has no checked identity, naming the owners; refused when the lines'
digest is not the one the admin read, if given) → paid (admin, with the payment reference). The
approval freezes each owner line's payee identity (ID kind and number, bank, card) into the
line and logs the SHA-256 of the lines, of that snapshot and of the rule; the bank file pays the
snapshot, and payment checks both digests. An approved or paid roster never changes: preparing
it again is refused, and a new rule version does not touch it (it names the rule row it used).
Every change is an audit event in the same transaction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.actors import Actor, require_any_role
from registry.audit import append_event, canonical_json
from registry.compensation.allocation import FEN
from registry.compensation.compensation_tables import (
    owner_identity,
    roster,
    roster_line,
    sharing_rule,
)
from registry.compensation.owners import linked_owner
from registry.compensation.rules import BASIS_NAMES, find_rule, rule_by_id
from registry.compensation.split import OwnerFigures, split_amount
from registry.errors import (
    IdentityMissing,
    Invalid,
    NotFound,
    RosterChanged,
    RosterClosed,
    UnknownRoster,
)
from registry.models import MonitoringPeriod, Owner, Project, ProjectStand, Stand
from registry.projects.core import find_project
from registry.projects.removals import modelled_removals
from registry.vocabulary import PeriodStatus, Role

__all__ = [
    "Payee",
    "RosterView",
    "approve_roster",
    "lines_digest",
    "my_payments",
    "owner_figures",
    "pay_roster",
    "payees_digest",
    "payees_of",
    "prepare_roster",
    "roster_view",
    "rosters_of",
    "verified_period",
]

STAFF = (Role.BUREAU_STAFF, Role.ADMIN)
OWNERS_AT = (
    "权利人与小班为编制名册时的现状（当前小班记录、当前权利人、项目现有成员小班），而非监测期内的；"
    "无登记权利人的小班不计入任何权利人的数值，权利人份额仍全部分给有权利人的小班，即其份额实际上"
    "由有权利人的小班分享 / owners and stands are those current when the roster was prepared (not "
    "during the period); stands without a registered owner count in no owner's figures, and the "
    "owners' part is shared in full among the owned stands' owners, so those stands' share is in "
    "effect divided among the owned stands"
)
REMOVALS_RULE = (
    "核证减排量按小班模型（事前）净清除量在监测期各年之和的比例分摊到小班 / the period's verified "
    "total apportioned to stands by each stand's modelled (ex-ante) net removals summed over the "
    "period's calendar years: removals(stand) = verified × modelled(stand) / Σ modelled"
)


def _fen(amount: Decimal) -> int:
    return int(amount / FEN)


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) * FEN).quantize(FEN)


@dataclass(frozen=True)
class Payee:
    """An owner line's payee identity as frozen at approval (private)."""

    id_kind: str
    id_number: str
    bank_name: str
    bank_card: str


@dataclass(frozen=True)
class RosterView:
    """A roster as shown to staff: its header, rule version, method and lines (yuan)."""

    id: int
    project: str
    period: int
    rule_id: int
    rule_version: int
    amount: Decimal
    status: str
    method: dict[str, Any]
    lines: tuple[dict[str, Any], ...]
    prepared_by: str
    approved_by: str | None
    paid_by: str | None
    payment_reference: str | None
    lines_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "project": self.project, "period": self.period,
                "rule_id": self.rule_id, "rule_version": self.rule_version,
                "amount": str(self.amount), "status": self.status, "method": self.method,
                "lines": [dict(line) for line in self.lines], "lines_sha256": self.lines_sha256,
                "prepared_by": self.prepared_by,
                "approved_by": self.approved_by, "paid_by": self.paid_by,
                "payment_reference": self.payment_reference}  # fmt: skip


def verified_period(session: Session, project: Project, period_no: int) -> MonitoringPeriod:
    found = session.execute(
        sa.select(MonitoringPeriod).where(
            col(MonitoringPeriod.project_id) == project.id,
            col(MonitoringPeriod.period_no) == period_no,
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"项目 {project.code} 没有第 {period_no} 监测期。",
                       f"project {project.code} has no monitoring period {period_no}.")  # fmt: skip
    if found.status != PeriodStatus.VERIFIED.value or found.verified_tco2e is None:
        raise Invalid(f"项目 {project.code} 第 {period_no} 监测期尚未核证，不能编制发放名册。",
                      f"period {period_no} of project {project.code} is not verified: no roster yet.")  # fmt: skip
    return found


def owner_figures(
    session: Session, project: Project, period: MonitoringPeriod, owner_shares: dict[str, Decimal],
    need_removals: bool = True,
) -> tuple[list[OwnerFigures], dict[str, Any]]:  # fmt: skip
    """Each owner's figures in the project and the method that made them: the stands current
    now (their current rows, of the project's active membership) and their current owners —
    not those of the period (``method["owners_at"]`` says so); stands without an owner are
    counted (``stands_without_owner``) and left out of every owner's figures."""
    rows = session.execute(
        sa.select(col(Stand.stand_key), col(Stand.area_ha), col(Stand.stems_per_ha), col(Owner.id), col(Owner.name))
        .join(ProjectStand, (col(ProjectStand.stand_key) == col(Stand.stand_key))
              & (col(ProjectStand.project_id) == project.id) & col(ProjectStand.active))
        .outerjoin(Owner, col(Owner.id) == col(Stand.owner_id))
        .where(col(Stand.is_current))
        .order_by(col(Stand.stand_key))
    ).all()  # fmt: skip
    modelled = modelled_removals(session, project, period) if need_removals else {}
    total_modelled = sum(modelled.values(), Fraction(0))
    verified = Fraction(repr(float(period.verified_tco2e or 0.0)))
    if need_removals and total_modelled == 0:
        raise Invalid("项目各小班模型净清除量均为 0，无法按减排量分配；请改用按面积等依据。",
                      "every stand's modelled removals are zero: choose another basis (e.g. area).")  # fmt: skip
    by_owner: dict[int, dict[str, Any]] = {}
    no_owner = no_stems = 0
    for key, area, stems, owner_id, name in rows:
        if owner_id is None:
            no_owner += 1
            continue
        if stems is None:
            no_stems += 1
        got = by_owner.setdefault(owner_id, {"name": name, "stands": [], "area": Fraction(0),
                                             "removals": Fraction(0), "trees": Fraction(0)})  # fmt: skip
        area_f = Fraction(repr(float(area)))
        got["stands"].append(str(key))
        got["area"] += area_f
        got["trees"] += Fraction(repr(float(stems or 0.0))) * area_f
        if need_removals:
            got["removals"] += verified * modelled.get(str(key), Fraction(0)) / total_modelled
    owners = [
        OwnerFigures(owner_id, str(v["name"]), tuple(v["stands"]), v["area"], v["removals"],
                     v["trees"], Fraction(owner_shares.get(str(v["name"]), Decimal(0))))
        for owner_id, v in sorted(by_owner.items())
    ]  # fmt: skip
    method = {
        "removals_rule": REMOVALS_RULE if need_removals else "",
        "verified_tco2e": float(period.verified_tco2e or 0.0),
        "period": {"no": period.period_no, "start": period.start_date.isoformat(),
                   "end": period.end_date.isoformat()},
        "stands": len(rows), "stands_without_owner": no_owner, "stands_without_stems": no_stems,
        "owners_at": OWNERS_AT,
    }  # fmt: skip
    return owners, method


def _view(session: Session, row: Any) -> RosterView:
    rule = rule_by_id(session, row.rule_id)
    lines = session.execute(
        sa.select(roster_line).where(roster_line.c.roster_id == row.id).order_by(roster_line.c.line_no)
    ).all()  # fmt: skip
    shown = tuple(
        {"line": r.line_no, "party": r.party, "owner_id": r.owner_id, "payee": r.payee,
         "stands": json.loads(r.stands_json), "figures": json.loads(r.figures_json),
         "amount": str(_yuan(r.amount_fen)), "rule_version": rule.version}
        for r in lines
    )  # fmt: skip
    return RosterView(row.id, row.project_code, row.period_no, row.rule_id, rule.version,
                      _yuan(row.amount_fen), row.status, json.loads(row.method_json), shown,
                      row.prepared_by, row.approved_by, row.paid_by, row.payment_reference,
                      lines_digest(session, int(row.id)))  # fmt: skip


def _row(session: Session, roster_id: int, lock: bool = False) -> Any:
    row = None
    if 1 <= roster_id < 2**31:  # an id no integer column holds is no roster (no driver error)
        query = sa.select(roster).where(roster.c.id == roster_id)
        row = session.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise UnknownRoster(f"没有发放名册 {roster_id}。", f"no payment roster {roster_id}.")
    return row


def prepare_roster(
    session: Session, actor: Actor, project_code: str, period_no: int, amount: Decimal,
    rule_version: int | None = None,
) -> RosterView:  # fmt: skip
    """Prepare (or re-prepare, while a draft) the roster of a verified period: ``amount`` yuan
    (whole fen) shared by the rule version given (the latest when None). Bureau staff or admin.
    Audit event ``compensation.roster``."""
    require_any_role(actor, STAFF, "编制补偿款发放名册 / prepare a payment roster")
    project = find_project(session, project_code)
    period = verified_period(session, project, period_no)
    rule = find_rule(session, project_code, rule_version)
    owners, method = owner_figures(session, project, period, rule.spec.owner_shares,
                                   need_removals=rule.spec.basis == "removals")  # fmt: skip
    if rule.spec.basis == "shares":
        missing = sorted(o.name for o in owners if o.name not in rule.spec.owner_shares)
        if missing:
            raise Invalid(f"股数表缺少以下权利人：{', '.join(missing)}。",
                          f"the income-share table lacks these owners: {', '.join(missing)}.")  # fmt: skip
    lines = split_amount(amount, rule.spec, owners, project.developer)
    method.update({"basis": rule.spec.basis, "basis_name": BASIS_NAMES[rule.spec.basis],
                   "preset": rule.spec.preset, "unverified": rule.spec.unverified,
                   "sources": list(rule.spec.sources), "note": rule.spec.note,
                   "ties": "尾差按最大余数法分配，余数相同按权利人编号 / leftover fen by largest "
                           "remainder, ties by owner id"})  # fmt: skip
    existing = session.execute(
        sa.select(roster).where(roster.c.project_code == project_code, roster.c.period_no == period_no)
        .with_for_update()
    ).first()  # fmt: skip
    at = datetime.now(UTC)
    values = {"rule_id": rule.id, "amount_fen": _fen(amount), "status": "draft",
              "method_json": json.dumps(method, ensure_ascii=False, sort_keys=True),
              "prepared_by": actor.label, "prepared_at": at}  # fmt: skip
    if existing is not None:
        if existing.status != "draft":
            raise RosterClosed(
                f"项目 {project_code} 第 {period_no} 期的发放名册（{existing.id}）已{existing.status}，不能更改。",
                f"the roster ({existing.id}) of period {period_no} of {project_code} is "
                f"{existing.status}: it never changes.",
            )
        roster_id = int(existing.id)
        session.execute(roster_line.delete().where(roster_line.c.roster_id == roster_id))
        session.execute(roster.update().where(roster.c.id == roster_id).values(**values))
    else:
        roster_id = session.execute(roster.insert().values(
            project_code=project_code, period_no=period_no, **values).returning(roster.c.id)).scalar_one()  # fmt: skip
    for n, line in enumerate(lines, start=1):
        session.execute(roster_line.insert().values(
            roster_id=roster_id, line_no=n, party=line.party, owner_id=line.owner_id,
            payee=line.payee, stands_json=json.dumps(list(line.stands), ensure_ascii=False),
            figures_json=json.dumps(line.figures, ensure_ascii=False, sort_keys=True),
            amount_fen=_fen(line.amount)))  # fmt: skip
    append_event(session, actor=actor.label, action="compensation.roster", entity_type="roster",
                 entity_id=str(roster_id),
                 payload={"project": project_code, "period": period_no, "amount": str(amount),
                          "rule_id": rule.id, "rule_version": rule.version, "lines": len(lines),
                          "replaced_draft": existing is not None})  # fmt: skip
    return _view(session, _row(session, roster_id))


def lines_digest(session: Session, roster_id: int) -> str:
    """SHA-256 of a roster's lines as stored (number, party, owner id, payee, stands, figures,
    amount in fen; canonical JSON): the approval's audit event records it, and payment checks
    the lines still have it — a line changed behind the service's back is never paid."""
    rows = session.execute(
        sa.select(roster_line.c.line_no, roster_line.c.party, roster_line.c.owner_id,
                  roster_line.c.payee, roster_line.c.stands_json, roster_line.c.figures_json,
                  roster_line.c.amount_fen)
        .where(roster_line.c.roster_id == roster_id).order_by(roster_line.c.line_no)
    ).all()  # fmt: skip
    body = canonical_json([[int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6])] for r in rows])
    return hashlib.sha256(body.encode()).hexdigest()


def payees_of(session: Session, roster_id: int) -> dict[int, Payee]:
    """The payee identities frozen into a roster's owner lines at its approval, by line
    number (none for a draft, nor for a line approved without an identity: nothing to pay)."""
    rows = session.execute(
        sa.select(roster_line.c.line_no, roster_line.c.payee_id_kind, roster_line.c.payee_id_number,
                  roster_line.c.payee_bank_name, roster_line.c.payee_bank_card)
        .where(roster_line.c.roster_id == roster_id, roster_line.c.payee_bank_card.is_not(None))
    ).all()  # fmt: skip
    return {int(r[0]): Payee(str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows}


def payees_digest(session: Session, roster_id: int) -> str:
    """SHA-256 of the payee identities frozen at approval (line number, ID kind, ID number,
    bank, card of every owner line, nulls kept; canonical JSON): the approval's audit event
    records it and payment checks it, so the payees never change behind the service's back."""
    rows = session.execute(
        sa.select(roster_line.c.line_no, roster_line.c.payee_id_kind, roster_line.c.payee_id_number,
                  roster_line.c.payee_bank_name, roster_line.c.payee_bank_card)
        .where(roster_line.c.roster_id == roster_id, roster_line.c.owner_id.is_not(None))
        .order_by(roster_line.c.line_no)
    ).all()  # fmt: skip
    body = canonical_json([[int(r[0]), r[1], r[2], r[3], r[4]] for r in rows])
    return hashlib.sha256(body.encode()).hexdigest()


def _approval(session: Session, roster_id: int) -> dict[str, Any]:
    found = session.execute(
        sa.text("SELECT payload FROM audit_event WHERE action = 'compensation.roster_approved' "
                "AND entity_type = 'roster' AND entity_id = :r ORDER BY id DESC"),
        {"r": str(roster_id)},
    ).first()  # fmt: skip
    return {} if found is None else dict(json.loads(found[0]))


def approve_roster(
    session: Session, actor: Actor, roster_id: int, expect_sha256: str | None = None
) -> RosterView:
    """Approve a draft roster (admin). ``expect_sha256`` is the lines' digest the admin read
    (``lines_sha256`` of the roster's view): refused (:class:`RosterChanged`) when the lines
    differ. Refused (:class:`IdentityMissing`, naming them) when an owner to be paid has no
    identity on record. Freezes each owner line's payee identity (ID kind and number, bank,
    card) into the line, then flips the status. Audit event ``compensation.roster_approved``
    with the SHA-256 of the lines, of the payees' snapshot and of the rule's JSON."""
    require_any_role(actor, (Role.ADMIN,), "审批补偿款发放名册 / approve a payment roster")
    row = _row(session, roster_id, lock=True)
    if row.status != "draft":
        raise RosterClosed(f"发放名册 {roster_id} 已{row.status}，不能再审批。",
                           f"roster {roster_id} is {row.status}: it cannot be approved again.")  # fmt: skip
    digest = lines_digest(session, roster_id)
    if expect_sha256 is not None and expect_sha256.strip().lower() != digest:
        raise RosterChanged(
            f"发放名册 {roster_id} 在您查看之后已被更改（明细摘要现为 {digest}，而非 "
            f"{expect_sha256.strip()[:64]}），请重新查看后再审批。",
            f"roster {roster_id} changed since you read it (its lines' digest is now {digest}, "
            f"not {expect_sha256.strip()[:64]}): read it again before approving.",
        )
    unpaid = session.execute(
        sa.select(roster_line.c.payee)
        .outerjoin(owner_identity, owner_identity.c.owner_id == roster_line.c.owner_id)
        .where(roster_line.c.roster_id == roster_id, roster_line.c.owner_id.is_not(None),
               roster_line.c.amount_fen > 0, owner_identity.c.owner_id.is_(None))
        .order_by(roster_line.c.line_no)
    ).scalars().all()  # fmt: skip
    if unpaid:
        names = ", ".join(unpaid)
        raise IdentityMissing(
            f"以下 {len(unpaid)} 位权利人没有经核验的身份证号与银行卡，名册不能审批：{names}。",
            f"{len(unpaid)} owners to be paid have no checked identity and bank card, so the "
            f"roster cannot be approved: {names}.",
        )
    who = session.execute(
        sa.select(roster_line.c.id, owner_identity.c.id_kind, owner_identity.c.id_number,
                  owner_identity.c.bank_name, owner_identity.c.bank_card)
        .join(owner_identity, owner_identity.c.owner_id == roster_line.c.owner_id)
        .where(roster_line.c.roster_id == roster_id)
    ).all()  # fmt: skip
    for line_id, kind, number, bank, card in who:  # while a draft: the guard lets lines change
        session.execute(roster_line.update().where(roster_line.c.id == line_id).values(
            payee_id_kind=kind, payee_id_number=number, payee_bank_name=bank,
            payee_bank_card=card))  # fmt: skip
    rule_json = session.execute(
        sa.select(sharing_rule.c.rule_json).where(sharing_rule.c.id == row.rule_id)
    ).scalar_one()
    at = datetime.now(UTC)
    session.execute(roster.update().where(roster.c.id == roster_id)
                    .values(status="approved", approved_by=actor.label, approved_at=at))  # fmt: skip
    append_event(session, actor=actor.label, action="compensation.roster_approved",
                 entity_type="roster", entity_id=str(roster_id),
                 payload={"amount_fen": int(row.amount_fen), "rule_id": int(row.rule_id),
                          "lines_sha256": digest,
                          "payees_sha256": payees_digest(session, roster_id),
                          "rule_sha256": hashlib.sha256(str(rule_json).encode()).hexdigest()})  # fmt: skip
    return _view(session, _row(session, roster_id))


def pay_roster(session: Session, actor: Actor, roster_id: int, reference: str) -> RosterView:
    """Record an approved roster as paid (admin) with the payment's reference (the bank
    batch's number); refused when its lines or its payees' snapshot differ from the digests
    its approval logged. Audit event ``compensation.roster_paid``."""
    require_any_role(actor, (Role.ADMIN,), "登记补偿款已发放 / record a roster as paid")
    if not reference.strip():
        raise Invalid(
            "请填写付款凭证号（银行批次号）。",
            "give the payment reference (the bank batch's number).",
        )
    row = _row(session, roster_id, lock=True)
    if row.status != "approved":
        raise RosterClosed(f"发放名册 {roster_id} 状态为 {row.status}，只有已审批的名册可登记发放。",
                           f"roster {roster_id} is {row.status}: only an approved roster can be paid.")  # fmt: skip
    approval = _approval(session, roster_id)
    if lines_digest(session, roster_id) != approval.get("lines_sha256"):
        raise RosterClosed(
            f"发放名册 {roster_id} 的明细与审批时审计日志记录的不符（被改动过），不予登记发放。",
            f"the lines of roster {roster_id} differ from those the audit log recorded at its "
            "approval (they were changed): the payment is not recorded.",
        )
    if payees_digest(session, roster_id) != approval.get("payees_sha256"):
        raise RosterClosed(
            f"发放名册 {roster_id} 的收款人身份与银行卡与审批时审计日志记录的不符（被改动过），不予登记发放。",
            f"the payees' identities and cards of roster {roster_id} differ from those the audit "
            "log recorded at its approval (they were changed): the payment is not recorded.",
        )
    session.execute(roster.update().where(roster.c.id == roster_id).values(
        status="paid", paid_by=actor.label, paid_at=datetime.now(UTC),
        payment_reference=reference.strip()))  # fmt: skip
    append_event(session, actor=actor.label, action="compensation.roster_paid",
                 entity_type="roster", entity_id=str(roster_id),
                 payload={"reference": reference.strip(), "amount_fen": int(row.amount_fen)})  # fmt: skip
    return _view(session, _row(session, roster_id))


def roster_view(session: Session, actor: Actor, roster_id: int) -> RosterView:
    """A roster with its lines (bureau staff or admin)."""
    require_any_role(actor, STAFF, "查看补偿款发放名册 / read a payment roster")
    return _view(session, _row(session, roster_id))


def rosters_of(session: Session, actor: Actor, project_code: str) -> list[RosterView]:
    """A project's rosters, by period (bureau staff or admin)."""
    require_any_role(actor, STAFF, "查看补偿款发放名册 / read payment rosters")
    rows = session.execute(sa.select(roster).where(roster.c.project_code == project_code)
                           .order_by(roster.c.period_no)).all()  # fmt: skip
    return [_view(session, r) for r in rows]


def my_payments(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """A forest owner's own lines of approved and paid rosters (its user linked to the owner):
    project, period, stands, figures, amount, status and the payment reference. Nobody else's."""
    owner_id = linked_owner(session, actor)
    rows = session.execute(
        sa.select(roster.c.id, roster.c.project_code, roster.c.period_no, roster.c.status,
                  roster.c.payment_reference, roster.c.rule_id, roster_line.c.stands_json,
                  roster_line.c.figures_json, roster_line.c.amount_fen)
        .join(roster_line, roster_line.c.roster_id == roster.c.id)
        .where(roster_line.c.owner_id == owner_id, roster.c.status.in_(("approved", "paid")))
        .order_by(roster.c.project_code, roster.c.period_no)
    ).all()  # fmt: skip
    return [
        {"roster": r.id, "project": r.project_code, "period": r.period_no, "status": r.status,
         "payment_reference": r.payment_reference,
         "rule_version": rule_by_id(session, r.rule_id).version,
         "stands": json.loads(r.stands_json), "figures": json.loads(r.figures_json),
         "amount": str(_yuan(r.amount_fen))}
        for r in rows
    ]  # fmt: skip
