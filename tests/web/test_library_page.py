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


def test_eco_labels_are_shown_by_their_catalogue_names(web: Web) -> None:
    """Blocks store label codes; the library and the project page show the catalogue's name in
    the page's language, the code kept for the filter — and a revoked label says so."""
    from registry.db import session_scope
    from registry.labels.catalogue import add_label
    from registry.labels.service import revoke_label
    from registry.ledger import relabel
    from registry.users import load_actor

    entry = {"code": "water_conservation", "name_zh": "水源涵养", "name_en": "Water conservation",
             "kind": "co-benefit", "issuer": "双牌县林业局", "valid_from": "2026-01-01",
             "valid_to": "2030-12-31",
             "criteria": {"stand": {"field": "species_group", "op": "eq", "value": "moso_bamboo",
                                    "source": "test"},
                          "project": {"basis": "area", "min_share": 0.5, "source": "test"}}}  # fmt: skip
    with session_scope(web.engine) as s:
        admin = load_actor(s, "director")
        add_label(s, admin, entry, ("认定文件.pdf", "0" * 64))
        relabel(s, admin, "web-label-1", "L1", "water_conservation")
    page = web.page("/library").text
    assert re.search(r'<span class="label" data-code="water_conservation">水源涵养</span>', page)
    assert '<option value="water_conservation" >水源涵养</option>' in page.replace("  ", " ")
    english = web.page("/library?lang=en").text
    assert '<span class="label" data-code="water_conservation">Water conservation</span>' in english
    project = web.page("/projects/L1?lang=zh").text
    assert '<span class="label" data-code="water_conservation">水源涵养</span>' in project
    # revoked: detached from every live credit (L1's 30 retired ones were retired unlabelled),
    # so the project no longer shows it
    with session_scope(web.engine) as s:
        revoke_label(
            s, load_actor(s, "director"), "web-revoke-1", "water_conservation", "认定被撤销"
        )
    assert 'data-code="water_conservation"' not in web.page("/library").text
