"""The public ledger page: issuances and retirements with their serial ranges (worked out by
hand), search by serial (inside the retired range, outside it, never issued, a range, not a
serial), by beneficiary, by project, and paging newest first."""

from __future__ import annotations

import re

from registry.db import session_scope
from registry.ledger import retire
from registry.users import load_actor
from tests.web.conftest import Web
from tests.web.public_pages import (
    CERTIFICATE_SERIALS,
    INSIDE,
    ISSUED_SERIALS,
    NEVER,
    OUTSIDE,
    PREFIX,
    household_names,
    visible_text,
)


def _certificates(page: str) -> list[str]:
    return re.findall(r'<tr data-certificate="([^"]+)">', page)


def _issuances(page: str) -> list[str]:
    return re.findall(r'<tr data-issuance="(\d+)">', page)


def test_ledger_lists_the_issuance_and_the_retirement(web: Web) -> None:
    r = web.page("/ledger")
    assert r.status_code == 200
    assert len(_issuances(r.text)) == 1 and ISSUED_SERIALS in r.text
    assert len(_certificates(r.text)) == 1 and CERTIFICATE_SERIALS in r.text
    assert "某电力公司" in r.text and "2026 年度碳中和" in r.text
    assert not [n for n in household_names(web.engine) if n in visible_text(r.text)]


def test_search_by_serial_finds_the_retirement_holding_it(web: Web) -> None:
    inside = web.page(f"/ledger?serial={INSIDE}").text
    (certificate,) = _certificates(inside)
    assert "已退役" in inside and f'href="/certificates/{certificate}"' in inside
    assert len(_issuances(inside)) == 1  # the issuance that made it

    outside = web.page(f"/ledger?serial={OUTSIDE}").text  # issued, held by BUYER
    assert _certificates(outside) == [] and len(_issuances(outside)) == 1
    assert "尚未退役" in outside

    never = web.page(f"/ledger?serial={NEVER}").text
    assert _certificates(never) == [] and _issuances(never) == [] and "没有签发过" in never

    # a range overlapping the retired block's end (125..135 meets 101..130)
    overlapping = web.page(f"/ledger?serial={PREFIX}000000125..000000135").text
    assert _certificates(overlapping) == [certificate]
    after = web.page(f"/ledger?serial={PREFIX}000000131..000000135").text  # just after it
    assert _certificates(after) == []


def test_a_malformed_serial_is_refused_beside_the_search_box(web: Web) -> None:
    r = web.page("/ledger?serial=CN-431123-L1-2026-12")
    assert r.status_code == 422
    assert "无法识别的序列号" in r.text and "not a serial" in r.text and "Traceback" not in r.text
    assert 'value="CN-431123-L1-2026-12"' in r.text  # what was typed is kept


def test_search_by_beneficiary_and_project(web: Web) -> None:
    assert len(_certificates(web.page("/ledger?q=电力").text)) == 1
    assert _certificates(web.page("/ledger?q=没有这个受益方").text) == []
    assert len(_certificates(web.page("/ledger?project=L1").text)) == 1
    other = web.page("/ledger?project=L9").text
    assert _certificates(other) == [] and _issuances(other) == []


def test_retirements_are_paged_newest_first(web: Web) -> None:
    with session_scope(web.engine) as s:
        buyer = load_actor(s, "buyer")
        for i in range(21):  # 21 more retirements of one credit each: 22 in all
            retire(s, buyer, f"page-{i}", "BUYER", f"受益方{i:02d}", "测试", quantity=1)
    first = web.page("/ledger").text
    assert "<small>22</small>" in first
    shown = _certificates(first)
    assert len(shown) == 20  # twenty a page
    assert "受益方20" in first and "受益方01" in first and "受益方00" not in first
    second = web.page("/ledger?rpage=2").text
    assert len(_certificates(second)) == 2 and "受益方00" in second and "某电力公司" in second
    assert not set(shown) & set(_certificates(second))
    assert 'href="/ledger?rpage=2"' in first and "第 1 / 2 页" in first
