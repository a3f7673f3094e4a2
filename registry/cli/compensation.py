"""``tanhui compensation …``: eco-compensation on the command line (thin shell over
registry.compensation). This module holds the valuation's commands (``value``, ``prices``,
``loans``); other compensation commands add themselves to :data:`compensation_app` from
modules of their own."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_USAGE
from registry.cli.output import print_json

__all__ = ["compensation_app", "prices_app"]

compensation_app = typer.Typer(
    help="生态补偿：估值、价格情景、质押贷款 / eco-compensation: valuation, prices, loans.",
    no_args_is_help=True,
)
prices_app = typer.Typer(help="碳价情景 / carbon price scenarios.", no_args_is_help=True)
compensation_app.add_typer(prices_app, name="prices")

JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
PremiumOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--premium", help="标签溢价 CODE=百分比，可重复 / label uplift CODE=PCT, repeatable"
    ),
]


# bilingual column headings (zh-CN first) of the fields shown
HEADINGS = {
    "scenario": "情景 scenario", "name": "名称 name", "market": "市场 market",
    "price_status": "来源 source", "status": "来源 source", "price_yuan": "元/吨 yuan/t",
    "price_date": "价格日期 date", "growth_pct": "年增长 % growth", "id": "编号 id",
    "source": "出处 where", "exante_value_yuan": "事前价值 ex-ante", "npv_yuan": "净现值 NPV",
    "verified_value_yuan": "已核证 verified", "holder_value_yuan": "持有人 holder",
    "label_premium_yuan": "标签溢价 label premium",
    "carbon_yuan_per_mu_year": "碳汇 元/亩/年 carbon", "per_mu_standard_yuan": "标准 元/亩/年 standard",
    "pays_more": "哪个更多 pays more", "year": "年 year", "t": "t", "credits_tco2e": "t CO2e",
    "term_yuan": "现值 present value", "pledge": "质押 pledge", "loan_ref": "贷款合同 loan",
    "bank": "银行 bank", "pledged_on": "质押日 pledged", "quantity": "数量 credits",
    "amount_yuan": "贷款 元 loan", "value_yuan": "价值 元 value", "ltv": "贷款价值比 LTV",
    "flags": "提示 flags",
}  # fmt: skip
_RIGHT = {"price_yuan", "exante_value_yuan", "npv_yuan", "verified_value_yuan", "holder_value_yuan",
          "label_premium_yuan", "carbon_yuan_per_mu_year", "per_mu_standard_yuan", "term_yuan",
          "credits_tco2e", "quantity", "amount_yuan", "value_yuan", "ltv"}  # fmt: skip


def _table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """Rows as a Rich table with bilingual headings."""
    table = Table(title=title)
    for name in columns:
        table.add_column(HEADINGS.get(name, name), justify="right" if name in _RIGHT else "left")
    for row in rows:
        cells = []
        for name in columns:
            value = row[name]
            if isinstance(value, list | tuple):
                value = "; ".join(str(v) for v in value)
            cells.append(escape("" if value is None else str(value)))
        table.add_row(*cells)
    console.print(table)


def _usage(zh: str, en: str) -> typer.Exit:
    err_console.print(f"[bold red]用法错误[/] {escape(zh)}\n[bold red]Bad usage[/] {escape(en)}")
    return typer.Exit(EXIT_USAGE)


def _date(text_: str) -> date:
    try:
        return date.fromisoformat(text_.strip())
    except ValueError as exc:
        raise _usage(
            f"日期 {text_!r} 无效，应为 YYYY-MM-DD。",
            f"{text_!r} is not a date written YYYY-MM-DD.",
        ) from exc


def _premiums(given: list[str] | None) -> dict[str, str]:
    from registry.compensation.valuation import parse_premium_pairs

    return ctx.run_plain(lambda: parse_premium_pairs(given or []))


def _notes(notes: tuple[str, ...]) -> None:
    for note in notes:
        err_console.print(f"[yellow]注意 / NOTE[/] {escape(note)}")


def _warn(unverified: tuple[str, ...]) -> None:
    for note in unverified:
        err_console.print(f"[yellow]注意 / NOTE[/] 未核实 unverified: {escape(note)}")


@compensation_app.command("value")
def value_cmd(
    project: Annotated[str, typer.Option(help="项目编号 / project code")],
    scenario: Annotated[
        str | None, typer.Option(help="价格情景名称（默认全部） / price scenario (default: all)")
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            help="折现率，小数（0.05 = 5%；默认 0.08，未核实） / discount rate, a fraction"
        ),
    ] = None,
    per_mu: Annotated[
        str | None,
        typer.Option(
            "--per-mu", help="每亩补偿标准 元/亩/年（默认 30，未核实） / yuan per 亩 per year"
        ),
    ] = None,
    premium: PremiumOpt = None,
    on: Annotated[
        str | None, typer.Option("--date", help="估值日 YYYY-MM-DD（默认今天） / valuation date")
    ] = None,
    terms: Annotated[
        bool, typer.Option("--terms", help="列出 NPV 各年项 / show NPV terms")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """项目碳汇价值：事前、净现值、已核证、标签溢价、每亩对比 / a project's value per scenario."""
    from registry.compensation.valuation import value_project

    day = _date(on) if on else None
    uplifts = _premiums(premium)
    v = ctx.read(lambda s: value_project(s, ctx.acting(s), project, scenario, rate, per_mu,
                                         uplifts, day))  # fmt: skip
    if as_json:
        print_json(v)
        _notes(v.notes)
        _warn(v.unverified)
        return
    console.print(
        f"项目 {escape(v.project)}（{escape(v.name)}）估值日 {v.valuation_date}；面积 {v.area_ha} 公顷 = "
        f"{v.area_mu} 亩；事前 {v.exante_tco2e} t CO2e（{v.exante_years} 年）；已核证 {v.verified_tco2e} t；"
        f"已签发 {v.issued}（缓冲 {v.buffer}，持有人 {v.holder}）\n"
        f"折现率 r = {v.rate}（{escape(v.rate_source)}）；取整 {escape(v.rounding)}"
    )
    rows = [s.to_dict() for s in v.scenarios]
    _table(
        "碳汇价值（元） / value (yuan)", rows,
        ("scenario", "price_status", "price_yuan", "exante_value_yuan", "npv_yuan",
         "verified_value_yuan", "holder_value_yuan", "label_premium_yuan"),
    )  # fmt: skip
    _table(
        "哪个付给业主更多？（元/亩/年） / which pays an owner more? (yuan per 亩 per year)", rows,
        ("scenario", "price_yuan", "carbon_yuan_per_mu_year", "per_mu_standard_yuan", "pays_more"),
    )  # fmt: skip
    if terms:
        for s in v.scenarios:
            _table(f"NPV 各年项 / NPV terms: {s.scenario}", [t.to_dict() for t in s.npv_terms],
                        ("year", "t", "credits_tco2e", "term_yuan"))  # fmt: skip
    _notes(v.notes)
    _warn(v.unverified)


