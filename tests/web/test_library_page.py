"""The project library page: the public figures of L1 (worked out by hand from the fixture),
filters, search, the English switch, a refusal shown as a page; and the page in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.web.conftest import Web

# L1: 1,000.5 t CO2e verified → 1,000 credits (whole tonnes, rounded down); the buffer takes
# ceil(1000 × 10 %) = 100; 100 moved to BUYER; 30 retired
ISSUED, BUFFER, RETIRED = 1000, 100, 30


def _row(html: str, code: str) -> str:
    found = re.search(rf'<tr data-project="{code}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {code}"
    return found.group(1)


def _numbers(row: str) -> list[str]:
    return re.findall(r'<td class="n">([^<]*)</td>', row)


def test_library_lists_the_project_with_its_figures(web: Web) -> None:
    r = web.page("/library")
    assert r.status_code == 200
    row = _row(r.text, "L1")
    assert "账本测试项目" in row and "AR-CM-005-V01" in row and "已签发" in row
    assert "2026-01-01 – 2055-12-31" in row  # 30 years from 1 January 2026, the last day
    area, _exante, issued, retired, buffer = _numbers(row)
    assert (issued, retired, buffer) == (f"{ISSUED:,}", f"{RETIRED:,}", f"{BUFFER:,}")
    assert float(area.replace(",", "")) > 0
    assert "数据截至" in r.text and re.search(r'<time datetime="20\d\d-', r.text)


def test_filters_and_search_narrow_the_list(web: Web) -> None:
    assert 'data-project="L1"' in web.page("/library?vintage=2026").text
    assert 'data-project="L1"' not in web.page("/library?vintage=2025").text
    assert 'data-project="L1"' in web.page("/library?q=账本").text
    assert 'data-project="L1"' not in web.page("/library?q=不存在的项目").text
    assert 'data-project="L1"' not in web.page("/library?status=draft").text


def test_english_switch_is_remembered(web: Web) -> None:
    r = web.page("/library?lang=en")
    assert "Forest carbon project library" in r.text and "Data as of" in r.text
    assert "Forest carbon project library" in web.page("/library").text  # the cookie
    assert "林区碳交易项目库" in web.page("/library?lang=zh").text


def test_bad_sort_is_a_bilingual_page_not_a_traceback(web: Web) -> None:
    r = web.page("/library?sort=evil")
    assert r.status_code == 422
    assert "不能按" in r.text and "cannot sort by" in r.text and "Traceback" not in r.text
    assert web.page("/no-such-page").status_code == 404


def test_library_in_chromium(live_server: str, browser_page: Any, artifacts: Path) -> None:
    page = browser_page
    page.goto(live_server + "/library")
    assert page.locator("tr[data-project=L1] a").inner_text() == "账本测试项目"
    page.fill("input[name=q]", "账本")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/library?q=*")
    assert page.locator("tr[data-project]").count() == 1
    page.screenshot(path=str(artifacts / "library.png"), full_page=True)
