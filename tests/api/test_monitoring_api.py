"""Measurements over HTTP (both engines): applicability evidence, the start measurement and a
monitoring period, uploaded as tables — by bureau staff only, bounded before they are read, all
or nothing, and computed by the same services as the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from sqlalchemy import text

from methodologies.expost import (
    BAMBOO_COLUMNS_ZH,
    OPTIONAL_COLUMNS_ZH,
    PLOT_COLUMNS_ZH,
    STRATUM_COLUMNS_ZH,
)
from tests.api.conftest import Api

V1 = "/api/v1"


def _count(api: Api, sql: str) -> int:
    with api.engine.connect() as c:
        return int(c.execute(text(sql)).scalar_one())


def _workbook(trees: pd.DataFrame, strata: pd.DataFrame) -> bytes:
    """A plot workbook with the template's Chinese headers (two sheets)."""
    heads = {**PLOT_COLUMNS_ZH, **BAMBOO_COLUMNS_ZH, **OPTIONAL_COLUMNS_ZH}
    out = io.BytesIO()
    with pd.ExcelWriter(out) as writer:
        trees.rename(columns=heads).to_excel(writer, sheet_name="每木检尺", index=False)
        strata.rename(columns=STRATUM_COLUMNS_ZH).to_excel(writer, sheet_name="层面积", index=False)
    return out.getvalue()


def _draft(api: Api, code: str) -> None:
    r = api.client.post(f"{V1}/projects", headers=api.auth("li"),
                        json={"code": code, "name": "上传测试", "methodology": "AR-CM-005-V01",
                              "developer": "双牌县林业局", "start_date": "2026-01-01"})  # fmt: skip
    assert r.status_code == 201, r.text


def test_evidence_is_uploaded_by_staff_all_or_nothing(api: Api) -> None:
    _draft(api, "EV-1")
    good = ("stand_key,kind,item,value,observed_on,reference\n"
            ",declaration,no_burning,true,2026-01-01,项目设计文件 第 3 节\n").encode()  # fmt: skip
    before = _count(api, "SELECT COUNT(*) FROM project_evidence")
    refused = api.client.post(f"{V1}/projects/EV-1/evidence", headers=api.auth("buyer"),
                              files={"file": ("evidence.csv", good, "text/csv")})  # fmt: skip
    assert refused.status_code == 403
    bad = (b"stand_key,kind,item,value,observed_on,reference\n"
           b",rumour,x,1,2026-13-01,\n")  # fmt: skip
    wrong = api.client.post(f"{V1}/projects/EV-1/evidence", headers=api.auth("li"),
                            files={"file": ("evidence.csv", bad, "text/csv")})  # fmt: skip
    assert wrong.status_code == 422 and "row 2" in wrong.json()["message_en"]
    assert "rumour" in wrong.json()["message_en"]
    text_file = api.client.post(f"{V1}/projects/EV-1/evidence", headers=api.auth("li"),
                                files={"file": ("evidence.txt", good, "text/plain")})  # fmt: skip
    assert text_file.status_code == 422 and "not accepted" in text_file.json()["message_en"]
    assert _count(api, "SELECT COUNT(*) FROM project_evidence") == before  # nothing written
    done = api.client.post(f"{V1}/projects/EV-1/evidence", headers=api.auth("li"),
                           files={"file": ("evidence.csv", good, "text/csv")})  # fmt: skip
    assert done.status_code == 201 and done.json()["rows"] == 1
    assert _count(api, "SELECT COUNT(*) FROM project_evidence") == before + 1


def test_the_start_measurement_is_recorded_from_a_workbook(api: Api) -> None:
    _draft(api, "SM-1")
    trees = pd.DataFrame(
        [["P001", "A", 0.0667, "chinese_fir", 14.2, 11.5, None, 0],
         ["P001", "A", 0.0667, "chinese_fir", 16.8, 12.9, None, 0],
         ["P002", "A", 0.0667, "chinese_fir", 12.5, 10.1, None, 0]],
        columns=[*PLOT_COLUMNS_ZH, *BAMBOO_COLUMNS_ZH, *OPTIONAL_COLUMNS_ZH],
    )  # fmt: skip
    book = _workbook(trees, pd.DataFrame({"stratum": ["A"], "area_ha": [10.0]}))
    form = {"measured_on": "2026-01-05"}
    for user in ("auditor", "buyer", "owner"):
        r = api.client.post(f"{V1}/projects/SM-1/start-measurement", headers=api.auth(user),
                            data=form, files={"file": ("start.xlsx", book)})  # fmt: skip
        assert r.status_code == 403, (user, r.text)
    broken = api.client.post(f"{V1}/projects/SM-1/start-measurement", headers=api.auth("li"),
                             data=form, files={"file": ("start.xlsx", b"not a workbook")})  # fmt: skip
    assert broken.status_code == 422 and "workbook" in broken.json()["message_en"]
    with api.engine.connect() as c:
        assert (
            c.execute(text("SELECT start_plots_digest FROM project WHERE code = 'SM-1'")).scalar()
            is None
        )
    done = api.client.post(f"{V1}/projects/SM-1/start-measurement", headers=api.auth("li"),
                           data=form, files={"file": ("start.xlsx", book)})  # fmt: skip
    assert done.status_code == 201, done.text
    with api.engine.connect() as c:
        stored = c.execute(
            text("SELECT start_plots_digest FROM project WHERE code = 'SM-1'")
        ).scalar()
    assert stored == done.json()["plots_digest"] and len(stored) == 64


def test_a_monitoring_period_of_the_same_plots_unchanged_credits_nothing(api: Api) -> None:
    """L1's first period (2026) is verified; its plots, remeasured unchanged in 2027, are the
    second period: the change is zero, so the removals are not positive (issue #12)."""
    with api.engine.connect() as c:
        plots, strata = c.execute(text(
            "SELECT m.plots_csv, m.strata_csv FROM monitoring_period m JOIN project p ON p.id = m.project_id "
            "WHERE p.code = 'L1' AND m.period_no = 1")).one()  # fmt: skip
    book = _workbook(pd.read_csv(io.StringIO(plots)), pd.read_csv(io.StringIO(strata)))
    form = {"start": "2027-01-01", "end": "2027-12-31"}
    periods = "SELECT COUNT(*) FROM monitoring_period"
    before = _count(api, periods)
    refused = api.client.post(f"{V1}/projects/L1/monitoring", headers=api.auth("buyer"),
                              data=form, files={"file": ("plots.xlsx", book)})  # fmt: skip
    assert refused.status_code == 403 and _count(api, periods) == before
    done = api.client.post(f"{V1}/projects/L1/monitoring", headers=api.auth("li"),
                           data=form, files={"file": ("plots.xlsx", book)})  # fmt: skip
    assert done.status_code == 201, done.text
    assert done.json()["period"] == 2 and done.json()["removals_tco2e"] <= 1e-9
    assert _count(api, periods) == before + 1
    status = api.client.get(f"{V1}/projects/L1", headers=api.auth("li")).json()["status"]
    assert status == "monitored"


def test_a_workbook_that_would_unpack_too_large_is_refused(api: Api, tmp_path: Path) -> None:
    import zipfile

    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (300 << 20))  # 300 MiB of zeros
    r = api.client.post(f"{V1}/projects/L1/monitoring", headers=api.auth("li"),
                        data={"start": "2027-01-01", "end": "2027-12-31"},
                        files={"file": ("plots.xlsx", bomb.read_bytes())})  # fmt: skip
    assert r.status_code == 422 and "unpack" in r.json()["message_en"]
