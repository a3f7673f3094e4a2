"""Benefit-sharing rules (收益分配规则), versioned per project.

A rule divides the money a roster shares out (e.g. credits sold × price, given explicitly)
among parties — the forest owners, the village collective, the developer, the verification
costs, a buffer reserve and management — each a fraction, the fractions summing to exactly 1
(exact arithmetic: ``Fraction`` of the written decimals or ratios; anything else is refused).
The owners' part goes to the owners by a basis: the verified removals of their stands
(``removals``), their stands' area (``area``), their trees (``trees``: stems_per_ha × area) or
income shares 股 (``shares``, a per-owner table given with the rule). An optional cap per owner
(yuan per roster, Guizhou's 单株碳汇 caps per household) sends what is above the cap to the
uncapped owners, and what no owner can take to ``cap_surplus_to`` (the village collective).

A change is a new version; old versions are kept, and every roster names the version it used
(``sharing_rule``)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.compensation.allocation import FEN
from registry.compensation.compensation_tables import sharing_rule
from registry.errors import Invalid, NotFound
from registry.models import Owner
from registry.projects.core import find_project
from registry.vocabulary import Role

__all__ = [
    "BASES",
    "PARTIES",
    "PARTY_NAMES",
    "RuleSpec",
    "StoredRule",
    "create_rule",
    "find_rule",
    "list_rules",
    "parse_fraction",
    "rule_object",
]

PARTIES = ("owners", "village_collective", "developer", "verification", "buffer", "management")
PARTY_NAMES = {
    "owners": "林权权利人 forest owners",
    "village_collective": "村集体 village collective",
    "developer": "项目业主 developer",
    "verification": "审定核证费用 verification costs",
    "buffer": "风险准备金 buffer reserve",
    "management": "管护费 management",
}
BASES = ("removals", "area", "trees", "shares")
BASIS_NAMES = {
    "removals": "经核证的小班减排量 verified removals of the owner's stands",
    "area": "小班面积 area of the owner's stands",
    "trees": "株数（每公顷株数 × 面积） trees (stems_per_ha × area)",
    "shares": "收益股份（股） income shares",
}
STAFF = (Role.BUREAU_STAFF, Role.ADMIN)


_DECIMAL = re.compile(r"\d{1,15}(\.\d{1,15})?")
_RATIO = re.compile(r"\d{1,15}/\d{1,15}")


def _text(value: object) -> str:
    """A number's text: a float through its shortest decimal text (never its binary value)."""
    return repr(value) if isinstance(value, float) else str(value).strip()


def parse_fraction(value: object, what: str) -> Fraction:
    """A share written as a decimal (``0.3``) or a ratio (``3/10``), exactly, between 0 and 1.
    Anything else (exponents, signs, words, more than 15 digits a part) is refused."""
    text = _text(value)
    if isinstance(value, bool) or not (_DECIMAL.fullmatch(text) or _RATIO.fullmatch(text)):
        raise Invalid(
            f"{what} 的份额 {text[:40]!r} 应写作 0 到 1 之间的小数或分数（如 0.3 或 3/10）。",
            f"the share of {what}, {text[:40]!r}, must be a decimal or a ratio between 0 and 1 "
            "(e.g. 0.3 or 3/10).",
        )
    if "/" in text and int(text.split("/")[1]) == 0:
        raise Invalid(f"{what} 的份额分母为 0。", f"the share of {what} divides by zero.")
    got = Fraction(text)
    if got > 1:
        raise Invalid(f"{what} 的份额 {text} 应在 0 到 1 之间。",
                      f"the share of {what}, {text}, must be between 0 and 1.")  # fmt: skip
    return got


