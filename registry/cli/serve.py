"""``tanhui serve``: the web API under uvicorn.

SpatiaLite (the default): one worker process — SQLite has one writer at a time; inside the
process writes queue on a lock (then ``BEGIN IMMEDIATE`` with a 60 s busy timeout, WAL for
readers beside the writer). PostGIS: several worker processes (``--workers``), row locks
serialise what must be serialised.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_USAGE

__all__ = ["APP_FACTORY", "serve_cmd"]

# The app by name, not by object: uvicorn's worker processes import it themselves (it must be an
# import string for --workers > 1), and registry/ never imports api/ (arrows point one way).
# tests/api/test_serve_target.py checks that the name resolves to api.main.create_app.
APP_FACTORY = "api.main:create_app"


def serve_cmd(
    host: Annotated[str, typer.Option(help="监听地址 / address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="进程数（PostGIS；SpatiaLite 固定 1） / worker processes")
    ] = None,
) -> None:
    """启动 Web API（/api/v1，/docs） / serve the web API (uvicorn)."""
    import uvicorn

    settings = ctx.settings()
    ctx.run_plain(settings.checked_secret)
    ctx.engine()  # the schema is checked (and a new database created) before serving
    sqlite = settings.database_url.startswith("sqlite")
    n = 1 if sqlite else (workers or min(4, (os.cpu_count() or 1) * 2))
    if sqlite and workers not in (None, 1):
        err_console.print(
            "[bold red]用法错误[/] SpatiaLite 只用一个进程（同一时间只有一个写入者）。\n"
            "[bold red]Bad usage[/] SpatiaLite runs one worker (one writer at a time)."
        )
        raise typer.Exit(EXIT_USAGE)
    os.environ["TANHUI_DATABASE_URL"] = settings.database_url  # for the worker processes
    os.environ["TANHUI_SERVER_GC_TUNING"] = "true"  # a server's collector pauses less (api/main)
    console.print(f"tanhui API: http://{host}:{port}/api/v1 (docs /docs), {n} worker(s)")
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=n,
                log_level="warning", timeout_graceful_shutdown=5)  # fmt: skip
