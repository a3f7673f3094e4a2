"""What a project's sink is worth under each price scenario (碳汇价值评估), and whether the carbon
pays a forest owner more than a per-亩 compensation standard would.

Per scenario, at the price in force P (yuan per t CO2e):

- ex-ante value: Σ C_Y × P over the frozen ex-ante's yearly net removals C_Y (t CO2e, before
  the buffer is held back), undiscounted;
- NPV of the ex-ante credits still to come (the standard discounted cash-flow sum)::

      NPV = Σ_Y  C_Y · P · (1 + g)^t / (1 + r)^t,   t = Y − year(valuation date) + 1

  with r the discount rate and g the scenario's annual price growth (0 when it states none).
  The credits of calendar year Y are reckoned at the end of Y, so the valuation year's own
  credits are discounted one whole year; years before the valuation year are past (their
  credits are the verified and issued ones below) and are not in the NPV;
- verified value: the verified periods' verified t CO2e × P; issued: credits issued (whole
  tonnes), the buffer's share held back, and the holder's (issued − buffer), each × P;
- eco-label premiums: credits carrying labels are worth P × (1 + Σ p_l / 100) where p_l is
  the uplift (%) of each label they carry that has one (uplifts add, they do not compound);
  the premium is the part above P;
- per 亩: the mean yearly ex-ante credits × P over the project's area in 亩 (1 ha = 15 亩),
  yuan per 亩 per year, against a 公益林-style standard (yuan per 亩 per year), before any
  benefit-sharing rule or cost.

Money is exact Decimal throughout and rounded once, at the end, to the fen with
ROUND_HALF_UP (a half fen goes up); the NPV terms are shown to the fen for reading, but the sum
is of the exact terms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.compensation.allocation import FEN
from registry.compensation.prices import (
    LARGEST_PCT,
    PriceScenario,
    list_prices,
    parse_decimal,
    price_in_force,
)
from registry.errors import BadValuationInput, UnknownPriceScenario
from registry.projects.core import find_project, periods
from registry.results import Result
from registry.vocabulary import Role

__all__ = [
    "DEFAULT_PER_MU",
    "DEFAULT_RATE",
    "MU_PER_HA",
    "LabelGroup",
    "NpvTerm",
    "ProjectValuation",
    "ScenarioValue",
    "fen",
    "label_notes",
    "label_premium",
    "npv_terms",
    "parse_premium_pairs",
    "value_project",
]

MU_PER_HA = Decimal(15)  # 1 公顷 = 15 亩 (exact: 1 亩 = 10000/15 m²)
DEFAULT_RATE = Decimal("0.08")
RATE_SOURCE = (
    "默认折现率 8%：《建设项目经济评价方法与参数》（第三版，2006）的社会折现率，来源未核实 / "
    "default rate 8 %: the social discount rate of 建设项目经济评价方法与参数 (3rd ed., 2006), "
    "source unverified"
)
DEFAULT_PER_MU = Decimal(30)
PER_MU_SOURCE = (
    "默认标准 30 元/亩/年：长沙县公益林补偿标准之例（methodology_notes.md），来源未核实 / "
    "default standard 30 yuan/亩/year: 长沙县's public-welfare forest example "
    "(methodology_notes.md), source unverified"
)
_SHOWN_AREA, _SHOWN_TONNES = Decimal("0.0001"), Decimal("0.001")  # shown, never computed with
ROUNDING = "ROUND_HALF_UP，最后一次取整到分 / ROUND_HALF_UP, once at the end, to the fen"


def fen(amount: Decimal) -> Decimal:
    """``amount`` yuan rounded to the fen, half up (the one rounding of every money figure)."""
    try:
        return amount.quantize(FEN, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than the context holds: absurd inputs
        raise BadValuationInput(
            f"估值结果 {amount:.3e} 元过大，无法精确到分：请检查价格、折现率和增长率。",
            f"the value {amount:.3e} yuan is too large to state to the fen: check the price, "
            "rate and growth.",
        ) from exc


@dataclass(frozen=True)
class NpvTerm(Result):
    """One year of the NPV: C_Y (t CO2e), t, the factor (1+g)^t/(1+r)^t and the term (yuan,
    shown to the fen)."""

    year: int
    t: int
    credits_tco2e: str
    factor: str
    term_yuan: str


@dataclass(frozen=True)
class LabelGroup(Result):
    """Credits carrying one set of eco-labels, their uplift (%) and premium (yuan)."""

    labels: tuple[str, ...]
    quantity: int
    uplift_pct: str
    premium_yuan: str


@dataclass(frozen=True)
class ScenarioValue(Result):
    """A project's value under one price scenario (yuan, to the fen)."""

    scenario: str
    market: str
    price_yuan: str
    price_date: str
    price_status: str
    price_source: str
    growth_pct: str
    exante_value_yuan: str
    npv_yuan: str
    verified_value_yuan: str
    issued_value_yuan: str
    buffer_value_yuan: str
    holder_value_yuan: str
    label_premium_yuan: str
    carbon_yuan_per_mu_year: str
    per_mu_standard_yuan: str
    pays_more: str
    npv_terms: tuple[NpvTerm, ...] = field(metadata={"of": NpvTerm})
    label_groups: tuple[LabelGroup, ...] = field(metadata={"of": LabelGroup})


