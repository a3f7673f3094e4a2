"""Plausibility gate for verifiers: is a monitoring period's result in line with what is known?

Two checks per period (equation ``plausibility_gate``), each a :class:`Flag` with its figures:

- ``above_ceiling``: the measured project stock change per hectare-year exceeds the biological
  ceiling of its species groups — the area-weighted maximum mean annual increment of
  ``data/max_increment.csv`` (trees in m³/ha/yr × the group's carbon factor; moso bamboo in
  t CO2e/ha/yr). Ceilings whose source is not verified say so in the flag.
- ``out_of_line_with_ex_ante``: the net removals per hectare-year differ from the frozen
  ex-ante of the same years by more than the factor ``plausibility_exante_factor`` either way
  (or the ex-ante expected nothing and the period claims removals).

A flag does not change the number: verifying a flagged period needs the verifier's explicit
override with a reason (registry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from methodologies.errors import ParameterError
from methodologies.parameters import Parameter, defaults, require, table_rows
from methodologies.trees import carbon_factor

__all__ = ["Flag", "ceiling_tco2e_per_ha_yr", "check_period", "max_increment"]


@dataclass(frozen=True)
class Flag:
    kind: str  # above_ceiling | out_of_line_with_ex_ante
    figure: float  # t CO2e/ha/yr of the period
    limit: float  # the bound it crossed (t CO2e/ha/yr)
    message_zh: str
    message_en: str
    unverified: tuple[str, ...] = ()  # parameters behind the limit whose source is unverified

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def max_increment() -> Mapping[str, Parameter]:
    """Biological ceiling per species group (``data/max_increment.csv``)."""
    return {
        row["species_group"]: Parameter(
            f"max_mai[{row['species_group']}]",
            float(row["max_mai"]),
            row["unit"],
            row["source"],
            row["status"],
        )
        for row in table_rows("max_increment.csv")
    }


def ceiling_tco2e_per_ha_yr(group: str) -> tuple[float, Parameter]:
    """Ceiling of one species group in t CO2e/ha/yr, with the parameter it comes from."""
    table = max_increment()
    if group not in table:
        raise ParameterError(
            f"树种组 {group!r} 没有生物学上限（max_increment.csv）。",
            f"species group {group!r} has no biological ceiling (max_increment.csv).",
        )
    p = table[group]
    if p.unit.startswith("t CO2e"):
        return p.value, p
    return p.value * float(carbon_factor([group])[0]), p


def check_period(
    *,
    area_by_group: Mapping[str, float],
    years: float,
    project_change_tco2e: float,
    net_removals_tco2e: float,
    exante_net_tco2e: float,
    factor: float | None = None,
) -> list[Flag]:
    """Flags of one period. Areas in ha per species group, ``years`` the period's length.

    Rates r = quantity / (Σ area × years) in t CO2e/ha/yr. ``factor`` defaults to the parameter
    ``plausibility_exante_factor``.
    """
    area = float(sum(area_by_group.values()))
    if area <= 0 or years <= 0:
        return []
    k = factor if factor is not None else require(defaults(), "plausibility_exante_factor").value
    flags: list[Flag] = []
    ceiling = 0.0
    sources: list[Parameter] = []
    for group, a in area_by_group.items():
        rate, p = ceiling_tco2e_per_ha_yr(group)
        ceiling += a * rate
        sources.append(p)
    ceiling /= area
    unverified = tuple(p.name for p in sources if not p.verified)
    change_rate = project_change_tco2e / area / years
    if change_rate > ceiling:
        note = "（上限来源未核实）" if unverified else ""
        flags.append(Flag(
            "above_ceiling", change_rate, ceiling,
            f"实测碳储量变化 {change_rate:.2f} t CO2e/公顷/年，超过该树种组的生物学上限 "
            f"{ceiling:.2f}{note}",
            f"the measured stock change, {change_rate:.2f} t CO2e/ha/yr, exceeds the biological "
            f"ceiling of its species groups, {ceiling:.2f}"
            + (" (ceiling source unverified)" if unverified else ""),
            unverified,
        ))  # fmt: skip
    rate = net_removals_tco2e / area / years
    expected = exante_net_tco2e / area / years
    if expected <= 0:
        out = rate > 0
        low, high = 0.0, 0.0
    else:
        low, high = expected / k, expected * k
        out = not low <= rate <= high
    if out:
        flags.append(Flag(
            "out_of_line_with_ex_ante", rate, high if rate > high else low,
            f"净碳汇 {rate:.2f} t CO2e/公顷/年，与登记时冻结的事前估算 {expected:.2f} 相差超过 "
            f"{k:g} 倍（允许 {low:.2f}–{high:.2f}）",
            f"net removals of {rate:.2f} t CO2e/ha/yr are out of line with the frozen ex-ante of "
            f"the same years, {expected:.2f} (factor {k:g}: {low:.2f}–{high:.2f} accepted)",
        ))  # fmt: skip
    return flags
