"""``tanhui project …``: carbon-sink projects on the command line (thin shell over services).

The CLI acts as the local user named by ``tanhui --as USER`` (or ``TANHUI_USER``); its roles
and organisation come from the database, and the services decide what it may do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from methodologies.errors import MethodologyError
from registry.cli.context import console, ctx, err_console, refuse, refuse_input
from registry.cli.output import print_json, warn_unverified
from registry.db import session_scope
from registry.errors import RegistryError

if TYPE_CHECKING:
    import pandas as pd

    from registry.projects import Actor

__all__ = ["project_app"]

project_app = typer.Typer(help="碳汇项目 / carbon-sink projects.", no_args_is_help=True)
err = err_console

T = TypeVar("T")


def _fail(exc: RegistryError | MethodologyError) -> typer.Exit:
    return refuse(exc) if isinstance(exc, RegistryError) else refuse_input(exc)


def _act(work: Callable[[Session, Actor], T]) -> T:
    """Run one service call as the CLI's user in its own transaction; a refusal exits with its
    category's code."""
    engine = ctx.engine()
    try:
        with session_scope(engine) as session:
            return work(session, ctx.acting(session))
    except (RegistryError, MethodologyError) as exc:
        raise _fail(exc) from exc


@project_app.command("create")
def create_cmd(
    code: Annotated[str, typer.Option(help="项目编号 / project code")],
    name: Annotated[str, typer.Option(help="项目名称 / name")],
    methodology: Annotated[
        str, typer.Option(help="CCER-14-001-V01 | AR-CM-003-V01 | AR-CM-005-V01")
    ],
    developer: Annotated[str, typer.Option(help="项目业主 / developer")],
    start_date: Annotated[str, typer.Option(help="开始日期 YYYY-MM-DD")],
    years: Annotated[int, typer.Option(help="计入期 20–40 年")] = 30,
    planted_group: Annotated[str | None, typer.Option(help="造林树种组（造林项目）")] = None,
) -> None:
    """新建项目（草稿） / create a project in draft."""
    from registry.projects import create_project

    engine = ctx.engine()
    try:
        with session_scope(engine) as session:
            who = ctx.acting(session)
            create_project(session, who, code=code, name=name, methodology=methodology,
                           developer=developer, start_date=date.fromisoformat(start_date),
                           crediting_years=years, planted_group=planted_group)  # fmt: skip
    except (RegistryError, MethodologyError) as exc:
        raise _fail(exc) from exc
    console.print(f"[green]已创建项目 {code}（草稿）[/] project {code} created (draft)")


def _stands_cmd(add: bool, project: str, stands: str) -> None:
    from registry.projects import DoubleCounting, add_stands, remove_stands

    engine = ctx.engine()
    try:
        with session_scope(engine) as session:
            who = ctx.acting(session)
            if add:
                keys = add_stands(
                    session, who, project, stands, ctx.settings().overlap_tolerance_m2
                )
            else:
                keys = remove_stands(session, who, project, stands)
    except DoubleCounting as exc:
        err.print(
            f"[bold red]重复计量[/] {escape(exc.message_zh)}\n[bold red]Double counting[/] {escape(exc.message_en)}"
        )
        raise typer.Exit(1) from exc
    except (RegistryError, MethodologyError) as exc:
        raise _fail(exc) from exc
    verb = ("加入", "added") if add else ("移出", "removed")
    console.print(
        f"[green]{verb[0]} {len(keys)} 个小班[/] {verb[1]} {len(keys)} stands ({project})"
    )


@project_app.command("add-stands")
def add_stands_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    stands: Annotated[
        str, typer.Option(help="all | township=…,species_group=… | key=… | @keys.txt")
    ],
) -> None:
    """向草稿项目加入小班（防重复计量） / add stands to a draft (double-counting guard)."""
    _stands_cmd(True, project, stands)


