"""Read-only views of the registered stands: summaries, history and export frames."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from gis_data.profile import FieldProfile
from registry.models import STORAGE_SRID, InventoryBatch, Owner, Stand, StandLineage
from registry.stands import STAND_ATTRIBUTES

__all__ = [
    "StandSummary",
    "current_stands_frame",
    "export_frame",
    "lineage_lines",
    "stand_history",
    "stands_summary",
]

# Order in which age groups are shown (幼 → 过熟), then the rest alphabetically.
AGE_GROUP_ORDER = ("幼龄林", "中龄林", "近熟林", "成熟林", "过熟林")


@dataclass
class StandSummary:
    """Area (ha) and growing stock (m³ = Σ area_ha × volume_m3_per_ha) of current stands."""

    by_species_age: pd.DataFrame
    by_township: pd.DataFrame
    totals: dict[str, float]


def stands_summary(session: Session) -> StandSummary:
    volume = func.sum(col(Stand.area_ha) * func.coalesce(col(Stand.volume_m3_per_ha), 0.0))
    current = col(Stand.is_current).is_(True)
    species_age = session.execute(
        select(
            func.coalesce(col(Stand.species_group), "(none)"),
            func.coalesce(col(Stand.age_group), "(none)"),
            func.count(),
            func.sum(col(Stand.area_ha)),
            volume,
        )
        .where(current)
        .group_by(col(Stand.species_group), col(Stand.age_group))
    ).all()
    by_species_age = pd.DataFrame(
        [tuple(r) for r in species_age],
        columns=["species_group", "age_group", "stands", "area_ha", "volume_m3"],
    )
    order = {g: i for i, g in enumerate(AGE_GROUP_ORDER)}
    if len(by_species_age):
        by_species_age["_o"] = by_species_age["age_group"].map(lambda g: order.get(g, 99))
        by_species_age = by_species_age.sort_values(["species_group", "_o", "age_group"]).drop(
            columns="_o"
        )
    townships = session.execute(
        select(
            func.coalesce(col(Stand.township), "(none)"),
            func.count(),
            func.sum(col(Stand.area_ha)),
            volume,
        )
        .where(current)
        .group_by(col(Stand.township))
        .order_by(col(Stand.township))
    ).all()
    by_township = pd.DataFrame(
        [tuple(r) for r in townships], columns=["township", "stands", "area_ha", "volume_m3"]
    )
    totals = {
        "stands": float(by_township["stands"].sum()) if len(by_township) else 0.0,
        "area_ha": float(by_township["area_ha"].sum()) if len(by_township) else 0.0,
        "volume_m3": float(by_township["volume_m3"].sum()) if len(by_township) else 0.0,
    }
    return StandSummary(by_species_age.reset_index(drop=True), by_township, totals)


def current_stands_frame(session: Session, include_history: bool = False) -> gpd.GeoDataFrame:
    """Current stands (or every version) with owner names, as a GeoDataFrame in EPSG:4490."""
    names = [
        "stand_key", "version", "is_current", "batch_id", "area_ha", "species_group", "extra",
        *STAND_ATTRIBUTES,
    ]  # fmt: skip
    columns = [col(getattr(Stand, c)) for c in names]
    stmt = (
        select(*columns, col(Owner.name).label("owner_name"), func.ST_AsBinary(Stand.geom))
        .outerjoin(Owner, col(Owner.id) == col(Stand.owner_id))
        .order_by(col(Stand.stand_key), col(Stand.version))
    )
    if not include_history:
        stmt = stmt.where(col(Stand.is_current).is_(True))
    rows = session.execute(stmt).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[*names, "owner_name", "geometry"])
    geometry = shapely.from_wkb([bytes(g) for g in frame["geometry"]])
    return gpd.GeoDataFrame(
        frame.drop(columns="geometry"), geometry=geometry, crs=f"EPSG:{STORAGE_SRID}"
    )


def export_frame(stands: gpd.GeoDataFrame, profile: FieldProfile) -> gpd.GeoDataFrame:
    """Rename canonical columns to the profile's first alias and unfold extra attributes,
    so that the export re-imports through the same profile unchanged."""
    out: dict[str, Any] = {}
    for spec in profile.fields:
        if spec.canonical in stands:
            out[spec.export_name] = stands[spec.canonical]
    extras = [json.loads(e) if e else {} for e in stands["extra"]]
    for key in sorted({k for e in extras for k in e}):
        if key not in out:
            out[key] = [e.get(key) for e in extras]
    return gpd.GeoDataFrame(pd.DataFrame(out), geometry=stands.geometry.values, crs=stands.crs)


def stand_history(session: Session, stand_key: str) -> list[dict[str, Any]]:
    """Every version of one stand, oldest first, with the batch that brought it."""
    rows = session.execute(
        select(Stand, col(InventoryBatch.source_name), col(InventoryBatch.imported_at))
        .join(InventoryBatch, col(InventoryBatch.id) == col(Stand.batch_id))
        .where(col(Stand.stand_key) == stand_key)
        .order_by(col(Stand.version))
    ).all()
    links = (
        session.execute(
            select(StandLineage)
            .where(
                (col(StandLineage.old_key) == stand_key) | (col(StandLineage.new_key) == stand_key)
            )
            .order_by(col(StandLineage.batch_id), col(StandLineage.id))
        )
        .scalars()
        .all()
    )
    history: list[dict[str, Any]] = []
    for stand, source, imported_at in rows:
        history.append(
            {
                "version": stand.version,
                "is_current": stand.is_current,
                "batch_id": stand.batch_id,
                "source": source,
                "imported_at": imported_at.isoformat() if imported_at else None,
                "superseded_by_batch_id": stand.superseded_by_batch_id,
                "area_ha": stand.area_ha,
                "species": stand.dominant_species,
                "age_years": stand.age_years,
                "volume_m3_per_ha": stand.volume_m3_per_ha,
                "land_class": stand.land_class,
                "became": [
                    {"kind": link.kind, "to": link.new_key, "overlap_ha": link.overlap_ha,
                     "batch_id": link.batch_id}
                    for link in links if link.old_stand_id == stand.id
                ],
                "came_from": [
                    {"kind": link.kind, "from": link.old_key, "overlap_ha": link.overlap_ha,
                     "batch_id": link.batch_id}
                    for link in links if link.new_stand_id == stand.id
                ],
            }
        )  # fmt: skip
    if not rows:  # a key that only ever appeared as a successor or predecessor
        return []
    return history


def lineage_lines(history: list[dict[str, Any]], stand_key: str) -> list[str]:
    """The history's links in words: "005 → 005-1, 005-2 (split)"; "006 + 007 → 007 (merge)"."""
    lines = []
    for version in history:
        went = [link for link in version["became"]]
        if went:
            kinds = sorted({link["kind"] for link in went})
            targets = ", ".join(str(link["to"] or "—") for link in went)
            lines.append(f"v{version['version']} {stand_key} → {targets} ({'/'.join(kinds)})")
        came = version["came_from"]
        if came:
            kinds = sorted({link["kind"] for link in came})
            sources = " + ".join(str(link["from"]) for link in came)
            lines.append(f"v{version['version']} {sources} → {stand_key} ({'/'.join(kinds)})")
    return lines
