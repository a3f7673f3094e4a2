"""``tanhui compensation rules | roster | approve | pay | export | owners …``: benefit-sharing
rules, payment rosters and owners' identities on the command line (a thin shell over
registry.compensation). :func:`register` adds the commands to the ``compensation`` group."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from registry.cli.context import console, ctx, err_console, refuse
from registry.cli.output import print_json, print_table
from registry.errors import Invalid

__all__ = ["owners_app", "register"]

owners_app = typer.Typer(help="林权权利人身份信息 / owners' identities (private).",
                         no_args_is_help=True)  # fmt: skip


def _amount(text: str) -> Decimal:
    """An amount in yuan, written with at most two decimals (whole fen)."""
    if not re.fullmatch(r"\d{1,13}(\.\d{1,2})?", text.strip()):
        raise refuse(Invalid(f"金额 {text!r} 应为精确到分的元数（如 73410.00）。",
                             f"amount {text!r} must be yuan in whole fen (e.g. 73410.00)."))  # fmt: skip
    return Decimal(text.strip())


def _show_roster(view: Any, as_json: bool) -> None:
    if as_json:
        print_json(view.to_dict())
        return
    method = view.method
    console.print(
        f"名册 roster {view.id}：项目 {escape(view.project)} 第 {view.period} 期，规则第 "
        f"{view.rule_version} 版，金额 {view.amount} 元，状态 {view.status}"
    )
    console.print(f"明细摘要 lines SHA-256：{view.lines_sha256}（审批时用 --expect 核对 / give it to "
                  "approve --expect）")  # fmt: skip
    rows = [{"line": ln["line"], "party": ln["party"], "payee": ln["payee"],
             "stands": len(ln["stands"]), "basis": ln["figures"].get(method.get("basis", ""), ""),
             "amount": ln["amount"]} for ln in view.lines]  # fmt: skip
    for ln, row in zip(view.lines, rows, strict=True):
        fig = ln["figures"]
        row["basis"] = {"removals": fig.get("removals_tco2e"), "area": fig.get("area_ha"),
                        "trees": fig.get("trees"), "shares": fig.get("shares")}.get(
            method.get("basis", ""), "") if ln["owner_id"] is not None else fig.get("share", "")  # fmt: skip
    print_table("发放名册 roster", rows, ("line", "party", "payee", "stands", "basis", "amount"))
    if method.get("removals_rule"):
        console.print(escape(method["removals_rule"]))
    if method.get("owners_at"):
        console.print(escape(method["owners_at"]))
    if method.get("unverified"):
        err_console.print("[yellow]注意：规则的数值未经官方文件核实 / NOTE: the rule's "
                          "figures are unverified[/]")  # fmt: skip


def rules_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    preset: Annotated[
        str | None, typer.Option(help="预设：anji/sanming/guizhou/hunan-shares/per-mu")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            help="规则 JSON 文件（shares, basis, owner_shares, cap_per_owner…），或覆盖预设的字段"
        ),
    ] = None,
    show: Annotated[bool, typer.Option("--list", help="只列出各版本，不新建")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """收益分配规则：新建一版（预设或文件）或列出各版本 / make a new version of a project's
    benefit-sharing rule (from a preset and/or a JSON file), or --list the versions."""
    from registry.compensation.presets import preset_rule
    from registry.compensation.rules import RuleSpec, create_rule, list_rules, rule_object

    if show:
        rules = ctx.read(lambda s: list_rules(s, ctx.acting(s), project))
        print_json([r.to_dict() for r in rules])
        return
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise refuse(Invalid(f"无法读取规则文件 {file}：{exc}",
                                 f"cannot read the rule file {file}: {exc}")) from exc  # fmt: skip
    if preset is None and file is None:
        raise refuse(Invalid("请给出 --preset 或 --file。", "give --preset or --file."))
    if file is not None:  # the file must hold an object (not a list, a text or null)
        raw = ctx.run_plain(lambda: rule_object(raw, "规则文件 / the rule file"))
    spec = ctx.run_plain(lambda: preset_rule(preset, raw) if preset else RuleSpec.build(raw))
    stored = ctx.run(lambda s: create_rule(s, ctx.acting(s), project, spec))
    if as_json:
        print_json(stored.to_dict())
    else:
        console.print(f"[green]项目 {escape(project)} 收益分配规则第 {stored.version} 版已建立[/] "
                      f"rule version {stored.version} made")  # fmt: skip
    if spec.unverified:
        err_console.print("[yellow]注意：规则的数值未经官方文件核实 / NOTE: the rule's "
                          "figures are unverified[/]")  # fmt: skip


def roster_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    period: Annotated[int, typer.Option(help="监测期序号（已核证）")],
    amount: Annotated[str, typer.Option(help="分配金额（元，精确到分，如 售出量 × 价格）")],
    rule: Annotated[int | None, typer.Option(help="规则版本（默认最新）")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """编制（或重编草稿）发放名册 / prepare (or re-prepare a draft) payment roster."""
    from registry.compensation.rosters import prepare_roster

    money = _amount(amount)
    view = ctx.run(lambda s: prepare_roster(s, ctx.acting(s), project, period, money, rule))
    _show_roster(view, as_json)


def show_cmd(
    roster: Annotated[int, typer.Option("--roster", help="名册编号")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """查看发放名册 / show a payment roster (bureau staff or admin)."""
    from registry.compensation.rosters import roster_view

    _show_roster(ctx.read(lambda s: roster_view(s, ctx.acting(s), roster)), as_json)


def approve_cmd(
    roster: Annotated[int, typer.Option("--roster", help="名册编号")],
    expect: Annotated[
        str | None,
        typer.Option(help="查看名册时显示的明细摘要（lines SHA-256）；不符则拒绝审批"),
    ] = None,
) -> None:
    """审批发放名册（管理员）；--expect 为查看时的明细摘要，名册此后被改动则拒绝 / approve a
    payment roster (admin); --expect: the lines' digest you read (refused if it changed)."""
    from registry.compensation.rosters import approve_roster

    view = ctx.run(lambda s: approve_roster(s, ctx.acting(s), roster, expect))
    console.print(f"[green]名册 {view.id} 已审批[/] roster {view.id} approved ({view.amount} 元)")
    console.print(f"所审批的明细摘要 lines SHA-256 approved：{view.lines_sha256}")