@dataclass(frozen=True)
class ProjectValuation(Result):
    """A project's credits and their value under each scenario, with the parameters used and
    every unverified one named."""

    project: str
    name: str
    valuation_date: str
    area_ha: str
    area_mu: str
    exante_years: int
    exante_tco2e: str
    verified_tco2e: str
    issued: int
    buffer: int
    holder: int
    rate: str
    rate_source: str
    per_mu_source: str
    rounding: str
    unverified: tuple[str, ...]
    scenarios: tuple[ScenarioValue, ...] = field(metadata={"of": ScenarioValue})
    notes: tuple[str, ...] = ()  # e.g. a label premium that no held credit carries


def parse_premium_pairs(items: Sequence[str]) -> dict[str, str]:
    """Eco-label uplifts written ``CODE=PCT`` (e.g. ``BIO=10``) as {code: pct text}; a
    malformed or repeated one is refused (the values are checked where they are used)."""
    out: dict[str, str] = {}
    for item in items:
        code, sep, pct = item.partition("=")
        if not sep or not code.strip() or not pct.strip() or code.strip() in out:
            raise BadValuationInput(
                f"标签溢价 {item!r} 应写作 CODE=百分比（如 BIO=10），每个标签一次。",
                f"a label uplift {item!r} is written CODE=PCT (e.g. BIO=10), once per label.",
            )
        out[code.strip()] = pct.strip()
    return out


def _check_rate(rate: Decimal, what_zh: str, what_en: str) -> None:
    if rate <= -1 or rate > 10:
        raise BadValuationInput(
            f"{what_zh} {rate} 无效：应大于 −100%，不超过 1000%（以小数表示，如 0.05 即 5%）。",
            f"the {what_en} {rate} must be above −100 % and at most 1000 % (a fraction: 0.05 is 5 %).",
        )


def npv_terms(
    yearly: Sequence[tuple[int, Decimal]], price: Decimal, rate: Decimal, growth: Decimal,
    valuation_year: int,
) -> tuple[list[NpvTerm], Decimal]:  # fmt: skip
    """The NPV's terms C_Y · P · (1+g)^t / (1+r)^t for the years Y ≥ ``valuation_year``
    (t = Y − valuation_year + 1), and their exact sum (yuan, not rounded). ``rate`` and
    ``growth`` are fractions (0.05 = 5 %), both > −1."""
    _check_rate(rate, "折现率", "discount rate")
    _check_rate(growth, "价格年增长率", "annual price growth")
    terms: list[NpvTerm] = []
    total = Decimal(0)
    for year, credits in sorted(yearly):
        if year < valuation_year:
            continue
        t = year - valuation_year + 1
        factor = (1 + growth) ** t / (1 + rate) ** t
        term = credits * price * factor
        total += term
        terms.append(NpvTerm(year, t, str(credits), str(factor), str(fen(term))))
    return terms, total


