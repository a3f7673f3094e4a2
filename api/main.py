"""The web API (FastAPI). Today only a health check; routes come with the web issue."""

from __future__ import annotations

from fastapi import FastAPI

from registry.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="tanhui 碳汇",
        description="森林碳汇登记系统 / forest carbon-sink registry",
        version="0.1.0",
    )

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