def _decimal(value: object, what: str) -> Decimal:
    """A number ≥ 0 written as a plain decimal (at most 15 digits before and after the point)."""
    text = _text(value)
    if isinstance(value, bool) or not _DECIMAL.fullmatch(text):
        raise Invalid(f"{what} {text[:40]!r} 应为不小于 0 的数（如 12 或 1350.00）。",
                      f"{what} {text[:40]!r} must be a number ≥ 0 (e.g. 12 or 1350.00).")  # fmt: skip
    return Decimal(text)


def _mapping(raw: dict[str, Any], key: str) -> dict[str, Any]:
    """The object ``raw[key]`` ({} when absent or null); anything else (a list, even an empty
    one, a text, a number) is refused."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(
            f"规则的 {key} 应为“名称: 值”的对象。", f"the rule's {key} must be an object."
        )
    return value


def _whole_fen(value: object, what: str) -> Decimal:
    """A sum of money in yuan ≥ 0 in whole fen (at most two decimals): a cap finer than a fen
    could be exceeded by the fen an owner is paid in."""
    got = _decimal(value, what)
    if got != got.quantize(FEN):
        raise Invalid(f"{what} {got} 元应精确到分（最多两位小数）。",
                      f"{what} {got} yuan must be in whole fen (at most two decimals).")  # fmt: skip
    return got


def rule_object(raw: object, what: str = "规则 / the rule") -> dict[str, Any]:
    """``raw`` when it is a JSON object; a list, text, number or null is refused (a rule file
    or a preset's overrides must be an object of named fields)."""
    if not isinstance(raw, dict):
        kind = "null" if raw is None else type(raw).__name__
        zh, _, en = what.partition(" / ")
        raise Invalid(f"{zh}应为 JSON 对象（{{\"shares\": …, \"basis\": …}}），而不是 {kind}。",
                      f"{en or zh} must be a JSON object ({{\"shares\": …, \"basis\": …}}), "
                      f"not {kind}.")  # fmt: skip
    return raw


NO_SOURCES = "无来源，数值未核实 / no sources given: unverified"


def _string(raw: dict[str, Any], key: str, default: str | None) -> str | None:
    value = raw.get(key, default)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"规则的 {key} 应为文字。", f"the rule's {key} must be text.")
    return value


