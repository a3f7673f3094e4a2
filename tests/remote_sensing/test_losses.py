"""Equations R1–R6 of a confirmed loss, against values computed by hand here."""

from __future__ import annotations

import math
from datetime import date

import pytest

from registry.errors import Invalid
from registry.remote_sensing.losses import (
    PeriodShare,
    combined_uncertainty,
    credited_removals,
    credits_to_cancel,
    effective_share,
    estimate_loss,
    share_up_to,
)

# two verified periods: 300 t × 40 / 200 = 60 t and 180 t × 50 / 150 = 60 t → C = 120 t
PERIODS = (PeriodShare(1, 300.0, 40.0, 200.0), PeriodShare(2, 180.0, 50.0, 150.0))


def test_the_issue_example_by_hand() -> None:
    est = estimate_loss(0.25, 400.0, PERIODS, u_area=0.10, u_change=0.20, stock_year=2026)
    assert est.credited == pytest.approx(60.0 + 60.0)  # R3
    assert est.l_phys == pytest.approx(0.25 * 400.0)  # R2: 100 t
    assert est.loss == pytest.approx(0.25 * 120.0)  # R4: 30 t
    assert est.u == pytest.approx(math.sqrt(0.10**2 + 0.20**2))  # R5: √0.05 = 0.22360679…
    assert est.u == pytest.approx(0.2236068, abs=1e-7)
    # R6: 30 × 1.2236068 = 36.708… → 37 credits
    assert est.quantity == 37
    numbers = est.equations()
    assert numbers["R6"] == {"Q": 37}
    assert numbers["L ±"] == pytest.approx(30.0 * 0.2236068, abs=1e-6)  # ± 6.708 t
    assert est.notes == ()


def test_a_missing_change_uncertainty_is_zero_with_a_note() -> None:
    est = estimate_loss(0.5, 80.0, (PeriodShare(1, 100.0, 10.0, 50.0),), 0.0, None)
    # C = 100 × 10 / 50 = 20; L = 0.5 × 20 = 10; U = 0 → Q = 10 exactly (not 11)
    assert est.loss == pytest.approx(10.0)
    assert est.u_change == 0.0 and est.quantity == 10
    assert "change uncertainty" in est.notes[0]


def test_rounding_is_up_but_not_for_float_noise() -> None:
    assert credits_to_cancel(0.1 * 3 * 100, 0.0) == 30  # 30.000000000000004 → 30
    assert credits_to_cancel(30.01, 0.0) == 31
    assert credits_to_cancel(0.0, 0.5) == 0


def test_a_period_of_no_modelled_removals_credits_nothing_and_bad_inputs_are_refused() -> None:
    assert credited_removals([PeriodShare(1, 500.0, 0.0, 0.0)]) == 0.0
    with pytest.raises(Invalid):
        estimate_loss(1.5, 400.0, PERIODS, 0.1, 0.2)
    with pytest.raises(Invalid):
        combined_uncertainty(-0.1, 0.2)


def test_r3_counts_a_period_up_to_the_event_linearly_in_time() -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)  # 365 days
    assert share_up_to(start, end, date(2027, 3, 1)) == 1.0  # ended before the event
    assert share_up_to(start, end, end) == 1.0
    assert share_up_to(start, end, date(2025, 12, 31)) == 0.0  # starts after the event
    assert share_up_to(start, end, start) == pytest.approx(1 / 365)
    assert share_up_to(start, end, date(2026, 7, 2)) == pytest.approx(183 / 365)  # 181 + 2
    periods = (PeriodShare(1, 1000.0, 20.0, 400.0, 183 / 365),)
    est = estimate_loss(0.5, 400.0, periods, u_area=0.0, u_change=0.0)
    assert est.credited == pytest.approx(183 / 365 * 1000.0 * 20.0 / 400.0)  # 25.068…


def test_r1_and_r4_cap_a_stand_at_what_remains() -> None:
    periods = (PeriodShare(1, 1000.0, 20.0, 400.0),)  # C = 1000 × 20 / 400 = 50
    est = estimate_loss(0.5, 400.0, periods, u_area=0.0, u_change=0.0, f_prior=0.7,
                        loss_prior=35.0)  # fmt: skip
    assert est.f == pytest.approx(0.3) and est.f_detected == 0.5  # min(0.5, 1 − 0.7)
    assert est.loss == pytest.approx(15.0)  # min(0.3 × 50, 50 − 35)
    capped = estimate_loss(0.5, 400.0, periods, 0.0, 0.0, f_prior=0.2, loss_prior=40.0)
    assert capped.loss == pytest.approx(10.0)  # min(0.5 × 50 = 25, 50 − 40 = 10)
    assert effective_share(0.9, 0.0) == 0.9
    with pytest.raises(Invalid) as nothing:
        effective_share(0.4, 1.0)
    assert "已无剩余" in nothing.value.message_zh
