"""``tanhui demo``: the main job, end to end, on the embedded SpatiaLite default.

Today: generate the synthetic Shuangpai inventory, import it with every check, import it again
(a no-op), print the summaries, verify the audit chain and export the stands. Later issues add
the carbon model, projects and credits here, step by step.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from gis_data import load_profile
from gis_data.sample import write_sample_inventory
from gis_data.write import write_stands
from registry.audit import verify_chain
from registry.db import make_engine, migrate, session_scope
from registry.queries import current_stands_frame, export_frame, stands_summary
from registry.settings import Settings
from registry.stands import ImportOptions

__all__ = ["run_demo"]


def run_demo(workdir: Path, n_stands: int, database_url: str | None, console: Console) -> None:
    from registry.cli import _print_frame, run_import

    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir / 'tanhui.sqlite'}"
    settings = Settings(database_url=url)
    console.print(Rule("碳汇 tanhui demo — 双牌县 Shuangpai County (合成数据 SYNTHETIC)"))
    console.print(f"数据库 database: {url}")

    console.print(Rule("1. 生成合成小班数据 / synthetic inventory"))
    t0 = time.perf_counter()
    with console.status(f"生成 {n_stands} 个小班 generating {n_stands} stands"):
        paths = write_sample_inventory(workdir / "sample", n_stands)
    console.print(
        f"{paths['shapefile']} (GBK .dbf, no .cpg) and {paths['geopackage']} — "
        f"{time.perf_counter() - t0:.1f} s"
    )

    engine = make_engine(settings.database_url)
    migrate(engine)
    options = ImportOptions(
        overlap_tolerance_m2=settings.overlap_tolerance_m2,
        area_tolerance_pct=settings.area_tolerance_pct,
        actor=settings.actor,
        inventory_year=2025,
    )
    console.print(Rule("2. 导入小班（全部检查，要么全导入要么不导入）/ import with every check"))
    t0 = time.perf_counter()
    result = run_import(engine, paths["shapefile"], options, workdir / "import_reports")
    console.print(f"{time.perf_counter() - t0:.1f} s")

    console.print(Rule("3. 再次导入同一数据（GeoPackage 版本）：不应有任何更改 / re-import: no-op"))
    run_import(engine, paths["geopackage"], options, workdir / "import_reports")

    console.print(Rule("4. 汇总 / summary"))
    with session_scope(engine) as session:
        summary = stands_summary(session)
        chain = verify_chain(session)
        stands = current_stands_frame(session)
    _print_frame(
        summary.by_species_age, "树种组 × 龄组 / species group × age group (ha, m³)", "table"
    )
    _print_frame(summary.by_township, "乡镇 / township (ha, m³)", "table")
    t = summary.totals
    console.print(
        f"合计 total: {t['stands']:,.0f} 小班 stands, {t['area_ha']:,.1f} ha, "
        f"{t['volume_m3']:,.0f} m³"
    )

    console.print(Rule("5. 审计链 / audit chain"))
    status = "[green]完整 OK[/]" if chain.ok else f"[red]被破坏 BROKEN: {chain.problem_en}[/]"
    console.print(f"{chain.n_events} 个事件 events — {status}")

    console.print(Rule("6. 导出 / export"))
    out = write_stands(
        export_frame(stands, load_profile()), workdir / "export" / "stands.gpkg", "gpkg"
    )
    console.print(f"{len(stands)} 个小班 stands → {out}")
    console.print(Rule())
    console.print(
        f"完成。批次 batch {result.batch_id}。试试 / try: "
        f"TANHUI_DATABASE_URL=sqlite:///{workdir / 'tanhui.sqlite'} .venv/bin/tanhui stands summary"
    )
