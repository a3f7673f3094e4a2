"""``tanhui audit …`` and ``tanhui db …``: the audit log's chain, and the schema."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_FAILED

__all__ = ["audit_app", "db_app"]

audit_app = typer.Typer(help="审计日志 / audit log.", no_args_is_help=True)
db_app = typer.Typer(help="数据库 / database.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify_cmd() -> None:
    """校验审计日志哈希链 / verify the audit log's hash chain."""
    from registry.audit import verify_chain

    with ctx.reading() as session:
        report = verify_chain(session)
    if report.ok:
        console.print(
            f"[green]审计链完整[/]：{report.n_events} 个事件 / audit chain OK: "
            f"{report.n_events} events, head {report.head_hash[:16]}…"
        )
        return
    err_console.print(f"[bold red]审计链被破坏[/]：{report.problem_zh}")
    err_console.print(f"[bold red]Audit chain BROKEN[/]: {report.problem_en}")
    raise typer.Exit(EXIT_FAILED)


@audit_app.command("log")
def audit_log_cmd(limit: Annotated[int, typer.Option(help="条数 / how many")] = 20) -> None:
    """最近的审计事件 / the latest audit events."""
    from registry.audit import latest_events

    with ctx.reading() as session:
        events = latest_events(session, limit)
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
    """建立或升级数据库结构（升级前请备份） / create or upgrade the schema (Alembic)."""
    from registry.db import make_engine, migrate

    engine = make_engine(ctx.settings().database_url)
    migrate(engine)
    console.print(f"[green]数据库已是最新[/] schema up to date: {engine.url.render_as_string()}")
