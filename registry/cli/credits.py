"""``tanhui credits …``: the credit ledger on the command line (thin shell over registry.ledger).

Every moving command takes ``--key`` (an idempotency key): repeat the command with the same key
after a failure and the credits move at most once. Without ``--key`` a new one is made and
printed, so the command can still be retried safely.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_FAILED, EXIT_USAGE
from registry.cli.output import print_json, print_table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["credits_app"]

credits_app = typer.Typer(help="碳汇积分账本 / the credit ledger.", no_args_is_help=True)
err = err_console

KeyOpt = Annotated[
    str | None, typer.Option("--key", help="幂等键：重试时用同一个 / idempotency key")
]
QtyOpt = Annotated[int | None, typer.Option("--quantity", help="数量（吨，取最早的序列号）")]
SerialsOpt = Annotated[
    str | None, typer.Option("--serials", help="序列号或区间 CN-…-000000001..000000100")
]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="只取该项目的积分")]


T = TypeVar("T")


def _run(call: Callable[[tuple[Session, str]], T], key: str | None) -> T:
    """Run a ledger call in one transaction with an idempotency key (made and shown if the
    command gave none, so that it can be retried safely)."""
    if key is None:  # a moving command without --key: make one and say it
        key = str(uuid.uuid4())
        err.print(f"幂等键 idempotency key: {key}（重试请用 --key {key}）")
    return ctx.run(lambda session: call((session, key)))


def _read(call: Callable[[Session], T]) -> T:
    """Run a view in a read-only transaction; a refusal exits with its code."""
    return ctx.read(call)


_show = print_json


def _date(text_: str) -> date:
    """A calendar date written YYYY-MM-DD; anything else is refused (exit 2, bad usage)."""
    try:
        return date.fromisoformat(text_.strip())
    except ValueError as exc:
        err.print(
            f"[bold red]拒绝[/] 日期 {escape(repr(text_))} 无效，应为 YYYY-MM-DD 格式的真实日期。\n"
            f"[bold red]Refused[/] {escape(repr(text_))} is not a date written YYYY-MM-DD."
        )
        raise typer.Exit(EXIT_USAGE) from exc


@credits_app.command("open-account")
def open_account_cmd(
    code: Annotated[str, typer.Option(help="账户代码")],
    name: Annotated[str, typer.Option(help="账户名称")],
    holder: Annotated[str, typer.Option(help="持有机构")],
    holder_kind: Annotated[
        str | None,
        typer.Option(
            help="机构类型 bureau/developer/buyer/bank/forest_owner/other（新机构默认 other）"
        ),
    ] = None,
    credit_code: Annotated[
        str | None, typer.Option(help="统一社会信用代码（18 位，GB 32100-2015 校验）")
    ] = None,
) -> None:
    """开立持有账户（买方、银行、业主） / open a holding account for an organisation (bureau
    staff or admin; a new holder's kind is granted by an admin only)."""
    from registry.ledger import open_account

    ctx.run(lambda s: open_account(s, ctx.acting(s), code, name, holder, holder_kind, credit_code))
    console.print(f"[green]账户 {code} 已开立[/] account {code} open")


@credits_app.command("issue")
def issue_cmd(
    project: Annotated[str, typer.Option(help="项目编号（已核证）")],
    buffer_pct: Annotated[
        float | None,
        typer.Option(
            help="缓冲比例 %：只能高于登记簿的最低比例（设置 TANHUI_BUFFER_PCT）；项目评估的风险更高时取后者"
            " / buffer share: at least the registry's minimum (settings), raised by the assessed risk"
        ),
    ] = None,
    key: KeyOpt = None,
) -> None:
    """签发已核证监测期的积分 / issue the verified period's credits (buffer share to the pool)."""
    from registry.issuance import issue

    minimum = ctx.settings().buffer_pct
    _show(
        _run(lambda sk: issue(sk[0], ctx.acting(sk[0]), project, sk[1], minimum, buffer_pct), key)
    )


@credits_app.command("transfer")
def transfer_cmd(
    from_account: Annotated[str, typer.Option("--from", help="转出账户")],
    to_account: Annotated[str, typer.Option("--to", help="转入账户")],
    quantity: QtyOpt = None,
    serials: SerialsOpt = None,
    project: ProjectOpt = None,
    key: KeyOpt = None,
) -> None:
    """转让积分 / transfer credits (a quantity or exact serials)."""
    from registry.ledger import transfer

    _show(
        _run(
            lambda sk: transfer(
                sk[0],
                ctx.acting(sk[0]),
                sk[1],
                from_account,
                to_account,
                quantity,
                serials,
                project,
            ),
            key,
        )
    )


@credits_app.command("retire")
def retire_cmd(
    account: Annotated[str, typer.Option(help="账户")],
    beneficiary: Annotated[str, typer.Option(help="受益方")],
    purpose: Annotated[str, typer.Option(help="用途")],
    on: Annotated[
        str | None, typer.Option("--date", help="退役日期 YYYY-MM-DD（默认今天） / default today")
    ] = None,
    quantity: QtyOpt = None,
    serials: SerialsOpt = None,
    project: ProjectOpt = None,
    key: KeyOpt = None,
) -> None:
    """退役（抵消）积分，生成证书编号 / retire credits; returns the certificate id."""
    from registry.ledger import retire

    day = None if on is None else _date(on)
    _show(_run(lambda sk: retire(sk[0], ctx.acting(sk[0]), sk[1], account, beneficiary, purpose,
                                 day, quantity, serials, project), key))  # fmt: skip


@credits_app.command("cancel")
def cancel_cmd(
    account: Annotated[str, typer.Option(help="账户（持有或缓冲池 BUFFER）")],
    reason: Annotated[str, typer.Option(help="原因，如 火灾 fire")],
    quantity: QtyOpt = None,
    serials: SerialsOpt = None,
    project: ProjectOpt = None,
    key: KeyOpt = None,
) -> None:
    """注销积分（火灾、采伐等逆转） / cancel credits after a reversal."""
    from registry.ledger import cancel

    _show(
        _run(
            lambda sk: cancel(
                sk[0], ctx.acting(sk[0]), sk[1], account, reason, quantity, serials, project
            ),
            key,
        )
    )


@credits_app.command("pledge")
def pledge_cmd(
    account: Annotated[str, typer.Option(help="出质账户")],
    bank: Annotated[str, typer.Option(help="银行账户")],
    loan_ref: Annotated[str, typer.Option(help="贷款合同号")],
    amount: Annotated[str, typer.Option(help="贷款金额（元）")],
    quantity: QtyOpt = None,
    serials: SerialsOpt = None,
    project: ProjectOpt = None,
    key: KeyOpt = None,
) -> None:
    """碳汇质押 / pledge credits to a bank as loan collateral."""
    from registry.ledger import pledge

    _show(
        _run(
            lambda sk: pledge(
                sk[0],
                ctx.acting(sk[0]),
                sk[1],
                account,
                bank,
                loan_ref,
                amount,
                quantity,
                serials,
                project,
            ),
            key,
        )
    )


@credits_app.command("release")
def release_cmd(pledge_id: Annotated[int, typer.Option("--pledge")], key: KeyOpt = None) -> None:
    """解除质押 / the bank releases a pledge."""
    from registry.ledger import release

    _show(_run(lambda sk: release(sk[0], ctx.acting(sk[0]), sk[1], pledge_id), key))


@credits_app.command("enforce")
def enforce_cmd(pledge_id: Annotated[int, typer.Option("--pledge")], key: KeyOpt = None) -> None:
    """质权实现：积分转给银行 / the bank enforces a pledge."""
    from registry.ledger import enforce

    _show(_run(lambda sk: enforce(sk[0], ctx.acting(sk[0]), sk[1], pledge_id), key))


@credits_app.command("blocks")
def blocks_cmd(account: Annotated[str | None, typer.Option(help="账户")] = None) -> None:
    """积分块 / live serial blocks: of one account (its organisation's users, or staff), or of
    every account (staff) — the API's rule."""
    from registry.listings import visible_blocks

    rows = _read(lambda s: visible_blocks(s, ctx.acting(s), account))
    print_table(
        "积分块 serial blocks",
        rows,
        ("account", "serials", "quantity", "state", "pledge", "labels"),
    )


@credits_app.command("show")
def show_cmd(
    account: Annotated[str | None, typer.Option(help="账户（不填则显示全账本）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """账本概览或账户对账单 / the ledger at a glance, or one account's statement, as the acting
    user may read them (the API's rule): staff every account, others their organisation's
    accounts and the pledges they gave or took; the totals per project and vintage are public."""
    from registry.listings import account_statement, ledger_overview

    result = (
        _read(lambda s: ledger_overview(s, ctx.acting(s)))
        if account is None
        else _read(lambda s: account_statement(s, ctx.acting(s), account)).to_dict()
    )
    if as_json:
        _show(result)
    elif account is None:
        print_table(
            "项目与年份 projects and vintages (t CO2e)",
            result["projects"],
            (
                "project",
                "vintage",
                "issued",
                "active",
                "pledged",
                "retired",
                "cancelled",
                "in_buffer",
            ),
        )
        print_table(
            "账户 accounts (t CO2e)",
            result["accounts"],
            ("account", "holder", "holder_kind", "active", "pledged", "retired", "cancelled"),
        )
        print_table(
            "生效中的质押 pledges in force",
            result["pledges"],
            ("pledge", "holder", "bank", "loan_ref", "amount_yuan", "quantity"),
        )
    else:
        a = result["account"]
        console.print(
            f"[bold]{escape(a['code'])}[/] {escape(a['name'])} · {a['kind']} · 持有机构 holder "
            f"{escape(a['holder'])} ({a['holder_kind']}, {a['holder_credit_code'] or '无信用代码 no credit code'})"
            f" · 开户 opened {a['opened'][:10]}"
        )
        print_table(
            "余额 balance (t CO2e)",
            [result["balance"]],
            ("active", "pledged", "retired", "cancelled"),
        )
        print_table(
            "积分块 serial blocks",
            result["blocks"],
            ("serials", "quantity", "state", "pledge", "labels"),
        )
        print_table(
            "质押 pledges",
            result["pledges"],
            ("pledge", "holder", "bank", "loan_ref", "amount_yuan", "quantity", "status"),
        )
        print_table(
            "退役 retirements",
            result["retirements"],
            ("certificate", "beneficiary", "purpose", "retired_on", "quantity"),
        )


@credits_app.command("certificate")
def certificate_cmd(
    certificate_id: Annotated[str, typer.Option("--id", help="退役证书编号 RC-…")],
    pdf: Annotated[
        Path | None,
        typer.Option("--pdf", help="另存为双语 PDF 证书 / also write the bilingual PDF"),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", help="登记簿公开网址（PDF 二维码用） / public address, for the QR"
        ),
    ] = None,
) -> None:
    """退役证书 / a retirement certificate, with the audit event that recorded it; ``--pdf``
    writes the same certificate as the web page's PDF (its QR code points to
    ``<base-url>/certificates/<id>``; without ``--base-url`` the PDF has no QR code)."""
    from registry.ledger import certificate

    found = _read(lambda s: certificate(s, certificate_id))
    _show(found)
    if pdf is not None:
        from registry.certificate_pdf import certificate_pdf
        from registry.public.ledger import public_certificate

        public = _read(lambda s: public_certificate(s, certificate_id))
        url = f"{base_url.rstrip('/')}/certificates/{found.certificate}" if base_url else None
        body = ctx.run_plain(lambda: certificate_pdf(public, url, ctx.settings().registry_name))
        pdf.write_bytes(body)
        err.print(f"PDF 证书 certificate PDF: {escape(str(pdf))}")


@credits_app.command("balance")
def balance_cmd(account: Annotated[str, typer.Option(help="账户")]) -> None:
    """余额（按状态） / balance of an account by state (its organisation's users, or staff)."""
    from registry.listings import account_balance

    _show(_read(lambda s: account_balance(s, ctx.acting(s), account)))


@credits_app.command("history")
def history_cmd(serial: Annotated[str, typer.Option(help="序列号")]) -> None:
    """一个序列号的全部流转 / every move one serial ever made."""
    from registry.ledger import history

    moves = _read(lambda s: history(s, serial))
    _show({"serial": serial, "moves": [m.to_dict() for m in moves]})


@credits_app.command("check")
def check_cmd() -> None:
    """校验账本不变量 / check the ledger's invariants."""
    from registry.ledger import check_invariants
    from registry.ledger.replay import replay

    problems = _read(check_invariants)
    report = _read(replay)
    for p in problems:
        err.print(f"[bold red]✗[/] {escape(p)}")
    for d in report.differences:
        err.print(f"[bold red]✗[/] {escape(d.describe())}")
    if problems or not report.ok:
        raise typer.Exit(EXIT_FAILED)
    console.print(
        f"[green]账本一致[/] ledger invariants hold; the tables equal the audit log's replay "
        f"({report.n_events} events)"
    )


@credits_app.command("batch")
def batch_cmd(
    file: Annotated[
        Path, typer.Argument(help="CSV：kind,from,to,quantity,serials,project,beneficiary,purpose")
    ],
    retired_on: Annotated[
        str | None, typer.Option("--date", help="退役日期 YYYY-MM-DD（默认今天）")
    ] = None,
    key: KeyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """批量转让/退役：整批要么全部执行，要么一行不动 / many transfers and retirements at once,
    all or nothing (a refused batch names every bad line)."""
    from registry.cli.context import refuse
    from registry.errors import BatchRefused
    from registry.ledger.batch import execute_batch, read_batch_csv

    try:
        content = file.read_bytes()
    except OSError as exc:
        err.print(f"[bold red]错误[/] 读不到文件 {escape(str(file))}\n[bold red]Error[/] cannot read {escape(str(file))}: {escape(exc.strerror or '')}")  # fmt: skip
        raise typer.Exit(EXIT_USAGE) from exc
    try:
        text_ = content.decode("utf-8-sig")
    except UnicodeDecodeError as utf8:
        try:  # a bureau's Excel export (GBK), read strictly: never a guessed character
            text_ = content.decode("gb18030")
        except UnicodeDecodeError:
            err.print(f"[bold red]拒绝[/] 文件 {escape(str(file))} 既不是 UTF-8 也不是 GBK/GB18030（第 {utf8.start} 字节起无法解码），什么都没有改变。\n"
                      f"[bold red]Refused[/] {escape(str(file))} is neither UTF-8 nor GBK/GB18030 (undecodable from byte {utf8.start}); nothing changed.")  # fmt: skip
            raise typer.Exit(EXIT_USAGE) from None
    day = _date(retired_on) if retired_on else None
    try:
        lines, problems = read_batch_csv(text_)
    except BatchRefused as exc:  # no header, no lines, too many lines
        raise refuse(exc) from exc
    if key is None:
        key = str(uuid.uuid4())
        err.print(f"幂等键 idempotency key: {key}（重试请用 --key {key}）")
    batch_key = key
    done = ctx.run(lambda s: execute_batch(s, ctx.acting(s), batch_key, lines, day, problems),
                   report=_bad_lines)  # fmt: skip
    if as_json:
        print_json(done)
        return
    moves = done.moves
    console.print(f"[green]批量已执行 batch done[/]: {done.n_moves:,} moves, {done.quantity:,} t "
                  f"({sum(m.kind == 'transfer' for m in moves):,} transfers, "
                  f"{sum(m.kind == 'retire' for m in moves):,} retirements); moves SHA-256 {done.moves_sha256[:16]}…"
                  + (" [yellow](replayed: the first result; nothing moved)[/]" if done.replayed else ""))  # fmt: skip
    print_table("前 20 行 first 20 moves", [{"line": m.line, "kind": m.kind, "from": m.account, "to": m.to,
                "t": m.quantity, "serials": " ".join(m.serials), "certificate": m.certificate} for m in moves[:20]],
                ("line", "kind", "from", "to", "t", "serials", "certificate"))  # fmt: skip


def _bad_lines(exc: Exception) -> None:
    """A refused batch's bad lines, as a table (the first 200; the API's report has them all)."""
    problems = getattr(exc, "problems", [])
    if problems:
        print_table("有误的行 bad lines", [{"line": p["line"], "问题": p["message_zh"], "problem": p["message_en"]}
                                           for p in problems[:200]], ("line", "问题", "problem"), err)  # fmt: skip
    if len(problems) > 200:
        err.print(f"… 另有 {len(problems) - 200} 行 more")