def label_premium(
    quantities: Mapping[tuple[str, ...], int], price: Decimal, uplifts: Mapping[str, Decimal]
) -> tuple[list[LabelGroup], Decimal]:
    """The premium (yuan, exact) of credits by the labels they carry: a group of q credits
    carrying labels L is worth q × P × Σ_{l ∈ L} p_l / 100 above P (labels without an uplift
    add nothing)."""
    groups: list[LabelGroup] = []
    total = Decimal(0)
    for labels, quantity in sorted(quantities.items()):
        if not labels:
            continue
        pct = sum((uplifts.get(code, Decimal(0)) for code in labels), Decimal(0))
        premium = Decimal(quantity) * price * pct / 100
        total += premium
        groups.append(LabelGroup(tuple(labels), quantity, str(pct), str(fen(premium))))
    return groups, total


def label_notes(session: Session, codes: set[str]) -> list[str]:
    """What is unverified about the labels a premium was paid on (their criteria's thresholds:
    a label is only as sound as the rule that granted it)."""
    if not codes:
        return []
    from registry.labels import label_unverified_notes

    return list(label_unverified_notes(session, sorted(codes)))


def _exante_years(exante_json: str | None) -> list[tuple[int, Decimal]]:
    rows = json.loads(exante_json or "{}").get("by_year", [])
    return [(int(r["year"]), Decimal(str(r["net_removals"]))) for r in rows]


def _issued(session: Session, code: str) -> tuple[int, int]:
    row = session.execute(
        text("SELECT COALESCE(SUM(quantity), 0), COALESCE(SUM(buffer_quantity), 0) "
             "FROM issuance WHERE project_code = :c"), {"c": code}).one()  # fmt: skip
    return int(row[0]), int(row[1])


def held_by_labels(
    session: Session, where: str, params: dict[str, Any]
) -> dict[tuple[str, ...], int]:
    """Live credits in holders' accounts (active or pledged; not the buffer pool) matching
    ``where`` (SQL over ``b``, the block), by the set of labels they carry."""
    rows = session.execute(
        text("SELECT b.labels, b.first_seq, b.last_seq FROM credit_block b "
             "JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL "
             f"AND b.state IN ('active', 'pledged') AND a.kind = 'holding' AND {where}"), params).all()  # fmt: skip
    out: dict[tuple[str, ...], int] = {}
    for labels, first, last in rows:
        key = tuple(sorted(json.loads(labels or "[]")))
        out[key] = out.get(key, 0) + int(last) - int(first) + 1
    return out


def _uplifts(scenario: PriceScenario, given: Mapping[str, Decimal] | None) -> dict[str, Decimal]:
    merged = {k: Decimal(v) for k, v in scenario.label_premiums.items()}
    merged.update(given or {})
    return merged