@project_app.command("remove-stands")
def remove_stands_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    stands: Annotated[str, typer.Option(help="选择条件 / selection")],
) -> None:
    """从草稿项目移出小班 / remove stands from a draft."""
    _stands_cmd(False, project, stands)


@project_app.command("add-evidence")
def add_evidence_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    file: Annotated[
        Path,
        typer.Option(help="证据 .csv/.xlsx：stand_key, kind, item, value, observed_on, reference"),
    ],
) -> None:
    """加入适用条件证据（调查、影像、声明） / add dated observations and declarations (draft)."""
    from registry.plot_workbook import read_table
    from registry.projects import add_evidence

    try:
        rows = read_table(file)
    except (OSError, ValueError) as exc:
        err.print(
            f"[bold red]错误[/] 无法读取 {file}：{escape(str(exc))}\n[bold red]Error[/] cannot read {file}"
        )
        raise typer.Exit(1) from exc
    n = _act(lambda session, who: add_evidence(session, who, project, rows))
    console.print(f"[green]{project}: 已加入 {n} 条证据[/] {n} evidence rows added")


@project_app.command("check")
def check_cmd(project: Annotated[str, typer.Option(help="项目编号")]) -> None:
    """合格性与重复计量检查 / eligibility and double-counting report."""
    from registry.projects import check_project

    engine = ctx.engine()
    try:
        with session_scope(engine) as session:
            report = check_project(session, project, ctx.settings().overlap_tolerance_m2)
    except (RegistryError, MethodologyError) as exc:
        raise _fail(exc) from exc
    failed = report[~report["passed"]]
    console.print(f"{report['stand_id'].nunique()} 个小班 stands, {len(report)} 项检查 checks, "
                  f"{len(failed)} 项未通过 failed")  # fmt: skip
    if len(failed):
        table = Table(title="未通过 failed")
        for name in ("stand", "rule", "source", "reason"):
            table.add_column(name)
        for r in failed.head(50).itertuples(index=False):
            table.add_row(
                str(r.stand_id), str(r.rule), str(r.source), f"{r.reason_zh}\n{r.reason_en}"
            )
        console.print(table)
        raise typer.Exit(1)


def _transition_cmd(project: str, action: str, comment: str) -> None:
    from registry.projects import transition

    def run(session: Session, who: Actor) -> tuple[str, float | None]:
        p = transition(session, who, project, action, comment,
                       tolerance_m2=ctx.settings().overlap_tolerance_m2)  # fmt: skip
        return p.status, p.exante_total_tco2e

    status, total = _act(run)
    extra = (
        f"; ex-ante {total:,.0f} t CO2e frozen"
        if action == "register" and total is not None
        else ""
    )
    console.print(f"[green]{project}: {action} → {status}[/]{extra}")


def _make_transition(action: str, help_text: str) -> None:
    def command(
        project: Annotated[str, typer.Option(help="项目编号")],
        comment: Annotated[str, typer.Option(help="意见 / comment")] = "",
    ) -> None:
        _transition_cmd(project, action, comment)

    command.__doc__ = help_text
    project_app.command(action)(command)


_make_transition("submit", "提交审定 / submit for validation (bureau staff).")
_make_transition("validate", "审定通过 / validate (verifier).")
_make_transition("register", "登记并冻结事前估算 / register and freeze the ex-ante (admin).")


@project_app.command("reject")
def reject_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    reason: Annotated[str, typer.Option(help="退回理由 / reason")],
) -> None:
    """退回一步（须写理由） / reject with a reason: the project returns one step."""
    _transition_cmd(project, "reject", reason)


