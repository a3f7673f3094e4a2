"""The ``tanhui`` command line: a thin shell over the registry services."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from gis_data import GisDataError, InventoryIssue, IssueReport, Severity, load_profile
from gis_data.checks import KEY_CHOICES
from gis_data.errors import UsageError
from gis_data.write import EXPORT_FORMATS, write_stands
from registry.audit import verify_chain
from registry.db import make_engine, migrate, session_scope
from registry.errors import ImportRejected, RegistryError
from registry.settings import Settings
from registry.stands import ImportOptions, ImportResult, import_inventory

__all__ = ["app", "main"]

app = typer.Typer(
    help="碳汇 tanhui — 森林碳汇登记系统 / forest carbon-sink registry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stands_app = typer.Typer(help="小班查询与导出 / query and export stands.", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志 / audit log.", no_args_is_help=True)
db_app = typer.Typer(help="数据库 / database.", no_args_is_help=True)
app.add_typer(stands_app, name="stands")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")


def _add_model_commands() -> None:
    from registry.cli_credits import credits_app
    from registry.cli_model import model_app
    from registry.cli_project import project_app

    app.add_typer(model_app, name="model")
    app.add_typer(project_app, name="project")
    app.add_typer(credits_app, name="credits")


_add_model_commands()

# piped output (logs, CI) gets 120 columns so tables stay readable; a terminal keeps its width
console = Console() if sys.stdout.isatty() or "COLUMNS" in os.environ else Console(width=120)
err_console = Console(stderr=True)
# exit codes of every command (README "Exit codes"): 0 done; 1 refused, with a report (nothing
# written); 2 bad usage (an option missing or wrong); 3 unreadable input or a failure
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_FAILED = 3


class _State:
    database_url: str | None = None


state = _State()


@app.callback()
def _main(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="TANHUI_DATABASE_URL",
            help="SQLAlchemy URL (default sqlite:///tanhui.sqlite, a SpatiaLite file).",
        ),
    ] = None,
) -> None:
    state.database_url = database_url


def _settings() -> Settings:
    settings = Settings()
    if state.database_url:
        settings = settings.model_copy(update={"database_url": state.database_url})
    return settings


def _engine(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


class RichProgress:
    """Draws the services' progress stages as rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def stage(self, description: str, total: int | None = None) -> None:
        if self.task is not None:
            task = self.progress.tasks[-1]
            self.progress.update(self.task, completed=task.total or 1, total=task.total or 1)
        self.task = self.progress.add_task(description, total=total)

    def advance(self, units: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, units)

    def finish(self) -> None:
        self.stage("完成 done", total=1)
        self.progress.update(self.task, completed=1)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


def _usage(zh: str, en: str) -> typer.Exit:
    err_console.print(f"[bold red]用法错误[/] {zh}")
    err_console.print(f"[bold red]Bad usage[/] {en}")
    return typer.Exit(EXIT_USAGE)


def _fail(exc: GisDataError | RegistryError, code: int = EXIT_FAILED) -> typer.Exit:
    err_console.print(f"[bold red]错误[/] {exc.message_zh}")
    err_console.print(f"[bold red]Error[/] {exc.message_en}")
    return typer.Exit(code)


SEVERITY_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.REPAIRED: "cyan"}


def print_report(report: IssueReport, limit: int = 30) -> None:
    """Print a report as a table: errors first, then repairs, then warnings."""
    if not len(report):
        return
    ordered = report.errors + report.repairs + report.warnings
    if console.width < 120:  # narrow terminal: one issue per paragraph reads better
        for issue in ordered[:limit]:
            style = SEVERITY_STYLE[issue.severity]
            console.print(f"[{style}]•[/] {issue.describe()}", highlight=False)
        _print_tail(report, ordered, limit)
        return
    table = Table(title=f"检查报告 / check report: {report.source}", show_lines=False)
    for col in (
        "级别 level",
        "记录 record",
        "小班 stand",
        "字段 field",
        "问题 problem",
        "处理 action",
    ):
        table.add_column(col, overflow="fold")
    for issue in ordered[:limit]:
        table.add_row(
            f"[{SEVERITY_STYLE[issue.severity]}]{issue.severity.value}[/]",
            "" if issue.record is None else str(issue.record),
            issue.key or "",
            issue.source_field or issue.field or "",
            f"{issue.problem_zh}\n{issue.problem_en}",
            f"{issue.action_zh}\n{issue.action_en}",
        )
    console.print(table)
    _print_tail(report, ordered, limit)


