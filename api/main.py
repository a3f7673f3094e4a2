"""The web API (FastAPI): the registry's services under ``/api/v1``, documented by OpenAPI at
``/openapi.json``. Resources are opened in the lifespan: the engine (its schema checked — a
server never migrates), the secret key (a placeholder is refused outside development)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import ogc, pages
from api import tiles as map_tiles
from api.body_limit import BodyLimit, request_body_limit
from api.deps import Registry
from api.errors import add_exception_handlers
from api.routes import (
    audit,
    auth,
    certificates,
    compensation,
    compensation_payments,
    credits,
    docs,
    inventory,
    labels,
    monitoring,
    organisations,
    projects,
    purchases,
    stands,
    users,
)
from registry.settings import Settings

__all__ = ["API_PREFIX", "STATIC", "create_app"]

API_PREFIX = "/api/v1"
STATIC = Path(__file__).resolve().parent / "static"
VENDOR = {  # front-end libraries installed from the npm registry (package.json), served by us
    "maplibre-gl": "maplibre-gl/dist",
    "pmtiles": "pmtiles/dist",
}


def _mount_static(app: FastAPI, settings: Settings) -> None:
    """``/static``: our CSS and scripts; ``/static/vendor/<library>``: the npm libraries (absent
    until ``make setup`` has run ``npm ci``: then the map pages say so, nothing else breaks)."""
    for name, sub in VENDOR.items():
        folder = settings.node_modules / sub
        if folder.is_dir():
            app.mount(
                f"/static/vendor/{name}", StaticFiles(directory=folder), name=f"vendor-{name}"
            )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _tune_garbage_collector() -> None:
    """Fewer, shorter pauses of the cyclic garbage collector in a server process: what start-up
    made is frozen (never scanned again), and collections run after 50,000 allocations instead
    of 700, a full one a hundred times rarer. Measured with ``bench/web/run.py --load wrk
    --clients 10`` on the 50,000-stand county: p99 of the library page 142 → 37 ms, of a project
    page 155 → 42 ms (a full collection of the server's heap took ~100 ms)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.checked_secret()  # refuse to build an app with a placeholder secret in production

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from registry.db import ensure_schema, make_engine

        engine = make_engine(settings.database_url, pool_pre_ping=True)
        ensure_schema(engine)
        app.state.registry = Registry(settings, engine)
        if settings.server_gc_tuning:
            _tune_garbage_collector()
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="tanhui 碳汇",
        description="森林碳汇登记系统 / forest carbon-sink registry. Errors: "
        "{code, message_zh, message_en, details}; 401 not signed in, 403 forbidden, 404 not "
        "found, 409 conflict, 422 invalid, 429 sign-in throttled, 503 registry failure.",
        version="0.1.0",
        lifespan=lifespan,
    )
    add_exception_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=request_body_limit(settings))

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    routers = (
        auth,
        users,
        organisations,
        credits,
        certificates,
        audit,
        projects,
        stands,
        inventory,
        purchases,
        compensation,
        compensation_payments,
        labels,
        monitoring,
        docs,
    )
    for module in routers:
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(pages.router)
    app.include_router(ogc.router)
    app.include_router(map_tiles.router)
    _mount_static(app, settings)
    return app
