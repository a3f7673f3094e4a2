"""How an inventory import shows itself on the command line: progress bars, the report as a
table (and its files), and the outcome — shared by ``tanhui import-inventory`` and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from registry.cli.context import console, err_console, refuse
from registry.cli.exits import EXIT_REFUSED
from registry.errors import ImportRejected, RegistryError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gis_data import IssueReport
    from registry.actors import Actor
    from registry.stands import ImportOptions, ImportResult

__all__ = ["RichProgress", "print_report", "progress_bars", "run_import"]


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


def progress_bars() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


def print_report(report: IssueReport, limit: int = 30) -> None:
    """Print a report as a table: errors first, then repairs, then warnings."""
    from gis_data import Severity

    style_of = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.REPAIRED: "cyan"}
    if not len(report):
        return
    ordered = report.errors + report.repairs + report.warnings
    if console.width < 120:  # narrow terminal: one issue per paragraph reads better
        for issue in ordered[:limit]:
            style = style_of[issue.severity]
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
            f"[{style_of[issue.severity]}]{issue.severity.value}[/]",
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
    engine: Engine, path: Path, options: ImportOptions, report_dir: Path, actor: Actor
) -> ImportResult:
    """Import as ``actor`` through the service the API calls (:func:`registry.stands.import_as`,
    which checks the role), with a progress display and a written report; raises typer.Exit on
    refusal. A file the reader refused keeps the command line's own exit codes (2 bad usage,
    3 unreadable)."""
    from gis_data import GisDataError, InventoryIssue, IssueReport, Severity
    from gis_data.errors import UsageError
    from registry.errors import UnreadableFile
    from registry.stands import import_as

    with progress_bars() as bar:
        reporter = RichProgress(bar)
        try:
            try:
                result = import_as(engine, actor, path, options, reporter)
            except UnreadableFile as exc:  # the reader's own error, as the CLI reports it
                if isinstance(exc.__cause__, GisDataError):
                    raise exc.__cause__ from None
                raise
        except ImportRejected as exc:
            bar.stop()
            report = exc.report
            assert isinstance(report, IssueReport)
            print_report(report)
            csv_path, json_path = report.write(report_dir, Path(path).stem)
            err_console.print(f"[bold red]未导入[/] {exc.message_zh}")
            err_console.print(f"[bold red]Not imported[/] {exc.message_en}")
            err_console.print(f"报告 report: {csv_path} , {json_path}")
            raise typer.Exit(EXIT_REFUSED) from exc
        except (GisDataError, RegistryError) as exc:
            bar.stop()
            report = IssueReport(str(path))
            report.add(
                InventoryIssue(
                    severity=Severity.ERROR, source=str(path),
                    code="usage" if isinstance(exc, UsageError) else "unreadable",
                    problem_zh=exc.message_zh, problem_en=exc.message_en,
                    action_zh="见上", action_en="see above",
                )
            )  # fmt: skip
            csv_path, json_path = report.write(report_dir, Path(path).stem)
            err_console.print(f"报告 report: {csv_path} , {json_path}")
            raise refuse(exc) from exc
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