def _print_tail(report: IssueReport, ordered: list[Any], limit: int) -> None:
    if len(ordered) > limit:
        console.print(
            f"… 另有 {len(ordered) - limit} 条 / {len(ordered) - limit} more in the report file"
        )
    counts = report.counts()
    console.print(
        f"错误 errors: {counts['error']}  警告 warnings: {counts['warning']}  "
        f"修复 repairs: {counts['repaired']}"
    )


def run_import(
    engine: Engine, path: Path, options: ImportOptions, report_dir: Path
) -> ImportResult:
    """Import with a progress display and a written report; raises typer.Exit on refusal."""
    with _progress() as bar:
        reporter = RichProgress(bar)
        try:
            result = import_inventory(engine, path, options, reporter)
        except ImportRejected as exc:
            bar.stop()
            report = exc.report
            assert isinstance(report, IssueReport)
            print_report(report)
            csv_path, json_path = report.write(report_dir, Path(path).stem)
            err_console.print(f"[bold red]未导入[/] {exc.message_zh}")
            err_console.print(f"[bold red]Not imported[/] {exc.message_en}")
            err_console.print(f"报告 report: {csv_path} , {json_path}")
            raise typer.Exit(EXIT_REJECTED) from exc
        except (GisDataError, RegistryError) as exc:
            bar.stop()
            code = EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILED
            report = IssueReport(str(path))
            report.add(
                InventoryIssue(
                    severity=Severity.ERROR, source=str(path),
                    code="usage" if code == EXIT_USAGE else "unreadable",
                    problem_zh=exc.message_zh, problem_en=exc.message_en,
                    action_zh="见上", action_en="see above",
                )
            )  # fmt: skip
            csv_path, json_path = report.write(report_dir, Path(path).stem)
            err_console.print(f"报告 report: {csv_path} , {json_path}")
            raise _fail(exc, code) from exc
        reporter.finish()
    print_report(result.report, limit=10)
    if len(result.report):
        csv_path, _ = result.report.write(report_dir, Path(path).stem)
        console.print(f"报告 report: {csv_path}")
    messages = {
        "imported": (
            f"已导入批次 {result.batch_id}：新增 {result.n_new}，更新 {result.n_changed}，"
            f"未变 {result.n_unchanged}",
            f"imported as batch {result.batch_id}: {result.n_new} new, {result.n_changed} "
            f"changed (new versions), {result.n_unchanged} unchanged",
        ),
        "already_imported": (
            f"该文件已作为批次 {result.batch_id} 导入，未做任何更改",
            f"this file was already imported as batch {result.batch_id}; nothing changed",
        ),
        "unchanged": (
            f"{result.n_records} 个小班与已登记的完全相同，未做任何更改",
            f"all {result.n_records} stands equal the registered ones; nothing changed",
        ),
    }
    zh, en = messages[result.status]
    console.print(f"[green]{zh}[/]\n[green]{en}[/]")
    if result.n_retired or result.links:
        console.print(
            f"注销 {result.n_retired} 个不在新调查中的小班（保留历史）；小班关联 {len(result.links)} 条 / "
            f"retired {result.n_retired} stands missing from the new inventory (history kept); "
            f"{len(result.links)} lineage links"
        )
        for old, new, kind in result.links[:10]:
            console.print(f"  {old} → {new or '—'} ({kind})")
    return result


