"""Uncertainty of a stock change and the conservative deduction for it (AR-TOOL14 style).

Credits come from a *change* of carbon stock between two measurements made the same way, so
the uncertainty that matters is the change's:

- independent estimates (two stratified samples, not the same plots): the half-widths of the
  two estimates combine in quadrature, U_Δ = sqrt(hw₁² + hw₂²) / |C₂ − C₁| with hw = U × C
  (equation ``change_uncertainty_independent``);
- the same permanent plots remeasured (plot ids match): the stratified mean of the per-plot
  differences and its standard error, df = n − M (plots minus strata), half-width
  t(0.95, n − M) × SE (equation ``change_uncertainty_paired``).

The deduction rule is a per-methodology parameter (``methodology_defaults.csv``,
``uncertainty_deduction_rule[<code>]``) with its source and status. The one implemented is the
banded discount of AR-TOOL14 Appendix 2 as the issue (and our reading of the CDM tool) states
it: deduct 0 / 25 / 50 / 75 / 100 % of the 90 % half-width for U ≤ 10 / 15 / 20 / 30 / > 30 %.
Worked example: 60 ± 9 → U = 15 % → 60 − 0.25 × 9 = 57.75.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from methodologies.errors import ParameterError
from methodologies.parameters import Parameter, defaults

__all__ = [
    "AR_TOOL14_BANDS",
    "CONFIDENCE",
    "Deduction",
    "deduct",
    "deduction_fraction",
    "deduction_rule",
    "independent_change_half_width",
    "t_value",
]

CONFIDENCE = 0.90
# (upper bound of U, fraction of the half-width deducted); U above the last bound → 100 %
AR_TOOL14_BANDS: tuple[tuple[float, float], ...] = (
    (0.10, 0.0),
    (0.15, 0.25),
    (0.20, 0.50),
    (0.30, 0.75),
)
RULES = ("ar_tool14_appendix2",)


def t_value(df: float) -> float:
    """Two-sided 90 % Student t quantile t(0.95, df)."""
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))


def deduction_fraction(uncertainty: float) -> float:
    """Fraction of the 90 % half-width deducted for a relative uncertainty U (AR-TOOL14 App. 2).

    U ≤ 10 % → 0; ≤ 15 % → 0.25; ≤ 20 % → 0.5; ≤ 30 % → 0.75; above (or not finite) → 1.
    """
    if not math.isfinite(uncertainty):
        return 1.0
    for upper, fraction in AR_TOOL14_BANDS:
        if uncertainty <= upper + 1e-12:
            return fraction
    return 1.0


@dataclass(frozen=True)
class Deduction:
    """An estimate, its 90 % half-width, U = half-width / |estimate|, and what is kept."""

    estimate: float
    half_width: float
    uncertainty: float
    fraction: float  # of the half-width deducted
    kept: float  # estimate − fraction × half-width
    rule: Parameter


def deduction_rule(methodology: str) -> Parameter:
    """The deduction rule parameter of a methodology, with its source and status."""
    table = defaults()
    key = f"uncertainty_deduction_rule[{methodology}]"
    if key not in table:
        raise ParameterError(
            f"方法学 {methodology!r} 没有不确定性扣减规则（methodology_defaults.csv：{key}）。",
            f"methodology {methodology!r} has no uncertainty deduction rule "
            f"(methodology_defaults.csv: {key}).",
        )
    return table[key]


def deduct(estimate: float, half_width: float, methodology: str) -> Deduction:
    """Apply the methodology's deduction rule to an estimate (t CO2e) and its half-width.

    U = half-width / |estimate| (infinite when the estimate is 0). The kept value is
    estimate − fraction(U) × half-width; it may be ≤ 0 (nothing to credit).
    """
    rule = deduction_rule(methodology)
    name = rule.text
    if name not in RULES:
        raise ParameterError(
            f"不认识的不确定性扣减规则 {name!r}（可用：{', '.join(RULES)}）。",
            f"unknown uncertainty deduction rule {name!r} (known: {', '.join(RULES)}).",
        )
    u = abs(half_width / estimate) if estimate != 0 else math.inf
    fraction = deduction_fraction(u)
    return Deduction(estimate, half_width, u, fraction, estimate - fraction * half_width, rule)


def independent_change_half_width(half_width_1: float, half_width_2: float) -> float:
    """Half-width of C₂ − C₁ from two independent estimates: sqrt(hw₁² + hw₂²).

    With hw = U × C this is AR-TOOL14's combination U_Δ = sqrt((U₁C₁)² + (U₂C₂)²) / |C₂ − C₁|
    once divided by |C₂ − C₁| (equation ``change_uncertainty_independent``).
    """
    return math.sqrt(half_width_1**2 + half_width_2**2)
