"""``tanhui monitor …``: remote-sensing monitoring (遥感监测) on the command line — a thin shell
over :mod:`registry.remote_sensing`: scenes, zonal statistics over stands, disturbance
detection, the flags' review and the confirmed reversals."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from registry.cli.context import console, ctx, err_console
from registry.cli.output import print_json, print_table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["monitor_app"]

monitor_app = typer.Typer(help="遥感监测 / remote-sensing monitoring of the stands.",
                          no_args_is_help=True)  # fmt: skip
scenes_app = typer.Typer(help="遥感影像 / registered scenes.", no_args_is_help=True)
monitor_app.add_typer(scenes_app, name="scenes")

JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON")]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="项目编号 / project code")]


@contextmanager
def _bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error fed by ``progress(done, total)`` callbacks."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                   console=err_console, transient=True)  # fmt: skip
    task = bar.add_task(description, total=None)

    def report(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield report


def _scene(session: Session, value: str, on: date | None, role: str) -> str:
    """A scene name as given, or a file registered (with its date) and its new name."""
    from registry.remote_sensing.scenes import register_scene

    path = Path(value)
    if not path.is_file():
        return value
    if on is None:
        from registry.errors import Invalid

        raise Invalid(f"{value} 是文件：请用 --{role}-date 给出成像日期。",
                      f"{value} is a file: give its acquisition date with --{role}-date.")  # fmt: skip
    return register_scene(session, ctx.acting(session), path, on).name


@scenes_app.command("add")
def scenes_add_cmd(
    file: Annotated[Path, typer.Argument(help="GeoTIFF（单波段指数，如 NDVI）")],
    on: Annotated[str, typer.Option("--date", help="成像日期 YYYY-MM-DD / acquisition date")],
    name: Annotated[str | None, typer.Option(help="影像名称（默认文件名） / scene name")] = None,
    index: Annotated[str, typer.Option(help="指数 ndvi|nbr|evi")] = "ndvi",
) -> None:
    """登记遥感影像（局工作人员、管理员） / register a scene (stored by its SHA-256)."""
    from registry.remote_sensing.scenes import register_scene

    when = _date(on)
    scene = ctx.run(lambda s: register_scene(s, ctx.acting(s), file, when, name, index))
    verb = "已登记过 already registered" if scene.replayed else "已登记 registered"
    console.print(f"[green]{verb}[/] {escape(scene.name)} {scene.acquired_on} "
                  f"{scene.width}×{scene.height} sha256 {scene.sha256}")  # fmt: skip


@scenes_app.command("list")
def scenes_list_cmd(as_json: JsonOpt = False) -> None:
    """已登记的影像 / the registered scenes."""
    from registry.remote_sensing.scenes import list_scenes

    found = ctx.read(lambda s: list_scenes(s, ctx.acting(s)))
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    print_table("遥感影像 scenes", found, ("name", "acquired_on", "index", "width", "height",
                                          "sha256", "created_by"))  # fmt: skip


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        from registry.cli.context import refuse
        from registry.errors import Invalid

        raise refuse(Invalid(f"日期 {text!r} 不是 YYYY-MM-DD。", f"date {text!r} is not YYYY-MM-DD.")) from None  # fmt: skip


@monitor_app.command("zonal")
def zonal_cmd(
    raster: Annotated[str, typer.Option(help="影像名称或文件 / scene name or file")],
    stat: Annotated[
        list[str] | None, typer.Option("--stat", help="mean|pNN|frac_above|valid_share")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="frac_above 的阈值")] = None,
    project: ProjectOpt = None,
    out: Annotated[Path | None, typer.Option(help="写入 CSV / write a CSV")] = None,
) -> None:
    """小班栅格统计（精确面积加权） / exact-area-weighted zonal statistics over the stands."""
    from registry.remote_sensing.zonal import zonal_for_stands

    if out is not None and not out.parent.is_dir():  # before the work, not after it
        from registry.cli.context import refuse
        from registry.errors import Invalid

        raise refuse(Invalid(f"输出文件夹 {out.parent} 不存在：请先创建它或换一个 --out。",
                             f"the output folder {out.parent} does not exist: create it first or "
                             "choose another --out."))  # fmt: skip
    with _bar("小班统计 zonal") as progress:
        table = ctx.read(lambda s: zonal_for_stands(s, ctx.acting(s), raster, stat or [],
                                                    threshold, project, progress))  # fmt: skip
    if out is not None:
        try:
            table.to_csv(out, index=False, encoding="utf-8")
        except OSError as exc:
            from registry.cli.context import refuse
            from registry.errors import Invalid

            raise refuse(Invalid(f"无法写入 {out}：{exc.strerror}。",
                                 f"cannot write {out}: {exc.strerror}.")) from None  # fmt: skip
        console.print(f"[green]已写入 written[/] {escape(str(out))}（{len(table)} 个小班 stands）")
        return
    print_table(f"小班统计 zonal statistics · {raster}", [{str(k): v for k, v in r.items()} for r in table.head(50).to_dict("records")],
                tuple(str(c) for c in table.columns))  # fmt: skip
    if len(table) > 50:
        console.print(f"… 另有 {len(table) - 50} 个小班 more stands (--out CSV)")


@monitor_app.command("disturbances")
def disturbances_cmd(
    before: Annotated[str, typer.Option(help="前期影像名称或文件 / before scene or file")],
    after: Annotated[str, typer.Option(help="后期影像名称或文件 / after scene or file")],
    before_date: Annotated[str | None, typer.Option(help="前期文件的成像日期")] = None,
    after_date: Annotated[str | None, typer.Option(help="后期文件的成像日期")] = None,
    drop: Annotated[float, typer.Option(help="指数下降阈值 / index drop")] = 0.06,
    min_patch: Annotated[float, typer.Option(help="最小斑块 m²")] = 400.0,
    min_stand: Annotated[float, typer.Option(help="小班最小受扰面积 m²")] = 400.0,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """两期影像间的扰动检测（局工作人员、管理员） / detect disturbances between two dates."""
    from gis_data.disturbance import DetectionParameters
    from registry.remote_sensing.runs import run_detection

    params = DetectionParameters(drop=drop, min_patch_m2=min_patch, min_stand_m2=min_stand)
    on_before = None if before_date is None else _date(before_date)
    on_after = None if after_date is None else _date(after_date)

    def work(s: Session, progress: Callable[[int, int], None]) -> Any:
        first = _scene(s, before, on_before, "before")
        second = _scene(s, after, on_after, "after")
        return run_detection(s, ctx.acting(s), first, second, params, project, progress)

    with _bar("扰动检测 detection") as progress:
        run = ctx.run(lambda s: work(s, progress))
    if as_json:
        print_json(run)
        return
    console.print(f"运行 run {run.id}: {escape(run.before)} → {escape(run.after)} · "
                  f"{run.stands_checked} 个小班 stands · 标记 flagged {run.flagged} · "
                  f"未观测 unobserved {run.unobserved}")  # fmt: skip
    rows = [{"flag": f.id, "stand": f.stand_key, "project": f.project or "—",
             "disturbed_ha": f"{f.stats.get('disturbed_ha') or 0:.3f}",
             "share": f"{f.stats.get('disturbed_share') or 0:.1%}",
             "mean_change": f"{f.stats.get('disturbed_mean_change') or 0:+.3f}",
             "evidence": f.evidence_sha256[:12]} for f in run.flags]  # fmt: skip
    print_table("扰动标记 flags", rows, ("flag", "stand", "project", "disturbed_ha", "share",
                                         "mean_change", "evidence"))  # fmt: skip
    err_console.print(f"[yellow]{escape(run.note)}[/]")


@monitor_app.command("flags")
def flags_cmd(
    project: ProjectOpt = None,
    status: Annotated[str | None, typer.Option(help="open|confirmed|dismissed")] = None,
    evidence: Annotated[
        Path | None, typer.Option(help="把某标记的证据图写到此 PNG（配合 --flag）")
    ] = None,
    flag: Annotated[int | None, typer.Option(help="标记编号（配合 --evidence）")] = None,
    as_json: JsonOpt = False,
) -> None:
    """扰动标记 / the disturbance flags (and one flag's evidence map)."""
    from registry.remote_sensing.runs import flag_evidence, list_flags

    if evidence is not None and flag is not None:
        png = ctx.read(lambda s: flag_evidence(s, ctx.acting(s), flag))
        evidence.write_bytes(png)
        console.print(f"[green]已写入 written[/] {escape(str(evidence))}")
        return
    found = ctx.read(lambda s: list_flags(s, ctx.acting(s), project, status))
    if as_json:
        print_json([f.to_dict() for f in found])
        return
    rows = [{"flag": f.id, "run": f.run_id, "stand": f.stand_key, "project": f.project or "—",
             "dates": f"{f.before_on} → {f.after_on}", "status": f.status,
             "share": f"{f.stats.get('disturbed_share') or 0:.1%}",
             "reviewed_by": f.reviewed_by or ""} for f in found]  # fmt: skip
    print_table("扰动标记 flags", rows, ("flag", "run", "stand", "project", "dates", "status",
                                         "share", "reviewed_by"))  # fmt: skip


@monitor_app.command("review")
def review_cmd(
    flag: Annotated[int, typer.Argument(help="标记编号 / flag id")],
    reason: Annotated[str, typer.Option(help="理由 / reason")],
    confirm: Annotated[bool, typer.Option("--confirm", help="确认为逆转")] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="驳回")] = False,
    cause: Annotated[str | None, typer.Option(help="fire|pests|felling|wind|other")] = None,
    on: Annotated[str | None, typer.Option("--date", help="事件日期 YYYY-MM-DD")] = None,
    key: Annotated[str | None, typer.Option("--key", help="幂等键 / idempotency key")] = None,
    as_json: JsonOpt = False,
) -> None:
    """复核扰动标记（独立核证机构） / review a flag: confirm (cancel from the buffer) or dismiss."""
    from registry.remote_sensing.reversals import review_flag

    if confirm == dismiss:
        from registry.cli.context import refuse
        from registry.errors import Invalid

        raise refuse(
            Invalid(
                "请选择 --confirm 或 --dismiss 之一。", "choose one of --confirm and --dismiss."
            )
        )
    if key is None:
        key = str(uuid.uuid4())
        err_console.print(f"幂等键 idempotency key: {key}（重试请用 --key {key}）")
    when = None if on is None else _date(on)
    decision = "confirm" if confirm else "dismiss"
    k = key
    result = ctx.run(lambda s: review_flag(s, ctx.acting(s), k, flag, decision, reason, cause,
                                           when))  # fmt: skip
    if as_json:
        print_json(result)
        return
    _print_review(result)