@app.command("import-inventory")
def import_inventory_cmd(
    path: Annotated[Path, typer.Argument(help="Shapefile (.shp or .zip), GeoPackage or GeoJSON")],
    profile: Annotated[
        Path | None, typer.Option(help="字段配置 CSV / field profile (default: 二类调查)")
    ] = None,
    crs: Annotated[
        str | None, typer.Option(help="坐标系，如 EPSG:4525 / CRS, e.g. EPSG:4525")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="属性表编码，如 GBK / attribute encoding, e.g. GBK")
    ] = None,
    inventory_year: Annotated[int | None, typer.Option(help="调查年度 / inventory year")] = None,
    fix_geometry: Annotated[
        bool,
        typer.Option(help="用 make_valid 修复无效图形并列出每处修复 / repair invalid geometry"),
    ] = False,
    overlap_tolerance: Annotated[
        float | None, typer.Option(help="重叠容差（平方米） / overlap tolerance in m²")
    ] = None,
    report_dir: Annotated[Path, typer.Option(help="报告目录 / where reports go")] = Path(
        "import_reports"
    ),
    layer: Annotated[
        str | None, typer.Option(help="GeoPackage/FileGDB 图层名 / layer of a GPKG or FileGDB")
    ] = None,
    codes: Annotated[
        Path | None,
        typer.Option(help="本县代码表 CSV（field,code,meaning） / county code table"),
    ] = None,
    area_unit: Annotated[
        str | None, typer.Option(help="面积单位 ha|mu（亩） / unit of 面积: ha or mu")
    ] = None,
    slope_unit: Annotated[
        str | None, typer.Option(help="坡度为 deg（度）或 class（坡度级） / slope in deg or class")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="小班编号字段，逗号分隔 / stand key fields, e.g. "
            "county_code,township,compartment,subcompartment,fine_stand"
        ),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(
            help="更新范围 township|village|county|stands（默认：文件中的乡镇） / what the file "
            "covers (default: its townships)"
        ),
    ] = None,
    retire_missing: Annotated[
        bool,
        typer.Option(
            help="注销范围内不在文件中的已登记小班（保留历史） / retire registered stands of the "
            "scope that the file no longer holds (history kept)"
        ),
    ] = False,
) -> None:
    """导入小班调查数据 / import a 小班 inventory (all checks, all-or-nothing, re-run safe)."""
    settings = _settings()
    key_fields = tuple(k.strip() for k in key.split(",") if k.strip()) if key else None
    for value, allowed, name in (
        (area_unit, ("ha", "mu"), "--area-unit"),
        (slope_unit, ("deg", "class"), "--slope-unit"),
        (scope, ("township", "village", "county", "stands"), "--scope"),
    ):
        if value is not None and value not in allowed:
            raise _usage(f"{name} 须为 {' | '.join(allowed)}，而不是 {value!r}",
                         f"{name} must be one of {' | '.join(allowed)}, not {value!r}")  # fmt: skip
    for field in key_fields or ():
        if field not in KEY_CHOICES:
            raise _usage(f"--key 中的 {field!r} 不是可用字段：{', '.join(KEY_CHOICES)}",
                         f"--key: {field!r} is not one of {', '.join(KEY_CHOICES)}")  # fmt: skip
    options = ImportOptions(
        crs=crs,
        encoding=encoding,
        profile=profile,
        inventory_year=inventory_year,
        fix_geometry=fix_geometry,
        overlap_tolerance_m2=(
            settings.overlap_tolerance_m2 if overlap_tolerance is None else overlap_tolerance
        ),
        area_tolerance_pct=settings.area_tolerance_pct,
        actor=settings.actor,
        layer=layer,
        codes=codes,
        area_unit=area_unit,
        slope_unit=slope_unit,
        key=key_fields,
        scope=scope,
        retire_missing=retire_missing,
    )
    try:
        engine = _engine(settings)
    except RegistryError as exc:
        raise _fail(exc) from exc
    run_import(engine, path, options, report_dir)


