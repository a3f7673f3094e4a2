"""The public project page: L1's figures worked out by hand from the fixture, its lifecycle by
organisation (never a person's or a household's name), the unverified-parameter warning, its
downloads, a draft, an unknown project; and the page in Chromium."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

from registry.db import session_scope
from registry.projects import assess_risk, create_project
from registry.public.project_page import HOUSEHOLD_WITHHELD
from tests.registry.project_fixtures import ADMIN, BUREAU, STAFF, VERIFIER
from tests.web.conftest import Web
from tests.web.public_pages import (
    BUFFER,
    CERTIFICATE_SERIALS,
    ISSUED,
    ISSUED_SERIALS,
    RETIRED,
    figure,
    household_names,
    sign_in,
    visible_text,
)


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def test_key_figures_equal_the_fixture_worked_by_hand(web: Web) -> None:
    r = web.page("/projects/L1")
    assert r.status_code == 200
    page = r.text
    assert figure(page, "data-figure", "issued") == f"{ISSUED:,}"  # 1,000
    assert figure(page, "data-figure", "in_buffer") == f"{BUFFER:,}"  # 100
    assert figure(page, "data-figure", "retired") == f"{RETIRED:,}"  # 30
    assert figure(page, "data-figure", "methodology") == "AR-CM-005-V01"
    assert "2026-01-01 – 2055-12-31" in page  # 30 years from 1 January 2026, the last day
    # the one monitoring period: verified 1,000.5 t CO2e by the verifier's organisation
    period = re.search(r'<tr data-period="1">(.*?)</tr>', page, re.S)
    assert period is not None
    assert figure(period.group(1), "data-field", "verified") == "1,000.5"
    assert "某审定核证机构" in period.group(1)
    # the issuance (buffer first, then the holding account: 1..1000) and the retirement
    issuance = re.search(r'<tr data-issuance="\d+">(.*?)</tr>', page, re.S)
    assert issuance is not None and ISSUED_SERIALS in issuance.group(1)
    assert re.findall(r'<td class="n">([^<]*)</td>', issuance.group(1)) == ["1,000", "100"]
    retirement = re.search(r'<tr data-certificate="(RC-[^"]+)">(.*?)</tr>', page, re.S)
    assert retirement is not None and CERTIFICATE_SERIALS in retirement.group(2)
    assert f'href="/certificates/{retirement.group(1)}"' in retirement.group(2)
    assert "某电力公司" in retirement.group(2)


def test_lifecycle_names_organisations_never_people(web: Web) -> None:
    page = web.page("/projects/L1").text
    history = page[page.index('<table class="history">') :]
    history = history[: history.index("</table>")]
    for step in ("创建项目", "提交审定", "审定通过", "登记", "提交监测报告", "核证通过", "签发"):
        assert step in history, step
    assert "双牌县林业局" in history and "某审定核证机构" in history
    # the users who acted (the fixture's actors and the director who issued) are not named
    for person in (STAFF.name, VERIFIER.name, ADMIN.name, "director"):
        assert person not in visible_text(page), person
    assert figure(page, "data-figure", "verifiers") == "某审定核证机构"


def test_the_ex_ante_says_it_uses_unverified_parameters(web: Web) -> None:
    page = web.page("/projects/L1").text
    warning = figure(page, "id", "unverified")
    assert "来源尚未核实" in warning and "culm_a" in warning  # the bamboo culm model's a
    csv_text = web.page("/projects/L1/exante.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [int(r["year"]) for r in rows] == list(range(2026, 2056))  # 30 crediting years
    assert all("culm_a" in r["unverified_parameters"] for r in rows)  # every row says so
    first = rows[0]  # net = project change − baseline change − leakage − project emissions
    net = (
        float(first["project_change_tco2e"]) - float(first["baseline_change_tco2e"])
        - float(first["leakage_tco2e"]) - float(first["project_emissions_tco2e"])
    )  # fmt: skip
    assert abs(net - float(first["net_removals_tco2e"])) < 0.002
    total = sum(float(r["net_removals_tco2e"]) for r in rows)
    assert abs(total - _num(figure(page, "data-figure", "exante"))) < 1  # shown to the tonne


def test_stands_download_has_public_attributes_and_no_household(web: Web) -> None:
    r = web.page("/projects/L1/stands.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    page = web.page("/projects/L1").text
    stands = re.search(r"(\d+) 个小班", page)
    assert stands is not None and len(rows) == int(stands.group(1)) > 0
    area = sum(float(row["area_ha"]) for row in rows)
    assert abs(area - _num(figure(page, "data-figure", "area_ha"))) < 0.06  # shown to 0.1 ha
    assert "owner" in rows[0] and "certificate_no" not in rows[0]
    body = r.content.decode("utf-8-sig")
    assert not [n for n in household_names(web.engine) if n in body]


def test_household_names_never_appear_even_when_staff_write_one(web: Web) -> None:
    someone = household_names(web.engine)[0]
    with session_scope(web.engine) as s:  # a reassessment whose reason names a household
        assess_risk(s, ADMIN, "L1", 12, f"{someone}的林地邻近火险区")
    page = web.page("/projects/L1").text
    assert f"{HOUSEHOLD_WITHHELD}的林地邻近火险区" in page
    for path in ("/projects/L1", "/projects/L1?lang=en", "/projects/L1/stands.csv",
                 "/projects/L1/exante.csv", "/library"):  # fmt: skip
        body = web.page(path).content.decode("utf-8-sig")
        leaked = [n for n in household_names(web.engine) if n in visible_text(body)]
        assert not leaked, (path, leaked)


def test_unknown_project_is_a_bilingual_404_page(web: Web) -> None:
    r = web.page("/projects/NO-SUCH")
    assert r.status_code == 404
    assert "没有编号为" in r.text and "no project with code" in r.text and "Traceback" not in r.text
    assert web.page("/projects/NO-SUCH/stands.csv").status_code == 404


def test_a_draft_is_public_and_says_it_is_a_draft(web: Web) -> None:
    with session_scope(web.engine) as s:
        create_project(s, STAFF, code="D1", name="草稿项目", methodology="AR-CM-005-V01",
                       developer=BUREAU, start_date=date(2027, 1, 1), crediting_years=20)  # fmt: skip
    assert 'data-project="D1"' in web.page("/library").text  # the library lists it …
    page = web.page("/projects/D1").text  # … so it has a page
    assert "这是草稿项目" in page and figure(page, "data-figure", "issued") == "0"
    assert "尚未签发" in page and "尚无监测期" in page
    exante = web.page("/projects/D1/exante.csv").content.decode("utf-8-sig")
    assert exante.startswith("year,") and exante.count("\n") == 1  # the header only


def test_page_holds_the_map_and_the_signed_in_contract(web: Web) -> None:
    page = web.page("/projects/L1").text
    assert '<div id="stand-map" data-project="L1"></div>' in page
    assert '<script src="/static/js/stand_map.js"></script>' in page
    assert "grievances" not in re.sub(r'action="[^"]*"', "", page)  # no staff link for nobody
    sign_in(web, "li")  # bureau staff: how many grievances wait, with the link
    assert 'href="/projects/L1/grievances"' in web.page("/projects/L1").text
    assert "English" in page and "Data as of" in web.page("/projects/L1?lang=en").text


def test_project_page_in_chromium(live_server: str, browser_page: Any, artifacts: Path) -> None:
    page = browser_page
    page.goto(live_server + "/library")
    page.click("tr[data-project=L1] a")
    page.wait_for_url("**/projects/L1")
    assert page.locator("[data-figure=issued]").inner_text() == f"{ISSUED:,}"
    assert page.locator("#stand-map").get_attribute("data-project") == "L1"
    page.screenshot(path=str(artifacts / "project_page.png"), full_page=True)