def _read_plots(plots: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tree list (sheet 1) and strata areas (sheet 2) of a plot workbook, canonical columns."""
    from registry.plot_workbook import read_plot_workbook

    try:
        trees, strata = read_plot_workbook(plots)
    except (OSError, ValueError) as exc:
        err.print(
            f"[bold red]错误[/] 无法读取 {plots}：{escape(str(exc))}\n[bold red]Error[/] cannot read {plots}"
        )
        raise typer.Exit(1) from exc
    return trees, strata


@project_app.command("measure-start")
def measure_start_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    plots: Annotated[Path, typer.Option(help="固定样地起始测定 .xlsx（每木检尺 + 层面积）")],
    measured_on: Annotated[str, typer.Option("--date", help="测定日期 YYYY-MM-DD")],
) -> None:
    """记录计入期开始时的固定样地测定 / record the permanent plots measured at the start."""
    from registry.projects import record_start_measurement

    trees, strata = _read_plots(plots)
    digest = _act(lambda session, who: record_start_measurement(
        session, who, project, date.fromisoformat(measured_on), trees, strata
    ).start_plots_digest)  # fmt: skip
    console.print(f"[green]{project}: 起始测定已记录 start measurement recorded[/] "
                  f"({trees['plot_id'].nunique()} plots, sha256 {str(digest)[:16]}…)")  # fmt: skip


@project_app.command("monitor")
def monitor_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    start: Annotated[str, typer.Option(help="监测期开始 YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="监测期结束 YYYY-MM-DD")],
    plots: Annotated[Path, typer.Option(help="样地数据 .xlsx（每木检尺 + 层面积）")],
) -> None:
    """提交监测报告（同一批固定样地复测，计算碳储量变化） / submit a monitoring period."""
    from registry.projects import submit_monitoring

    trees, strata = _read_plots(plots)
    factor = ctx.settings().plausibility_factor

    def run(session: Session, who: Actor) -> tuple[float, float | None, str, str]:
        period = submit_monitoring(session, who, project, date.fromisoformat(start),
                                   date.fromisoformat(end), trees, strata, factor)  # fmt: skip
        return (period.removals_tco2e, period.change_uncertainty, period.flags_json or "[]",
                period.provenance_json)  # fmt: skip

    removals, unc, flags_json, provenance = _act(run)
    u = "∞" if unc is None else f"{unc:.1%}"
    console.print(f"[green]{project}: 监测期已提交 monitoring period submitted[/] — net removals "
                  f"{removals:,.1f} t CO2e (uncertainty of the change {u})")  # fmt: skip
    warn_unverified(json.loads(provenance).get("unverified_parameters", []))
    for flag in json.loads(flags_json):
        err.print(
            f"[yellow]合理性检查 flagged[/] {escape(flag['message_zh'])}\n  {escape(flag['message_en'])}"
        )


@project_app.command("verify")
def verify_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    quantity: Annotated[float, typer.Option(help="核证量 t CO2e（≤ 计算值）")],
    comment: Annotated[str, typer.Option(help="核证意见")] = "",
    override_reason: Annotated[
        str,
        typer.Option(help="核证未通过合理性检查的监测期的理由 / reason to verify a flagged period"),
    ] = "",
) -> None:
    """核证监测期 / verify the open monitoring period (quantity ≤ computed removals)."""
    from registry.projects import verify_period

    _act(lambda session, who: verify_period(session, who, project, quantity, comment,
                                                         override_reason))  # fmt: skip
    console.print(f"[green]{project}: 核证 verified {quantity:,.3f} t CO2e[/]")


@project_app.command("assess-risk")
def assess_risk_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    buffer_pct: Annotated[float, typer.Option(help="缓冲比例 % / buffer share (0–100)")],
    reason: Annotated[str, typer.Option(help="评估依据 / basis of the assessment")],
) -> None:
    """评估非永久性风险 / the project's assessed risk: its issuances' buffer share (≥ the minimum)."""
    from registry.projects import assess_risk

    _act(lambda session, who: assess_risk(session, who, project, buffer_pct, reason))
    console.print(f"[green]{project}: 缓冲比例 buffer share {buffer_pct:g}%[/]")


@project_app.command("show")
def show_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """项目详情 / a project: status, area, stands, ex-ante, monitoring periods, history."""
    from registry.projects import project_summary

    engine = ctx.engine()
    try:
        with session_scope(engine) as session:
            info = project_summary(session, project).to_dict()
    except (RegistryError, MethodologyError) as exc:
        raise _fail(exc) from exc
    if fmt == "json":
        print_json(info)
        return
    console.print(
        f"[bold]{info['code']}[/] {info['name']} — {info['methodology']} — [bold]{info['status']}[/]"
    )
    console.print(f"业主 developer: {info['developer']}; 开始 start {info['start_date']}, "
                  f"计入期 {info['crediting_years']} 年 years; {info['stands']} 小班 stands, {info['area_ha']:,.1f} ha")  # fmt: skip
    if info["exante_total_tco2e"] is not None:
        console.print(
            f"事前估算（登记时冻结） ex-ante frozen at registration: {info['exante_total_tco2e']:,.0f} t CO2e"
        )
    if info["buffer_pct"] is not None:
        console.print(
            f"非永久性风险 assessed risk: 缓冲 buffer {info['buffer_pct']:g}%（不低于登记处最低比例 / at least the registry minimum）"
        )
    if info["start_measured_on"]:
        console.print(
            f"起始样地测定 start measurement: {info['start_measured_on']} (sha256 {info['start_plots_digest'][:16]}…)"
        )
    else:
        console.print(
            "[yellow]尚无起始样地测定 no start measurement yet (tanhui project measure-start)[/]"
        )
    if info["unverified_parameters"]:
        console.print(
            f"[yellow]{len(info['unverified_parameters'])} 个参数来源未核实 unverified parameters[/]"
        )
    if info["monitoring_periods"]:
        table = Table(title="监测期 monitoring periods (t CO2e)")
        for name in (
            "no",
            "from",
            "to",
            "status",
            "stock",
            "U change",
            "removals",
            "verified",
            "verifier",
        ):
            table.add_column(name)
        for p in info["monitoring_periods"]:
            u = p["change_uncertainty"]
            table.add_row(str(p["period"]), p["start"], p["end"], p["status"] + (" ⚑" if p["flags"] else ""),
                          f"{p['stock_tco2e']:,.0f}", "∞" if u is None else f"{u:.1%}", f"{p['removals_tco2e']:,.1f}",
                          "" if p["verified_tco2e"] is None else f"{p['verified_tco2e']:,.1f}", p["verifier"] or "")  # fmt: skip
        console.print(table)
        for p in info["monitoring_periods"]:
            for flag in p["flags"]:
                console.print(
                    f"[yellow]⚑ {p['period']}[/] {escape(flag['message_zh'])} / {escape(flag['message_en'])}"
                )
            if p["override_reason"]:
                console.print(f"  核证人说明 verifier's override: {escape(p['override_reason'])}")
    table = Table(title="历史 history")
    for name in ("time (UTC)", "actor", "role", "action", "from → to", "comment"):
        table.add_column(name)
    for h in info["history"]:
        table.add_row(
            (h["at"] or "")[:19],
            h["actor"],
            h["role"],
            h["action"],
            f"{h['from']} → {h['to']}",
            h["comment"],
        )
    console.print(table)


@project_app.command("list")
def list_cmd() -> None:
    """项目列表 / all projects."""
    from registry.projects.views import list_projects

    with ctx.reading() as session:
        rows = list_projects(session)
    table = Table(title="项目 projects")
    for name in ("code", "name", "methodology", "status", "stands", "ha", "ex-ante t CO2e"):
        table.add_column(name)
    for p in rows:
        total = p.exante_total_tco2e
        table.add_row(p.code, p.name, p.methodology, p.status, str(p.stands), f"{p.area_ha:,.1f}",
                      "" if total is None else f"{total:,.0f}")  # fmt: skip
    console.print(table)
