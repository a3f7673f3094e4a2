"""The carbon model on registered stands (both engines) and its command line."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from methodologies.growth import POOLED
from registry.carbon_model import (
    SelectionError,
    fit_and_store_growth,
    latest_growth_curves,
    run_ex_ante,
    run_management_scenario,
    select_stands,
)
from registry.db import session_scope
from registry.errors import RegistryError
from registry.stands import ImportOptions, import_inventory
from tests.cli_runner import run_cli
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import STAFF
from tests.registry.user_fixtures import cli_env


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return sample_frame(600, 21)


def _inventory(engine: Engine, folder: Path) -> None:
    import_inventory(
        engine,
        write_gpkg(sample_frame(600, 21), folder / "s.gpkg"),
        ImportOptions(inventory_year=2020),
    )


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return scenario("inventory", _inventory)


def test_fit_store_and_project_all_three_methodologies(registry: Engine) -> None:
    with session_scope(registry) as session:
        with pytest.raises(RegistryError, match="no growth curves yet"):
            latest_growth_curves(session)
        fit_id, curves = fit_and_store_growth(session, STAFF)
    with session_scope(registry) as session:
        stored = latest_growth_curves(session)
        events = session.execute(text("SELECT action FROM audit_event ORDER BY id")).scalars().all()
    assert fit_id == 1 and len(stored) == len(curves)
    assert {(c.species_group, c.site_class) for c in stored} >= {("chinese_fir", POOLED)}
    assert events == ["inventory.imported", "model.growth_fitted"]
    with session_scope(registry) as session:
        fm = run_ex_ante(session, "all", "AR-CM-003-V01", 2026, 30)
        bam = run_ex_ante(session, "species_group=moso_bamboo", "AR-CM-005-V01", 2026, 20)
        aff = run_ex_ante(session, "land_class=规划造林地|其他宜林地", "CCER-14-001-V01", 2026, 30)
        fir = run_ex_ante(session, "species_group=chinese_fir", "AR-CM-003-V01", 2026, 30)
    assert fm.net_removals.shape == (len(fm.stand_ids), 30)
    assert set(fir.stand_ids) <= set(fm.stand_ids)
    # a stand's projection does not depend on which other stands are selected with it
    i, j = list(fm.stand_ids).index(fir.stand_ids[0]), 0
    assert fm.net_removals[i] == pytest.approx(fir.net_removals[j])
    assert fm.total > 0 and bam.total > 0 and aff.total > 0
    assert (fm.project_stock >= 0).all() and (aff.baseline_change == 0).all()
    assert fm.unverified() and aff.unverified() and bam.unverified()


def test_selection_errors_are_clear(registry: Engine) -> None:
    with session_scope(registry) as session:
        with pytest.raises(SelectionError, match="unknown selection field"):
            select_stands(session, "colour=green")
        with pytest.raises(SelectionError, match="selects no current stand"):
            select_stands(session, "township=不存在镇")
        with pytest.raises(SelectionError, match="field=value"):
            select_stands(session, "township")
        assert len(select_stands(session, "all")) == 600


def tanhui(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=cli_env(db_url), cwd=cwd)


def test_model_command_line(registry: Engine, db_url: str, tmp_path: Path) -> None:
    fit = tanhui(db_url, "model", "fit-growth", "--plot", "growth.png", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "chinese_fir" in fit.stdout and (tmp_path / "growth.png").stat().st_size > 10_000
    out = tanhui(db_url, "model", "ex-ante", "--stands", "species_group=chinese_fir", "--methodology",
                 "AR-CM-003-V01", "--start-year", "2026", "--years", "30", "--format", "json",
                 "--plot", "exante.png", cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["total_net_removals_tco2e"] == pytest.approx(
        sum(r["net_removals"] for r in data["by_year"])
    )
    trace = next(iter(data["traces"].values()))
    assert [s["equation"] for s in trace["steps"]] == [
        "chapman_richards",
        "carbon_stock_trees",
        "stock_difference",
        "stock_difference",
        "net_removals",
    ]  # baseline (current management), project (improved practices, with each effect's share)
    assert "longer_rotation" in trace["steps"][3]["note"]
    assert "bef[chinese_fir]" in data["unverified_parameters"]
    assert "UNVERIFIED" not in out.stdout and "unverified source" in out.stderr
    csv = tanhui(db_url, "model", "ex-ante", "--stands", "species_group=chinese_fir", "--methodology",
                 "AR-CM-003-V01", "--start-year", "2026", "--years", "20", "--format", "csv", cwd=tmp_path)  # fmt: skip
    long = pd.read_csv(pd.io.common.StringIO(csv.stdout))
    assert long["year"].min() == 2026 and long["year"].max() == 2045
    key = long["stand_id"].iloc[0]
    explained = tanhui(db_url, "model", "ex-ante", "--stands", f"key={key}", "--methodology",
                       "AR-CM-003-V01", "--start-year", "2026", "--years", "20", "--explain", key,
                       cwd=tmp_path)  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert "C_TREE = 44/12" in explained.stdout and "bef[chinese_fir] = 1.634" in explained.stdout
    assert "UNVERIFIED" in explained.stdout


def test_carbon_stock_and_plot_commands(tmp_path: Path) -> None:
    stands = tmp_path / "stands.csv"
    stands.write_text(
        "stand_id,species_group,area_ha,volume_m3_per_ha,culms_per_ha,mean_dbh_cm,age_du\n"
        "a,chinese_fir,2,100,,,\nb,moso_bamboo,1,,3000,10,1\n",
        encoding="utf-8",
    )
    done = run_cli("model", "carbon-stock", "--input", str(stands), "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    # 200 m³ × 0.307 × 1.634 × 1.246 × 0.47 (CF default) × 44/12 = 215.4307801 t CO2e
    assert rows[0]["stand_id"] == "a" and rows[0]["tco2e"] == pytest.approx(215.4307801)
    assert rows[1]["trace"]["steps"][0]["equation"] == "bamboo_culm_biomass"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "stand_id,species_group,area_ha,volume_m3_per_ha\nz,chinese_fir,-1,10\n", encoding="utf-8"
    )
    refused = run_cli("model", "carbon-stock", "--input", str(bad))
    assert refused.returncode == 1 and "'z'" in refused.stderr

    template = tmp_path / "plots.xlsx"
    assert run_cli("model", "plot-template", "--out", str(template)).returncode == 0
    headers = pd.read_excel(template, sheet_name=0).columns.tolist()
    assert headers[:3] == ["样地号", "层（树种组-龄组）", "样地面积（公顷）"]
    expost = run_cli("model", "ex-post", "--plots", str(template), "--format", "json")
    assert expost.returncode == 0, expost.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"not valid JSON: {constant}")

    result = json.loads(expost.stdout, parse_constant=refuse)  # no NaN / Infinity
    assert result["strata"][0]["n_plots"] == 2 and result["deduction_applied"] is True
    assert result["conservative_tco2e"] < result["estimate_tco2e"]
    # the same plots measured twice the same: the change is 0 and nothing is kept
    change = run_cli("model", "ex-post", "--plots", str(template), "--start-plots", str(template),
                     "--format", "json")  # fmt: skip
    assert change.returncode == 0, change.stderr
    data = json.loads(change.stdout, parse_constant=refuse)
    assert (data["method"], data["change_tco2e"], data["uncertainty"]) == ("paired", 0.0, None)
    assert data["deduction_fraction"] == 1.0 and data["conservative_change_tco2e"] == 0.0
    assert data["deduction_rule"]["name"] == "ar_tool14_appendix2"


def test_a_management_scenario_through_the_registry(registry: Engine) -> None:
    with session_scope(registry) as session:
        fit_and_store_growth(session, STAFF)
    with session_scope(registry) as session:
        plain = run_ex_ante(session, "all", "AR-CM-003-V01", 2026, 20)
        same = run_management_scenario(session, "all", 2026, 20, {})
        # no improved practice at all: project = baseline, so net removals are 0 in every year
        none = run_management_scenario(
            session, "all", 2026, 20,
            {"fm_project_rotation_extension_years": 0, "fm_project_tending_growth_gain": 0,
             "fm_project_enrichment_growth_gain": 0},
        )  # fmt: skip
    assert list(same.stand_ids) == list(plain.stand_ids)
    assert same.total == pytest.approx(plain.total) and plain.total > 0
    assert np.allclose(none.project_stock, none.baseline_stock)
    assert abs(none.total) < 1e-6 * plain.total
    trace = next(iter(none.traces.values())).explain()
    assert "replaces the default 10 years" in trace  # fm_project_rotation_extension_years
