"""Bulk ledger moves (ledger/batch.py) on both engines: a 1,000-move batch with one bad line
changes nothing and names the line; a good one conserves every total and the log replays it;
a retry with its key moves nothing more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.errors import BadInput, BatchRefused, IdempotencyKeyReused
from registry.issuance import issue
from registry.ledger import account_history, certificate, show, statement
from registry.ledger.batch import BatchLine, execute_batch, read_batch_csv
from registry.public.ledger import retirements_page
from tests.registry.ledger_fixtures import (
    ADMIN,
    BUYER_USER,
    STAFF,
    assert_the_log_agrees,
    open_buyer_and_bank,
    verified_project,
)

P = "CN-431123-L1-2026-"


def _issued(engine: Engine, folder: Path) -> None:
    """5,000 credits of L1: buffer 500 (serials 1–500), HOLD-L1 4,500 (501–5000)."""
    verified_project(engine, folder, quantity=5000.5)
    with session_scope(engine) as s:
        open_buyer_and_bank(s)
        issue(s, ADMIN, "L1", "i-1", minimum_pct=10)


@pytest.fixture
def ledger(scenario: Callable[..., Engine]) -> Engine:
    return scenario("batch", _issued)


def thousand() -> list[BatchLine]:
    """600 transfers of 3 t to BUYER and 400 retirements of 2 t, interleaved (lines 2–1001)."""
    out = []
    for i in range(1000):
        n = i + 2
        if i % 5 < 3:
            out.append(BatchLine(n, "transfer", "HOLD-L1", "BUYER", 3))
        else:
            out.append(BatchLine(n, "retire", "HOLD-L1", quantity=2, beneficiary=f"受益方 {i}",
                                 purpose="碳中和"))  # fmt: skip
    return out


def state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as c:
        return {t: c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()
                for t in ("credit_block", "ledger_operation", "retirement", "audit_event")}  # fmt: skip


def balances(engine: Engine) -> dict[str, tuple[int, int]]:
    with session_scope(engine) as s:
        return {a.account: (a.active, a.retired) for a in show(s).accounts}


def test_one_bad_line_in_a_thousand_changes_nothing_and_is_named(ledger: Engine) -> None:
    lines = thousand()
    lines[499] = BatchLine(501, "transfer", "HOLD-L1", "NOWHERE", 3)  # an unknown account
    before = state(ledger)
    with pytest.raises(BatchRefused) as refused, session_scope(ledger) as s:
        execute_batch(s, STAFF, "b-1", lines)
    assert [p["line"] for p in refused.value.problems] == [501]
    assert "NOWHERE" in refused.value.problems[0]["message_en"]
    assert "第 501 行" in refused.value.message_zh
    assert state(ledger) == before


def test_a_good_batch_conserves_every_total_and_replays(ledger: Engine) -> None:
    before = balances(ledger)
    with session_scope(ledger) as s:
        done = execute_batch(s, STAFF, "b-2", thousand())
    # 600 × 3 = 1,800 t to BUYER; 400 × 2 = 800 t retired; HOLD-L1 4,500 − 2,600 = 1,900
    assert (done.n_moves, done.quantity) == (1000, 2600)
    after = balances(ledger)
    assert after["HOLD-L1"] == (before["HOLD-L1"][0] - 2600, 0)
    assert after["BUYER"][0] == before.get("BUYER", (0, 0))[0] + 1800
    assert after["RETIREMENT"][1] == before.get("RETIREMENT", (0, 0))[1] + 800
    assert after["BUFFER"] == before["BUFFER"]
    # oldest serials first, line by line: line 2 takes 501–503, line 5 (a retirement) 510–511
    assert done.moves[0].serials == (f"{P}000000501..000000503",)
    assert done.moves[3].serials == (f"{P}000000510..000000511",)
    assert done.moves[3].certificate.endswith("-00005")
    with ledger.connect() as c:
        assert c.execute(text("SELECT COUNT(*), SUM(quantity) FROM retirement")).one() == (400, 800)
    assert_the_log_agrees(ledger)


def test_a_retry_moves_nothing_and_other_lines_under_the_key_are_refused(ledger: Engine) -> None:
    lines = thousand()[:50]
    with session_scope(ledger) as s:
        first = execute_batch(s, STAFF, "b-3", lines)
    held = balances(ledger)
    with session_scope(ledger) as s:
        again = execute_batch(s, STAFF, "b-3", lines)
    assert again.replayed and again.moves == first.moves and balances(ledger) == held
    with pytest.raises(IdempotencyKeyReused), session_scope(ledger) as s:
        execute_batch(s, STAFF, "b-3", lines[:49])
    assert_the_log_agrees(ledger)


def test_lines_that_together_ask_too_much_or_take_the_same_serials(ledger: Engine) -> None:
    lines = [BatchLine(2, "transfer", "HOLD-L1", "BUYER", 4000),
             BatchLine(3, "retire", "HOLD-L1", quantity=600, beneficiary="某公司"),  # 4,600 > 4,500
             BatchLine(4, "transfer", "HOLD-L1", "BUYER", serials=f"{P}000000501..000000510")]  # fmt: skip
    before = state(ledger)
    with pytest.raises(BatchRefused) as refused, session_scope(ledger) as s:
        execute_batch(s, STAFF, "b-4", lines)
    # line 2 took 501–4500; line 3 finds 500 left; line 4's serials went to line 2
    assert [p["line"] for p in refused.value.problems] == [3, 4]
    assert state(ledger) == before


def test_only_the_holder_moves_its_credits(ledger: Engine) -> None:
    lines = [BatchLine(2, "transfer", "HOLD-L1", "BUYER", 1)]
    with pytest.raises(BatchRefused) as refused, session_scope(ledger) as s:
        execute_batch(s, BUYER_USER, "b-5", lines)
    assert (
        refused.value.problems[0]["line"] == 2
        and "may not move" in refused.value.problems[0]["message_en"]
    )


def test_the_file_in_chinese_headers_and_its_form_errors(ledger: Engine) -> None:
    text_ = ("类型,转出账户,转入账户,数量,序列号,项目,受益方,用途\n"
             "转让,HOLD-L1,BUYER,5,,,,\n"
             "退役,HOLD-L1,,2,,,某电力公司,2026 年度碳中和\n"
             "退役,HOLD-L1,,x,,,某电力公司,\n"
             "转让,HOLD-L1,BUYER,,,,,\n")  # fmt: skip
    lines, problems = read_batch_csv(text_)
    assert [(line.line, line.kind, line.quantity) for line in lines] == [
        (2, "transfer", 5), (3, "retire", 2), (5, "transfer", None)
    ]  # fmt: skip
    assert [p["line"] for p in problems] == [4]  # "x" is no quantity
    with pytest.raises(BatchRefused) as refused, session_scope(ledger) as s:
        execute_batch(s, STAFF, "b-6", lines, problems=problems)
    assert [p["line"] for p in refused.value.problems] == [4, 5]  # line 5 has no quantity
    good, none = read_batch_csv(text_.split("退役,HOLD-L1,,x")[0])
    with session_scope(ledger) as s:
        done = execute_batch(s, STAFF, "b-7", good, problems=none)
    assert (done.n_moves, done.quantity) == (2, 7)
    assert_the_log_agrees(ledger)


def test_a_batch_retirement_is_a_certificate_like_any_other(ledger: Engine) -> None:
    lines = [BatchLine(2, "transfer", "HOLD-L1", "BUYER", 10),
             BatchLine(3, "retire", "HOLD-L1", quantity=4, beneficiary="某电力公司", purpose="2026 碳中和"),
             BatchLine(4, "retire", "HOLD-L1", quantity=6, beneficiary="某银行", purpose="绿色信贷")]  # fmt: skip
    with session_scope(ledger) as s:
        done = execute_batch(s, STAFF, "b-8", lines, retired_on=date(2026, 12, 1))
    with session_scope(ledger) as s:
        cert = certificate(s, done.moves[2].certificate)  # checked against the batch's event
        shown = statement(s, "HOLD-L1")
        moves, _ = account_history(s, "HOLD-L1")
        page = retirements_page(s, 10, 0, project="L1")
    # line 2 took 501–510, line 3 511–514, line 4 515–520
    assert (cert.beneficiary, cert.quantity, cert.account) == ("某银行", 6, "HOLD-L1")
    assert cert.serials == (f"{P}000000515..000000520",) and cert.retired_on == "2026-12-01"
    assert sorted(r.certificate for r in shown.retirements) == sorted(
        m.certificate for m in done.moves[1:]
    )
    batch = next(m for m in moves if m.kind == "batch")  # once, with its net effect on HOLD-L1
    assert (batch.change, batch.certificate) == (-20, None)
    assert {item["certificate"] for item in page.items} == {m.certificate for m in done.moves[1:]}


def test_the_written_out_dicts_are_the_generic_ones() -> None:
    from registry.ledger.batch import BatchMove, BatchResult
    from registry.results import Result

    move = BatchMove(
        2, "retire", "HOLD-L1", "RETIREMENT", 3, ("a", "b"), "RC-1", "某公司", "碳中和"
    )
    done = BatchResult("x", "y", 1, 3, "2026-12-01", (move,))
    assert move.to_dict() == Result.to_dict(move)
    assert done.to_dict() == Result.to_dict(done)
    assert BatchResult.from_dict(done.to_dict()) == done


def test_what_a_single_retirement_refuses_a_batch_refuses(ledger: Engine) -> None:
    before = state(ledger)
    with pytest.raises(BadInput, match="retirement date 2999-01-01"), session_scope(ledger) as s:
        execute_batch(s, STAFF, "b-9", [BatchLine(2, "retire", "HOLD-L1", quantity=1, beneficiary="某公司")],
                      retired_on=date(2999, 1, 1))  # fmt: skip
    spoof = [
        BatchLine(2, "retire", "HOLD-L1", quantity=1, beneficiary="某公司\u202e司公某")
    ]  # RTL override
    with pytest.raises(BatchRefused) as refused, session_scope(ledger) as s:
        execute_batch(s, STAFF, "b-10", spoof)
    assert [p["line"] for p in refused.value.problems] == [2]
    assert "printable" in refused.value.problems[0]["message_en"]
    assert state(ledger) == before


def test_the_file_is_read_strictly() -> None:
    with pytest.raises(BatchRefused, match="repeats or does not know the columns quantity"):
        read_batch_csv("kind,from,to,quantity,quantity\ntransfer,HOLD-L1,BUYER,5,7\n")
    with pytest.raises(BatchRefused, match="line 2 of the batch file cannot be read"):
        read_batch_csv("kind,from,to,quantity\ntransfer,HOLD-L1,BUYER," + "9" * 200_000 + "\n")
    lines, problems = read_batch_csv(
        "kind,from,to,quantity\n"
        "transfer,HOLD-L1,BUYER,5_000\n"  # Python's int() would read 5000
        "transfer,HOLD-L1,BUYER,１０\n"  # full-width digits
        "transfer,HOLD-L1,BUYER,3,extra\n"  # a cell beyond the header
        "transfer,HOLD-L1,BUYER,3\n"
    )
    assert [p["line"] for p in problems] == [2, 3, 4]
    assert [(line.line, line.quantity) for line in lines] == [(5, 3)]