def _print_review(result: Any) -> None:
    """A review in words: the decision, and for a confirmation R1–R6's figures, the ledger's
    cancellation and the unverified notes (``--json`` for everything)."""
    again = "（重放，未再变动 replayed, nothing moved again）" if result.replayed else ""
    console.print(f"标记 flag {result.flag_id}: {result.decision} → {result.status}{again}")
    r = result.reversal
    if r is None:
        return
    console.print(
        f"小班 stand {escape(r.stand_key)} · 项目 project {escape(r.project)} · "
        f"{escape(r.cause)} · {r.event_date}\n"
        f"  受扰比例 f (R1) = {r.f:.4f}\n"
        f"  物理损失 L_phys (R2) = {r.l_phys:,.2f} ± {r.l_phys * r.u:,.2f} t CO2e\n"
        f"  已计入 C (R3) = {r.credited_c:,.2f} t CO2e\n"
        f"  逆转 L (R4) = {r.loss:,.2f} ± {r.loss * r.u:,.2f} t CO2e (U = {r.u:.1%}, R5)\n"
        f"  注销 Q (R6) = {r.quantity:,} 信用 credits: 本项目缓冲 own {r.own:,} · "
        f"缓冲池 pool {r.pool:,} · 欠缓冲池 debt {r.debt:,} · 缺口 shortfall {r.shortfall:,}\n"
        f"  账本操作 ledger op: {r.op_id if r.op_id is not None else '—'}"
    )
    for note in r.notes:
        err_console.print(f"[yellow]未经核实 UNVERIFIED:[/] {escape(note)}")


@monitor_app.command("reversals")
def reversals_cmd(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """已确认的逆转 / the confirmed reversals (credits cancelled from the buffer pool)."""
    from registry.remote_sensing.reversals import reversals_of

    found = ctx.read(lambda s: reversals_of(s, project))
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    rows = [{"flag": r.flag_id, "project": r.project, "stand": r.stand_key, "cause": r.cause,
             "date": r.event_date, "L": f"{r.loss:,.2f} ± {r.loss * r.u:,.2f}",
             "Q": r.quantity, "own": r.own, "pool": r.pool, "debt": r.debt,
             "op": r.op_id or "—"} for r in found]  # fmt: skip
    print_table("逆转 reversals (t CO2e; Q credits)", rows,
                ("flag", "project", "stand", "cause", "date", "L", "Q", "own", "pool", "debt", "op"))  # fmt: skip
    for note in dict.fromkeys(n for r in found for n in r.notes):
        err_console.print(f"[yellow]未经核实 UNVERIFIED:[/] {escape(note)}")
