"""``tanhui opendata dump DIR``: the open-data files (CSV and GeoPackage of the public
projects, stands, issuances and retirements, with ``manifest.json``), written only when the
registry's data changed since the last dump (``--force``: anyway). The server serves the same
folder at ``/data`` (setting ``TANHUI_OPENDATA_DIR``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_FAILED
from registry.cli.output import print_json, print_table

__all__ = ["opendata_app"]

opendata_app = typer.Typer(help="开放数据 / open data.", no_args_is_help=True)


@opendata_app.command("dump")
def dump_cmd(
    folder: Annotated[Path, typer.Argument(help="输出目录 / output folder")],
    force: Annotated[
        bool, typer.Option(help="数据未变也重新生成 / rewrite even if unchanged")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="以 JSON 输出清单 / the manifest as JSON")
    ] = False,
) -> None:
    """生成开放数据（CSV、GeoPackage 与清单） / write the open-data files and their manifest."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from registry.cli.importing import RichProgress
    from registry.opendata import dump_open_data

    settings = ctx.settings()
    engine = ctx.engine()
    bar = Progress(TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                   console=err_console)  # fmt: skip
    try:
        with bar:
            drawn = RichProgress(bar)
            result = ctx.run_plain(lambda: dump_open_data(
                engine, folder, settings.registry_name, force=force, progress=drawn))  # fmt: skip
            if result is not None and result.regenerated:
                drawn.finish()
    except OSError as exc:
        err_console.print(f"[bold red]错误[/] 无法写入 {escape(str(folder))}：{escape(str(exc))}\n"
                          f"[bold red]Error[/] cannot write {escape(str(folder))}: {escape(str(exc))}")  # fmt: skip
        raise typer.Exit(EXIT_FAILED) from exc
    assert result is not None  # the lock is waited for (wait=True)
    if as_json:
        print_json(result.manifest)
        return
    m = result.manifest
    head = f"第 {m.audit_seq} 个审计事件（{m.data_as_of or '空'}） / audit event {m.audit_seq}"
    if result.regenerated:
        console.print(f"[green]已生成[/] {escape(result.folder)}：数据截至{head}")
    else:
        err_console.print(f"数据未变，沿用现有文件 / unchanged since the last dump: {head}")
    print_table("开放数据 / open data", list(m.files), ("name", "rows", "bytes", "sha256"))
