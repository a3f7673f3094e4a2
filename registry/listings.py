"""Paged views for the service's callers, with who may read what (the API's lists).

Every list has a stable order (a unique key), ``limit``/``offset`` and the ``total`` it pages
through. Read rules live here, beside the views, not in the shells:

- stands: registry staff (admin, bureau staff) and verifiers see every current stand; a forest
  owner sees the stands whose right holder is its organisation; others see stands without the
  right holder's name (household names are private);
- ledger accounts: staff see every account; anyone else the accounts of its organisation;
- the audit log: staff and verifiers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.db import DriverSQL
from registry.errors import Invalid, PermissionDenied
from registry.ledger.accounts import account_organisation
from registry.vocabulary import Role

__all__ = [
    "AUDIT_READERS",
    "STAFF_ROLES",
    "STAND_FILTERS",
    "PageOf",
    "audit_page",
    "require_account_reader",
    "stands_page",
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
    sees_owner = actor.has(*STAFF_ROLES, Role.VERIFIER)
    if not sees_owner and actor.has(Role.FOREST_OWNER):
        where.append("o.name = :own")
        params["own"] = actor.organisation
    db = DriverSQL(session)
    base = " FROM stand s LEFT JOIN owner o ON o.id = s.owner_id WHERE " + " AND ".join(where)
    total = db.first("SELECT COUNT(*)" + base, params)
    columns = ", ".join(f"s.{c}" for c in STAND_COLUMNS)
    shown_owner = ", o.name" if sees_owner or actor.has(Role.FOREST_OWNER) else ", NULL"
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
