"""Sharing money out to the fen (largest remainder) and the identity and bank-card checks, on
examples worked by hand and published examples; hypothesis: the shares always sum exactly, are
never negative, and each is within one fen of its exact quota."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.compensation import FEN, Share, allocate_fen, check_bank_card, check_resident_id
from registry.compensation.identity import luhn_valid
from registry.errors import Invalid


def test_three_equal_shares_of_100_yuan() -> None:
    # 10,000 fen / 3 = 3,333⅓ each: 3,333 fen each, 1 fen left → the largest remainders tie
    # (⅓ each) → the first key in order, A, gets it
    got = allocate_fen(Decimal("100.00"), [Share("B", 1), Share("A", 1), Share("C", 1)])
    assert got == {"B": Decimal("33.33"), "A": Decimal("33.34"), "C": Decimal("33.33")}


def test_weights_2_3_7_of_10_yuan() -> None:
    # 1,000 fen × 2/12 = 166.67, × 3/12 = 250, × 7/12 = 583.33 → 166 + 250 + 583 = 999; the one
    # fen left goes to the largest remainder, A's ⅔
    got = allocate_fen(Decimal("10.00"), [Share("A", 2), Share("B", 3), Share("C", 7)])
    assert got == {"A": Decimal("1.67"), "B": Decimal("2.50"), "C": Decimal("5.83")}


def test_verified_tonnes_as_weights() -> None:
    # 1,000.00 yuan by 3.5, 1.2 and 0.3 t CO2e (5.0 t): 700.00, 240.00, 60.00 exactly
    got = allocate_fen(Decimal("1000.00"), [Share("张", Decimal("3.5")), Share("李", Decimal("1.2")),
                                            Share("村集体", Decimal("0.3"))])  # fmt: skip
    assert got == {"张": Decimal("700.00"), "李": Decimal("240.00"), "村集体": Decimal("60.00")}


@pytest.mark.parametrize(
    ("amount", "shares"),
    [
        (Decimal("-1.00"), [Share("A", 1)]),
        (Decimal("1.001"), [Share("A", 1)]),
        (Decimal("1.00"), []),
        (Decimal("1.00"), [Share("A", 1), Share("A", 2)]),
        (Decimal("1.00"), [Share("A", -1), Share("B", 2)]),
        (Decimal("1.00"), [Share("A", 0), Share("B", 0)]),
    ],
)
def test_refusals_are_bilingual(amount: Decimal, shares: list[Share]) -> None:
    with pytest.raises(Invalid) as refused:
        allocate_fen(amount, shares)
    assert refused.value.message_zh and refused.value.message_en


weights = st.decimals(min_value=0, max_value=1_000_000, places=3, allow_nan=False,
                      allow_infinity=False)  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    fen=st.integers(min_value=0, max_value=10**11),
    ws=st.lists(weights, min_size=1, max_size=40).filter(lambda w: any(x > 0 for x in w)),
)
def test_the_roster_always_sums_exactly(fen: int, ws: list[Decimal]) -> None:
    amount = Decimal(fen) * FEN
    shares = [Share(f"owner-{i:03d}", w) for i, w in enumerate(ws)]
    got = allocate_fen(amount, shares)
    assert sum(got.values(), Decimal(0)) == amount
    total = sum((Fraction(w) for w in ws), Fraction(0))
    for share in shares:
        paid = got[share.key]
        assert paid >= 0 and paid == paid.quantize(FEN)
        quota = Fraction(fen) * Fraction(share.weight) / total  # in fen
        assert abs(Fraction(paid / FEN) - quota) < 1


def test_resident_id_examples_of_gb_11643() -> None:
    # GB 11643-1999's own examples. By hand for the first, 11010519491231002X: Σ digit × weight
    # = 1·7+1·9+0·10+1·5+0·8+5·4+1·2+9·1+4·6+9·3+1·7+2·9+3·10+1·5+0·8+0·4+2·2 = 167;
    # 167 mod 11 = 2 → check character "X" (the table 1 0 X 9 8 7 6 5 4 3 2)
    products = (1 * 7, 1 * 9, 0 * 10, 1 * 5, 0 * 8, 5 * 4, 1 * 2, 9 * 1, 4 * 6, 9 * 3, 1 * 7, 2 * 9,
                3 * 10, 1 * 5, 0 * 8, 0 * 4, 2 * 2)  # fmt: skip
    assert sum(products) == 167 and "10X98765432"[167 % 11] == "X"
    assert check_resident_id("11010519491231002x") == "11010519491231002X"
    assert check_resident_id("440524188001010014") == "440524188001010014"
    for wrong in ("110105194912310021", "11010519491231002", "1101051949123100ZX"):
        with pytest.raises(Invalid):
            check_resident_id(wrong)


def test_luhn_and_bank_cards() -> None:
    # the Luhn example of ISO/IEC 7812-1: 7992739871 with check digit 3 (Σ = 70)
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert check_bank_card("4111 1111 1111 1111") == "4111111111111111"
    for wrong in ("4111 1111 1111 1112", "1234", "6222-0212-3456-789a"):
        with pytest.raises(Invalid):
            check_bank_card(wrong)
