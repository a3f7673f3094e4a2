"""``tanhui model …``: growth curves, ex-ante, ex-post and carbon stock on the command line."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from methodologies.errors import MethodologyError
from registry.cli.context import console, ctx, err_console, refuse, refuse_input
from registry.cli.output import print_json, warn_unverified
from registry.db import session_scope
from registry.errors import RegistryError

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["model_app"]

model_app = typer.Typer(help="碳汇计量模型 / carbon model.", no_args_is_help=True)
err = err_console


def _engine() -> Engine:
    return ctx.engine()


def _fail(exc: MethodologyError | RegistryError) -> typer.Exit:
    return refuse(exc) if isinstance(exc, RegistryError) else refuse_input(exc)


_dump = print_json
_warn_unverified = warn_unverified


@model_app.command("fit-growth")
def fit_growth_cmd(
    plot: Annotated[Path | None, typer.Option(help="PNG 图 / write a plot")] = None,
) -> None:
    """拟合生长曲线（树种组×立地等级） / fit growth curves to the current stands and store them."""
    from registry.carbon_model import fit_and_store_growth, select_stands
    from registry.charts import plot_growth_curves

    engine = _engine()
    try:
        with session_scope(engine) as session:
            fit_id, curves = fit_and_store_growth(session, ctx.acting(session))
            data = select_stands(session, "all") if plot else None
    except (MethodologyError, RegistryError) as exc:
        raise _fail(exc) from exc
    table = Table(title=f"生长曲线 growth curves (fit {fit_id}): V = a(1 − e^(−bt))^c, m³/ha")
    for name in ("group", "site", "a", "b", "c", "n", "RMSE", "R²", "basis"):
        table.add_column(name)
    for c in curves:
        table.add_row(c.species_group, c.site_class, f"{c.a:.1f}", f"{c.b:.4f}", f"{c.c:.3f}",
                      str(c.n), f"{c.rmse:.1f}", f"{c.r2:.3f}", c.basis.split(";")[0])  # fmt: skip
    console.print(table)
    if plot and data is not None:
        out = plot_growth_curves(data, curves, plot)
        console.print(f"图 plot: {out}")


@model_app.command("ex-ante")
def ex_ante_cmd(
    stands: Annotated[str, typer.Option(help="all | township=… ,species_group=… | @keys.txt")],
    methodology: Annotated[
        str, typer.Option(help="CCER-14-001-V01 | AR-CM-003-V01 | AR-CM-005-V01")
    ],
    start_year: Annotated[int, typer.Option(help="计入期开始年 / first year")],
    years: Annotated[int, typer.Option(help="计入期年数 20–40 / crediting years")] = 30,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    explain: Annotated[str | None, typer.Option(help="解释一个小班 / explain one stand")] = None,
    planted_group: Annotated[str, typer.Option(help="造林树种组 / planted group")] = "chinese_fir",
    plot: Annotated[Path | None, typer.Option(help="PNG 图 / write a plot")] = None,
    engine_kind: Annotated[
        str,
        typer.Option(
            "--engine",
            help="in-process（全部小班×年份在内存中）| dask（分区计算，内存受分区大小限制）",
        ),
    ] = "in-process",
    scheduler: Annotated[
        str | None,
        typer.Option(help="dask 调度器地址 / scheduler address (default: local cluster)"),
    ] = None,
    partition_stands: Annotated[
        int, typer.Option(help="每个分区的小班数 / stands per partition (dask)")
    ] = 50_000,
    out: Annotated[
        Path, typer.Option(help="逐小班结果 Parquet 目录 / per-stand Parquet folder (dask)")
    ] = Path("ex_ante_parquet"),
) -> None:
    """事前估算 / ex-ante projection per stand and year (stocks, baseline, project, net).

    --engine in-process (default) holds every stand × year in memory; --engine dask reads the
    stands partition by partition, computes them on dask workers and writes per-stand Parquet
    to --out, so memory is bounded by the partition size (forest management: by the county)."""
    if not 20 <= years <= 40:
        err.print("[yellow]计入期通常为 20–40 年 / crediting periods are 20–40 years[/]")
    if engine_kind == "dask":
        _ex_ante_dask(stands, methodology, start_year, years, fmt, explain, planted_group, plot,
                      scheduler, partition_stands, out)  # fmt: skip
        return
    if engine_kind != "in-process":
        err.print(
            f"[bold red]用法错误[/] 未知计算引擎 {engine_kind!r}，可用：in-process, dask\n"
            f"[bold red]Bad usage[/] unknown engine {engine_kind!r}; use in-process or dask"
        )
        raise typer.Exit(2)
    from registry.carbon_model import run_ex_ante
    from registry.charts import plot_stock_trajectory

    engine = _engine()
    try:
        with session_scope(engine) as session:
            result = run_ex_ante(session, stands, methodology, start_year, years, planted_group)
    except (MethodologyError, RegistryError) as exc:
        raise _fail(exc) from exc
    if explain:
        hits = [i for i, s in enumerate(result.stand_ids) if s == explain]
        if not hits:
            err.print(f"小班 {explain!r} 不在结果中 / stand {explain!r} is not in the result")
            raise typer.Exit(1)
        i = hits[0]
        console.print(f"小班 stand {explain} — stratum {result.stratum[i]}")
        console.print(
            result.traces[str(result.stratum[i])].explain(), highlight=False, markup=False
        )
        first, last = result.years[0], result.years[-1]
        console.print(
            f"{first}–{last}: project stock {result.project_stock[i, -1]:,.1f} t CO2e at the end, "
            f"baseline {result.baseline_stock[i, -1]:,.1f}, net removals "
            f"{result.net_removals[i].sum():,.1f} t CO2e",
            highlight=False,
        )
        return
    totals = result.by_year()
    if fmt == "csv":
        sys.stdout.write(result.long().to_csv(index=False))
    elif fmt == "json":
        payload = {
            "methodology": result.methodology,
            "stands": len(result.stand_ids),
            "total_net_removals_tco2e": result.total,
            "by_year": totals.to_dict(orient="records"),
            "traces": {k: t.to_dict() for k, t in result.traces.items()},
            "effects_tco2e": result.effects,
            "unverified_parameters": result.unverified(),
        }
        _dump(payload)
    else:
        _print_by_year(f"{result.methodology}: {len(result.stand_ids)} stands, t CO2e", totals)
    _warn_unverified(result.unverified())
    if plot:
        err.print(f"图 plot: {plot_stock_trajectory(result, plot, 'Ex-ante')}")


def _print_by_year(title: str, totals: Any) -> None:
    table = Table(title=title)
    for name in ("year", "baseline stock", "project stock", "net removals", "cumulative"):
        table.add_column(name, justify="right")
    for r in totals.itertuples(index=False):
        table.add_row(str(r.year), f"{r.baseline_stock:,.0f}", f"{r.project_stock:,.0f}",
                      f"{r.net_removals:,.0f}", f"{r.cumulative_net_removals:,.0f}")  # fmt: skip
    console.print(table)


def _ex_ante_dask(
    stands: str, methodology: str, start_year: int, years: int, fmt: str, explain: str | None,
    planted_group: str, plot: Path | None, scheduler: str | None, partition_stands: int,
    out: Path,
) -> None:  # fmt: skip
    """The ex-ante on dask: totals printed as the in-process run prints them (and by stratum
    and species group); the per-stand rows are in ``out`` (Parquet), not printed."""
    from registry.cli.importing import RichProgress, progress_bars
    from registry.model_dask import run_ex_ante_dask

    if explain or plot:
        err.print(
            "[bold red]用法错误[/] --explain 与 --plot 只用于 in-process 引擎；dask 的逐小班结果在 "
            f"{out} 的 Parquet 文件中\n[bold red]Bad usage[/] --explain and --plot need the "
            f"in-process engine; the dask engine's per-stand rows are in the Parquet files in {out}"
        )
        raise typer.Exit(2)
    engine = _engine()
    try:
        with progress_bars() as bar:
            result = run_ex_ante_dask(
                engine, stands, methodology, start_year, years, out, planted_group, scheduler,
                partition_stands, RichProgress(bar),
            )  # fmt: skip
    except (MethodologyError, RegistryError) as exc:
        raise _fail(exc) from exc
    if fmt == "json":
        _dump({
            "methodology": result.methodology, "stands": result.stands,
            "partitions": result.partitions, "parquet": str(result.out),
            "total_net_removals_tco2e": result.total,
            "by_year": result.by_year.to_dict(orient="records"),
            "by_stratum": result.by_stratum.to_dict(orient="records"),
            "by_species_group": result.by_species_group.to_dict(orient="records"),
            "effects_tco2e": result.effects, "unverified_parameters": result.unverified,
        })  # fmt: skip
    elif fmt == "csv":
        sys.stdout.write(result.by_year.to_csv(index=False))
    else:
        _print_by_year(f"{result.methodology}: {result.stands} stands, t CO2e", result.by_year)
        for key, frame in (("stratum", result.by_stratum),
                           ("species_group", result.by_species_group)):  # fmt: skip
            table = Table(title=f"按 {key} 合计 / by {key}, t CO2e over the period")
            for name in (key, "stands", "net removals", "project stock (end)"):
                table.add_column(name, justify="right")
            for r in frame.itertuples(index=False):
                table.add_row(str(getattr(r, key)), f"{r.stands:,}",
                              f"{r.net_removals_tco2e:,.0f}", f"{r.project_stock_tco2e:,.0f}")  # fmt: skip
            console.print(table)
        err.print(
            f"逐小班结果 per-stand rows: {result.out} ({result.partitions} Parquet partitions)"
        )
    _warn_unverified(result.unverified)


@model_app.command("plot-template")
def plot_template_cmd(out: Annotated[Path, typer.Option(help=".xlsx 或 .csv")]) -> None:
    """写出样地数据模板（中文表头） / write the plot data template (Chinese headers)."""
    import pandas as pd

    from methodologies.expost import (
        BAMBOO_COLUMNS_ZH,
        OPTIONAL_COLUMNS_ZH,
        PLOT_COLUMNS_ZH,
        STRATUM_COLUMNS_ZH,
    )

    example = pd.DataFrame(
        [
            ["P001", "chinese_fir-中龄林", 0.0667, "chinese_fir", 14.2, 11.5, None, 0],
            ["P001", "chinese_fir-中龄林", 0.0667, "chinese_fir", 16.8, 12.9, None, 0],
            ["P002", "chinese_fir-中龄林", 0.0667, "chinese_fir", 12.5, 10.1, None, 0],
        ],  # moso bamboo rows: one per culm, 树高 empty, 竹度 filled; a plot with no tree: one
        # row with 树种组 none and 胸径/树高 empty; 原有树木 1 = stood before an afforestation
        columns=[
            *PLOT_COLUMNS_ZH.values(),
            *BAMBOO_COLUMNS_ZH.values(),
            *OPTIONAL_COLUMNS_ZH.values(),
        ],
    )
    strata = pd.DataFrame(
        [["chinese_fir-中龄林", 120.5]], columns=list(STRATUM_COLUMNS_ZH.values())
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(out) as writer:
            example.to_excel(writer, sheet_name="每木检尺", index=False)
            strata.to_excel(writer, sheet_name="层面积", index=False)
        console.print(
            f"模板 template: {out}（两个工作表：每木检尺、层面积；示例行请替换；无林木样地写一行"
            "树种组 none；造林前原有树木 原有树木=1）"
        )
    else:
        example.to_csv(out, index=False, encoding="utf-8-sig")
        strata_path = out.with_name(out.stem + "_strata.csv")
        strata.to_csv(strata_path, index=False, encoding="utf-8-sig")
        console.print(f"模板 template: {out} + {strata_path}（示例行请替换）")


def _print_change(change: Any, fmt: str) -> None:
    d = change.deduction
    if fmt == "json":
        _dump({
            "method": change.method, "start_tco2e": change.start.estimate_tco2e,
            "end_tco2e": change.end.estimate_tco2e, "change_tco2e": change.change_tco2e,
            "se_tco2e": change.se_tco2e, "df": change.df,
            "half_width_90_tco2e": change.half_width_tco2e, "uncertainty": d.uncertainty,
            "deduction_fraction": d.fraction, "conservative_change_tco2e": d.kept,
            "deduction_rule": {"name": d.rule.text, "source": d.rule.source, "status": d.rule.status},
            "trace": change.trace.to_dict(),
        })  # fmt: skip
        return
    u = "∞" if not math.isfinite(d.uncertainty) else f"{d.uncertainty:.1%}"
    console.print(
        f"碳储量变化 stock change ({change.method}): {change.start.estimate_tco2e:,.1f} → "
        f"{change.end.estimate_tco2e:,.1f} t CO2e, ΔC = {change.change_tco2e:,.1f} ± "
        f"{change.half_width_tco2e:,.1f} (90 %, df = {change.df:.0f}), U = {u}; "
        f"{d.fraction:.0%} of the half-width deducted ({d.rule.text}) → {d.kept:,.1f} t CO2e"
    )


@model_app.command("ex-post")
def ex_post_cmd(
    plots: Annotated[Path, typer.Option(help="样地数据 .xlsx（两个工作表）或 .csv")],
    strata: Annotated[Path | None, typer.Option(help="层面积 .csv（用 .csv 样地数据时）")] = None,
    start_plots: Annotated[
        Path | None,
        typer.Option(help="同一批样地的上次测定 / the previous measurement: the change"),
    ] = None,
    start_strata: Annotated[Path | None, typer.Option(help="上次测定的层面积 .csv")] = None,
    methodology: Annotated[
        str, typer.Option(help="扣减规则所属方法学 / whose deduction rule applies")
    ] = "AR-CM-003-V01",
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """样地实测碳储量（分层抽样，90% 置信区间，df = n − M）；给出上次测定时计算变化量 /
    ex-post carbon stock from plots; with --start-plots the change between two measurements."""
    from methodologies.expost import estimate, estimate_change
    from registry.plot_workbook import read_plot_workbook

    try:
        trees, areas = read_plot_workbook(plots, strata)
        if start_plots is not None:
            first, first_areas = read_plot_workbook(start_plots, start_strata)
            change = estimate_change(
                first, first_areas, trees, areas, methodology,
                exclude_pre_existing=methodology == "CCER-14-001-V01",
            )  # fmt: skip
        else:
            result = estimate(trees, areas)
    except MethodologyError as exc:
        raise _fail(exc) from exc
    except (OSError, ValueError) as exc:
        err.print(
            f"[bold red]错误[/] 无法读取样地数据 {plots}：{exc}\n[bold red]Error[/] cannot read the plot data: {exc}"
        )
        raise typer.Exit(1) from exc
    if start_plots is not None:
        _print_change(change, fmt)
        _warn_unverified([p.name for p in change.trace.unverified()])
        return
    if fmt == "json":
        payload = {
            "estimate_tco2e": result.estimate_tco2e,
            "se_tco2e": result.se_tco2e,
            "half_width_90_tco2e": result.half_width_tco2e,
            "uncertainty": result.uncertainty,
            "deduction_applied": result.deduction_applied,
            "conservative_tco2e": result.conservative_tco2e,
            "df": result.df,
            "strata": result.strata.to_dict(orient="records"),
            "trace": result.trace.to_dict(),
        }
        _dump(payload)
    else:
        table = Table(title="分层估计 stratified estimate (t CO2e/ha)")
        for name in ("stratum", "area ha", "plots", "mean", "sd", "±90%", "plots needed"):
            table.add_column(name)
        for r in result.strata.itertuples(index=False):
            table.add_row(str(r.stratum), f"{r.area_ha:,.1f}", str(r.n_plots),
                          f"{r.mean_tco2e_per_ha:.1f}", f"{r.sd_tco2e_per_ha:.1f}",
                          f"{r.half_width_tco2e_per_ha:.1f}", str(r.plots_needed))  # fmt: skip
        console.print(table)
        console.print(
            f"总计 total {result.estimate_tco2e:,.1f} t CO2e ± {result.half_width_tco2e:,.1f} "
            f"(90 %), uncertainty {result.uncertainty:.1%}; "
            + (
                f"[yellow]AR-TOOL14 App. 2: conservative value {result.conservative_tco2e:,.1f} t CO2e "
                "(credits come from the change between two measurements: tanhui project monitor)[/]"
                if result.deduction_applied
                else "≤10 %: no deduction"
            )
        )
    _warn_unverified([p.name for p in result.trace.unverified()])


@model_app.command("carbon-stock")
def carbon_stock_cmd(
    input: Annotated[
        Path, typer.Option("--input", help="CSV: stand_id,species_group,area_ha,volume_m3_per_ha")
    ],
    fmt: Annotated[str, typer.Option("--format", help="json | table")] = "json",
) -> None:
    """当前碳储量（林木地上+地下） / carbon stock of stands now, with the trace."""
    import pandas as pd

    from methodologies.stock import carbon_stock

    try:
        frame = pd.read_csv(input, encoding="utf-8-sig")
        rows = carbon_stock(frame)
    except MethodologyError as exc:
        raise _fail(exc) from exc
    except (OSError, ValueError) as exc:
        err.print(
            f"[bold red]错误[/] 无法读取 {input}：{exc}\n[bold red]Error[/] cannot read {input}: {exc}"
        )
        raise typer.Exit(1) from exc
    if fmt == "json":
        _dump(rows)
    else:
        table = Table(title="碳储量 carbon stock (t CO2e)")
        for name in ("stand", "group", "area ha", "t CO2e"):
            table.add_column(name)
        for r in rows:
            table.add_row(
                str(r["stand_id"]), r["species_group"], f"{r['area_ha']:.2f}", f"{r['tco2e']:,.2f}"
            )
        console.print(table)
    flagged = sorted({p for r in rows for p in r["trace"]["unverified_parameters"]})
    _warn_unverified(flagged)
