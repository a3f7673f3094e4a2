"""The signed-in pages in Debian's Chromium (Playwright) against ``tanhui serve``: a clerk
uploads a broken inventory and reads the per-record report; a selection drawn on the map fills
the new-project form; the buyer's journey — finds the project on the county map, opens it,
requests credits, the bureau confirms at another desk, the buyer retires them for a
beneficiary, downloads the certificate's PDF, and the certificate page found by one of its
serials shows the same figures. Screenshots go to the artifacts folder (look at them)."""

from __future__ import annotations

import re
import subprocess
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
        """keys => (document.getElementById('county-map') || document.getElementById('stand-map'))
               .dispatchEvent(new CustomEvent(
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


# -- the buyer's journey ---------------------------------------------------------------------
# From the fixture (tests/web/web_fixtures.py), worked out by hand: HOLD-L1 holds 201–1000 of
# vintage 2026 (800), BUYER 131–200 (70). The buyer asks for 40: confirmed, they move oldest
# first, 201–240, so BUYER holds 131–240 (110). It retires 40, oldest first: 131–170.
BOUGHT, RETIRED = 40, 40
RETIRED_SERIALS = "CN-431123-L1-2026-000000131..000000170"
A_SERIAL_IN_IT = "CN-431123-L1-2026-000000150"
JOURNEY_BENEFICIARY = "某电力公司 2026 年度碳中和"
JOURNEY_PURPOSE = "抵消 2026 年办公用电排放 / offsetting 2026 office electricity"
FIELDS = ("quantity", "beneficiary", "purpose", "retired_on", "serials", "projects", "event_hash")


def _certificate_figures(page: Any) -> dict[str, str]:
    # the contract: each figure in an element of dl.certificate marked data-field (a dd, or a
    # code inside one)
    return {f: page.inner_text(f"dl.certificate [data-field={f}]").strip() for f in FIELDS}


def test_the_buyers_journey(
    web: Web, live_server: str, browser_page: Any, chromium: Any, artifacts: Path, tmp_path: Path
) -> None:
    page = browser_page
    # the buyer signs in, finds the project on the county map and opens its page
    sign_in(page, live_server, "buyer", "/map")
    page.click("a.map-project[data-project=L1]")
    page.wait_for_url(f"{live_server}/projects/L1")
    page.screenshot(path=str(artifacts / "journey_1_project.png"), full_page=True)
    # asks for 40 credits
    page.click("a.request-credits")
    page.wait_for_url(f"{live_server}/purchase-requests/new?project=L1")
    assert page.inner_text("b[data-figure=available]") == "800"
    page.fill("#purchase input[name=quantity]", str(BOUGHT))
    page.fill("#purchase input[name=note]", "采购合同 CG-2026-001")
    page.screenshot(path=str(artifacts / "journey_2_request.png"), full_page=True)
    page.click("#purchase button[type=submit]")
    page.wait_for_url(f"{live_server}/account?notice=requested*")
    row = page.locator("#purchases tr[data-status=requested]")
    assert row.count() == 1
    request_id = row.get_attribute("data-request")

    # the bureau, at another desk, confirms it
    context, bureau = new_person(chromium)
    try:
        sign_in(bureau, live_server, "li")
        pending = bureau.locator(f"#pending tr[data-request='{request_id}']")
        assert "某电力公司" in pending.inner_text() and str(BOUGHT) in pending.inner_text()
        pending.locator("form.confirm input[name=comment]").fill("合同已核对")
        bureau.screenshot(path=str(artifacts / "journey_3_bureau.png"), full_page=True)
        pending.locator("form.confirm button[type=submit]").click()
        bureau.wait_for_url(f"{live_server}/account?notice=confirmed*")
        assert bureau.locator(f"#pending tr[data-request='{request_id}']").count() == 0
    finally:
        context.close()

    # the buyer sees the credits arrive and retires them for a beneficiary
    page.goto(f"{live_server}/account")
    assert page.get_attribute(f"#purchase-{request_id}", "data-status") == "confirmed"
    assert "CN-431123-L1-2026-000000201..000000240" in page.inner_text(f"#purchase-{request_id}")
    assert page.inner_text("article[data-account=BUYER] b[data-state=active]") == "110"
    form = page.locator("form.retire[data-account=BUYER]")
    form.locator("input[name=quantity]").fill(str(RETIRED))
    form.locator("input[name=beneficiary]").fill(JOURNEY_BENEFICIARY)
    form.locator("input[name=purpose]").fill(JOURNEY_PURPOSE)
    page.screenshot(path=str(artifacts / "journey_4_account.png"), full_page=True)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/certificates/RC-\d{4}-\d{8}$"))
    certificate_url = page.url
    shown = _certificate_figures(page)
    page.screenshot(path=str(artifacts / "journey_5_certificate.png"), full_page=True)
    assert shown["quantity"].startswith(f"{RETIRED}") and "tCO" in shown["quantity"]
    assert shown["beneficiary"] == JOURNEY_BENEFICIARY and shown["purpose"] == JOURNEY_PURPOSE
    assert shown["serials"] == RETIRED_SERIALS
    assert "L1" in shown["projects"] and "2026" in shown["projects"]
    with web.engine.connect() as c:  # the page shows the audit event that recorded it
        recorded = c.execute(text(
            "SELECT e.hash FROM audit_event e JOIN retirement r ON e.entity_id = CAST(r.op_id AS TEXT) "
            "AND e.entity_type = 'ledger_operation' WHERE r.serials = :s"), {"s": RETIRED_SERIALS}).scalar_one()  # fmt: skip
    assert shown["event_hash"] == recorded

    # the certificate's PDF, read back
    with page.expect_download() as download:
        page.click(f"a[href='{certificate_url.removeprefix(live_server)}.pdf']")
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text_of_pdf = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                                 text=True, check=True).stdout  # fmt: skip
    assert certificate_url.rsplit("/", 1)[1] in text_of_pdf
    assert JOURNEY_BENEFICIARY in text_of_pdf and "000000131" in text_of_pdf
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-singlefile", str(pdf),
                    str(artifacts / "journey_6_certificate_pdf")], check=True)  # fmt: skip

    # anyone finds the same certificate by one serial in it, with the same figures
    context, anyone = new_person(chromium)
    try:
        anyone.goto(f"{live_server}/certificates?serial={A_SERIAL_IN_IT}")
        anyone.wait_for_url(certificate_url)
        assert _certificate_figures(anyone) == shown
    finally:
        context.close()


def test_a_box_dragged_on_the_county_map_selects_the_stands(
    web: Web, live_server: str, browser_page: Any, artifacts: Path
) -> None:
    """A real Shift-drag on the new-project page's county map (stand_map.js): the stands drawn
    in the box fill the form; with the filter species_group=chinese_fir the draft takes those of
    them that are Chinese fir (none of L1's bamboo)."""
    page = browser_page
    sign_in(page, live_server, "li", "/account/projects/new")
    page.wait_for_selector("#county-map[data-ready='1']", timeout=120_000)
    box = page.locator("#county-map").bounding_box()
    assert box is not None
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5, steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function("document.querySelector('textarea[name=stand_keys]').value.length > 0")
    keys = page.input_value("textarea[name=stand_keys]").split("\n")
    page.screenshot(path=str(artifacts / "project_new_drawn.png"), full_page=True)
    assert int(page.get_attribute("[data-selection-summary]", "data-count") or 0) == len(keys) > 0
    with web.engine.connect() as c:
        fir = {
            str(r[0])
            for r in c.execute(
                text(
                    "SELECT stand_key FROM stand WHERE is_current AND species_group = 'chinese_fir'"
                )
            )
        }
        current = {
            str(r[0]) for r in c.execute(text("SELECT stand_key FROM stand WHERE is_current"))
        }
    assert set(keys) <= current
    page.fill("#project-new input[name=code]", "P-BOX")
    page.fill("#project-new input[name=name]", "框选的杉木")
    page.fill("#project-new input[name=filters]", "species_group=chinese_fir")
    page.select_option("#project-new select[name=methodology]", "AR-CM-003-V01")
    page.click("#project-new button[type=submit]")
    page.wait_for_url(re.compile(r".*/projects/P-BOX"))
    with web.engine.connect() as c:
        members = {
            str(r[0])
            for r in c.execute(
                text(
                    "SELECT ps.stand_key FROM project_stand ps JOIN project p ON p.id = ps.project_id "
                    "WHERE p.code = 'P-BOX' AND ps.active"
                )
            )
        }
    assert members == set(keys) & fir and members
