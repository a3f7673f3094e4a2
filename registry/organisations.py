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

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.db import DriverSQL
from registry.errors import (
    CreditCodeError,
    OrganisationError,
    PermissionDenied,
    UnknownOrganisation,
)
from registry.vocabulary import OrganisationKind, Role

__all__ = [
    "EFFECTIVE_KIND",
    "KINDS",
    "KIND_NAMES",
    "CreditCodeError",
    "Organisation",
    "OrganisationError",
    "check_credit_code",
    "credit_code_check_character",
    "ensure_organisation",
    "find_organisation",
    "grant_kind",
    "list_organisations",
    "register_organisation",
]

K = OrganisationKind
KIND_NAMES: dict[str, str] = {K.REGISTRY: "登记簿", K.BUREAU: "林业局", K.DEVELOPER: "项目业主",
                              K.BUYER: "买方", K.BANK: "银行", K.FOREST_OWNER: "林权权利人",
                              K.VERIFIER: "审定核证机构", K.OTHER: "其他"}  # fmt: skip
KINDS = tuple(k.value for k in OrganisationKind)
# the kinds the organisation table itself accepts (migration 0008); others only by a grant
REGISTERED_KINDS = tuple(k.value for k in OrganisationKind if k is not K.VERIFIER)
# an organisation's kind: its latest grant by a registry admin (migration 0012), else the kind
# it was registered with — SQL over an organisation aliased ``o``
EFFECTIVE_KIND = (
    "COALESCE((SELECT g.kind FROM organisation_grant g WHERE g.organisation_id = o.id "
    "ORDER BY g.id DESC LIMIT 1), o.kind)"
)

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
        wanted = kind or default_kind
        stored = wanted if wanted in REGISTERED_KINDS else "other"
        inserted = db.rows(
            "INSERT INTO organisation (name, kind, credit_code, created_at) VALUES (:n, :k, :c, :t) "
            "ON CONFLICT DO NOTHING RETURNING id",
            {"n": name, "k": stored, "c": code, "t": datetime.now(UTC)},
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
            if wanted != stored:  # a kind the table does not take (verifier): granted at once
                found = _grant(session, actor, found, wanted)
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
        f"SELECT o.id, o.name, {EFFECTIVE_KIND}, o.credit_code FROM organisation o WHERE o.name = :n",
        {"n": name},
    )
    return None if row is None else Organisation(int(row[0]), row[1], row[2], row[3])


def find_organisation(session: Session, name: str) -> Organisation:
    """The organisation called ``name`` (its kind as granted); an unknown name is refused."""
    found = _find(DriverSQL(session), name.strip())
    if found is None:
        raise UnknownOrganisation(
            f"没有名为 {name!r} 的机构。", f"no organisation called {name!r}."
        )
    return found


def list_organisations(
    session: Session, kind: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[Organisation], int]:
    """Organisations by id (a page of them) and how many there are; ``kind``: only that kind."""
    where = "" if kind is None else f" WHERE {EFFECTIVE_KIND} = :k"
    db = DriverSQL(session)
    total = db.first(f"SELECT COUNT(*) FROM organisation o{where}", {"k": kind})
    rows = db.rows(
        f"SELECT o.id, o.name, {EFFECTIVE_KIND}, o.credit_code FROM organisation o{where} "
        "ORDER BY o.id LIMIT :l OFFSET :f",
        {"k": kind, "l": limit, "f": offset},
    )
    found = [Organisation(int(r[0]), r[1], r[2], r[3]) for r in rows]
    return found, int(total[0]) if total else 0


def register_organisation(
    session: Session, actor: Actor, name: str, kind: str | None = None,
    credit_code: str | None = None,
) -> Organisation:  # fmt: skip
    """A registry admin registers an organisation with its kind (idempotently); bureau staff may
    register one without a kind (``other``) — its kind is granted by an admin later."""
    require_any_role(actor, (Role.ADMIN, Role.BUREAU_STAFF), "登记机构 / register an organisation")
    if kind not in (None, "other") and not actor.has(Role.ADMIN):
        raise PermissionDenied(
            f"机构类型（{kind}）只能由登记簿管理员授予。",
            f"an organisation's kind ({kind}) is granted by a registry admin only.",
        )
    return ensure_organisation(session, actor.label, name, kind, credit_code)


def grant_kind(session: Session, actor: Actor, name: str, kind: str) -> Organisation:
    """A registry admin grants an organisation its kind (bank, verifier, developer …): an
    appended grant row and an audit event; the organisation's row is never changed."""
    require_any_role(actor, (Role.ADMIN,), "授予机构类型 / grant an organisation's kind")
    if kind not in KINDS or kind == "registry":
        raise OrganisationError(
            f"机构类型 {kind!r} 不可授予，可选：{'、'.join(k for k in KINDS if k != 'registry')}。",
            f"kind {kind!r} cannot be granted; choose one of "
            f"{', '.join(k for k in KINDS if k != 'registry')}.",
        )
    found = find_organisation(session, name)
    if found.kind == "registry":
        raise PermissionDenied(
            "登记簿自身的机构类型不能更改。", "the registry's own kind never changes."
        )
    if found.kind == kind:
        return found
    return _grant(session, actor.label, found, kind)


def _grant(session: Session, by: str, found: Organisation, kind: str) -> Organisation:
    DriverSQL(session).rows(
        "INSERT INTO organisation_grant (organisation_id, kind, granted_by, granted_at) "
        "VALUES (:o, :k, :b, :t)",
        {"o": found.id, "k": kind, "b": by, "t": datetime.now(UTC)},
    )
    append_event(session, actor=by, action="organisation.kind_granted", entity_type="organisation",
                 entity_id=found.name, payload={"kind": kind, "from": found.kind})  # fmt: skip
    return Organisation(found.id, found.name, kind, found.credit_code)