def value_project(
    session: Session, actor: Actor, code: str, scenario: str | None = None,
    rate: Decimal | str | float | None = None, per_mu: Decimal | str | float | None = None,
    label_premiums: Mapping[str, Decimal | str | float] | None = None,
    valuation_date: date | None = None,
) -> ProjectValuation:  # fmt: skip
    """Value project ``code`` under ``scenario`` (or every scenario's price in force): any
    signed-in user. ``rate`` is the discount rate as a fraction (default
    :data:`DEFAULT_RATE`, flagged unverified), ``per_mu`` the per-亩 standard in yuan per 亩
    per year (default :data:`DEFAULT_PER_MU`, flagged unverified), ``label_premiums`` uplifts
    (%) that override the scenario's. Reads only."""
    require_any_role(actor, tuple(Role), "查看碳汇价值 / see a valuation")
    unverified: list[str] = []
    if rate is None:
        r = DEFAULT_RATE
        unverified.append(RATE_SOURCE)
    else:
        r = parse_decimal(rate, "折现率", "discount rate")
    _check_rate(r, "折现率", "discount rate")
    if per_mu is None:
        standard = DEFAULT_PER_MU
        unverified.append(PER_MU_SOURCE)
    else:
        standard = parse_decimal(per_mu, "每亩补偿标准", "per-亩 standard")
    if standard < 0:
        raise BadValuationInput(
            f"每亩补偿标准 {standard} 元/亩/年无效：不能为负。",
            f"the per-亩 standard ({standard} yuan/亩/year) must not be negative.",
        )
    premiums = {
        str(k): parse_decimal(v, f"标签 {k} 的溢价 %", f"the premium % of label {k}")
        for k, v in (label_premiums or {}).items()
    }
    for k, v in premiums.items():
        if v <= -100 or v > LARGEST_PCT:
            raise BadValuationInput(
                f"标签 {k} 的溢价 {v}% 无效：应大于 −100%，不超过 1000%。",
                f"the premium of label {k} ({v} %) must be above −100 % and at most 1000 %.",
            )
    project = find_project(session, code)
    if scenario is not None:
        chosen = [price_in_force(session, scenario)]
    else:
        chosen = list_prices(session, actor)
        if not chosen:
            raise UnknownPriceScenario(
                "尚未记录任何价格情景，无法估值。",
                "no price scenario is recorded: nothing to value by.",
            )
    day = valuation_date or datetime.now(UTC).date()
    yearly = _exante_years(project.exante_json)
    exante_total = sum((c for _, c in yearly), Decimal(0))
    verified = sum(
        (Decimal(str(p.verified_tco2e)) for p in periods(session, project)
         if p.status == "verified" and p.verified_tco2e is not None),
        Decimal(0),
    )  # fmt: skip
    issued, buffer = _issued(session, project.code)
    by_labels = held_by_labels(session, "b.project_code = :c", {"c": project.code})
    area_ha = Decimal(str(project.area_ha))
    area_mu = area_ha * MU_PER_HA
    mean_yearly = exante_total / len(yearly) if yearly else Decimal(0)
    values = []
    carried = {code for labels in by_labels for code in labels}
    idle: set[str] = set()
    priced: set[str] = set()  # labels whose premium went into a value
    for s in chosen:
        if not s.verified:
            unverified.append(
                f"价格情景 {s.name}（{s.price_yuan} 元/吨，{s.price_date}）来源未核实：{s.source} / "
                f"price scenario {s.name} ({s.price_yuan} yuan/t, {s.price_date}): source unverified"
            )
        price = s.price
        terms, npv = npv_terms(yearly, price, r, s.growth, day.year)
        uplifts = _uplifts(s, premiums)
        idle |= {code for code, pct in uplifts.items() if pct and code not in carried}
        priced |= {code for code, pct in uplifts.items() if pct and code in carried}
        groups, premium = label_premium(by_labels, price, uplifts)
        per_mu_carbon = mean_yearly * price / area_mu if area_mu > 0 else Decimal(0)
        carbon, std = fen(per_mu_carbon), fen(standard)
        pays = ("碳汇 / carbon" if carbon > std else
                "每亩标准 / per-亩 standard" if std > carbon else "相同 / equal")  # fmt: skip
        values.append(ScenarioValue(
            scenario=s.name, market=s.market, price_yuan=s.price_yuan, price_date=s.price_date,
            price_status=s.status, price_source=s.source, growth_pct=s.growth_pct or "0",
            exante_value_yuan=str(fen(exante_total * price)), npv_yuan=str(fen(npv)),
            verified_value_yuan=str(fen(verified * price)),
            issued_value_yuan=str(fen(issued * price)), buffer_value_yuan=str(fen(buffer * price)),
            holder_value_yuan=str(fen((issued - buffer) * price)),
            label_premium_yuan=str(fen(premium)), carbon_yuan_per_mu_year=str(carbon),
            per_mu_standard_yuan=str(std), pays_more=pays, npv_terms=tuple(terms),
            label_groups=tuple(groups),
        ))  # fmt: skip
    unverified += label_notes(session, priced)
    return ProjectValuation(
        project=project.code, name=project.name, valuation_date=day.isoformat(),
        area_ha=str(area_ha.quantize(_SHOWN_AREA)), area_mu=str(area_mu.quantize(_SHOWN_AREA)),
        exante_years=len(yearly), exante_tco2e=str(exante_total.quantize(_SHOWN_TONNES)), verified_tco2e=str(verified), issued=issued,
        buffer=buffer, holder=issued - buffer, rate=str(r),
        rate_source=RATE_SOURCE if rate is None else "用户给定 / given by the user",
        per_mu_source=PER_MU_SOURCE if per_mu is None else "用户给定 / given by the user",
        rounding=ROUNDING, unverified=tuple(unverified), scenarios=tuple(values),
        notes=tuple(f"标签 {code} 的溢价没有用上：本项目持有的积分都不带此标签（代码写错了？） / the premium for "
                    f"label {code} applies to nothing: no held credit of the project carries it (a typo?)"
                    for code in sorted(idle)),
    )  # fmt: skip
