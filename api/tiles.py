"""The county map's tiles over HTTP, and the server's part in keeping them current.

- ``/tiles/registry.pmtiles``: the PMTiles file, a static file read with HTTP range requests
  (Starlette's ``FileResponse`` answers ``Range`` with 206 and the bytes asked for);
- ``/tiles/{z}/{x}/{y}.pbf``: one vector tile from ``registry.mbtiles`` for GIS clients (QGIS,
  GDAL): gzip-compressed as tippecanoe stores it (``Content-Encoding: gzip``; decompressed for a
  client that does not accept gzip), 204 for an empty tile inside the zoom range, 404 outside;
- ``/tiles/registry.json``: TileJSON 3.0 for those clients; ``/tiles/status``: whether the
  tiles are ready and current (the map pages ask it); ``/tiles/projects.json``: each project's
  bounding box and label point (the map pages place labels and zoom to a project with it).

When the tiles are built: on the first request that needs them (the map page, the status, a
tile), in a background thread — not at start-up, so a server (or a test) that never shows the
map never spends a core on tippecanoe, and start-up stays instant. The same requests compare the
tiles' stamp with the registry's audit head and rebuild in the background when the data changed;
the old tiles are served until the new ones are renamed into place. A build that failed is not
retried until the data change again (its bilingual reason is shown on the map page)."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from api.deps import Registry, RegistryDep
from api.errors import error_body
from registry.public.as_of import AuditHead, audit_head
from registry.public.map import ProjectPlace, project_places
from registry.tiles import (
    MAX_ZOOM,
    MBTILES,
    MIN_ZOOM,
    PMTILES,
    TilesBusy,
    TilesFailed,
    TileStamp,
    build_tiles,
    read_stamp,
    tile_from_mbtiles,
    tiles_busy,
)

__all__ = ["SPECIES", "SPECIES_COLOURS", "TileService", "place_dict", "router", "tile_service"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/tiles", include_in_schema=False)  # for map clients: TileJSON
MVT = "application/vnd.mapbox-vector-tile"

SPECIES_COLOURS: tuple[tuple[str, str, str, str], ...] = (
    ("chinese_fir", "杉木", "Chinese fir", "#2e7d32"),
    ("masson_pine", "马尾松", "Masson pine", "#9ccc65"),
    ("other_pine", "其他松类", "Other pines", "#d4e157"),
    ("other_conifer", "其他针叶树", "Other conifers", "#00897b"),
    ("mixed_conifer", "针叶混交林", "Mixed conifers", "#4db6ac"),
    ("broadleaf", "阔叶树", "Broadleaf", "#ffb300"),
    ("mixed_conifer_broadleaf", "针阔混交林", "Mixed conifer–broadleaf", "#a1887f"),
    ("moso_bamboo", "毛竹", "Moso bamboo", "#1e88e5"),
    ("other_bamboo", "其他竹类", "Other bamboo", "#81d4fa"),
    ("economic", "经济林", "Economic forest", "#d81b60"),
    ("", "无树种（宜林地等）", "No species (afforestable land …)", "#bdbdbd"),
)  # fmt: skip
"""The map's colour of each species group (the stands' ``species_group``; "" for none) and
its names, for the style and the legend."""
SPECIES = [{"group": g, "zh": zh, "en": en, "colour": c} for g, zh, en, c in SPECIES_COLOURS]


class TileService:
    """One per server process: starts background builds and remembers the last failure."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.tiles_dir = registry.settings.tiles_dir
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: TilesFailed | None = None
        self._failed_at: AuditHead | None = None

    @property
    def building(self) -> bool:
        """A build runs, in this process or another (the build lock is held)."""
        thread = self._thread
        return (thread is not None and thread.is_alive()) or tiles_busy(self.tiles_dir)

    def refresh(self, head: AuditHead) -> TileStamp | None:
        """The tiles' stamp (None if never built); starts a build in the background when they
        are missing or older than ``head`` (the registry's audit head, read by the caller)."""
        stamp = read_stamp(self.tiles_dir)
        if stamp is not None and stamp.head == head:
            return stamp
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return stamp
            if self._failed_at == head:  # the same data failed already: wait for a change
                return stamp
            self._thread = threading.Thread(
                target=self._build, args=(head,), name="tanhui-tiles", daemon=True
            )
            self._thread.start()
        return stamp

    def _build(self, head: AuditHead) -> None:
        try:
            build_tiles(self.registry.engine, self.tiles_dir, wait=False)
            self.error, self._failed_at = None, None
        except TilesBusy:
            pass  # another process builds them
        except TilesFailed as exc:
            self.error, self._failed_at = exc, head
            log.warning("tiles: %s", exc.message_en)
        except Exception as exc:  # reported on the map page, never a dead thread in silence
            log.exception("tiles: the build failed")
            self.error, self._failed_at = (
                TilesFailed(f"生成地图瓦片时出错：{exc}", f"building the map tiles failed: {exc}"),
                head,
            )

    def status(self, head: AuditHead) -> dict[str, Any]:
        stamp = self.refresh(head)
        return {
            "ready": stamp is not None,
            "current": stamp is not None and stamp.head == head,
            "building": self.building,
            "pmtiles": pmtiles_url(stamp),
            "stamp": stamp.to_dict() if stamp else None,
            "error": {"message_zh": self.error.message_zh, "message_en": self.error.message_en}
            if self.error
            else None,
        }


