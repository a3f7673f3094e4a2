"""Organisations holding accounts, and their unified social credit codes (GB 32100-2015)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.organisations import (
    CreditCodeError,
    OrganisationError,
    check_credit_code,
    credit_code_check_character,
    ensure_organisation,
)

# The worked example of GB 32100-2015: 91350100M000100Y4? — its check character, by hand:
#   characters  9  1  3  5  0  1  0  0  M  0  0  0  1  0  0  Y  4
#   values      9  1  3  5  0  1  0  0 21  0  0  0  1  0  0 30  4   (table 1: M = 21, Y = 30)
#   weights     1  3  9 27 19 26 16 17 20 29 25 13  8 24 10 30 28   (3^(i−1) mod 31)
#   products    9  3 27 135 0 26  0  0 420 0  0  0  8  0  0 900 112 → sum 1640
#   1640 mod 31 = 1640 − 52 × 31 = 28; check value 31 − 28 = 3 → character "3"
EXAMPLE = "91350100M000100Y43"


def test_the_check_character_of_the_standards_example() -> None:
    assert credit_code_check_character(EXAMPLE[:17]) == "3"
    # sum 0 → 31 − 0 = 31, which the standard writes as 0
    assert credit_code_check_character("0" * 17) == "0"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("91350100M000100Y4Z", "check character should be 3"),  # the standard's wrong example
        ("91350100M000100Y4", "18 characters, not 17"),
        ("91350100M0001O0Y43", "may not use: O"),  # letter O for zero
        ("91350100M00I100Y43", "may not use: I"),
    ],
)
def test_a_mistyped_credit_code_is_refused_with_the_reason(code: str, words: str) -> None:
    with pytest.raises(CreditCodeError) as info:
        check_credit_code(code)
    assert words in info.value.message_en and "统一社会信用代码" in info.value.message_zh


def test_a_valid_code_is_trimmed_and_capitalised() -> None:
    assert check_credit_code(" 91350100m000100y43 ") == EXAMPLE


def _count(engine: Engine) -> tuple[object, ...]:
    with engine.connect() as c:
        return tuple(
            c.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("organisation", "audit_event")
        )


def test_registering_organisations(engine: Engine) -> None:
    with session_scope(engine) as s:
        bank = ensure_organisation(s, "李工", "永州某银行", "bank", EXAMPLE)
        again = ensure_organisation(s, "李工", "永州某银行")  # nothing asked: found, not checked
        buyer = ensure_organisation(s, "李工", "某电力公司", default_kind="buyer")
    assert (bank.kind, bank.credit_code) == ("bank", EXAMPLE) and again == bank
    assert (buyer.kind, buyer.credit_code) == ("buyer", None)
    before = _count(engine)
    refusals = [
        (lambda s: ensure_organisation(s, "x", "永州某银行", "buyer"), "registered as bank, not buyer"),
        (lambda s: ensure_organisation(s, "x", "某电力公司", credit_code=EXAMPLE), "with credit code (none)"),
        (lambda s: ensure_organisation(s, "x", "新公司", "bank", EXAMPLE), "already belongs to 永州某银行"),
        (lambda s: ensure_organisation(s, "x", "新公司", "shop"), "no organisation kind 'shop'"),
        (lambda s: ensure_organisation(s, "x", "新公司", credit_code="91350100M000100Y4Z"), "check character"),
        (lambda s: ensure_organisation(s, "x", "  "), "needs a name"),
    ]  # fmt: skip
    for call, words in refusals:
        with pytest.raises(OrganisationError) as info, session_scope(engine) as s:
            call(s)
        assert words in info.value.message_en
    assert _count(engine) == before  # refused: nothing written
    with engine.connect() as c:
        actions = [
            r[0] for r in c.execute(text("SELECT action FROM audit_event ORDER BY id")).all()
        ]
    assert actions == ["organisation.registered", "organisation.registered"]
