"""The ``tanhui`` root command: the global options and every command group.

Each group lives in its own module and imports its services inside its commands, so that
``tanhui --help`` or ``tanhui credits check`` starts without geopandas.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from registry.cli import (
    audit,
    compensation,
    compensation_payments,
    credits,
    docs,
    inventory,
    labels,
    model,
    monitor,
    opendata,
    project,
    tiles,
    users,
)
from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_FAILED, EXIT_USAGE

__all__ = ["app", "main"]

app = typer.Typer(
    help="碳汇 tanhui — 森林碳汇登记系统 / forest carbon-sink registry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(inventory.app)
app.add_typer(inventory.stands_app, name="stands")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(audit.db_app, name="db")
app.add_typer(model.model_app, name="model")
app.add_typer(project.project_app, name="project")
app.add_typer(credits.credits_app, name="credits")
app.add_typer(users.users_app, name="users")
app.add_typer(users.org_app, name="org")
app.add_typer(opendata.opendata_app, name="opendata")
app.add_typer(tiles.tiles_app, name="tiles")
compensation_payments.register(compensation.compensation_app)
app.add_typer(compensation.compensation_app, name="compensation")
app.add_typer(labels.labels_app, name="labels")
app.add_typer(monitor.monitor_app, name="monitor")
app.add_typer(docs.docs_app, name="docs")


@app.callback()
def _root(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="TANHUI_DATABASE_URL",
            help="SQLAlchemy URL (default sqlite:///tanhui.sqlite, a SpatiaLite file).",
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="TANHUI_USER",
            help="以哪个用户操作（角色与机构取自数据库） / the user who acts (roles from the database).",
        ),
    ] = None,
) -> None:
    ctx.reset(database_url, user)


@app.command("demo")
def demo_cmd(
    workdir: Annotated[Path, typer.Option(help="工作目录 / working folder")] = Path("demo_output"),
    stands: Annotated[int, typer.Option(help="小班数 / number of stands")] = 50_000,
) -> None:
    """演示：生成、导入、汇总 / the main job on the embedded SpatiaLite default."""
    from registry.cli.demo import run_demo

    run_demo(workdir, stands, ctx.database_url, console)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="监听地址 / address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="进程数（PostGIS；SpatiaLite 固定 1） / worker processes")
    ] = None,
) -> None:
    """启动 Web API（/api/v1，/docs） / serve the web API (uvicorn)."""
    from registry.cli.serve import serve_cmd

    serve_cmd(host, port, workers)


def main() -> None:
    """Entry point: an error of ours that escaped a command (every package's errors carry
    ``message_zh`` and ``message_en``) is reported in one bilingual line, never a traceback."""
    try:
        app()
    except Exception as exc:
        zh, en = getattr(exc, "message_zh", None), getattr(exc, "message_en", None)
        if zh is None or en is None:
            raise
        from gis_data.errors import UsageError

        if isinstance(exc, UsageError):
            err_console.print(f"[bold red]用法错误[/] {zh}\n[bold red]Bad usage[/] {en}")
            sys.exit(EXIT_USAGE)
        err_console.print(f"[bold red]错误[/] {zh}\n[bold red]Error[/] {en}")
        sys.exit(EXIT_FAILED)
