"""Valuation over HTTP (:mod:`registry.compensation`): price scenarios, a project's value per
scenario and a bank's loan-to-value view. Roles are the services' to check: every signed-in
user reads prices and valuations, bureau staff and admins record prices, a bank's users see
their own organisation's pledges (staff and admins all)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, IdempotencyKey, scoped_key
from registry.compensation.loans import loan_to_value
from registry.compensation.prices import add_price, list_prices
from registry.compensation.valuation import parse_premium_pairs, value_project

__all__ = ["router"]

router = APIRouter(prefix="/compensation", tags=["compensation 生态补偿"])
Number = Annotated[str, Field(min_length=1, max_length=40)]


class PriceCreate(BaseModel):
    """A price to record (yuan per t CO2e as text: exact); the service checks the values."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    market: str = Field(min_length=1, max_length=200)
    price_yuan: Number
    price_date: date
    source: str = Field(min_length=1, max_length=2000)
    status: str = Field(default="unverified", max_length=20)
    growth_pct: Number | None = None
    label_premiums: dict[Annotated[str, Field(max_length=100)], Number] = Field(
        default_factory=dict, max_length=50
    )


@router.get("/prices")
def prices(
    caller: CallerDep,
    history: bool = Query(False, description="全部历史价格 / every price recorded"),
) -> list[dict[str, Any]]:
    """碳价情景：每个名称现行的价格 / the price in force under each name (signed-in users)."""
    return [p.to_dict() for p in caller.read(lambda s, a: list_prices(s, a, history))]


@router.post("/prices", status_code=201)
def record_price(body: PriceCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """记录碳价（局工作人员或管理员） / record a price (bureau staff or admin). The same
    ``Idempotency-Key`` with the same body returns the first result (``replayed``)."""
    recorded = caller.write(lambda s, a: add_price(
        s, a, body.name, body.market, body.price_yuan, body.price_date, body.source, body.status,
        body.growth_pct, body.label_premiums, scoped_key(a, key)))  # fmt: skip
    return {**recorded.to_dict(), "replayed": recorded.replayed}


@router.get("/value")
def value(
    caller: CallerDep,
    project: str = Query(min_length=1, max_length=100),
    scenario: str | None = Query(None, max_length=200),
    rate: str | None = Query(
        None, max_length=40, description="折现率，小数 / discount rate, a fraction"
    ),
    per_mu: str | None = Query(None, max_length=40, description="元/亩/年 / yuan per 亩 per year"),
    on: Annotated[date | None, Query(description="估值日 / valuation date")] = None,
    premium: Annotated[
        list[str] | None,
        Query(max_length=50, description="标签溢价 CODE=百分比，可重复 / label uplift CODE=PCT"),
    ] = None,
) -> dict[str, Any]:
    """项目碳汇价值（事前、净现值、已核证、每亩对比） / a project's value per scenario."""
    return caller.read(
        lambda s, a: value_project(
            s, a, project, scenario, rate, per_mu, parse_premium_pairs(premium or []), on
        )
    ).to_dict()


@router.get("/loans")
def loans(
    caller: CallerDep,
    scenario: str = Query(min_length=1, max_length=200),
    threshold: str | None = Query(
        None, max_length=40, description="贷款价值比阈值 / LTV threshold"
    ),
) -> dict[str, Any]:
    """质押贷款的贷款价值比（银行：本机构的；局工作人员、管理员：全部） / loan-to-value."""
    return caller.read(lambda s, a: loan_to_value(s, a, scenario, threshold)).to_dict()