@prices_app.command("add")
def prices_add_cmd(
    name: Annotated[str, typer.Option(help="情景名称 / scenario name")],
    market: Annotated[str, typer.Option(help="市场 / market (CCER, 湘林碳票 …)")],
    price: Annotated[str, typer.Option(help="元/吨 CO2e / yuan per t CO2e")],
    on: Annotated[str, typer.Option("--date", help="价格日期 YYYY-MM-DD / price date")],
    source: Annotated[str, typer.Option(help="来源（出版物或网址） / source (publication, URL)")],
    verified: Annotated[
        bool, typer.Option("--verified", help="来源已核实 / the source was checked")
    ] = False,
    growth: Annotated[
        str | None, typer.Option(help="年价格增长 % / annual price growth, %")
    ] = None,
    premium: PremiumOpt = None,
    key: Annotated[
        str | None, typer.Option("--key", help="幂等键：重试时用同一个 / idempotency key")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """记录一个碳价（局工作人员或管理员；同名新价取代旧价） / record a carbon price."""
    from registry.compensation.prices import add_price

    day = _date(on)
    uplifts = _premiums(premium)
    status = "verified" if verified else "unverified"
    if key is None:  # made and shown, so that the command can be retried safely
        key = str(uuid.uuid4())
        err_console.print(f"幂等键 idempotency key: {key}（重试请用 --key {key}）")
    p = ctx.run(lambda s: add_price(s, ctx.acting(s), name, market, price, day, source, status,
                                    growth, uplifts, f"cli-{key}"))  # fmt: skip
    if as_json:
        print_json(p)
        return
    console.print(
        ("[yellow]已记录过（重试）[/] already recorded (a retry) " if p.replayed else "")
        + f"[green]已记录[/] recorded {escape(p.name)}: {p.price_yuan} 元/吨 ({p.price_date}, {p.status})"
    )


@prices_app.command("list")
def prices_list_cmd(
    history: Annotated[
        bool, typer.Option("--history", help="列出全部历史价格 / every price recorded")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """碳价情景（每个名称现行的价格） / the price in force under each name."""
    from registry.compensation.prices import list_prices

    rows = ctx.read(lambda s: list_prices(s, ctx.acting(s), history))
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    _table("碳价情景 / price scenarios", [r.to_dict() for r in rows],
                ("id", "name", "market", "price_yuan", "price_date", "status", "growth_pct", "source"))  # fmt: skip
    unchecked = [r.name for r in rows if r.status != "verified"]
    if unchecked:
        err_console.print(
            f"[yellow]注意 / NOTE[/] 来源未核实 unverified sources: {escape(', '.join(unchecked))}"
        )


@compensation_app.command("loans")
def loans_cmd(
    scenario: Annotated[str, typer.Option(help="价格情景名称 / price scenario")],
    threshold: Annotated[
        str | None,
        typer.Option(help="贷款价值比阈值（银行参数，默认 0.7，未核实） / LTV threshold"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """质押贷款的贷款价值比（银行看自己的；局工作人员、管理员看全部） / loan-to-value of pledges."""
    from registry.compensation.loans import loan_to_value

    view = ctx.read(lambda s: loan_to_value(s, ctx.acting(s), scenario, threshold))
    if as_json:
        print_json(view)
        _warn(view.unverified)
        return
    console.print(
        f"情景 {escape(view.scenario)}：{view.price_yuan} 元/吨（{view.price_date}，{view.price_status}）；"
        f"阈值 threshold {view.threshold}"
    )
    rows = [{**line.to_dict(), "flags": list(line.flags)} for line in view.loans]
    _table("质押贷款 / pledged loans", rows,
                ("pledge", "loan_ref", "bank", "pledged_on", "quantity", "amount_yuan",
                 "value_yuan", "ltv", "flags"))  # fmt: skip
    _warn(view.unverified)
