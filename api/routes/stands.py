"""Stands (小班): the current inventory, filtered and paged, as rows or GeoJSON; a stand's
history through the inventories."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Query

from api.deps import CallerDep, PageDep
from registry.listings import feature_collection, stands_page

__all__ = ["router"]

router = APIRouter(prefix="/stands", tags=["stands 小班"])


def _filter() -> Any:
    """A filter's query parameter (a new one each time: FastAPI names the object it gets)."""
    return Query(None, max_length=100)


@router.get("")
def stands(
    caller: CallerDep, page: PageDep,
    format: Literal["json", "geojson"] = "json",
    township: str | None = _filter(), village: str | None = _filter(),
    species_group: str | None = _filter(), land_class: str | None = _filter(),
    forest_category: str | None = _filter(), origin: str | None = _filter(),
    age_group: str | None = _filter(), compartment: str | None = _filter(),
) -> dict[str, Any]:  # fmt: skip
    """现有小班（按小班键） / current stands by key; ``format=geojson``: a FeatureCollection.
    Forest owners see their own stands; right holders' names only to staff, verifiers and the
    owners themselves."""
    given = {"township": township, "village": village, "species_group": species_group,
             "land_class": land_class, "forest_category": forest_category, "origin": origin,
             "age_group": age_group, "compartment": compartment}  # fmt: skip
    filters = {k: v for k, v in given.items() if v is not None}
    geo = format == "geojson"
    found = caller.read(lambda s, a: stands_page(s, a, filters, page.limit, page.offset, geo))
    return feature_collection(found) if geo else asdict(found)


@router.get("/{stand_key}/history")
def history(stand_key: str, caller: CallerDep) -> dict[str, Any]:
    """小班的历次版本与沿革 / a stand's versions and lineage through the inventories."""
    from registry.queries import stand_history

    versions = caller.read(lambda s, a: stand_history(s, stand_key))
    return {"stand_key": stand_key, "versions": versions}
