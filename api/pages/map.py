"""The county map (县域碳汇地图): every registered stand coloured by species group, the projects
outlined and labelled, a popup per click with a link to the project's page, and beside the map
the projects in view. Drawn by MapLibre GL JS (served from our static folder) from the registry's
PMTiles file; no request leaves the machine unless a basemap URL is set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import Registry, RegistryDep
from api.pages.rendering import render
from api.tiles import SPECIES, place_dict, pmtiles_url, tile_service
from registry.public import data_as_of
from registry.public.as_of import audit_head
from registry.public.map import project_places

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
VENDOR_FILES = ("maplibre-gl/dist/maplibre-gl.js", "pmtiles/dist/pmtiles.js")


def _vendor_ready(folder: Path) -> bool:
    """Whether ``npm ci`` installed MapLibre GL JS and PMTiles (served under /static/vendor)."""
    return all((folder / f).is_file() for f in VENDOR_FILES)


def county_map_context(request: Request, registry: Registry) -> tuple[dict[str, Any], Any]:
    """What a page drawing the county map needs (the map page, and the new-project page that
    selects stands on it) and the time its data stand at; starts a tile build when needed."""

    def read(session: Any) -> tuple[Any, ...]:
        return audit_head(session), project_places(session), data_as_of(session)

    head, places, as_of = registry.read(read)
    service = tile_service(request)
    stamp = service.refresh(head)
    config = {
        "status": "/tiles/status",
        "pmtiles": pmtiles_url(stamp),
        "basemap": registry.settings.basemap_url,
        "species": SPECIES,
        "bounds": list(stamp.bounds) if stamp else None,
        "complete_from_zoom": stamp.complete_from_zoom if stamp else None,
        "projects": [place_dict(p) for p in places],
    }
    return {
        "places": places, "stamp": stamp, "building": service.building,
        "tiles_error": service.error, "vendor_ready": _vendor_ready(registry.settings.node_modules),
        "species": SPECIES,
        "config_json": json.dumps(config, ensure_ascii=False).replace("<", "\\u003c"),
    }, as_of  # fmt: skip


@router.get("/map", response_class=HTMLResponse)
def county_map(request: Request, registry: RegistryDep) -> HTMLResponse:
    """The county map; when the tiles were never built it says so and they are built now."""
    context, as_of = county_map_context(request, registry)
    return render(request, registry, "map.html", {"nav": "map", **context}, as_of=as_of)
