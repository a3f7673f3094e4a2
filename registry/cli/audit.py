"""``tanhui audit …`` and ``tanhui db …``: the audit log's chain, and the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_FAILED, EXIT_USAGE

__all__ = ["audit_app", "db_app"]

audit_app = typer.Typer(help="审计日志 / audit log.", no_args_is_help=True)
db_app = typer.Typer(help="数据库 / database.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify_cmd(
    checkpoint: Annotated[
        Path | None, typer.Option(help="再对照一个签署的检查点 / also check a signed checkpoint")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="检查点的公钥 / the checkpoint's public key")
    ] = None,
) -> None:
    """校验审计日志哈希链（可对照检查点；局工作人员与核证机构） / verify the audit log's hash
    chain (and a checkpoint): staff and verifiers, as over the API."""
    from registry.listings import audit_verification

    if checkpoint is not None:
        _verify_checkpoint(checkpoint, public_key)
        return
    report = ctx.read(lambda s: audit_verification(s, ctx.acting(s)))
    if report.ok:
        console.print(
            f"[green]审计链完整[/]：{report.n_events} 个事件 / audit chain OK: "
            f"{report.n_events} events, head {report.head_hash[:16]}…"
        )
        return
    err_console.print(f"[bold red]审计链被破坏[/]：{report.problem_zh}")
    err_console.print(f"[bold red]Audit chain BROKEN[/]: {report.problem_en}")
    raise typer.Exit(EXIT_FAILED)


def _verify_checkpoint(path: Path, public_key: Path | None) -> None:
    from registry.checkpoints import check_checkpoint, load_checkpoint

    signing = ctx.settings().checkpoint_key
    key = public_key or (None if signing is None else signing.with_name(signing.name + ".pub"))
    if key is None:
        err_console.print(
            "[bold red]拒绝[/] 请用 --public-key 指定检查点的公钥。\n"
            "[bold red]Refused[/] name the checkpoint's public key with --public-key."
        )
        raise typer.Exit(EXIT_USAGE)
    found = ctx.run_plain(lambda: load_checkpoint(path))
    with ctx.reading() as session:
        check = ctx.run_plain(lambda: check_checkpoint(session, found, key))
    if check.ok:
        console.print(f"[green]{escape(check.message_zh)}[/]\n[green]{escape(check.message_en)}[/]")
        return
    err_console.print(
        f"[bold red]✗[/] {escape(check.message_zh)}\n[bold red]✗[/] {escape(check.message_en)}"
    )
    raise typer.Exit(EXIT_FAILED)


@audit_app.command("log")
def audit_log_cmd(limit: Annotated[int, typer.Option(help="条数 / how many")] = 20) -> None:
    """最近的审计事件（局工作人员与核证机构） / the latest audit events (staff and verifiers, as
    over the API)."""
    from registry.listings import audit_page

    page = ctx.read(lambda s: audit_page(s, ctx.acting(s), limit, 0))
    table = Table(title=f"审计日志 / audit log ({len(page.items)} / {page.total})")
    for heading in ("seq", "time (UTC)", "actor", "action", "entity", "hash"):
        table.add_column(heading)
    for ev in page.items:
        table.add_row(
            str(ev["seq"]), str(ev["occurred_at"])[:19], escape(ev["actor"]), ev["action"],
            escape(f"{ev['entity_type']}:{ev['entity_id']}"), ev["hash"][:16] + "…",
        )  # fmt: skip
    console.print(table)


@db_app.command("upgrade")
def db_upgrade_cmd() -> None:
    """建立或升级数据库结构（升级前请备份） / create or upgrade the schema (Alembic).

    On PostgreSQL it runs as the tables' owner (TANHUI_MIGRATION_DATABASE_URL) when that is set.
    """
    from registry.db import make_engine, migrate

    settings = ctx.settings()
    engine = make_engine(settings.migration_database_url or settings.database_url)
    migrate(engine)
    console.print(
        f"[green]数据库已是最新[/] schema up to date: {engine.url.render_as_string(hide_password=True)}"
    )


@db_app.command("grant")
def db_grant_cmd(
    role: Annotated[str, typer.Option(help="应用使用的数据库角色 / the application's role")],
) -> None:
    """PostgreSQL：授予应用角色所需的最小权限（以表的所有者运行） / grant the application's
    role what it needs and no more (run as the tables' owner)."""
    from registry.db import grant_application_role, make_engine

    settings = ctx.settings()
    engine = make_engine(settings.migration_database_url or settings.database_url)
    ctx.run_plain(lambda: grant_application_role(engine, role))
    console.print(
        f"[green]已授权[/] {role}: SELECT, INSERT and the ledger's own UPDATEs; no DELETE, "
        "TRUNCATE or ownership — the guards stay in force"
    )


@audit_app.command("replay")
def audit_replay_cmd() -> None:
    """从审计日志重建账本并与数据表比对 / rebuild the ledger from the audit log alone and
    compare it with the tables (every difference, with the ids involved)."""
    from registry.ledger.replay import replay

    with ctx.reading() as session:
        report = replay(session)
    if report.ok:
        console.print(
            f"[green]数据表与审计日志一致[/] the tables equal the replay of {report.n_events} "
            "ledger events"
        )
        return
    for d in report.differences:
        err_console.print(f"[bold red]✗[/] {escape(d.describe())}")
    err_console.print(
        f"[bold red]{len(report.differences)} 处不一致[/] differences between the tables and the log"
    )
    raise typer.Exit(EXIT_FAILED)


@audit_app.command("keygen")
def audit_keygen_cmd(
    out: Annotated[
        Path, typer.Option(help="私钥文件（放在数据库及其备份之外） / private key file")
    ],
) -> None:
    """生成检查点签名密钥（Ed25519） / make the key that signs audit checkpoints."""
    from registry.checkpoints import generate_key

    public = ctx.run_plain(lambda: generate_key(out))
    console.print(
        f"[green]私钥 private key[/] {out}（仅本人可读 owner-only）; 公钥 public key {public}"
    )


@audit_app.command("checkpoint")
def audit_checkpoint_cmd(
    key: Annotated[
        Path | None, typer.Option(help="签名私钥（默认 TANHUI_CHECKPOINT_KEY） / signing key")
    ] = None,
    out: Annotated[Path, typer.Option(help="检查点输出目录 / where the file goes")] = Path(
        "checkpoints"
    ),
) -> None:
    """签署审计链的链头（检查点），供他人留存 / sign the audit chain's head for others to keep."""
    from registry.checkpoints import make_checkpoint

    settings = ctx.settings()
    signing_key = key or settings.checkpoint_key
    if signing_key is None:
        err_console.print(
            "[bold red]拒绝[/] 未指定签名私钥（--key 或 TANHUI_CHECKPOINT_KEY）。\n"
            "[bold red]Refused[/] no signing key (--key or TANHUI_CHECKPOINT_KEY)."
        )
        raise typer.Exit(EXIT_USAGE)
    checkpoint = ctx.run(
        lambda s: make_checkpoint(s, signing_key, settings.registry_name, ctx.acting(s))
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"checkpoint-{checkpoint.seq:09d}.json"
    path.write_text(checkpoint.to_json(), encoding="utf-8")
    console.print(
        f"[green]检查点已签署[/] checkpoint signed: event {checkpoint.seq}, hash "
        f"{checkpoint.hash[:16]}…, key {checkpoint.key_id} → {path}"
    )