@app.command("sample-data")
def sample_data_cmd(
    out: Annotated[Path, typer.Option(help="输出目录 / output folder")],
    stands: Annotated[int, typer.Option(help="小班数 / number of stands")] = 50_000,
    seed: Annotated[int, typer.Option(help="随机种子 / random seed")] = 431123,
    yizhangtu: Annotated[
        bool,
        typer.Option(
            help="另写林地一张图风格（代码值）的 FileGDB 及一份后续调查 / also write the coded "
            "一张图 style as FileGDB, plus a later inventory with splits, merges and removals"
        ),
    ] = False,
) -> None:
    """生成双牌县合成小班数据 / write the synthetic Shuangpai inventory (Shapefile GBK + GPKG)."""
    from gis_data.sample import write_sample_inventory

    with console.status(f"生成 {stands} 个合成小班 generating {stands} synthetic stands"):
        t0 = time.perf_counter()
        paths = write_sample_inventory(out, stands, seed, yizhangtu=yizhangtu)
    console.print(
        f"[green]已生成合成样例数据（非真实调查）[/] SYNTHETIC sample written in "
        f"{time.perf_counter() - t0:.1f} s:"
    )
    for kind, p in paths.items():
        console.print(f"  {kind}: {p}")


def _print_frame(frame: Any, title: str, fmt: str) -> None:
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
        return
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "fi" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(
            *[f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
              for v in row]
        )  # fmt: skip
    console.print(table)


