"""What each user may read, and the paged views of the service's callers: the API's routes
and the command line's read commands call these same functions, so they cannot differ.

Every list has a stable order (a unique key), ``limit``/``offset`` and the ``total`` it pages
through. Read rules live here, beside the views, not in the shells:

- stands: registry staff (admin, bureau staff) and verifiers see every current stand; a forest
  owner sees the stands whose right holder is its organisation; others see stands without the
  right holder's name (household names are private) — and, in an export, without the file's
  extra attributes, which may hold contacts;
- ledger accounts, their statements, balances, blocks and pledges: staff see every account;
  anyone else the accounts of its organisation (and the pledges they gave or took); the totals
  per project and vintage are public;
- the audit log and the verification of its chain: staff and verifiers.

(Forest owners' payments do not exist yet: they come with the compensation issue.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import ChainReport, verify_chain
from registry.db import DriverSQL
from registry.errors import Invalid, PermissionDenied
from registry.ledger.accounts import account_organisation
from registry.ledger.results import AccountStatement, BlockView
from registry.ledger.views import balance, blocks, show, statement
from registry.vocabulary import Role

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "AUDIT_READERS",
    "STAFF_ROLES",
    "STAND_FILTERS",
    "PageOf",
    "StandView",
    "account_balance",
    "account_statement",
    "accounts_page",
    "audit_page",
    "audit_verification",
    "blocks_page",
    "feature_collection",
    "ledger_overview",
    "require_account_reader",
    "stand_view",
    "stands_page",
    "visible_blocks",
    "visible_stands_frame",
]

STAFF_ROLES = (Role.ADMIN, Role.BUREAU_STAFF)
AUDIT_READERS = (Role.ADMIN, Role.BUREAU_STAFF, Role.VERIFIER)
STAND_FILTERS = ("township", "village", "species_group", "land_class", "forest_category",
                 "origin", "age_group", "compartment")  # fmt: skip
STAND_COLUMNS = ("stand_key", "version", "township", "village", "compartment", "subcompartment",
                 "area_ha", "land_class", "forest_category", "origin", "dominant_species",
                 "species_group", "age_years", "age_group", "site_class")  # fmt: skip


@dataclass(frozen=True)
class PageOf:
    """One page of a list: its rows, the total it pages through, and where it starts."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def require_account_reader(session: Session, actor: Actor, code: str) -> None:
    """Staff read every account; anyone else only its organisation's accounts."""
    if actor.has(*STAFF_ROLES):
        return
    found = account_organisation(DriverSQL(session), code)
    if found is not None and found[0] != actor.organisation:
        raise PermissionDenied(
            f"{actor.name}（{actor.organisation}）只能查看本机构的账户，账户 {code} 属于 {found[0]}。",
            f"{actor.name} ({actor.organisation}) reads only its organisation's accounts; "
            f"{code} belongs to {found[0]}.",
        )


@dataclass(frozen=True)
class StandView:
    """What of the stands a user sees: the right holders' names or not, and every stand or
    only those of one right holder."""

    owner_names: bool
    only_owner: str | None


def stand_view(actor: Actor) -> StandView:
    """The stands rule of :mod:`registry.listings` for ``actor``."""
    if actor.has(*STAFF_ROLES, Role.VERIFIER):
        return StandView(owner_names=True, only_owner=None)
    if actor.has(Role.FOREST_OWNER):
        return StandView(owner_names=True, only_owner=actor.organisation)
    return StandView(owner_names=False, only_owner=None)


def stands_page(
    session: Session, actor: Actor, filters: dict[str, str], limit: int, offset: int,
    geometry: bool = False,
) -> PageOf:  # fmt: skip
    """Current stands by key, filtered (``field: value`` with fields of :data:`STAND_FILTERS`),
    as attribute rows or GeoJSON geometries (CGCS2000 longitude/latitude)."""
    wrong = sorted(set(filters) - set(STAND_FILTERS))
    if wrong:
        raise Invalid(f"不能按 {', '.join(wrong)} 筛选。", f"cannot filter by {', '.join(wrong)}.")
    where = ["s.is_current = :cur"]
    params: dict[str, Any] = {"cur": True, "l": limit, "f": offset}
    for i, (name, value) in enumerate(sorted(filters.items())):
        where.append(f"s.{name} = :v{i}")
        params[f"v{i}"] = value
    view = stand_view(actor)
    if view.only_owner is not None:
        where.append("o.name = :own")
        params["own"] = view.only_owner
    db = DriverSQL(session)
    base = " FROM stand s LEFT JOIN owner o ON o.id = s.owner_id WHERE " + " AND ".join(where)
    total = db.first("SELECT COUNT(*)" + base, params)
    columns = ", ".join(f"s.{c}" for c in STAND_COLUMNS)
    shown_owner = ", o.name" if view.owner_names else ", NULL"
    geo = (", ST_AsGeoJSON(s.geom)" if db.postgres else ", AsGeoJSON(s.geom)") if geometry else ""
    rows = db.rows(f"SELECT {columns}{shown_owner}{geo}{base} ORDER BY s.stand_key LIMIT :l OFFSET :f",
                   params)  # fmt: skip
    items = []
    for row in rows:
        item = dict(zip((*STAND_COLUMNS, "owner"), row[: len(STAND_COLUMNS) + 1], strict=True))
        if geometry:
            item["geometry"] = json.loads(row[-1]) if row[-1] else None
        items.append(item)
    return PageOf(items, int(total[0]) if total else 0, limit, offset)


