"""``tanhui tiles …``: the county map's vector tiles (``registry.tiles``), built from the
registry into the tiles folder (``TANHUI_TILES_DIR``, default ``tiles``) that ``tanhui serve``
serves; rebuilt only when the registry has changed since the last build."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_REFUSED

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from registry.tiles import TileStamp

__all__ = ["run_tiles_build", "tiles_app"]

tiles_app = typer.Typer(help="地图瓦片 / the map's vector tiles.", no_args_is_help=True)

TilesDir = Annotated[
    Path | None,
    typer.Option("--tiles-dir", help="瓦片目录（默认取 TANHUI_TILES_DIR） / the tiles folder"),
]


def _describe(stamp: TileStamp, folder: Path) -> str:
    return (
        f"{folder}: {stamp.stands:,} 个小班 stands, {stamp.projects:,} 个项目 projects, "
        f"{stamp.tiles:,} 块瓦片 tiles (z{stamp.min_zoom}–z{stamp.max_zoom}, 全部小班自 all stands "
        f"from z{stamp.complete_from_zoom}); 审计事件 audit event #{stamp.audit_seq} "
        f"{stamp.audit_hash[:12]}…, {stamp.built_at}"
    )


def run_tiles_build(engine: Engine, folder: Path, force: bool = False) -> TileStamp:
    """Build the tiles with progress bars and say what was built (or that nothing changed)."""
    from registry.cli.importing import RichProgress, progress_bars
    from registry.tiles import build_tiles

    with progress_bars() as bars:
        progress = RichProgress(bars)
        stamp = build_tiles(engine, folder, force=force, progress=progress)
        if not stamp.skipped:
            progress.finish()
    if stamp.skipped:
        console.print(
            f"地图瓦片已是最新，未重建 / the tiles are current, not rebuilt — {_describe(stamp, folder)}"
        )
    else:
        console.print(f"[green]地图瓦片已生成 / tiles built[/] in {stamp.seconds:.1f} s — {_describe(stamp, folder)}")  # fmt: skip
    return stamp


@tiles_app.command("build")
def build_cmd(
    tiles_dir: TilesDir = None,
    force: Annotated[bool, typer.Option("--force", help="数据未变也重建 / rebuild anyway")] = False,
) -> None:
    """从登记簿生成地图瓦片（PMTiles 与 MBTiles） / build the map tiles from the registry."""
    folder = tiles_dir or ctx.settings().tiles_dir
    ctx.run_plain(lambda: run_tiles_build(ctx.engine(), folder, force))


@tiles_app.command("status")
def status_cmd(tiles_dir: TilesDir = None) -> None:
    """瓦片是否为最新 / whether the tiles stand at the registry's current state (exit 1 when
    they were never built or are out of date)."""
    from registry.public.as_of import audit_head
    from registry.tiles import read_stamp

    folder = tiles_dir or ctx.settings().tiles_dir
    stamp = read_stamp(folder)
    with ctx.reading() as session:
        head = audit_head(session)
    if stamp is None:
        err_console.print(f"{folder}: 尚未生成地图瓦片 / no tiles built yet (tanhui tiles build)")
        raise typer.Exit(EXIT_REFUSED)
    current = stamp.head == head
    console.print(_describe(stamp, folder))
    console.print(
        "[green]最新 current[/]"
        if current
        else f"[yellow]已过时 out of date[/]: 登记簿现在是 the registry is at audit event #{head.seq}"
    )
    if not current:
        raise typer.Exit(EXIT_REFUSED)