@dataclass(frozen=True)
class RuleSpec:
    """What a rule says: each party's fraction (exact, summing to 1), the owners' basis, the
    income-share table (owner name → 股) for the ``shares`` basis, an optional cap per owner
    (yuan per roster), the payee names of the parties other than the owners, and the preset it
    came from with its sources and whether its figures are verified."""

    shares: dict[str, Fraction]
    basis: str
    owner_shares: dict[str, Decimal] = field(default_factory=dict)
    cap_per_owner: Decimal | None = None
    cap_surplus_to: str = "village_collective"
    payees: dict[str, str] = field(default_factory=dict)
    preset: str | None = None
    sources: tuple[str, ...] = ()
    unverified: bool = False
    note: str = ""

    @classmethod
    def build(cls, raw: dict[str, Any]) -> RuleSpec:
        """A rule from its JSON form (what the CLI's file, the API's body and the table hold),
        checked: a JSON object; known parties and basis, fractions in [0, 1] summing to exactly
        1, the 股 table present for the ``shares`` basis, a cap ≥ 0 in whole fen, ``payees`` an
        object. A rule is shown as verified (已核实) only with its ``sources``: a rule without
        sources is flagged unverified (and its note says so), one that claims
        ``unverified: false`` without sources is refused; a rule naming a preset is unverified
        (every preset's figures are)."""
        raw = rule_object(raw)
        shares_raw = raw.get("shares")
        if not isinstance(shares_raw, dict) or not shares_raw:
            raise Invalid("规则缺少各方份额（shares）。", "the rule gives no parties' shares.")
        unknown = sorted(set(shares_raw) - set(PARTIES))
        if unknown:
            raise Invalid(
                f"未知的分配方：{', '.join(unknown)}；可用：{', '.join(PARTIES)}。",
                f"unknown parties: {', '.join(unknown)}; use: {', '.join(PARTIES)}.",
            )
        shares = {p: parse_fraction(shares_raw[p], p) for p in PARTIES if p in shares_raw}
        total = sum(shares.values(), Fraction(0))
        if total != 1:
            raise Invalid(
                f"各方份额之和为 {total}，应恰好为 1。",
                f"the parties' shares sum to {total}, not exactly 1.",
            )
        basis = _string(raw, "basis", "")
        if basis not in BASES:
            raise Invalid(
                f"权利人分配依据 {basis!r} 未知；可用：{', '.join(BASES)}。",
                f"unknown owners' basis {basis!r}; use: {', '.join(BASES)}.",
            )
        owner_shares = {
            str(k): _decimal(v, f"{k} 的股数 / shares of {k}")
            for k, v in _mapping(raw, "owner_shares").items()
        }
        if basis == "shares" and not owner_shares:
            raise Invalid(
                "按股分配需要每户的股数表（owner_shares）。",
                "the 'shares' basis needs the table of each owner's income shares (owner_shares).",
            )
        cap = raw.get("cap_per_owner")
        surplus = _string(raw, "cap_surplus_to", "village_collective") or "village_collective"
        if surplus not in PARTIES or surplus == "owners":
            raise Invalid(f"超出封顶的部分应归某一方，而非 {surplus!r}。",
                          f"the money above the caps must go to a party, not {surplus!r}.")  # fmt: skip
        sources = [] if raw.get("sources") is None else raw["sources"]
        if not isinstance(sources, list) or not all(
            isinstance(x, str) and x.strip() for x in sources
        ):
            raise Invalid(
                "规则的 sources 应为文字列表。", "the rule's sources must be a list of texts."
            )
        payees = _mapping(raw, "payees")
        if not all(k in PARTIES and isinstance(v, str) for k, v in payees.items()):
            raise Invalid("规则的 payees 应为“分配方: 收款人名称”。",
                          "the rule's payees must map parties to payee names.")  # fmt: skip
        unverified = raw.get("unverified")
        if unverified is not None and not isinstance(unverified, bool):
            raise Invalid(
                "规则的 unverified 应为 true 或 false。",
                "the rule's unverified must be true or false.",
            )
        preset = _string(raw, "preset", None)
        note = _string(raw, "note", "") or ""
        if unverified is False and (not sources or preset is not None):
            raise Invalid(
                "规则没有来源（sources）或来自预设，不能标为已核实（unverified: false）。",
                "a rule without sources, or from a preset, cannot be marked verified "
                "(unverified: false).",
            )
        if not sources:
            unverified = True
            if NO_SOURCES not in note:
                note = f"{note}；{NO_SOURCES}" if note else NO_SOURCES
        return cls(
            shares=shares, basis=basis, owner_shares=owner_shares,
            cap_per_owner=None if cap is None else _whole_fen(cap, "封顶 / cap"),
            cap_surplus_to=surplus, payees=dict(payees), preset=preset,
            sources=tuple(sources), unverified=bool(unverified) or preset is not None, note=note,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The JSON form: fractions as exact ratio strings (``3/10``)."""
        return {
            "shares": {p: str(f) for p, f in self.shares.items()},
            "basis": self.basis,
            "owner_shares": {k: str(v) for k, v in self.owner_shares.items()},
            "cap_per_owner": None if self.cap_per_owner is None else str(self.cap_per_owner),
            "cap_surplus_to": self.cap_surplus_to,
            "payees": dict(self.payees),
            "preset": self.preset,
            "sources": list(self.sources),
            "unverified": self.unverified,
            "note": self.note,
        }

    def payee(self, party: str, developer: str) -> str:
        if party in self.payees:
            return self.payees[party]
        return developer if party == "developer" else PARTY_NAMES[party]


@dataclass(frozen=True)
class StoredRule:
    id: int
    project_code: str
    version: int
    spec: RuleSpec
    created_by: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "project": self.project_code, "version": self.version,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                **self.spec.to_json()}  # fmt: skip


def _without_names(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule as the audit log keeps it: the 股 table (owner names → shares: household names,
    RULES 8) replaced by its SHA-256 and size — the private rule row holds the table, and the
    digest proves which table the logged version had."""
    table = rule.pop("owner_shares")
    rule["owner_shares_sha256"] = hashlib.sha256(
        json.dumps(table, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()
    rule["owner_shares_n"] = len(table)
    return rule


def create_rule(session: Session, actor: Actor, project_code: str, spec: RuleSpec) -> StoredRule:
    """The project's next rule version (bureau staff or admin); the 股 table's names must be
    registered owners. Audit event ``compensation.rule``."""
    require_any_role(actor, STAFF, "制定收益分配规则 / set a benefit-sharing rule")
    find_project(session, project_code)
    if spec.owner_shares:
        known = set(session.execute(
            sa.select(col(Owner.name)).where(col(Owner.name).in_(list(spec.owner_shares)))
        ).scalars())  # fmt: skip
        missing = sorted(set(spec.owner_shares) - known)
        if missing:
            raise Invalid(
                f"股数表中的权利人未登记：{', '.join(missing)}。",
                f"the income-share table names owners not registered: {', '.join(missing)}.",
            )
    last = session.execute(
        sa.select(sa.func.max(sharing_rule.c.version)).where(
            sharing_rule.c.project_code == project_code
        )
    ).scalar()
    version = int(last or 0) + 1
    at = datetime.now(UTC)
    rule_id = session.execute(
        sharing_rule.insert().values(
            project_code=project_code, version=version, preset=spec.preset,
            rule_json=json.dumps(spec.to_json(), ensure_ascii=False, sort_keys=True),
            created_by=actor.label, created_at=at,
        ).returning(sharing_rule.c.id)
    ).scalar_one()  # fmt: skip
    append_event(session, actor=actor.label, action="compensation.rule", entity_type="project",
                 entity_id=project_code,
                 payload={"version": version, "rule_id": rule_id, **_without_names(spec.to_json())})  # fmt: skip
    return StoredRule(rule_id, project_code, version, spec, actor.label, at)


def _stored(row: Any) -> StoredRule:
    return StoredRule(row.id, row.project_code, row.version,
                      RuleSpec.build(json.loads(row.rule_json)), row.created_by,
                      row.created_at)  # fmt: skip


def find_rule(session: Session, project_code: str, version: int | None = None) -> StoredRule:
    """The project's rule of that version (the latest when None)."""
    query = sa.select(sharing_rule).where(sharing_rule.c.project_code == project_code)
    query = (query.where(sharing_rule.c.version == version) if version is not None
             else query.order_by(sharing_rule.c.version.desc()).limit(1))  # fmt: skip
    row = session.execute(query).first()
    if row is None:
        which = f"第 {version} 版" if version is not None else "任何"
        raise NotFound(
            f"项目 {project_code} 没有{which}收益分配规则。",
            f"project {project_code} has no benefit-sharing rule"
            + (f" version {version}." if version is not None else "."),
        )
    return _stored(row)


def rule_by_id(session: Session, rule_id: int) -> StoredRule:
    row = session.execute(sa.select(sharing_rule).where(sharing_rule.c.id == rule_id)).first()
    if row is None:
        raise NotFound(f"没有规则 {rule_id}。", f"no rule {rule_id}.")
    return _stored(row)


def list_rules(session: Session, actor: Actor, project_code: str) -> list[StoredRule]:
    """Every version of the project's rule, oldest first (bureau staff or admin)."""
    require_any_role(actor, STAFF, "查看收益分配规则 / read benefit-sharing rules")
    rows = session.execute(
        sa.select(sharing_rule).where(sharing_rule.c.project_code == project_code)
        .order_by(sharing_rule.c.version)
    ).all()  # fmt: skip
    return [_stored(r) for r in rows]
