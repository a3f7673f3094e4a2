"""Ledger accounts: opened (idempotently) for an organisation, looked up, and locked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.actors import REGISTRY_ORGANISATION, Actor, require_any_role
from registry.audit import append_event
from registry.db import DriverSQL
from registry.errors import (
    AccountMismatch,
    PermissionDenied,
    ReservedAccount,
    UnknownAccount,
    WrongAccountKind,
)
from registry.ledger.validation import check_account_code, check_text
from registry.ledger.vocabulary import AccountKind
from registry.organisations import EFFECTIVE_KIND, ensure_organisation
from registry.vocabulary import Role

__all__ = [
    "ACCOUNT_LOCK",
    "account",
    "account_and_holder",
    "account_organisation",
    "accounts",
    "ensure_account",
    "is_reserved",
    "lock_account",
    "open_account",
    "require_holder",
    "system_account",
]

# NO KEY UPDATE: conflicts with itself, not with the key-share lock that inserting a block *into*
# the account takes (its foreign key) — else a transfer A→B and one B→A would deadlock
ACCOUNT_LOCK = " FOR NO KEY UPDATE"

SYSTEM_ACCOUNTS = {
    AccountKind.ISSUANCE: ("ISSUANCE", "签发账户 issuance"),
    AccountKind.BUFFER: ("BUFFER", "缓冲池 buffer pool"),
    AccountKind.RETIREMENT: ("RETIREMENT", "退役账户 retirement"),
    AccountKind.CANCELLATION: ("CANCELLATION", "注销账户 cancellation"),
}


def _now() -> datetime:
    return datetime.now(UTC)


def ensure_account(
    session: Session,
    code: str,
    name: str,
    kind: str,
    holder: str,
    holder_kind: str | None = None,
    credit_code: str | None = None,
    *,
    new_holder_kind: str = "other",
    system: bool = False,
    by: str = "registry@registry",
) -> int:
    """The account's id, opening it (idempotently) if needed, for the organisation ``holder``.

    The holder is registered if it is new (:func:`registry.organisations.ensure_organisation`:
    kind ``holder_kind``, else ``new_holder_kind``; ``credit_code`` checked); ``holder_kind`` and
    ``credit_code``, when given, must match a registered holder. An existing account must have
    the same name, kind and holder. The registry's own codes (:data:`SYSTEM_ACCOUNTS`) and the
    ``HOLD-`` codes issuance opens for developers are reserved: only the registry (``system``)
    opens them.
    """  # fmt: skip
    check_account_code(code)
    if not system and is_reserved(code):
        raise ReservedAccount(
            f"账户代码 {code} 为登记簿保留（系统账户或签发时为项目业主开立的 HOLD- 账户）。",
            f"account code {code} is reserved for the registry (its system accounts, and the "
            "HOLD- accounts issuance opens for developers).",
        )
    check_text(name, "账户名称", "account name")
    db = DriverSQL(session)
    found = account_and_holder(db, code)
    if found is None:
        holder_id = ensure_organisation(session, by, holder, holder_kind, credit_code,
                                        default_kind=new_holder_kind).id  # fmt: skip
        # ON CONFLICT: two operations opening the same account at once — one inserts, both go on
        inserted = db.rows(
            "INSERT INTO ledger_account (code, name, kind, holder, organisation_id, created_at) "
            "VALUES (:c, :n, :k, :h, :o, :t) ON CONFLICT (code) DO NOTHING RETURNING id",
            {"c": code, "n": name, "k": kind, "h": holder.strip(), "o": holder_id, "t": _now()},
        )
        if inserted:
            append_event(session, actor=by, action="ledger.account_opened", entity_type="ledger_account",
                         entity_id=code, payload={"name": name, "kind": kind, "holder": holder.strip()})  # fmt: skip
        found = account_and_holder(db, code)
        assert found is not None
    if found[1] != kind:
        raise AccountMismatch(
            f"账户 {code} 的类型是 {found[1]}，不是 {kind}。",
            f"account {code} is a {found[1]} account, not {kind}.",
        )
    if found[2] != holder.strip():
        raise AccountMismatch(
            f"账户 {code} 属于 {found[2]}，不是 {holder.strip()}。",
            f"account {code} belongs to {found[2]}, not {holder.strip()}.",
        )
    if found[4] != name:
        raise AccountMismatch(
            f"账户 {code} 已存在，名称为 {found[4]!r}，不是 {name!r}。",
            f"account {code} exists with the name {found[4]!r}, not {name!r}.",
        )
    if holder_kind is not None or credit_code is not None:  # what was asked of the holder
        ensure_organisation(session, by, found[2], holder_kind, credit_code)
    return int(found[0])


def system_account(session: Session, kind: AccountKind, by: str = "registry@registry") -> int:
    """One of the registry's own accounts (issuance, buffer, retirement, cancellation)."""
    code, name = SYSTEM_ACCOUNTS[kind]
    return ensure_account(session, code, name, kind.value, REGISTRY_ORGANISATION,
                          new_holder_kind="registry", system=True, by=by)  # fmt: skip


