"""Organisations that hold ledger accounts (持有机构): the bureau, project developers, buyers,
banks, forest owners' collectives — and the registry itself for its system accounts.

A legal person or other organisation in China is identified by its unified social credit code
(统一社会信用代码, GB 32100-2015): 18 characters from a 31-character set (digits and capital
letters without I, O, S, V, Z), the last one a check character. A mistyped code is refused
here, before it reaches a pledge contract or a retirement certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from registry.audit import append_event
from registry.db import DriverSQL
from registry.errors import CreditCodeError, OrganisationError
from registry.vocabulary import OrganisationKind

__all__ = [
    "KINDS",
    "KIND_NAMES",
    "CreditCodeError",
    "Organisation",
    "OrganisationError",
    "check_credit_code",
    "credit_code_check_character",
    "ensure_organisation",
]

K = OrganisationKind
KIND_NAMES: dict[str, str] = {K.REGISTRY: "登记簿", K.BUREAU: "林业局", K.DEVELOPER: "项目业主",
                              K.BUYER: "买方", K.BANK: "银行", K.FOREST_OWNER: "林权权利人",
                              K.OTHER: "其他"}  # fmt: skip
KINDS = tuple(k.value for k in OrganisationKind)

# GB 32100-2015, table 1: the code's characters and their values 0–30
CREDIT_CODE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 32100-2015: the weight of position i (1–17) is 3^(i−1) mod 31
CREDIT_CODE_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def credit_code_check_character(first_17: str) -> str:
    """GB 32100-2015 check character: C18 = 31 − MOD(Σ Ci·Wi, 31), where 31 gives 0."""
    total = sum(
        CREDIT_CODE_CHARACTERS.index(c) * w
        for c, w in zip(first_17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_CHARACTERS[(31 - total % 31) % 31]  # fmt: skip


def check_credit_code(code: str) -> str:
    """The code, trimmed and in capitals, if it is a well-formed unified social credit code."""
    value = code.strip().upper()
    if len(value) != 18:
        raise CreditCodeError(
            f"统一社会信用代码 {value!r} 应为 18 位，实际 {len(value)} 位。",
            f"unified social credit code {value!r} must have 18 characters, not {len(value)}.",
        )
    # the first 17 characters; a wrong 18th is a wrong check character, said below
    wrong = sorted({c for c in value[:17] if c not in CREDIT_CODE_CHARACTERS})
    if wrong:
        raise CreditCodeError(
            f"统一社会信用代码 {value!r} 含有不允许的字符 {''.join(wrong)}（不使用 I、O、S、V、Z）。",
            f"unified social credit code {value!r} has characters it may not use: {''.join(wrong)} "
            "(I, O, S, V and Z are never used).",
        )
    expected = credit_code_check_character(value[:17])
    if value[17] != expected:
        raise CreditCodeError(
            f"统一社会信用代码 {value!r} 的校验码应为 {expected}，请核对是否抄错。",
            f"unified social credit code {value!r}: the check character should be {expected}; "
            "please check for a typing error.",
        )
    return value


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    kind: str
    credit_code: str | None


def ensure_organisation(
    session: Session,
    actor: str,
    name: str,
    kind: str | None = None,
    credit_code: str | None = None,
    *,
    default_kind: str = "other",
) -> Organisation:
    """The organisation called ``name``, registering it (idempotently) if it is new.

    A new organisation gets ``kind`` (``default_kind`` if not given) and ``credit_code``
    (checked). An existing one must match what is given — a different kind or code is refused
    rather than silently changed; what is not given is not checked.
    """  # fmt: skip
    name = name.strip()
    if not name:
        raise OrganisationError("机构名称不能为空。", "an organisation needs a name.")
    for asked in (kind, default_kind):
        if asked is not None and asked not in KINDS:
            raise OrganisationError(
                f"机构类型 {asked!r} 不存在，可选：{'、'.join(KINDS)}。",
                f"no organisation kind {asked!r}; choose one of {', '.join(KINDS)}.",
            )
    code = (
        None if credit_code is None or not credit_code.strip() else check_credit_code(credit_code)
    )
    db = DriverSQL(session)
    found = _find(db, name)
    if found is None:
        if code is not None:
            other = db.first("SELECT name FROM organisation WHERE credit_code = :c", {"c": code})
            if other is not None:
                raise OrganisationError(
                    f"统一社会信用代码 {code} 已属于机构 {other[0]}。",
                    f"unified social credit code {code} already belongs to {other[0]}.",
                )
        # ON CONFLICT: two requests registering the same organisation (or the same credit code
        # under two names) at once — one inserts, the other finds what it inserted
        inserted = db.rows(
            "INSERT INTO organisation (name, kind, credit_code, created_at) VALUES (:n, :k, :c, :t) "
            "ON CONFLICT DO NOTHING RETURNING id",
            {"n": name, "k": kind or default_kind, "c": code, "t": datetime.now(UTC)},
        )
        found = _find(db, name)
        if found is None:  # the credit code was registered at the same moment under another name
            other = db.first("SELECT name FROM organisation WHERE credit_code = :c", {"c": code})
            raise OrganisationError(
                f"统一社会信用代码 {code} 已属于机构 {other[0] if other else '（另一机构）'}。",
                f"unified social credit code {code} already belongs to "
                f"{other[0] if other else 'another organisation'}.",
            )
        if inserted:
            append_event(session, actor=actor, action="organisation.registered", entity_type="organisation",
                         entity_id=name, payload={"kind": found.kind, "credit_code": found.credit_code})  # fmt: skip
    if kind is not None and found.kind != kind:
        raise OrganisationError(
            f"机构 {name} 已登记为{KIND_NAMES[found.kind]}（{found.kind}），不是{KIND_NAMES[kind]}（{kind}）。",
            f"{name} is registered as {found.kind}, not {kind}.",
        )
    if code is not None and found.credit_code != code:
        raise OrganisationError(
            f"机构 {name} 已登记的统一社会信用代码是 {found.credit_code or '（无）'}，不是 {code}。",
            f"{name} is registered with credit code {found.credit_code or '(none)'}, not {code}.",
        )
    return found


def _find(db: DriverSQL, name: str) -> Organisation | None:
    row = db.first(
        "SELECT id, name, kind, credit_code FROM organisation WHERE name = :n", {"n": name}
    )
    return None if row is None else Organisation(int(row[0]), row[1], row[2], row[3])