def tile_service(request: Request) -> TileService:
    """The process's tile service (made on first use, kept on the app's state)."""
    state = request.app.state
    service: TileService | None = getattr(state, "tile_service", None)
    if service is None:
        with _MAKE:
            service = getattr(state, "tile_service", None)
            if service is None:
                service = state.tile_service = TileService(state.registry)
    return service


_MAKE = threading.Lock()


def pmtiles_url(stamp: TileStamp | None) -> str | None:
    """The PMTiles file's URL, versioned by the audit head it was built at (a rebuilt file gets
    a new URL, so no cache mixes the old file's bytes with the new one's)."""
    if stamp is None:
        return None
    return f"/tiles/{PMTILES}?v={stamp.audit_seq}-{stamp.audit_hash[:12]}"


def _not_ready(request: Request, registry: Registry) -> JSONResponse:
    service = tile_service(request)
    service.status(registry.read(audit_head))
    if service.error is not None:
        body = error_body("failure", service.error.message_zh, service.error.message_en)
    else:
        body = error_body(
            "failure", "地图瓦片尚未生成，正在生成，请稍后再试。",
            "the map tiles have not been built yet; they are being built, try again shortly.",
        )  # fmt: skip
    return JSONResponse(body, 503, headers={"Retry-After": "10"})


@router.get("/status")
def status(request: Request, registry: RegistryDep) -> dict[str, Any]:
    """瓦片是否就绪、是否为最新 / whether the tiles are built and current (starts a build)."""
    return tile_service(request).status(registry.read(audit_head))


@router.get(f"/{PMTILES}", response_model=None)
def pmtiles(request: Request, registry: RegistryDep) -> Response:
    """整个县的 PMTiles 文件（支持 Range 请求） / the county's PMTiles file (range requests)."""
    path = registry.settings.tiles_dir / PMTILES
    if not path.is_file():
        return _not_ready(request, registry)
    return FileResponse(path, media_type="application/vnd.pmtiles",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


def place_dict(place: ProjectPlace) -> dict[str, Any]:
    """A project as the map scripts use it: its figures, bounding box and label point."""
    c = place.card
    return {"code": c.code, "name": c.name, "status": c.status, "methodology": c.methodology,
            "issued": c.issued, "retired": c.retired, "in_buffer": c.in_buffer,
            "area_ha": c.area_ha, "bbox": place.bbox, "label": place.label}  # fmt: skip


@router.get("/projects.json")
def projects(registry: RegistryDep) -> dict[str, Any]:
    """各项目的范围与标注点，以及树种组图例 / each project's bounding box and label point, and
    the species groups' legend."""
    places = registry.read(project_places)
    return {"projects": [place_dict(p) for p in places], "species": SPECIES}


@router.get("/registry.json")
def tilejson(request: Request, registry: RegistryDep) -> Response:
    """TileJSON 3.0（供 GIS 客户端） / TileJSON 3.0 for GIS clients."""
    stamp = read_stamp(registry.settings.tiles_dir)
    if stamp is None:
        return _not_ready(request, registry)
    import contextlib
    import sqlite3

    path = registry.settings.tiles_dir / MBTILES
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT value FROM metadata WHERE name = 'json'").fetchone()
    layers = json.loads(row[0]).get("vector_layers", []) if row else []
    base = str(request.base_url).rstrip("/")
    x0, y0, x1, y1 = stamp.bounds
    return JSONResponse({
        "tilejson": "3.0.0", "name": "tanhui registry", "scheme": "xyz",
        "tiles": [base + "/tiles/{z}/{x}/{y}.pbf"], "minzoom": stamp.min_zoom,
        "maxzoom": stamp.max_zoom, "bounds": [x0, y0, x1, y1],
        "center": [(x0 + x1) / 2, (y0 + y1) / 2, stamp.min_zoom + 4], "vector_layers": layers,
        "attribution": "tanhui 碳汇", "version": f"{stamp.audit_seq}",
    })  # fmt: skip


@router.get("/{z}/{x}/{y}.pbf", response_model=None)
def tile(
    request: Request, registry: RegistryDep,
    z: Annotated[int, Path(ge=0, le=30)], x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:  # fmt: skip
    """一块矢量瓦片（MVT，XYZ 编号） / one vector tile (MVT, XYZ numbering) from the MBTiles."""
    tiles_dir = registry.settings.tiles_dir
    if not (tiles_dir / MBTILES).is_file():
        return _not_ready(request, registry)
    if not (MIN_ZOOM <= z <= MAX_ZOOM) or x >= (1 << z) or y >= (1 << z):
        return JSONResponse(
            error_body("not_found", f"没有这块瓦片：缩放级别 {MIN_ZOOM}–{MAX_ZOOM}。",
                       f"no such tile: zoom levels are {MIN_ZOOM}–{MAX_ZOOM}."),
            404,
        )  # fmt: skip
    data = tile_from_mbtiles(tiles_dir, z, x, y)
    if data is None:
        return Response(status_code=204)
    headers = {"Cache-Control": "public, max-age=60", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(data, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(data), media_type=MVT, headers=headers)