def feature_collection(page: PageOf) -> dict[str, Any]:
    """A page of stands read with their geometries, as a GeoJSON FeatureCollection (with the
    page's total, limit and offset)."""
    features = [
        {"type": "Feature", "id": item["stand_key"], "geometry": item["geometry"],
         "properties": {k: v for k, v in item.items() if k != "geometry"}}
        for item in page.items
    ]  # fmt: skip
    return {"type": "FeatureCollection", "features": features, "total": page.total,
            "limit": page.limit, "offset": page.offset}  # fmt: skip


def audit_page(
    session: Session, actor: Actor, limit: int, offset: int, action: str | None = None,
    entity_type: str | None = None,
) -> PageOf:  # fmt: skip
    """Audit events, newest first (by sequence number), filtered by action prefix or entity."""
    require_any_role(actor, AUDIT_READERS, "查看审计日志 / read the audit log")
    where: list[str] = []
    params: dict[str, Any] = {"l": limit, "f": offset}
    if action:  # a prefix of the action, matched exactly (no wildcards of the caller's)
        where.append("substr(action, 1, :n) = :a")
        params["a"], params["n"] = action, len(action)
    if entity_type:
        where.append("entity_type = :e")
        params["e"] = entity_type
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    db = DriverSQL(session)
    total = db.first(f"SELECT COUNT(*) FROM audit_event{clause}", params)
    rows = db.rows(
        "SELECT id, occurred_at, actor, action, entity_type, entity_id, payload, prev_hash, hash "
        f"FROM audit_event{clause} ORDER BY id DESC LIMIT :l OFFSET :f",
        params,
    )
    keys = ("seq", "occurred_at", "actor", "action", "entity_type", "entity_id", "payload",
            "prev_hash", "hash")  # fmt: skip
    items = [dict(zip(keys, r, strict=True)) for r in rows]
    for item in items:
        item["payload"] = json.loads(item["payload"])
    return PageOf(items, int(total[0]) if total else 0, limit, offset)


def audit_verification(session: Session, actor: Actor) -> ChainReport:
    """The audit chain verified (staff and verifiers)."""
    require_any_role(actor, AUDIT_READERS, "校验审计日志 / verify the audit log")
    return verify_chain(session)


def visible_stands_frame(session: Session, actor: Actor) -> gpd.GeoDataFrame:
    """The current stands with every attribute (an export), as ``actor`` may see them: a forest
    owner's own stands only; without the right holders' names and the file's extra attributes
    for those who may not see names."""
    from registry.queries import current_stands_frame

    view = stand_view(actor)
    frame = current_stands_frame(session)
    if view.only_owner is not None:
        frame = frame[frame["owner_name"] == view.only_owner].reset_index(drop=True)
    if not view.owner_names:
        frame = frame.assign(owner_name=None, extra="{}")
    return frame


def _own_accounts(rows: list[dict[str, Any]], actor: Actor) -> list[dict[str, Any]]:
    """The account rows ``actor`` may read, by account code."""
    if not actor.has(*STAFF_ROLES):
        rows = [r for r in rows if r["holder"] == actor.organisation]
    return sorted(rows, key=lambda r: str(r["account"]))


def accounts_page(session: Session, actor: Actor, limit: int, offset: int) -> PageOf:
    """Accounts and their holdings by state, by code: staff see all, others their own."""
    rows = _own_accounts(show(session).to_dict()["accounts"], actor)
    return PageOf(rows[offset : offset + limit], len(rows), limit, offset)


def ledger_overview(session: Session, actor: Actor) -> dict[str, Any]:
    """The ledger at a glance as ``actor`` may read it: the totals per project and vintage
    (public), the accounts it may read, and the pledges in force that they gave or took."""
    overview = show(session).to_dict()
    accounts = _own_accounts(overview["accounts"], actor)
    codes = {r["account"] for r in accounts}
    pledges = [p for p in overview["pledges"] if p["holder"] in codes or p["bank"] in codes]
    return {"projects": overview["projects"], "accounts": accounts, "pledges": pledges}


def account_statement(session: Session, actor: Actor, code: str) -> AccountStatement:
    """One account's statement, for its organisation's users or staff."""
    require_account_reader(session, actor, code)
    return statement(session, code)


def account_balance(session: Session, actor: Actor, code: str) -> dict[str, int]:
    """One account's balance by state (t CO2e), for its organisation's users or staff."""
    require_account_reader(session, actor, code)
    return balance(session, code)


def visible_blocks(session: Session, actor: Actor, account: str | None) -> list[BlockView]:
    """Live blocks of one account (its organisation's users or staff), or of all (staff)."""
    if account is None:
        require_any_role(actor, STAFF_ROLES, "查看全部积分块 / read every block")
    else:
        require_account_reader(session, actor, account)
    return blocks(session, account)


def blocks_page(
    session: Session, actor: Actor, account: str | None, limit: int, offset: int
) -> PageOf:
    """:func:`visible_blocks`, one page of them."""
    rows = [b.to_dict() for b in visible_blocks(session, actor, account)]
    return PageOf(rows[offset : offset + limit], len(rows), limit, offset)
