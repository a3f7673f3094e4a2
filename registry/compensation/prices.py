"""Price scenarios (价格情景): the price of a tonne of CO2e under a name, with its market, date
and source, and whether that source was checked.

Rows are never changed (the table's triggers refuse it): recording a price under a name that
exists supersedes the older one, which stays for the record. The price *in force* under a name
is the one with the latest price date (then the latest recorded); the price *known at* a moment
is the one that was in force among the prices recorded by then — a bank compares the price
known when a pledge was made with the one in force now to see whether the price fell. Bureau staff and admins record prices (one audit event each);
every signed-in user reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.compensation.allocation import FEN
from registry.compensation.valuation_tables import PRICE_STATUSES, price_scenario
from registry.errors import BadValuationInput, UnknownPriceScenario
from registry.request_keys import KeyedRequest
from registry.results import Result, transient
from registry.vocabulary import Role

__all__ = [
    "LARGEST",
    "LARGEST_PCT",
    "PriceScenario",
    "add_price",
    "list_prices",
    "moment",
    "parse_decimal",
    "price_in_force",
    "price_known_at",
]

MAX_TEXT = 200  # a name or market longer than this is a mistake
LARGEST = Decimal(10) ** 12  # no price, rate, standard or threshold is larger: a mistake
LARGEST_PCT = Decimal(1000)  # a growth or premium above 1000 % is a mistake


@dataclass(frozen=True)
class PriceScenario(Result):
    """One recorded price: yuan per t CO2e (text, to the fen), the day it held, its source
    and whether the source was checked; optional annual growth (%) and eco-label premiums
    (code → uplift %), both exact decimal text."""

    id: int
    name: str
    market: str
    price_yuan: str
    price_date: str
    source: str
    status: str
    growth_pct: str | None
    label_premiums: dict[str, str]
    created_by: str
    created_at: str
    replayed: bool = transient()

    @property
    def price(self) -> Decimal:
        return Decimal(self.price_yuan)

    @property
    def growth(self) -> Decimal:
        """Annual growth as a fraction (0 when none is given)."""
        return Decimal(self.growth_pct or "0") / 100

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def parse_decimal(value: Decimal | str | int | float, what_zh: str, what_en: str) -> Decimal:
    """``value`` as an exact Decimal (a float through its shortest text); refuses text that is
    not a finite number, bilingually, naming the field."""
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise BadValuationInput(
            f"{what_zh} {value!r} 不是数字。", f"{what_en} {value!r} is not a number."
        ) from exc
    if not number.is_finite() or abs(number) > LARGEST:
        raise BadValuationInput(
            f"{what_zh} 应为绝对值不超过 {LARGEST:,} 的有限数。",
            f"{what_en} must be a finite number of at most {LARGEST:,} in size.",
        )
    return number


def _text(value: str, what_zh: str, what_en: str, longest: int = MAX_TEXT) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > longest:
        raise BadValuationInput(
            f"{what_zh}不能为空，且不超过 {longest} 个字符。",
            f"the {what_en} must not be empty nor longer than {longest} characters.",
        )
    return cleaned


def _premiums(given: Mapping[str, Decimal | str | float] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, pct in (given or {}).items():
        label = _text(str(code), "生态标签代码", "eco-label code")
        value = parse_decimal(pct, f"标签 {label} 的溢价 %", f"the premium % of label {label}")
        if value <= -100 or value > LARGEST_PCT:
            raise BadValuationInput(
                f"标签 {label} 的溢价 {value}% 无效：应大于 −100%，不超过 1000%。",
                f"the premium of label {label} ({value} %) must be above −100 % and at most 1000 %.",
            )
        out[label] = str(value)
    return out


def _row(r: Any) -> PriceScenario:
    created = r.created_at
    return PriceScenario(
        id=int(r.id), name=r.name, market=r.market,
        price_yuan=str((Decimal(int(r.price_fen)) * FEN).quantize(FEN)),
        price_date=(r.price_date if isinstance(r.price_date, date) else date.fromisoformat(str(r.price_date))).isoformat(),
        source=r.source, status=r.status, growth_pct=r.growth_pct,
        label_premiums=dict(json.loads(r.label_premiums or "{}")), created_by=r.created_by,
        created_at=created.isoformat() if isinstance(created, datetime) else str(created),
    )  # fmt: skip


def add_price(
    session: Session, actor: Actor, name: str, market: str, price_yuan: Decimal | str,
    price_date: date, source: str, status: str = "unverified",
    growth_pct: Decimal | str | None = None,
    label_premiums: Mapping[str, Decimal | str | float] | None = None,
    idempotency_key: str | None = None,
) -> PriceScenario:  # fmt: skip
    """Record a price (yuan per t CO2e, > 0, whole fen) under ``name`` (bureau staff or admin),
    superseding the name's earlier price; one audit event ``valuation.price_add``. Refused
    with nothing written: a non-positive price or a fraction of a fen, an empty name, market
    or source, an unknown status, a growth or premium ≤ −100 %, a date in the future. With
    ``idempotency_key``, a retry of the same request returns the first one's price
    (``replayed``) and records nothing; the key with another request is refused."""
    require_any_role(actor, (Role.ADMIN, Role.BUREAU_STAFF), "记录碳价 / record a carbon price")
    keyed = None
    if idempotency_key is not None:
        keyed = KeyedRequest(session, idempotency_key, "valuation.price_add",
                             {"name": name, "market": market, "price": str(price_yuan),
                              "date": price_date.isoformat(), "source": source, "status": status,
                              "growth": None if growth_pct is None else str(growth_pct),
                              "premiums": {str(k): str(v) for k, v in (label_premiums or {}).items()}},
                             actor.label)  # fmt: skip
        if keyed.previous is not None:
            return PriceScenario.from_dict(keyed.previous, replayed=True)
    name_ = _text(name, "情景名称", "scenario name")
    market_ = _text(market, "市场", "market")
    source_ = _text(source, "来源", "source", longest=2000)
    price = parse_decimal(price_yuan, f"情景 {name_} 的价格", f"the price of scenario {name_}")
    if price <= 0 or price != price.quantize(FEN):
        raise BadValuationInput(
            f"情景 {name_} 的价格 {price} 元/吨无效：应大于 0，精确到分。",
            f"the price of scenario {name_} ({price} yuan/t) must be above 0 and in whole fen.",
        )
    if status not in PRICE_STATUSES:
        raise BadValuationInput(
            f"来源状态 {status!r} 无效：应为 verified（已核实）或 unverified（未核实）。",
            f"source status {status!r} must be verified or unverified.",
        )
    if price_date > datetime.now(UTC).date():
        raise BadValuationInput(
            f"情景 {name_} 的价格日期 {price_date} 在未来。",
            f"the price date of scenario {name_} ({price_date}) is in the future.",
        )
    growth: str | None = None
    if growth_pct is not None:
        g = parse_decimal(
            growth_pct, f"情景 {name_} 的年增长率 %", f"the annual growth % of {name_}"
        )
        if g <= -100 or g > LARGEST_PCT:
            raise BadValuationInput(
                f"情景 {name_} 的年增长率 {g}% 无效：应大于 −100%，不超过 1000%。",
                f"the annual growth of scenario {name_} ({g} %) must be above −100 % and at most 1000 %.",
            )
        growth = str(g)
    premiums = _premiums(label_premiums)
    now = datetime.now(UTC)
    new_id = session.execute(
        price_scenario.insert()
        .values(name=name_, market=market_, price_fen=int(price / FEN), price_date=price_date,
                source=source_, status=status, growth_pct=growth,
                label_premiums=json.dumps(premiums, ensure_ascii=False, sort_keys=True),
                created_by=actor.label, created_at=now)
        .returning(price_scenario.c.id)
    ).scalar_one()  # fmt: skip
    recorded = _row(session.execute(
        select(price_scenario).where(price_scenario.c.id == new_id)).one())  # fmt: skip
    append_event(session, actor=actor.label, action="valuation.price_add",
                 entity_type="price_scenario", entity_id=str(new_id),
                 payload={k: v for k, v in recorded.to_dict().items() if k != "created_at"})  # fmt: skip
    if keyed is not None:
        keyed.finish(recorded.to_dict())
    return recorded


def _ordered() -> Any:
    return select(price_scenario).order_by(
        price_scenario.c.name, price_scenario.c.price_date, price_scenario.c.id
    )


def list_prices(session: Session, actor: Actor, history: bool = False) -> list[PriceScenario]:
    """The price in force under each name (by name), or with ``history`` every price recorded
    (by name, then date). Any signed-in user."""
    del actor  # prices are no secret to a signed-in user; the shells check the sign-in
    rows = [_row(r) for r in session.execute(_ordered()).all()]
    if history:
        return rows
    latest: dict[str, PriceScenario] = {}
    for row in rows:  # ordered by date then id: the last one of a name is in force
        latest[row.name] = row
    return list(latest.values())


def price_in_force(session: Session, name: str) -> PriceScenario:
    """The price in force under ``name`` (latest price date, then latest recorded)."""
    rows = session.execute(_ordered().where(price_scenario.c.name == name)).all()
    if not rows:
        raise UnknownPriceScenario(
            f"没有名为 {name!r} 的价格情景。", f"no price scenario is named {name!r}."
        )
    return _row(rows[-1])


def moment(value: Any) -> datetime:
    """A stored timestamp (a datetime, or SQLite's text) as an aware datetime (naive = UTC)."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def price_known_at(session: Session, name: str, at: datetime) -> PriceScenario | None:
    """The price that was in force under ``name`` at the moment ``at``: among the prices
    recorded by then, the latest dated (then latest recorded); None if none was recorded."""
    rows = session.execute(_ordered().where(price_scenario.c.name == name)).all()
    known = [r for r in rows if moment(r.created_at) <= moment(at)]
    return _row(known[-1]) if known else None
