"""An amount shared out by a rule: first among the parties by their fractions, then the
owners' part among the owners by the rule's basis — each step to the fen by the largest
remainder (:func:`registry.compensation.allocation.allocate_fen`), so every step sums exactly.

Ties (equal remainders) go by key in ascending order: among parties their code names
(``buffer`` < ``developer`` < ``management`` < ``owners`` < ``verification`` <
``village_collective``), among owners their owner id (zero-padded, so text order is numeric
order). A cap per owner (yuan) is applied by water-filling: owners whose share exceeds the cap
get the cap, the rest is shared again among the others, until no share exceeds it; what no
owner can take goes to the rule's ``cap_surplus_to`` party."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from registry.compensation.allocation import FEN, Share, allocate_fen
from registry.compensation.rules import PARTIES, RuleSpec
from registry.errors import Invalid

__all__ = ["MAX_AMOUNT", "OwnerFigures", "SplitLine", "owner_weight", "split_amount"]

MAX_AMOUNT = Decimal(10**12)
"""The largest amount a roster shares out (yuan): a bound on mistakes, far above any county's."""


@dataclass(frozen=True)
class OwnerFigures:
    """One owner's figures in a project: its stands, their area (ha), the verified removals
    apportioned to them (t CO2e, exact), trees (stems_per_ha × area) and income shares 股."""

    owner_id: int
    name: str
    stands: tuple[str, ...] = ()
    area_ha: Fraction = Fraction(0)
    removals_tco2e: Fraction = Fraction(0)
    trees: Fraction = Fraction(0)
    shares: Fraction = Fraction(0)

    def figures(self) -> dict[str, Any]:
        """The figures as a roster line shows them (area 4 decimals, removals 3, trees whole
        as counted)."""
        return {"area_ha": f"{float(self.area_ha):.4f}",
                "removals_tco2e": f"{float(self.removals_tco2e):.3f}",
                "trees": f"{float(self.trees):.1f}", "shares": str(self.shares)}  # fmt: skip


@dataclass(frozen=True)
class SplitLine:
    """One payee's amount: a party (``owners`` for an owner's line) and, for an owner, its id,
    stands and figures."""

    party: str
    payee: str
    amount: Decimal
    owner_id: int | None = None
    stands: tuple[str, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)


def owner_weight(owner: OwnerFigures, basis: str) -> Fraction:
    """The owner's weight under the basis: removals, area, trees or shares."""
    return {"removals": owner.removals_tco2e, "area": owner.area_ha, "trees": owner.trees,
            "shares": owner.shares}[basis]  # fmt: skip


def _key(owner_id: int) -> str:
    return f"{owner_id:012d}"


def _owners_part(
    amount: Decimal, owners: Sequence[OwnerFigures], basis: str, cap: Decimal | None
) -> tuple[dict[int, Decimal], Decimal]:
    """The owners' part shared by the basis, with the cap applied: (yuan per owner id, the
    surplus no owner can take)."""
    weights = {o.owner_id: owner_weight(o, basis) for o in owners}
    capped: dict[int, Decimal] = {}
    while True:
        free = [o for o in owners if o.owner_id not in capped]
        rest = amount - sum(capped.values(), Decimal(0))
        if not free or sum((weights[o.owner_id] for o in free), Fraction(0)) == 0:
            got = {o.owner_id: Decimal("0.00") for o in free}
            return {**got, **capped}, rest
        shared = allocate_fen(rest, [Share(_key(o.owner_id), weights[o.owner_id]) for o in free])
        got = {o.owner_id: shared[_key(o.owner_id)] for o in free}
        over = [i for i, v in got.items() if cap is not None and v > cap]
        if not over:
            return {**got, **capped}, Decimal("0.00")
        assert cap is not None
        capped.update({i: cap.quantize(FEN) for i in over})


def split_amount(
    amount: Decimal, spec: RuleSpec, owners: Sequence[OwnerFigures], developer: str
) -> list[SplitLine]:
    """The lines of a roster: one per owner (in owner id order), then one per other party
    with a share (in :data:`PARTIES` order); amounts in yuan, whole fen, ≥ 0, summing exactly
    to ``amount``. Refused: an amount not in whole fen or negative; an owners' share with no
    owner or every owner's weight zero (and no cap surplus party to take it)."""
    if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT or amount != amount.quantize(FEN):
        raise Invalid(f"分配金额 {amount} 元无效：应在 0 至 1 万亿元之间、精确到分。",
                      f"amount {amount} yuan: must be 0 to 10^12 yuan, in whole fen.")  # fmt: skip
    parties = allocate_fen(amount, [Share(p, f) for p, f in spec.shares.items() if f > 0])
    owners_total = parties.pop("owners", Decimal("0.00"))
    lines: list[SplitLine] = []
    if owners_total > 0 or "owners" in spec.shares:
        if not owners:
            raise Invalid("项目没有林权权利人，无法分配权利人份额。",
                          "the project has no owners to share the owners' part among.")  # fmt: skip
        if sum((owner_weight(o, spec.basis) for o in owners), Fraction(0)) == 0 and owners_total:
            raise Invalid(
                f"所有权利人按“{spec.basis}”的分配依据均为 0，无法分配。",
                f"every owner's {spec.basis} is zero: nothing to share the owners' part by.",
            )
        paid, surplus = _owners_part(owners_total, sorted(owners, key=lambda o: o.owner_id),
                                     spec.basis, spec.cap_per_owner)  # fmt: skip
        for o in sorted(owners, key=lambda o: o.owner_id):
            lines.append(SplitLine("owners", o.name, paid[o.owner_id], o.owner_id, o.stands,
                                   {**o.figures(), "basis": spec.basis}))  # fmt: skip
        if surplus:
            parties[spec.cap_surplus_to] = (
                parties.get(spec.cap_surplus_to, Decimal("0.00")) + surplus
            )
    for party in PARTIES:
        if party in parties:
            figures = {"share": str(spec.shares.get(party, Fraction(0)))}
            if party == spec.cap_surplus_to and spec.cap_per_owner is not None:
                figures["includes_cap_surplus"] = "yes"
            lines.append(SplitLine(party, spec.payee(party, developer), parties[party],
                                   figures=figures))  # fmt: skip
    total = sum((line.amount for line in lines), Decimal(0))
    assert total == amount, (total, amount)  # every step sums exactly: a broken invariant
    return lines
