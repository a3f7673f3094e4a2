"""Valuation (issue #17 part A) on both engines: the NPV, the values, the per-亩 comparison,
label premiums and a bank's loan-to-value, each worked out by hand in the test; roles; bad
input refused bilingually with nothing changed; prices never edited in place; the demo's
scenarios sourced and flagged unverified; the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry.compensation.loans import loan_to_value
from registry.compensation.prices import add_price, list_prices, price_in_force
from registry.compensation.valuation import label_premium, npv_terms, value_project
from registry.compensation.valuation_demo import DEMO_SCENARIOS, demo_valuation
from registry.db import session_scope
from registry.errors import Category, RegistryError
from registry.issuance import issue
from registry.ledger import ensure_account, pledge
from registry.projects import create_project
from registry.projects.core import find_project
from tests.cli_runner import run_cli
from tests.registry.ledger_fixtures import ADMIN, BANK_USER, BUYER_USER, STAFF, verified_project
from tests.registry.user_fixtures import add_test_users

D = Decimal
SOURCE = "测试价格 / a test's price"


def _valuation_registry(engine: Engine, folder: Path) -> None:
    """L1 verified (1000.5 t) and issued (1000 credits, 100 to the buffer), two banks' accounts,
    the test users; and NPV1, a draft whose frozen ex-ante the test writes by hand: 100, 120
    and 150 t CO2e in 2027–2029 on 10 ha."""
    verified_project(engine, folder)
    with session_scope(engine) as s:
        for code, holder, kind in (("BUYER", "某电力公司", "buyer"), ("BANK", "永州某银行", "bank"),
                                   ("BANK2", "某农商银行", "bank")):  # fmt: skip
            ensure_account(s, code, holder, "holding", holder, kind)
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)
        create_project(s, STAFF, code="NPV1", name="净现值测试", methodology="AR-CM-005-V01",
                       developer="双牌县林业局", start_date=date(2027, 1, 1), crediting_years=20)  # fmt: skip
        project = find_project(s, "NPV1")
        by_year = [
            {"year": y, "net_removals": c} for y, c in ((2027, 100.0), (2028, 120.0), (2029, 150.0))
        ]
        project.exante_json = json.dumps({"by_year": by_year, "unverified_parameters": []})
        project.exante_total_tco2e, project.area_ha = 370.0, 10.0
    add_test_users(engine)


@pytest.fixture
def reg(scenario: Callable[..., Engine]) -> Engine:
    return scenario("valuation", _valuation_registry)


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as c:
        return tuple(int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                     for t in ("price_scenario", "audit_event", "pledge"))  # fmt: skip


def _price(engine: Engine, name: str, price: str, **kw: object) -> None:
    with session_scope(engine) as s:
        add_price(s, STAFF, name, "测试市场", D(price), date(2026, 1, 1), SOURCE, **kw)  # type: ignore[arg-type]


# -- pure arithmetic ----------------------------------------------------------------------------


def test_npv_of_three_years_by_hand() -> None:
    # valuation year 2027: 2027 → t = 1, 2028 → t = 2, 2029 → t = 3; P = 80, r = 5 %, g = 0
    #   100 × 80 / 1.05   =  8000 / 1.05     =  7619.047619…  →  7619.05
    #   120 × 80 / 1.05²  =  9600 / 1.1025   =  8707.482993…  →  8707.48
    #   150 × 80 / 1.05³  = 12000 / 1.157625 = 10366.051182…  → 10366.05
    #   sum of the exact terms = 26692.581795…  → 26692.58
    terms, total = npv_terms([(2027, D(100)), (2028, D(120)), (2029, D(150))], D(80), D("0.05"),
                             D(0), 2027)  # fmt: skip
    assert [(t.year, t.t, t.term_yuan) for t in terms] == [
        (2027, 1, "7619.05"), (2028, 2, "8707.48"), (2029, 3, "10366.05")]  # fmt: skip
    assert total.quantize(D("0.000001")) == D("26692.581795")
    # valued in 2028: 2027 is past and left out; 2028 → t = 1, 2029 → t = 2
    #   9600 / 1.05 = 9142.857142…; 12000 / 1.1025 = 10884.353741… → 20027.210884…
    _, later = npv_terms([(2027, D(100)), (2028, D(120)), (2029, D(150))], D(80), D("0.05"),
                         D(0), 2028)  # fmt: skip
    assert later.quantize(D("0.000001")) == D("20027.210884")
    # growth = rate: (1.05/1.05)^t = 1, so the NPV is the plain sum 370 × 80 = 29600
    _, flat = npv_terms([(2027, D(100)), (2028, D(120)), (2029, D(150))], D(80), D("0.05"),
                        D("0.05"), 2027)  # fmt: skip
    assert flat == D(29600)


def test_label_premiums_by_hand() -> None:
    # 500 credits without labels add nothing; 300 carry BIO (+10 %): 300 × 80 × 0.10 = 2400;
    # 200 carry BIO and WATER (+10 % + 5 % = 15 %, uplifts add): 200 × 80 × 0.15 = 2400;
    # total 4800.00; a label without an uplift (KANG) adds nothing to its group
    groups, total = label_premium(
        {(): 500, ("BIO",): 300, ("BIO", "WATER"): 200, ("KANG",): 50}, D(80),
        {"BIO": D(10), "WATER": D(5)},
    )  # fmt: skip
    assert total == D(4800)
    assert [(g.labels, g.uplift_pct, g.premium_yuan) for g in groups] == [
        (("BIO",), "10", "2400.00"), (("BIO", "WATER"), "15", "2400.00"), (("KANG",), "0", "0.00")]  # fmt: skip


# -- a project valued ---------------------------------------------------------------------------


def test_a_project_valued_by_hand(reg: Engine) -> None:
    _price(reg, "TEST-80", "80.00")
    _price(reg, "TEST-20", "20.00")
    with session_scope(reg) as s:
        v = value_project(s, BUYER_USER, "NPV1", rate="0.05", per_mu="30",
                          valuation_date=date(2027, 3, 1))  # fmt: skip
    by = {x.scenario: x for x in v.scenarios}
    assert (v.exante_tco2e, v.area_mu, v.issued) == ("370.000", "150.0000", 0)
    high, low = by["TEST-80"], by["TEST-20"]
    # ex-ante 370 t × 80 = 29600.00; NPV as above 26692.58; nothing verified or issued yet
    assert (high.exante_value_yuan, high.npv_yuan, high.verified_value_yuan) == (
        "29600.00", "26692.58", "0.00")  # fmt: skip
    # per 亩: (370 / 3 years) × 80 / (10 ha × 15) = 9866.666… / 150 = 65.777… → 65.78 > 30
    assert (high.carbon_yuan_per_mu_year, high.per_mu_standard_yuan) == ("65.78", "30.00")
    assert high.pays_more.startswith("碳汇")
    # at 20: 123.333… × 20 / 150 = 16.444… → 16.44 < 30: the standard pays more
    assert low.carbon_yuan_per_mu_year == "16.44" and low.pays_more.startswith("每亩标准")
    # both test prices are unverified and say so; the rate and standard were given
    assert len(v.unverified) == 2 and all("unverified" in u for u in v.unverified)


def test_verified_and_issued_credits_valued_by_hand(reg: Engine) -> None:
    _price(reg, "TEST-80", "80.00", label_premiums={"BIO": "10"})
    with session_scope(reg) as s:
        v = value_project(s, STAFF, "L1", "TEST-80")
    x = v.scenarios[0]
    # verified 1000.5 t × 80 = 80040.00; issued 1000 × 80 = 80000.00; buffer 100 × 80 =
    # 8000.00; holder 900 × 80 = 72000.00; no credit carries a label yet: premium 0.00
    assert (v.verified_tco2e, v.issued, v.buffer, v.holder) == ("1000.5", 1000, 100, 900)
    assert (x.verified_value_yuan, x.issued_value_yuan, x.buffer_value_yuan,
            x.holder_value_yuan, x.label_premium_yuan) == (
        "80040.00", "80000.00", "8000.00", "72000.00", "0.00")  # fmt: skip
    # the defaults are named as unverified: the rate, the per-亩 standard, the price
    assert len(v.unverified) == 3 and "8 %" in v.unverified[0] and "30" in v.unverified[1]


def test_a_retried_price_is_recorded_once(reg: Engine) -> None:
    with session_scope(reg) as s:
        first = add_price(
            s, STAFF, "TEST", "M", "80", date(2026, 1, 1), SOURCE, idempotency_key="k"
        )
    before = _counts(reg)
    with session_scope(reg) as s:
        again = add_price(
            s, STAFF, "TEST", "M", "80", date(2026, 1, 1), SOURCE, idempotency_key="k"
        )
    assert again == first and again.replayed and _counts(reg) == before
    _refused(reg, lambda s: add_price(s, STAFF, "TEST", "M", "81", date(2026, 1, 1), SOURCE,
                                      idempotency_key="k"), Category.CONFLICT)  # fmt: skip


def test_a_new_price_supersedes_and_rows_never_change(reg: Engine) -> None:
    _price(reg, "TEST", "80.00")
    with session_scope(reg) as s:
        add_price(s, ADMIN, "TEST", "测试市场", D("70.50"), date(2026, 2, 1), SOURCE, "verified")
        assert price_in_force(s, "TEST").price_yuan == "70.50"
        assert [p.price_yuan for p in list_prices(s, BUYER_USER)] == ["70.50"]
        assert [p.price_yuan for p in list_prices(s, BUYER_USER, history=True)] == [
            "80.00",
            "70.50",
        ]
        events = s.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'valuation.price_add'")
        )
        assert events.scalar_one() == 2
    for sql in ("UPDATE price_scenario SET price_fen = 1", "DELETE FROM price_scenario"):
        with pytest.raises(DBAPIError, match="never changed"), session_scope(reg) as s:
            s.execute(text(sql))


# -- a bank's view ------------------------------------------------------------------------------


def test_loan_to_value_by_hand_and_the_price_fall(reg: Engine) -> None:
    _price(reg, "TEST", "80.00")
    with session_scope(reg) as s:
        pledge(s, STAFF, "p-1", "HOLD-L1", "BANK", "DK-1", D("12000.00"), quantity=200)
        pledge(s, STAFF, "p-2", "HOLD-L1", "BANK2", "DK-2", D("1000.00"), quantity=100)
        view = loan_to_value(s, BANK_USER, "TEST")
    # the bank sees its own pledge only: 200 × 80 = 16000.00; LTV 12000 / 16000 = 0.75 > 0.7
    [line] = view.loans
    assert (line.loan_ref, line.value_yuan, line.ltv, line.over_threshold) == (
        "DK-1", "16000.00", "0.7500", True)  # fmt: skip
    assert not line.price_fell and line.price_at_pledge_yuan == "80.00"
    assert any("unverified" in u for u in view.unverified)  # the default threshold and the price
    with session_scope(reg) as s:
        assert not loan_to_value(s, BANK_USER, "TEST", "0.8").loans[0].over_threshold
        # staff see both banks' pledges: DK-2 is 1000 / (100 × 80) = 0.125
        assert [(x.loan_ref, x.ltv) for x in loan_to_value(s, STAFF, "TEST").loans] == [
            ("DK-1", "0.7500"), ("DK-2", "0.1250")]  # fmt: skip
    _price(reg, "TEST", "70.00")  # the price falls after the pledge
    with session_scope(reg) as s:
        line = loan_to_value(s, BANK_USER, "TEST", "0.9").loans[0]
    # 200 × 70 = 14000.00; 12000 / 14000 = 0.857142… → 0.8571 (under 0.9), but the price fell
    assert (line.value_yuan, line.ltv, line.over_threshold, line.price_fell) == (
        "14000.00", "0.8571", False, True)  # fmt: skip
    assert line.price_at_pledge_yuan == "80.00" and "80.00 → 70.00" in line.flags[0]


# -- roles and bad input ------------------------------------------------------------------------


def _refused(engine: Engine, call: Callable[..., object], category: Category) -> RegistryError:
    before = _counts(engine)
    with pytest.raises(RegistryError) as info, session_scope(engine) as s:
        call(s)
    assert info.value.category is category
    assert any("\u4e00" <= ch <= "\u9fff" for ch in info.value.message_zh)  # Chinese first
    assert info.value.message_en and info.value.message_en != info.value.message_zh  # English too
    assert _counts(engine) == before  # nothing written
    return info.value


def test_roles_refused(reg: Engine) -> None:
    _price(reg, "TEST", "80.00")
    day = date(2026, 1, 1)
    _refused(
        reg, lambda s: add_price(s, BUYER_USER, "X", "M", D(80), day, SOURCE), Category.FORBIDDEN
    )
    _refused(
        reg, lambda s: add_price(s, BANK_USER, "X", "M", D(80), day, SOURCE), Category.FORBIDDEN
    )
    _refused(reg, lambda s: loan_to_value(s, BUYER_USER, "TEST"), Category.FORBIDDEN)


@pytest.mark.parametrize(
    ("call", "category", "says"),
    [
        (lambda s: add_price(s, STAFF, "X", "M", D("-80"), date(2026, 1, 1), SOURCE), Category.INVALID, "above 0"),
        (lambda s: add_price(s, STAFF, "X", "M", D(0), date(2026, 1, 1), SOURCE), Category.INVALID, "above 0"),
        (lambda s: add_price(s, STAFF, "X", "M", "80.001", date(2026, 1, 1), SOURCE), Category.INVALID, "whole fen"),
        (lambda s: add_price(s, STAFF, "X", "M", "eighty", date(2026, 1, 1), SOURCE), Category.INVALID, "not a number"),
        (lambda s: add_price(s, STAFF, "X", "M", D(80), date(2026, 1, 1), " "), Category.INVALID, "source"),
        (lambda s: add_price(s, STAFF, "X", "M", D(80), date(2026, 1, 1), SOURCE, "maybe"), Category.INVALID, "verified"),
        (lambda s: add_price(s, STAFF, "X", "M", D(80), date(2026, 1, 1), SOURCE, growth_pct="-100"), Category.INVALID, "−100"),
        (lambda s: add_price(s, STAFF, "X", "M", D(80), date(2999, 1, 1), SOURCE), Category.INVALID, "future"),
        (lambda s: value_project(s, STAFF, "NOPE", "TEST"), Category.NOT_FOUND, "NOPE"),
        (lambda s: value_project(s, STAFF, "L1", "NOPE"), Category.NOT_FOUND, "NOPE"),
        (lambda s: value_project(s, STAFF, "L1", "TEST", rate="-1"), Category.INVALID, "−100"),
        (lambda s: value_project(s, STAFF, "L1", "TEST", rate="-1.5"), Category.INVALID, "−100"),
        (lambda s: value_project(s, STAFF, "L1", "TEST", rate="10.5"), Category.INVALID, "1000 %"),
        (lambda s: add_price(s, STAFF, "X", "M", "1e13", date(2026, 1, 1), SOURCE), Category.INVALID, "at most"),
        (lambda s: value_project(s, STAFF, "L1", "TEST", per_mu="-3"), Category.INVALID, "negative"),
        (lambda s: loan_to_value(s, STAFF, "TEST", "0"), Category.INVALID, "above 0"),
    ],
    ids=["negative price", "zero price", "fraction of a fen", "not a number", "no source",
         "bad status", "growth -100 %", "future date", "unknown project", "unknown scenario",
         "rate -100 %", "rate below -100 %", "rate above 1000 %", "huge price", "negative per-mu", "zero threshold"],
)  # fmt: skip
def test_bad_input_refused(
    reg: Engine, call: Callable[..., object], category: Category, says: str
) -> None:
    _price(reg, "TEST", "80.00")
    error = _refused(reg, call, category)
    assert says in error.message_en


# -- the demo and the command line ---------------------------------------------------------------


def test_the_demo_scenarios_are_sourced_and_flagged(reg: Engine) -> None:
    with session_scope(reg) as s:
        report = demo_valuation(s, STAFF, "L1")
    with session_scope(reg) as s:
        again = demo_valuation(s, STAFF, "L1")  # a re-run records nothing new
        prices = list_prices(s, STAFF)
    assert report == again
    assert len(prices) == len(DEMO_SCENARIOS) == 5
    assert all(p.status == "unverified" and p.source for p in prices)
    for name, _, price, _, _ in DEMO_SCENARIOS:
        assert f"{name} [unverified] | {price}" in report
    # 全国碳市场 97.49 × 1000.5 verified t = 97490 + 48.745 = 97538.745 → 97538.75 (half up;
    # half-even would give 97538.74)
    assert "| 97.49 |" in report and "| 97538.75 |" in report
    notes = report.split("NOTE: unverified sources:")[1].strip().splitlines()
    assert len(notes) == 7  # five prices, the default rate, the default per-亩 standard
    assert all(n.startswith("- ") and n.endswith("source unverified") for n in notes)


def test_the_command_line(reg: Engine, db_url: str) -> None:
    env = {"TANHUI_DATABASE_URL": db_url, "TANHUI_USER": "li"}
    added = run_cli("compensation", "prices", "add", "--name", "CCER", "--market", "CCER",
                    "--price", "80", "--date", "2026-01-01", "--source", "测试", "--premium",
                    "BIO=10", "--json", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["label_premiums"] == {"BIO": "10"}
    listed = run_cli("compensation", "prices", "list", env=env)
    assert listed.returncode == 0 and "CCER" in listed.stdout and "unverified" in listed.stderr
    shown = run_cli("compensation", "value", "--project", "L1", "--scenario", "CCER", "--rate",
                    "0.05", "--per-mu", "30", "--json", env=env)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["scenarios"][0]["verified_value_yuan"] == "80040.00"
    table = run_cli("compensation", "value", "--project", "L1", env=env)
    assert table.returncode == 0 and "哪个付给业主更多" in table.stdout and "未核实" in table.stderr
    loans = run_cli("compensation", "loans", "--scenario", "CCER", env=env)
    assert loans.returncode == 0 and "质押贷款" in loans.stdout
    retried = run_cli("compensation", "prices", "add", "--name", "CCER", "--market", "CCER",
                      "--price", "80", "--date", "2026-01-01", "--source", "测试", "--premium",
                      "BIO=10", "--key", "same", env=env)  # fmt: skip
    assert retried.returncode == 0 and "幂等键" not in retried.stderr
    once = _counts(reg)
    again = run_cli("compensation", "prices", "add", "--name", "CCER", "--market", "CCER",
                    "--price", "80", "--date", "2026-01-01", "--source", "测试", "--premium",
                    "BIO=10", "--key", "same", env=env)  # fmt: skip
    assert again.returncode == 0 and "a retry" in again.stdout and _counts(reg) == once
    before = _counts(reg)
    refused = run_cli("compensation", "prices", "add", "--name", "X", "--market", "M", "--price",
                      "-5", "--date", "2026-01-01", "--source", "s", env=env)  # fmt: skip
    assert refused.returncode != 0 and "拒绝" in refused.stderr and "above 0" in refused.stderr
    buyer = run_cli("compensation", "prices", "add", "--name", "X", "--market", "M", "--price",
                    "5", "--date", "2026-01-01", "--source", "s", env={**env, "TANHUI_USER": "buyer"})  # fmt: skip
    assert buyer.returncode != 0 and "may not" in buyer.stderr
    bad_date = run_cli("compensation", "value", "--project", "L1", "--date", "soon", env=env)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
    assert _counts(reg) == before


def test_labelled_credits_carry_their_premium_into_the_value_and_the_pledge(reg: Engine) -> None:
    """An eco-label attached through the ledger (ledger.label) lifts the value of the credits
    carrying it, for the holder's credits and for a bank's pledge."""
    from registry.ledger.labels import relabel

    _price(reg, "TEST", "80.00", label_premiums={"BIO": "10"})
    with session_scope(reg) as s:
        relabel(s, ADMIN, "lab-1", "L1", "BIO")  # all 1,000 live credits: 900 held, 100 buffer
        pledge(s, STAFF, "p-1", "HOLD-L1", "BANK", "DK-1", D("12000.00"), quantity=200)
    with session_scope(reg) as s:
        valuation = value_project(s, STAFF, "L1", "TEST")
        loans = loan_to_value(s, BANK_USER, "TEST")
    value, line = valuation.scenarios[0], loans.loans[0]
    # a premium paid on a label says what is unsound about the label: BIO is in no catalogue
    for unverified in (valuation.unverified, loans.unverified):
        assert any("label BIO is not in the catalogue" in u for u in unverified)
    # the holder's 900 labelled credits: 900 × 80 元 × 10 % = 7,200.00 premium
    assert value.label_premium_yuan == "7200.00"
    # the pledge: 200 × 80 × (1 + 10 %) = 17,600.00; LTV 12,000 / 17,600 = 0.681818… → 0.6818
    assert (line.value_yuan, line.ltv) == ("17600.00", "0.6818")


def test_a_premium_no_held_credit_carries_is_said_not_silently_zero(reg: Engine) -> None:
    _price(reg, "TEST", "80.00")
    with session_scope(reg) as s:
        v = value_project(s, STAFF, "L1", "TEST", label_premiums={"watr_conservation": "10"})
    assert v.scenarios[0].label_premium_yuan == "0.00"  # L1's credits carry no label
    assert len(v.notes) == 1 and "watr_conservation" in v.notes[0]
    assert "applies to nothing" in v.notes[0] and "没有用上" in v.notes[0]
    with session_scope(reg) as s:  # no premium asked: nothing to say
        assert value_project(s, STAFF, "L1", "TEST").notes == ()