def pay_cmd(
    roster: Annotated[int, typer.Option("--roster", help="名册编号")],
    reference: Annotated[str, typer.Option(help="付款凭证号（银行批次号）")],
) -> None:
    """登记已发放（管理员） / record a roster as paid, with the payment reference (admin)."""
    from registry.compensation.rosters import pay_roster

    view = ctx.run(lambda s: pay_roster(s, ctx.acting(s), roster, reference))
    console.print(f"[green]名册 {view.id} 已登记发放[/] roster {view.id} paid, ref "
                  f"{escape(reference)}")  # fmt: skip


def export_cmd(
    roster: Annotated[int, typer.Option("--roster", help="名册编号")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx | bank-csv | notice")],
    out: Annotated[Path, typer.Option(help="输出目录")] = Path("."),
) -> None:
    """导出名册：Excel、银行代发 CSV（通用列：户名, 卡号, 金额, 附言 —— 各银行模板不同，需对应）、
    公示名单（CSV 与 HTML，姓名与证件号已遮蔽） / export a roster."""
    from registry.compensation.exports import export_roster, write_exports

    files = ctx.run(lambda s: export_roster(s, ctx.acting(s), roster, fmt))  # logs private ones
    for path in write_exports(files, out):
        console.print(f"[green]已写出[/] written {escape(str(path))}")
    if fmt == "bank-csv":
        err_console.print("银行代发文件列为通用格式（户名, 卡号, 金额, 附言），请按开户银行模板调整 / "
                          "the bank file's columns are generic: map them to your bank's template.")  # fmt: skip


@owners_app.command("import")
def owners_import_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="身份信息 CSV 或 XLSX（姓名, 身份证号/统一社会信用代码, 开户行, 银行卡号, 电话）"
        ),
    ],
) -> None:
    """导入权利人身份证号与银行卡（逐行核验；有错行则一行不写） / import owners' identities
    (every row checked; nothing written when any row is bad)."""
    from registry.compensation.owners import import_identities

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise refuse(Invalid(f"无法读取 {file}：{exc}", f"cannot read {file}: {exc}")) from exc
    done = ctx.run(lambda s: import_identities(s, ctx.acting(s), data, file.name))
    console.print(f"[green]已导入 {done.rows} 行[/] imported {done.rows} rows: {done.added} new, "
                  f"{done.replaced} replaced")  # fmt: skip


@owners_app.command("link")
def owners_link_cmd(
    owner: Annotated[str, typer.Option(help="权利人名称（已登记）")],
    user: Annotated[str, typer.Option(help="用户名（forest_owner 角色）")],
) -> None:
    """关联权利人与用户（管理员），使其可查看本人补偿款 / link an owner to a forest owner's
    user (admin), who then sees the owner's payments."""
    from registry.compensation.owners import link_owner

    ctx.run(lambda s: link_owner(s, ctx.acting(s), owner, user))
    console.print(f"[green]用户 {escape(user)} 已关联权利人 {escape(owner)}[/] linked")


@owners_app.command("payments")
def owners_payments_cmd() -> None:
    """本人（已关联的权利人）的补偿款 / the acting forest owner's own payments."""
    from registry.compensation.rosters import my_payments

    print_json(ctx.read(lambda s: my_payments(s, ctx.acting(s))))


def register(app: typer.Typer) -> None:
    """Add the commands to ``app`` (the ``compensation`` group)."""
    app.command("rules")(rules_cmd)
    app.command("roster")(roster_cmd)
    app.command("show")(show_cmd)
    app.command("approve")(approve_cmd)
    app.command("pay")(pay_cmd)
    app.command("export")(export_cmd)
    app.add_typer(owners_app, name="owners")