@stands_app.command("summary")
def stands_summary_cmd(
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """面积与蓄积汇总（树种组×龄组、乡镇） / area and volume by species × age group and township."""
    from registry.queries import stands_summary

    engine = _engine(_settings())
    with session_scope(engine) as session:
        summary = stands_summary(session)
    if fmt == "json":
        payload = {
            "by_species_age": summary.by_species_age.to_dict(orient="records"),
            "by_township": summary.by_township.to_dict(orient="records"),
            "totals": summary.totals,
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    _print_frame(summary.by_species_age, "树种组 × 龄组 / species group × age group (ha, m³)", fmt)
    _print_frame(summary.by_township, "乡镇 / township (ha, m³)", fmt)
    if fmt == "table":
        t = summary.totals
        console.print(
            f"合计 total: {t['stands']:,.0f} 小班 stands, {t['area_ha']:,.1f} ha, "
            f"{t['volume_m3']:,.0f} m³"
        )


@stands_app.command("export")
def stands_export_cmd(
    out: Annotated[Path, typer.Option(help="输出文件 / output file")],
    fmt: Annotated[str, typer.Option("--format", help="gpkg | geojson | shp | xlsx")] = "gpkg",
    profile: Annotated[Path | None, typer.Option(help="字段配置 / field profile")] = None,
) -> None:
    """导出当前小班 / export the current stands (re-importable through the same profile)."""
    from registry.queries import current_stands_frame, export_frame

    if fmt not in EXPORT_FORMATS:
        err_console.print(f"格式须为 / format must be one of: {', '.join(EXPORT_FORMATS)}")
        raise typer.Exit(2)
    engine = _engine(_settings())
    with session_scope(engine) as session:
        stands = current_stands_frame(session)
    frame = export_frame(stands, load_profile(profile))
    if fmt == "xlsx":
        frame["AREA_HA_CALC"] = stands["area_ha"].values
        frame["SPECIES_GROUP"] = stands["species_group"].values
    path = write_stands(frame, out, fmt)
    console.print(f"[green]已导出 {len(frame)} 个小班[/] exported {len(frame)} stands → {path}")


@stands_app.command("history")
def stands_history_cmd(
    key: Annotated[str, typer.Argument(help="小班编号 县-林班-小班")],
    fmt: Annotated[str, typer.Option("--format", help="json | text")] = "json",
) -> None:
    """小班历史版本与拆分/合并关联 / every version of one stand, with its splits and merges."""
    from registry.queries import lineage_lines, stand_history

    engine = _engine(_settings())
    with session_scope(engine) as session:
        history = stand_history(session, key)
    if not history:
        err_console.print(f"未找到小班 {key!r} / no stand {key!r}")
        raise typer.Exit(EXIT_REJECTED)
    if fmt == "text":
        for v in history:
            state = (
                "现行 current"
                if v["is_current"]
                else f"已被批次 {v['superseded_by_batch_id']} 取代 superseded"
            )
            console.print(
                f"v{v['version']} 批次 batch {v['batch_id']} ({v['source']}): "
                f"{v['area_ha']:.4f} ha, {v['land_class']}, {v['species']} — {state}"
            )
        for line in lineage_lines(history, key):
            console.print(line)
        return
    sys.stdout.write(json.dumps(history, ensure_ascii=False, indent=2) + "\n")


@audit_app.command("verify")
def audit_verify_cmd() -> None:
    """校验审计日志哈希链 / verify the audit log's hash chain."""
    engine = _engine(_settings())
    with session_scope(engine) as session:
        report = verify_chain(session)
    if report.ok:
        console.print(
            f"[green]审计链完整[/]：{report.n_events} 个事件 / audit chain OK: "
            f"{report.n_events} events, head {report.head_hash[:16]}…"
        )
        return
    err_console.print(f"[bold red]审计链被破坏[/]：{report.problem_zh}")
    err_console.print(f"[bold red]Audit chain BROKEN[/]: {report.problem_en}")
    raise typer.Exit(EXIT_REJECTED)


@audit_app.command("log")
def audit_log_cmd(limit: Annotated[int, typer.Option(help="条数 / how many")] = 20) -> None:
    """最近的审计事件 / the latest audit events."""
    from sqlalchemy import select
    from sqlmodel import col

    from registry.models import AuditEvent

    engine = _engine(_settings())
    with session_scope(engine) as session:
        events = (
            session.execute(select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit))
            .scalars()
            .all()
        )
    table = Table(title="审计日志 / audit log")
    for heading in ("seq", "time (UTC)", "actor", "action", "entity", "hash"):
        table.add_column(heading)
    for ev in events:
        table.add_row(
            str(ev.id), ev.occurred_at, ev.actor, ev.action,
            f"{ev.entity_type}:{ev.entity_id}", ev.hash[:16] + "…",
        )  # fmt: skip
    console.print(table)


@db_app.command("upgrade")
def db_upgrade_cmd() -> None:
    """建立或升级数据库结构 / create or upgrade the schema (Alembic)."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    console.print(f"[green]数据库已是最新[/] schema up to date: {engine.url.render_as_string()}")


@app.command("demo")
def demo_cmd(
    workdir: Annotated[Path, typer.Option(help="工作目录 / working folder")] = Path("demo_output"),
    stands: Annotated[int, typer.Option(help="小班数 / number of stands")] = 50_000,
) -> None:
    """演示：生成、导入、汇总 / the main job on the embedded SpatiaLite default."""
    from registry.demo import run_demo

    run_demo(workdir, stands, state.database_url, console)


def main() -> None:
    from methodologies.errors import MethodologyError

    try:
        app()
    except UsageError as exc:
        err_console.print(
            f"[bold red]用法错误[/] {exc.message_zh}\n[bold red]Bad usage[/] {exc.message_en}"
        )
        sys.exit(EXIT_USAGE)
    except (GisDataError, RegistryError, MethodologyError) as exc:
        err_console.print(
            f"[bold red]错误[/] {exc.message_zh}\n[bold red]Error[/] {exc.message_en}"
        )
        sys.exit(EXIT_FAILED)
