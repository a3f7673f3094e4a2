"""An amount of money shared out by weights, to the fen, summing exactly to the amount.

Largest-remainder method (Hamilton's method): each share first gets the whole fen of its exact
quota ``amount × weight / Σ weights`` (rounded down); the fen left over — fewer than the number
of shares — go one each to the shares with the largest remainders, ties broken by the shares'
keys in ascending order (a stated, repeatable rule). Exact arithmetic throughout: money in
``Decimal`` yuan, quotas as fractions of whole fen, so no float ever rounds a payment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from registry.errors import Invalid

__all__ = ["FEN", "Share", "allocate_fen"]

FEN = Decimal("0.01")
"""One fen (分), the smallest unit paid: 0.01 yuan."""


@dataclass(frozen=True)
class Share:
    """Who is paid (``key``: an owner's id, a role such as 村集体) and their weight (verified
    t CO2e, hectares, trees or income shares 股 — any non-negative number)."""

    key: str
    weight: Decimal | int | Fraction


def allocate_fen(amount: Decimal, shares: Sequence[Share]) -> dict[str, Decimal]:
    """``amount`` (yuan, a whole number of fen, ≥ 0) shared out by the weights: yuan per key,
    each a whole number of fen, ≥ 0, summing exactly to ``amount``.

    Refused (bilingual :class:`Invalid`): a negative amount or weight, an amount with a
    fraction of a fen, no share, repeated keys, or every weight zero with money to share."""
    if amount < 0 or amount != amount.quantize(FEN):
        raise Invalid(
            f"分配金额 {amount} 元无效：应为不小于 0、精确到分的金额。",
            f"cannot share out {amount} yuan: the amount must be ≥ 0 and in whole fen.",
        )
    if not shares:
        raise Invalid("没有分配对象。", "nobody to share the amount out to.")
    keys = [s.key for s in shares]
    if len(set(keys)) != len(keys):
        raise Invalid("分配对象重复。", "a share's key appears twice.")
    weights = [Fraction(s.weight) for s in shares]  # Decimal → exact fraction
    if any(w < 0 for w in weights):
        bad = next(s.key for s, w in zip(shares, weights, strict=True) if w < 0)
        raise Invalid(f"{bad} 的权重为负。", f"the weight of {bad} is negative.")
    total_weight = sum(weights, Fraction(0))
    fen = int(amount / FEN)
    if total_weight == 0:
        if fen:
            raise Invalid(
                "所有权重均为 0，无法分配。", "every weight is zero: nothing to share by."
            )
        return {k: Decimal("0.00") for k in keys}
    quotas = [Fraction(fen) * w / total_weight for w in weights]
    whole = [q.numerator // q.denominator for q in quotas]
    left = fen - sum(whole)  # 0 ≤ left < number of shares
    order = sorted(range(len(shares)), key=lambda i: (-(quotas[i] - whole[i]), keys[i]))
    for i in order[:left]:
        whole[i] += 1
    return {k: (Decimal(n) * FEN).quantize(FEN) for k, n in zip(keys, whole, strict=True)}
