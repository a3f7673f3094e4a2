"""Open data (开放数据) at ``/data``: the page listing the files of the published dump (rows,
size, SHA-256, the state of the data they hold) and the downloads ``/data/<file>``.

The files are those of ``tanhui opendata dump`` in ``settings.opendata_dir``. When the audit
head has moved past the dump's, the server writes a new dump in a background thread (one at a
time; the page meanwhile lists the files it has and says that new ones are being made): the
data behind a download are always those its manifest names."""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import Registry, RegistryDep
from api.pages.rendering import render
from registry.errors import NotFound
from registry.opendata import DATASETS, Snapshot, current_snapshot, dump_open_data
from registry.public import audit_head, head_key

__all__ = ["refresh", "router"]

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "gpkg": "application/geopackage+sqlite3",
               "json": "application/json"}  # fmt: skip
_threads: dict[str, threading.Thread] = {}
_guard = threading.Lock()


def _regenerate(registry: Registry) -> None:
    try:
        dump_open_data(registry.engine, registry.settings.opendata_dir,
                       registry.settings.registry_name, wait=False)  # fmt: skip
    except Exception:  # a failed dump leaves the published one; the next request tries again
        log.exception("open data: the dump failed")


def refresh(registry: Registry) -> tuple[Snapshot | None, bool]:
    """The published dump, and whether a newer one is being made (started here when the audit
    head has moved past the dump's and no dump is under way in this process)."""
    published = current_snapshot(registry.settings.opendata_dir)
    head = registry.read(audit_head)
    if published is not None and (
        (published.manifest.audit_seq, published.manifest.audit_hash) == head_key(head)
    ):
        return published, False
    key = str(registry.settings.opendata_dir.resolve())
    with _guard:
        running = _threads.get(key)
        if running is None or not running.is_alive():
            running = threading.Thread(target=_regenerate, args=(registry,), name="opendata",
                                       daemon=True)  # fmt: skip
            _threads[key] = running
            running.start()
    return published, True


def wait_for_refresh(registry: Registry, timeout: float = 120) -> None:
    """Wait until this process's dump under way (if any) has finished (tests, the demo)."""
    running = _threads.get(str(registry.settings.opendata_dir.resolve()))
    if running is not None:
        running.join(timeout)


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, registry: RegistryDep) -> HTMLResponse:
    """The open-data files with their rows, sizes and checksums."""
    published, updating = refresh(registry)
    files: list[dict[str, Any]] = []
    if published is not None:
        for f in published.manifest.files:
            zh, en = DATASETS.get(f.dataset, (f.dataset, f.dataset))
            files.append({**f.to_dict(), "title_zh": zh, "title_en": en})
    manifest = published.manifest if published else None
    return render(request, registry, "data.html", {
        "files": files, "manifest": manifest, "updating": updating,
    }, as_of=manifest.data_as_of if manifest else None)  # fmt: skip


@router.get("/data/{name}")
def download(name: str, registry: RegistryDep) -> FileResponse:
    """One file of the published dump (``manifest.json`` too)."""
    published, _ = refresh(registry)
    if published is not None:
        entry = published.manifest.file(name)
        if entry is not None or name == "manifest.json":
            fmt = entry.format if entry else "json"
            return FileResponse(published.folder / name, media_type=MEDIA_TYPES[fmt], filename=name)
    raise NotFound(f"没有开放数据文件 {name!r}（文件可能正在生成，请稍后再试）。",
                   f"no open-data file {name!r} (the files may be being made; try again shortly).")  # fmt: skip
