"""The public project page's section 干扰与逆转 (Disturbances and reversals), in Debian's
Chromium against a real server (both engines): a reversal confirmed in L1 (a forest fire on
2026-10-15, one stand) is listed with the credits cancelled from the buffer pool — the same Q
the reversal records, and the project's buffer figure 100 − Q (100 = 10 % of the 1,000 issued,
tests/web/web_fixtures.py) — and the evidence's SHA-256; no household's name, no reviewer, no
review reason. Without a reversal the section says there is none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.documents.reversal_fixtures import confirm_a_reversal
from tests.web.conftest import Web
from tests.web.public_pages import BUFFER, figure, household_names, visible_text


def test_no_reversal_is_said_plainly(web: Web) -> None:
    page = web.page("/projects/L1").text
    assert "干扰与逆转" in page and "没有确认的逆转。" in page
    assert "No reversal confirmed." in web.page("/projects/L1?lang=en").text


def test_the_reversal_section_in_chromium(
    web: Web, live_server: str, browser_page: Any, artifacts: Path, tmp_path: Path
) -> None:
    done = confirm_a_reversal(web.engine, tmp_path, tmp_path / "store")
    q = done.reversal.quantity
    assert q > 0
    page = browser_page
    page.goto(live_server + "/projects/L1")
    row = page.locator("table.reversals tr[data-reversal='2026-10-15']")
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells == ["2026-10-15", "火灾", "1", f"{q:,}", done.flag.evidence_sha256]
    assert page.locator("[data-figure=in_buffer]").inner_text() == f"{BUFFER - q:,}"
    notes = page.locator("[data-field=reversal-note]").all_inner_texts()  # what is unverified
    assert any("reversal rule" in n and "UNVERIFIED" in n for n in notes), notes
    assert any("Detection thresholds" in n for n in notes), notes
    top, table = page.locator("h2#reversals").bounding_box(), page.locator("table.reversals")
    bottom = table.bounding_box()
    assert top is not None and bottom is not None
    clip = {"x": 0, "y": top["y"] - 8, "width": 1280,
            "height": bottom["y"] + bottom["height"] - top["y"] + 90}  # fmt: skip
    page.screenshot(path=str(artifacts / "project_reversals.png"), full_page=True, clip=clip)
    html = visible_text(page.content())
    assert "a forest fire" not in html and "林火" not in html  # the review's reason stays private
    assert not [n for n in household_names(web.engine) if n in html]
    english = web.page("/projects/L1?lang=en").text
    assert "Disturbances and reversals" in english
    assert figure(english, "data-field", "cancelled") == f"{q:,}"
