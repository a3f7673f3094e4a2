"""The demo's eco-compensation round: obviously synthetic identities for the project's owners,
a sharing rule from a preset, a roster for period 1, its approval and its exports.

Synthetic numbers, never real people's: resident ID numbers of region 431123 (双牌县) born
1900-01-01 (a date nobody living has) with a valid GB 11643 check character; bank cards starting
9999 (no issuer uses it) with a valid Luhn digit, bank 示例银行（虚构）; credit codes N2431123…
for collectives, the state farm and companies."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.actors import Actor
from registry.compensation.exports import FORMATS, export_roster, write_exports, write_private
from registry.compensation.identity import luhn_valid
from registry.compensation.owners import import_identities
from registry.compensation.presets import preset_rule
from registry.compensation.rosters import approve_roster, prepare_roster, verified_period
from registry.compensation.rules import create_rule
from registry.models import Owner, OwnerKind, Project, ProjectStand, Stand
from registry.organisations import credit_code_check_character

__all__ = ["DEMO_PRICE", "CompensationDemo", "demo_compensation", "synthetic_identity"]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DEMO_PRICE = Decimal("73.41")
"""元/t: Anji's reported bamboo carbon buy-back price (press reports, unverified), the demo's
price of the credits sold."""


def _resident_id(seq: int) -> str:
    born = (date(1900, 1, 1) + timedelta(days=seq // 1000)).strftime("%Y%m%d")
    first = f"431123{born}{seq % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(first, _ID_WEIGHTS, strict=True))
    return first + "10X98765432"[total % 11]


def _card(seq: int) -> str:
    first = f"9999{seq:011d}"
    return next(first + str(d) for d in range(10) if luhn_valid(first + str(d)))


def _credit_code(seq: int) -> str:
    first = f"N2431123{seq:09d}"
    return first + credit_code_check_character(first)


def synthetic_identity(seq: int, name: str, kind: str) -> dict[str, str]:
    """One synthetic identity row (the identity file's columns) for owner ``seq``."""
    household = kind == OwnerKind.HOUSEHOLD.value
    return {"姓名": name, "身份证号": _resident_id(seq) if household else "",
            "统一社会信用代码": "" if household else _credit_code(seq),
            "开户行": "示例银行（虚构）", "银行卡号": _card(seq), "电话": ""}  # fmt: skip


@dataclass(frozen=True)
class CompensationDemo:
    project: str
    owners: int
    rule_version: int
    roster_id: int
    amount: Decimal
    status: str
    files: tuple[Path, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "owners": self.owners, "rule_version": self.rule_version,
                "roster": self.roster_id, "amount": str(self.amount), "status": self.status,
                "files": [str(p) for p in self.files]}  # fmt: skip


def demo_compensation(
    session: Session, admin_actor: Actor, staff_actor: Actor, project_code: str, workdir: Path
) -> CompensationDemo:
    """Identities for the project's owners (written to ``workdir/identities-synthetic.csv``,
    mode 0600, and imported), the Anji preset as the project's rule, the roster of period 1 for
    int(verified t) × :data:`DEMO_PRICE`, approved, and every export written to ``workdir``."""
    project = session.execute(
        sa.select(Project).where(col(Project.code) == project_code)
    ).scalar_one()
    owners = session.execute(
        sa.select(col(Owner.id), col(Owner.name), col(Owner.kind)).distinct()
        .join(Stand, col(Stand.owner_id) == col(Owner.id))
        .join(ProjectStand, (col(ProjectStand.stand_key) == col(Stand.stand_key))
              & (col(ProjectStand.project_id) == project.id) & col(ProjectStand.active))
        .where(col(Stand.is_current)).order_by(col(Owner.id))
    ).all()  # fmt: skip
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["姓名", "身份证号", "统一社会信用代码", "开户行",
                                              "银行卡号", "电话"])  # fmt: skip
    writer.writeheader()
    for oid, name, kind in owners:
        writer.writerow(synthetic_identity(cast(int, oid), str(name), str(kind)))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "identities-synthetic.csv"
    write_private(path, text.getvalue().encode("utf-8"))  # synthetic, but private in form
    import_identities(session, staff_actor, path.read_bytes(), path.name)
    rule = create_rule(session, staff_actor, project_code, preset_rule("anji"))
    verified = verified_period(session, project, 1).verified_tco2e or 0.0
    amount = (Decimal(int(verified)) * DEMO_PRICE).quantize(Decimal("0.01"))
    drafted = prepare_roster(session, staff_actor, project_code, 1, amount, rule.version)
    approved = approve_roster(session, admin_actor, drafted.id)
    files: list[Path] = []
    for fmt in FORMATS:
        files += write_exports(export_roster(session, staff_actor, approved.id, fmt), workdir)
    return CompensationDemo(project_code, len(owners), rule.version, approved.id, amount,
                            approved.status, tuple(files))  # fmt: skip
