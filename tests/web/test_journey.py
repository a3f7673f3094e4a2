"""The signed-in pages in Debian's Chromium (Playwright) against ``tanhui serve``: a clerk
uploads a broken inventory and reads the per-record report; a selection drawn on the map fills
the new-project form; the buyer's journey from the map to a certificate. Screenshots go to the
artifacts folder (look at them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.user_fixtures import PASSWORD
from tests.web.conftest import Web


def sign_in(page: Any, base: str, user: str, then: str = "/account") -> None:
    """Sign in with the sign-in form, then wait for the page it returns to."""
    page.goto(f"{base}/login?next={then}")
    page.fill("#login input[name=username]", user)
    page.fill("#login input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(f"{base}{then}*")


def new_person(chromium: Any) -> Any:
    """Another browser context (its own cookies: another person at another desk)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def test_a_clerk_reads_the_report_of_a_broken_inventory(
    web: Web, live_server: str, browser_page: Any, artifacts: Path, tmp_path: Path
) -> None:
    frame = sample_frame(20, 32)
    frame.loc[5, "XIAO_BAN"] = frame.loc[4, "XIAO_BAN"]  # records 5 and 6: one stand key
    frame.loc[5, "LIN_BAN"] = frame.loc[4, "LIN_BAN"]
    frame.loc[9, "MIAN_JI"] = -3.0  # record 10: a negative area
    path = write_gpkg(frame, tmp_path / "乡镇小班.gpkg")
    page = browser_page
    sign_in(page, live_server, "li")
    page.click("a[href='/account/inventory']")
    page.set_input_files("#inventory-upload input[name=file]", str(path))
    page.fill("#inventory-upload input[name=inventory_year]", "2031")
    page.select_option("#inventory-upload select[name=scope]", "stands")
    page.click("#inventory-upload button[type=submit]")
    page.wait_for_selector("#refused")
    page.screenshot(path=str(artifacts / "inventory_report.png"), full_page=True)

    refused = page.inner_text("#refused")
    assert "乡镇小班.gpkg：发现 2 个错误，未导入任何数据" in refused
    assert "乡镇小班.gpkg: 2 errors found; nothing was imported" in refused
    assert "tanhui-upload" not in page.content()  # the server's folder is never shown
    rows = page.locator("table.report tbody tr.sev-error")
    found = [(rows.nth(i).get_attribute("data-code"), rows.nth(i).get_attribute("data-record"),
              rows.nth(i).inner_text()) for i in range(rows.count())]  # fmt: skip
    # records counted from 1: frame rows 4 and 5 are records 5 and 6, frame row 9 is record 10
    dup = [t for code, rec, t in found if code == "duplicate_key" and rec == "5"]
    assert dup and "重复出现在第 [5, 6] 条记录" in dup[0] and "appears in records [5, 6]" in dup[0]
    area = [
        t for code, rec, t in found if code == "out_of_range" and rec == "10" and "MIAN_JI" in t
    ]
    assert area, found
    assert "不大于 0" in area[0] and "is not positive" in area[0]
    assert int(page.inner_text("b[data-count=error]")) == len(found) >= 2
    with web.engine.connect() as c:  # nothing of the file was written
        assert c.execute(text("SELECT COUNT(*) FROM inventory_batch")).scalar_one() == 1


def test_a_selection_drawn_on_the_map_makes_a_project(
    web: Web, live_server: str, browser_page: Any, artifacts: Path
) -> None:
    with web.engine.connect() as c:
        keys = [str(r[0]) for r in c.execute(text(
            "SELECT stand_key FROM stand WHERE is_current AND species_group = 'chinese_fir' AND "
            "stand_key NOT IN (SELECT stand_key FROM project_stand WHERE active) ORDER BY stand_key LIMIT 4"))]  # fmt: skip
    assert len(keys) == 4
    page = browser_page
    sign_in(page, live_server, "li", "/account/projects/new")
    # the map script (stand_map.js) sends this event when the user drags a box with Shift held;
    # here the event is sent as it would be (with a key twice), and the form must take it
    page.evaluate(
        """keys => document.getElementById('stand-map').dispatchEvent(new CustomEvent(
               'tanhui:selection', {detail: {stand_keys: keys, bbox: [111.6, 25.9, 111.7, 26.0]}}))""",
        [*keys, keys[0]],
    )
    assert page.input_value("textarea[name=stand_keys]").split("\n") == keys
    assert page.get_attribute("[data-selection-summary]", "data-count") == "4"
    page.fill("#project-new input[name=code]", "P-DRAWN")
    page.fill("#project-new input[name=name]", "地图上选的杉木")
    page.select_option("#project-new select[name=methodology]", "AR-CM-003-V01")
    page.screenshot(path=str(artifacts / "project_new.png"), full_page=True)
    page.click("#project-new button[type=submit]")
    page.wait_for_url(re.compile(r".*/projects/P-DRAWN"))
    with web.engine.connect() as c:
        members = [str(r[0]) for r in c.execute(text(
            "SELECT ps.stand_key FROM project_stand ps JOIN project p ON p.id = ps.project_id "
            "WHERE p.code = 'P-DRAWN' AND ps.active ORDER BY ps.stand_key"))]  # fmt: skip
    assert members == keys


def test_account_pages_by_role(live_server: str, chromium: Any, artifacts: Path) -> None:
    """Each role's account page, to look at (and what each must show)."""
    shown = {"buyer": "#purchases", "li": "#pending", "banker": "#pledges"}
    for user, section in shown.items():
        context, page = new_person(chromium)
        try:
            sign_in(page, live_server, user)
            assert page.locator(section).count() == 1, (user, section)
            page.screenshot(path=str(artifacts / f"account_{user}.png"), full_page=True)
        finally:
            context.close()
