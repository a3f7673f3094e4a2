"""The valuation's part of the demo: four clearly sourced price scenarios (each ``unverified``:
the sources are secondary — the project's reference notes, the issue, news reports — not the
markets' own publications, which were not checked) and a text report of a project's value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from registry.actors import Actor
from registry.compensation.prices import add_price, list_prices
from registry.compensation.valuation import ProjectValuation, value_project

__all__ = ["DEMO_PREMIUMS", "DEMO_SCENARIOS", "demo_valuation", "valuation_report"]

# (name, market, yuan per t CO2e, price date, source) — every one unverified
DEMO_SCENARIOS: tuple[tuple[str, str, str, date, str], ...] = (
    (
        "CCER 2025",
        "CCER",
        "70.00",
        date(2025, 12, 31),
        "shared/reference/methodology_notes.md: “CCER traded around 60–80 yuan/t in 2025”; the "
        "midpoint 70 is taken, the date is the year's end (approximate)",
    ),
    (
        "湘林碳票",
        "湘林碳票",
        "100.00",
        date(2025, 1, 1),
        "issue #17: Hunan's 湘林碳票 “~100 元/t” (approximate; date approximate)",
    ),
    (
        "安吉竹林碳汇收储",
        "安吉两山竹林碳汇收储",
        "73.41",
        date(2022, 5, 19),
        "人民周刊 2022-05-19, peopleweekly.cn/html/2022/lvse_0519/126632.html: 2000 t sold by "
        "安吉“两山银行” at 73.41 元/t (a news report, not the exchange's record)",
    ),
    (
        "全国碳市场 2024 收盘",
        "全国碳市场",
        "97.49",
        date(2024, 12, 31),
        "生态环境部《全国碳市场发展报告》(2025) as reported by 解放日报 2025-09-25: 2024 year-end "
        "close 97.49 元/t (range 69–106); also shared/reference/methodology_notes.md",
    ),
    (
        "县林业局保留价（示例）",
        "县林业局保留价",
        "60.00",
        date(2026, 1, 1),
        "演示用示例：县林业局自定的保留价与水源涵养标签溢价 10%，不是市场数据 / a demo illustration: "
        "a bureau's own reserve price, with a 10 % premium for the water_conservation label — "
        "not a market figure",
    ),
)
# eco-label uplifts (%) of a demo scenario, by its name: the bureau's illustration only
DEMO_PREMIUMS: dict[str, dict[str, str]] = {"县林业局保留价（示例）": {"water_conservation": "10"}}


def valuation_report(v: ProjectValuation) -> str:
    """A project's valuation as plain text (bilingual headings), every unverified source said."""
    lines = [
        f"项目 {v.project}（{v.name}）碳汇价值 / value of project {v.project} on {v.valuation_date}",
        f"面积 area {v.area_ha} ha = {v.area_mu} 亩; 事前 ex-ante {v.exante_tco2e} t CO2e over "
        f"{v.exante_years} years; 已核证 verified {v.verified_tco2e} t; 已签发 issued {v.issued} "
        f"(缓冲 buffer {v.buffer}, 持有人 holder {v.holder})",
        f"折现率 discount rate r = {v.rate} ({v.rate_source}); 取整 rounding: {v.rounding}",
        "",
        "情景 scenario | 元/吨 yuan/t | 事前价值 ex-ante | NPV | 已核证 verified | 持有人 holder | "
        "标签溢价 label premium | 碳汇 元/亩/年 carbon | 标准 元/亩/年 standard | 哪个更多 pays more",
    ]
    for s in v.scenarios:
        lines.append(
            f"{s.scenario} [{s.price_status}] | {s.price_yuan} | {s.exante_value_yuan} | "
            f"{s.npv_yuan} | {s.verified_value_yuan} | {s.holder_value_yuan} | "
            f"{s.label_premium_yuan} | {s.carbon_yuan_per_mu_year} | {s.per_mu_standard_yuan} | "
            f"{s.pays_more}"
        )
    lines += [f"注意 / NOTE: {n}" for n in v.notes]
    if v.unverified:
        lines += ["", "注意：以下来源未核实 / NOTE: unverified sources:"]
        lines += [f"- {u}" for u in v.unverified]
    return "\n".join(lines)


def demo_valuation(session: Session, actor: Actor, project_code: str) -> str:
    """Record the demo's price scenarios (those whose name is not recorded yet: a re-run adds
    nothing) as ``actor`` (bureau staff or admin), then value ``project_code`` under every
    scenario in force, with the default rate and per-亩 standard; the report as text."""
    known = {p.name for p in list_prices(session, actor)}
    for name, market, price, day, source in DEMO_SCENARIOS:
        if name not in known:
            add_price(
                session,
                actor,
                name,
                market,
                Decimal(price),
                day,
                source,
                "unverified",
                label_premiums=DEMO_PREMIUMS.get(name),
            )
    return valuation_report(value_project(session, actor, project_code))