def open_account(
    session: Session, actor: Actor, code: str, name: str, holder: str,
    holder_kind: str | None = None, credit_code: str | None = None,
) -> int:  # fmt: skip
    """Open a holding account (idempotently) for an organisation — by bureau staff or a registry
    admin. A new holder is registered as ``other`` unless an admin gives its kind: a kind (bank,
    developer …) is granted by a registry admin, never declared by whoever opens the account."""
    require_any_role(actor, (Role.ADMIN, Role.BUREAU_STAFF), "开立账户 / open accounts")
    if holder_kind not in (None, "other") and not actor.has(Role.ADMIN):
        db = DriverSQL(session)
        found = db.first(
            f"SELECT {EFFECTIVE_KIND} FROM organisation o WHERE o.name = :n", {"n": holder.strip()}
        )
        if found is None or found[0] != holder_kind:
            raise PermissionDenied(
                f"机构类型（{holder_kind}）只能由登记簿管理员授予，开户人不能声明。",
                f"an organisation's kind ({holder_kind}) is granted by a registry admin, never "
                "declared by whoever opens an account.",
            )
    return ensure_account(session, code, name, AccountKind.HOLDING.value, holder, holder_kind,
                          credit_code, by=actor.label)  # fmt: skip


def account_organisation(db: DriverSQL, code: str) -> tuple[str, str] | None:
    """(holder organisation's name, its kind as granted) of an account."""
    row = db.first(
        f"SELECT o.name, {EFFECTIVE_KIND} FROM ledger_account a JOIN organisation o ON o.id = a.organisation_id "
        "WHERE a.code = :c",
        {"c": code},
    )  # fmt: skip
    return None if row is None else (str(row[0]), str(row[1]))


def require_holder(db: DriverSQL, actor: Actor, code: str, what: str) -> None:
    """Only users of the account's organisation move its credits; the registry's own accounts
    are moved by registry admins."""
    found = account_organisation(db, code)
    if found is None:
        raise UnknownAccount(f"没有账户 {code!r}。", f"no account {code!r}.")
    holder, kind = found
    if kind == "registry":
        if actor.has(Role.ADMIN):
            return
        raise PermissionDenied(
            f"{actor.name}（{actor.organisation}）无权{what}：账户 {code} 是登记簿的系统账户，只有登记簿管理员可以操作。",
            f"{actor.name} ({actor.organisation}) may not {what}: account {code} is one of the "
            "registry's own accounts, moved by registry admins only.",
        )
    if holder != actor.organisation:
        raise PermissionDenied(
            f"{actor.name}（{actor.organisation}）无权{what}：账户 {code} 属于 {holder}，只有该机构的用户可以操作。",
            f"{actor.name} ({actor.organisation}) may not {what}: account {code} belongs to "
            f"{holder}; only its users move its credits.",
        )


def is_reserved(code: str) -> bool:
    """The registry's own account codes, and ``HOLD-…`` (opened by issuance for developers)."""
    upper = code.upper()
    return upper in {c for c, _ in SYSTEM_ACCOUNTS.values()} or upper.startswith("HOLD-")


def account_and_holder(db: DriverSQL, code: str) -> tuple[Any, ...] | None:
    """(id, kind, holder organisation's name, its kind as granted, account name) of an account."""
    return db.first(
        f"SELECT a.id, a.kind, o.name, {EFFECTIVE_KIND}, a.name FROM ledger_account a JOIN organisation o ON o.id = a.organisation_id "
        "WHERE a.code = :c",
        {"c": code},
    )  # fmt: skip


def account(
    db: DriverSQL, code: str, kinds: tuple[str, ...] | None = None, lock: bool = False
) -> tuple[int, str]:
    """Id and kind of one account; ``lock``: also take its lock (see :func:`lock_account`)."""
    return accounts(db, {code: kinds}, lock)[code]


def accounts(
    db: DriverSQL, wanted: dict[str, tuple[str, ...] | None], lock: bool = False
) -> dict[str, tuple[int, str]]:
    """Id and kind of each account code (one query), refusing unknown codes and wrong kinds."""
    params = {f"c{i}": code for i, code in enumerate(wanted)}
    rows = db.rows(
        f"SELECT code, id, kind FROM ledger_account WHERE code IN ({', '.join(':' + k for k in params)}) ORDER BY id"
        + (ACCOUNT_LOCK if lock and db.postgres else ""),
        params,
    )  # fmt: skip
    found = {str(r[0]): (int(r[1]), str(r[2])) for r in rows}
    for code, kinds in wanted.items():
        if code not in found:
            raise UnknownAccount(f"没有账户 {code!r}。", f"no account {code!r}.")
        kind = found[code][1]
        if kinds and kind not in kinds:
            raise WrongAccountKind(
                f"账户 {code} 是 {kind} 账户，此操作需要 {'/'.join(kinds)} 账户。",
                f"account {code} is a {kind} account; this needs a {'/'.join(kinds)} account.",
            )
    return found


def lock_account(db: DriverSQL, account_id: int) -> None:
    """Serialise the operations that take credits out of one account (PostgreSQL row lock).

    Only the account whose blocks an operation closes is locked — one account per operation,
    so no two operations can wait on each other in a cycle. Its live blocks are read after the
    lock, by a new statement, so they are what the previous operation committed. (SQLite's
    ``BEGIN IMMEDIATE`` serialises every write transaction already.)
    """
    if db.postgres:
        db.rows("SELECT id FROM ledger_account WHERE id = :a" + ACCOUNT_LOCK, {"a": account_id})
