"""Projects on both engines: eligibility, the double-counting guard, the lifecycle matrix."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.audit import verify_chain
from registry.carbon_model import fit_and_store_growth, select_stands
from registry.db import session_scope
from registry.models import Project, ProjectStand, Role
from registry.projects import (
    TRANSITIONS,
    Actor,
    DoubleCounting,
    InvalidTransition,
    NotEligible,
    PermissionDenied,
    ProjectError,
    add_stands,
    check_project,
    create_project,
    project_stands,
    record_start_measurement,
    submit_monitoring,
    transition,
    verify_period,
)
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import (
    ADMIN,
    STAFF,
    TOLERANCE_M2,
    VERIFIER,
    draft,
    register,
    remeasured,
)
from tests.registry.user_fixtures import add_test_users


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return sample_frame(600, 21)


def _inventory_with_growth_curves(engine: Engine, folder: Path) -> None:
    frame = sample_frame(600, 21)
    import_inventory(
        engine, write_gpkg(frame, folder / "s.gpkg"), ImportOptions(inventory_year=2020)
    )
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return scenario("inventory-with-growth", _inventory_with_growth_curves)


def _new(session: Session, code: str, methodology: str = "AR-CM-003-V01") -> Project:
    return create_project(session, STAFF, code=code, name=f"项目 {code}", methodology=methodology,
                          developer="双牌县林业局", start_date=date(2026, 1, 1), crediting_years=30)  # fmt: skip


def _keys(session: Session, selection: str, n: int) -> list[str]:
    return select_stands(session, selection)["stand_id"].tolist()[:n]


def _applicable(session: Session, n: int) -> list[str]:
    """Planted young or middle-aged fir stands that meet AR-CM-003-V01 §2 (a)'s thresholds."""
    probe = select_stands(session, FM_SELECTION)
    ok = probe[(probe["mean_height_m"] >= 2) & (probe["canopy_closure"] >= 0.2)
               & (probe["area_ha"] >= 0.0667) & probe["age_years"].notna()]  # fmt: skip
    return ok["stand_id"].tolist()[:n]


def test_eligibility_rejects_the_right_stands_with_their_rule(registry: Engine) -> None:
    from registry.projects import add_evidence
    from registry.synthetic_plots import synthetic_evidence

    with session_scope(registry) as session:
        good = _applicable(session, 3)
        natural = _keys(session, "land_class=乔木林地,origin=天然,age_group=成熟林|过熟林", 1)
        afforestable = _keys(session, "land_class=规划造林地|其他宜林地", 1)
        oil = _keys(session, "species=油茶", 1)
        bamboo = _keys(session, "species_group=moso_bamboo", 1)
        _new(session, "FM-1")
        keys = good + natural + afforestable + oil + bamboo
        add_stands(session, STAFF, "FM-1", "key=" + "|".join(keys), TOLERANCE_M2)
        add_evidence(
            session, STAFF, "FM-1", synthetic_evidence("AR-CM-003-V01", keys, date(2026, 1, 1))
        )
    with session_scope(registry) as session:
        report = check_project(session, "FM-1", TOLERANCE_M2)
    failed = report[~report["passed"]].groupby("stand_id")["rule"].apply(set).to_dict()
    assert not set(good) & set(failed)
    assert failed[natural[0]] >= {"planted", "young_or_middle_aged"}
    assert failed[afforestable[0]] >= {"forest_land", "tree_species"}
    assert "tree_species" in failed[oil[0]]
    assert failed[bamboo[0]] >= {"forest_land", "tree_species"}
    with pytest.raises(NotEligible) as info, session_scope(registry) as session:
        transition(session, STAFF, "FM-1", "submit", tolerance_m2=TOLERANCE_M2)
    assert info.value.report["stand_id"].nunique() == 4 and "rule" in info.value.message_en
    assert "AR-CM-003-V01 §2" in info.value.message_en
    with session_scope(registry) as session:
        assert (
            session.execute(select(Project.status).where(col(Project.code) == "FM-1")).scalar()
            == "draft"
        )


def test_the_same_stand_cannot_be_in_two_projects(registry: Engine) -> None:
    with session_scope(registry) as session:
        keys = _keys(session, "species_group=chinese_fir", 5)
        _new(session, "A")
        _new(session, "B")
        add_stands(session, STAFF, "A", "key=" + "|".join(keys[:3]), TOLERANCE_M2)
    before = _memberships(registry)
    with pytest.raises(DoubleCounting) as info, session_scope(registry) as session:
        add_stands(session, STAFF, "B", "key=" + "|".join(keys[2:]), TOLERANCE_M2)
    assert (
        info.value.conflicts[0]["stand"] == keys[2]
        and info.value.conflicts[0]["other_project"] == "A"
    )
    assert "project A" in info.value.message_en and "project B" in info.value.message_en
    assert keys[2] in info.value.message_zh
    assert _memberships(registry) == before


def test_an_overlapping_stand_of_another_project_is_refused(
    registry: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # a re-survey renumbered stand 0 as 9999-001 (same ground); the old key is still current
    resurveyed = frame.iloc[[0]].copy()
    resurveyed["LIN_BAN"], resurveyed["XIAO_BAN"] = "9999", "001"
    # a partial delivery (one stand): --scope stands, so nothing else is retired
    import_inventory(
        registry, write_gpkg(resurveyed, tmp_path / "r.gpkg"), ImportOptions(scope="stands")
    )
    old_key = f"431123-{frame.LIN_BAN[0]}-{frame.XIAO_BAN[0]}"
    with session_scope(registry) as session:
        _new(session, "A")
        _new(session, "B")
        add_stands(session, STAFF, "A", f"key={old_key}", TOLERANCE_M2)
    with pytest.raises(DoubleCounting) as info, session_scope(registry) as session:
        add_stands(session, STAFF, "B", "key=431123-9999-001", TOLERANCE_M2)
    conflict = info.value.conflicts[0]
    assert (conflict["stand"], conflict["other_project"], conflict["other_stand"]) == (
        "431123-9999-001", "A", old_key
    )  # fmt: skip
    assert conflict["overlap_m2"] > 1000 and "m²" in info.value.message_en


CLAIM = """
import sys, time
from pathlib import Path
from registry.db import make_engine, session_scope
from registry.models import Role
from registry.projects import Actor, DoubleCounting, add_stands
engine = make_engine(sys.argv[1])
go = Path(sys.argv[4])
while not go.exists():
    time.sleep(0.005)
try:
    with session_scope(engine) as session:
        add_stands(session, Actor.of("worker", Role.BUREAU_STAFF, "双牌县林业局"), sys.argv[2], "key=" + sys.argv[3], 1.0)
    print("WON")
except DoubleCounting:
    print("LOST")
"""


def test_concurrent_claims_of_one_stand_have_exactly_one_winner(
    registry: Engine, db_url: str, tmp_path: Path
) -> None:
    with session_scope(registry) as session:
        key = _keys(session, "species_group=chinese_fir", 1)[0]
        for code in ("P1", "P2", "P3"):
            _new(session, code)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIM, db_url, code, key, str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for code in ("P1", "P2", "P3")
    ]  # fmt: skip
    time.sleep(1.0)  # let all three import and open their engines
    go.touch()
    outcomes = [p.communicate(timeout=120) for p in procs]
    results = sorted(out.strip() for out, _ in outcomes)
    assert results == ["LOST", "LOST", "WON"], outcomes
    with session_scope(registry) as session:
        holders = session.execute(
            select(ProjectStand.project_id)
            .where(col(ProjectStand.stand_key) == key)
            .where(col(ProjectStand.active).is_(True))
        ).all()
    assert len(holders) == 1


def _memberships(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT project_id, stand_key, active FROM project_stand ORDER BY 1, 2")
            )
        ]


def _state(engine: Engine, code: str) -> tuple[object, ...]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT status FROM project WHERE code = :c"), {"c": code}).scalar(),
            conn.execute(text("SELECT count(*) FROM project_event")).scalar(),
            conn.execute(text("SELECT count(*) FROM audit_event")).scalar(),
            conn.execute(text("SELECT count(*) FROM monitoring_period")).scalar(),
        )


FM_SELECTION = "land_class=乔木林地,species_group=chinese_fir,origin=人工,age_group=幼龄林|中龄林"


def _plots(
    engine: Engine, code: str, years: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with session_scope(engine) as session:
        methodology = session.execute(
            select(Project.methodology).where(col(Project.code) == code)
        ).scalar_one()
        stands = project_stands(session, code)
    return remeasured(engine, stands, methodology, years, plots=40)


def _attempt(
    engine: Engine, action: str, actor: Actor, code: str,
    plots: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], start: date,
) -> bool:  # fmt: skip
    """Try an action in a transaction that is always rolled back; True if it was allowed."""
    end = date(start.year + 4, 12, 31)
    calls: dict[str, Callable[[Session], object]] = {
        "monitor": lambda s: submit_monitoring(s, actor, code, start, end, plots[1], plots[2]),
        "verify": lambda s: verify_period(s, actor, code, 1.0, "ok", override_reason="checked"),
        "reject": lambda s: transition(s, actor, code, "reject", "理由 reason"),
    }
    call = calls.get(
        action, lambda s: transition(s, actor, code, action, tolerance_m2=TOLERANCE_M2)
    )
    with Session(engine) as session:
        session.begin()
        try:
            call(session)
            return True
        except (PermissionDenied, InvalidTransition):
            return False
        finally:
            session.rollback()


# the lifecycle, written out by hand (not derived from TRANSITIONS): in each state, which
# (action, role) pairs are allowed; every other pair of the 7 actions × 6 roles is refused
STAFF_ROLES = ("admin", "bureau_staff")
ALLOWED = {
    "draft": {("submit", r) for r in STAFF_ROLES},
    "submitted": {("validate", "verifier"), ("reject", "verifier")},
    "validated": {("register", "admin"), ("reject", "admin")},
    "registered": {("monitor", r) for r in STAFF_ROLES},
    "monitored": {("verify", "verifier"), ("reject", "verifier")},
    "verified": {("monitor", r) for r in STAFF_ROLES} | {("issue", "admin")},
    "issued": {("monitor", r) for r in STAFF_ROLES},
}


def test_every_transition_is_allowed_only_for_its_role_and_state(registry: Engine) -> None:
    draft(registry, "LC", "AR-CM-003-V01", FM_SELECTION)
    plots = _plots(registry, "LC")
    with session_scope(registry) as session:  # the permanent plots measured at the start
        record_start_measurement(session, STAFF, "LC", date(2026, 1, 1), plots[0], plots[2])
    path = [("submit", STAFF), ("validate", VERIFIER), ("register", ADMIN), ("monitor", STAFF),
            ("verify", VERIFIER), ("issue", ADMIN)]  # fmt: skip
    next_start = date(2026, 1, 1)
    for step in [*path, None]:
        status = _state(registry, "LC")[0]
        before = _state(registry, "LC")
        for action in TRANSITIONS:
            for role in Role:
                allowed = _attempt(
                    registry, action, Actor.of("x", role, "某审定核证机构"), "LC", plots, next_start
                )
                expected = (action, role.value) in ALLOWED[status]
                assert allowed == expected, (status, action, role)
                assert _state(registry, "LC") == before  # refused or rolled back: nothing changed
        if step is None:
            break
        action, actor = step
        with session_scope(registry) as session:
            if action == "monitor":
                submit_monitoring(
                    session, actor, "LC", date(2026, 1, 1), date(2030, 12, 31), plots[1], plots[2]
                )
            elif action == "verify":
                verify_period(session, actor, "LC", 10.0, "checked", override_reason="checked")
                next_start = date(2031, 1, 1)
            else:
                transition(session, actor, "LC", action, tolerance_m2=TOLERANCE_M2)
    assert _state(registry, "LC")[0] == "issued"
    with session_scope(registry) as session:
        assert verify_chain(session).ok


def test_full_lifecycle_with_rejections_and_a_frozen_ex_ante(registry: Engine) -> None:
    draft(registry, "FULL", "AR-CM-003-V01", FM_SELECTION)
    with session_scope(registry) as session:
        transition(session, STAFF, "FULL", "submit", tolerance_m2=TOLERANCE_M2)
        transition(session, VERIFIER, "FULL", "reject", "缺少林权证复印件 missing tenure copies")
        assert (
            session.execute(select(Project.status).where(col(Project.code) == "FULL")).scalar()
            == "draft"
        )
        transition(session, STAFF, "FULL", "submit", tolerance_m2=TOLERANCE_M2)
        with pytest.raises(ProjectError, match="reason"):
            transition(session, VERIFIER, "FULL", "reject", "  ")  # a rejection needs a reason
    with session_scope(registry) as session:
        transition(session, VERIFIER, "FULL", "validate")
        project = transition(session, ADMIN, "FULL", "register")
        frozen = project.exante_total_tco2e
        assert (
            frozen
            and frozen > 0
            and project.exante_json
            and "unverified_parameters" in project.exante_json
        )
    first, trees, strata = _plots(registry, "FULL")
    with (
        session_scope(registry) as session,
        pytest.raises(ProjectError, match="no start measurement"),
    ):  # plots are never subtracted from modelled inventory
        submit_monitoring(
            session, STAFF, "FULL", date(2026, 1, 1), date(2030, 12, 31), trees, strata
        )
    with session_scope(registry) as session:
        record_start_measurement(session, STAFF, "FULL", date(2026, 1, 1), first, strata)
    with (
        session_scope(registry) as session,
        pytest.raises(ProjectError, match="must start on 2026-01-01"),
    ):
        submit_monitoring(
            session, STAFF, "FULL", date(2027, 1, 1), date(2030, 12, 31), trees, strata
        )  # type: ignore[arg-type]
    with session_scope(registry) as session:
        period = submit_monitoring(
            session, STAFF, "FULL", date(2026, 1, 1), date(2030, 12, 31), trees, strata
        )  # type: ignore[arg-type]
        removals = period.removals_tco2e
        assert removals > 0
        with pytest.raises(ProjectError, match="must lie between"):
            verify_period(session, VERIFIER, "FULL", removals + 1, "too much", override_reason="x")
    with session_scope(registry) as session:
        transition(session, VERIFIER, "FULL", "reject", "样地位置不符 plots misplaced")
        assert (
            session.execute(select(Project.status).where(col(Project.code) == "FULL")).scalar()
            == "registered"
        )
        period = submit_monitoring(
            session, STAFF, "FULL", date(2026, 1, 1), date(2030, 12, 31), trees, strata
        )  # type: ignore[arg-type]
        assert period.period_no == 2  # the rejected report stays on record
        verify_period(session, VERIFIER, "FULL", float(int(period.removals_tco2e)), "ok",
                      override_reason="复核 rechecked")  # fmt: skip
        # a second period continues where the kept one ended
        with pytest.raises(ProjectError, match="2031-01-01"):
            submit_monitoring(
                session, STAFF, "FULL", date(2030, 6, 1), date(2034, 12, 31), trees, strata
            )  # type: ignore[arg-type]
        # the ex-ante stays as frozen at registration even when curves are refitted
        fit_and_store_growth(session, STAFF)
        assert (
            session.execute(
                select(Project.exante_total_tco2e).where(col(Project.code) == "FULL")
            ).scalar()
            == frozen
        )
        assert verify_chain(session).ok


def test_the_database_itself_refuses_a_second_active_membership(registry: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with session_scope(registry) as session:
        key = _keys(session, "species_group=chinese_fir", 1)[0]
        a, b = _new(session, "DA"), _new(session, "DB")
        add_stands(session, STAFF, "DA", f"key={key}", TOLERANCE_M2)
        ids = (a.id, b.id)
    with pytest.raises(IntegrityError), registry.begin() as conn:  # bypassing the service
        conn.execute(
            text("INSERT INTO project_stand (project_id, stand_key, active, added_at) "
                 "VALUES (:p, :k, :a, :t)"),
            {"p": ids[1], "k": key, "a": True, "t": "2026-01-01 00:00:00+00"},
        )  # fmt: skip


def test_project_command_line(registry: Engine, db_url: str, tmp_path: Path) -> None:
    import json

    from registry.synthetic_plots import synthetic_evidence
    from tests.cli_runner import run_cli

    with session_scope(registry) as session:  # stands the methodology accepts
        probe = select_stands(session, FM_SELECTION)
        ok = probe[
            (probe["mean_height_m"] >= 2)
            & (probe["canopy_closure"] >= 0.2)
            & (probe["area_ha"] >= 0.0667)
        ]
        keys = ok["stand_id"].tolist()[:20]

    add_test_users(registry)

    def run(*args: str, user: str = "li") -> subprocess.CompletedProcess[str]:
        return run_cli("--as", user, "project", *args, env={"TANHUI_DATABASE_URL": db_url},
                       cwd=tmp_path)  # fmt: skip

    assert run("create", "--code", "CLI-1", "--name", "命令行项目", "--methodology", "AR-CM-003-V01",
               "--developer", "双牌县林业局", "--start-date", "2026-01-01").returncode == 0  # fmt: skip
    added = run(
        "add-stands", "--project", "CLI-1", "--stands", FM_SELECTION + ",key=" + "|".join(keys)
    )
    assert added.returncode == 0 and "added" in added.stdout
    unchecked = run("check", "--project", "CLI-1")
    assert unchecked.returncode == 1 and "AR-CM-003-V01 §2 (c)" in unchecked.stdout  # not declared
    evidence = tmp_path / "evidence.csv"
    synthetic_evidence("AR-CM-003-V01", keys, date(2026, 1, 1)).to_csv(evidence, index=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("stand_key,kind,item,value,observed_on,reference\nnope,rumour,x,1,2026-13-01,\n")
    refused = run("add-evidence", "--project", "CLI-1", "--file", str(bad))
    assert refused.returncode == 1 and "row 2" in refused.stderr and "rumour" in refused.stderr
    assert run("add-evidence", "--project", "CLI-1", "--file", str(evidence)).returncode == 0
    assert run("check", "--project", "CLI-1").returncode == 0
    assert run("submit", "--project", "CLI-1").returncode == 0
    refused = run("validate", "--project", "CLI-1", user="banker")  # a bank's user
    assert refused.returncode == 5  # forbidden (README: exit codes)
    assert "永州某银行" in refused.stderr and "verifier" in refused.stderr
    assert run("validate", "--project", "CLI-1", user="auditor").returncode == 0
    registered = run("register", "--project", "CLI-1", user="director")
    assert registered.returncode == 0 and "frozen" in registered.stdout
    shown = json.loads(run("show", "--project", "CLI-1", "--format", "json").stdout)
    assert shown["status"] == "registered" and shown["exante_total_tco2e"] > 0
    assert [h["action"] for h in shown["history"]] == [
        "created", "stands_added", "evidence_added", "submit", "validate", "register"
    ]  # fmt: skip
    assert "CLI-1" in run("list").stdout
    # the permanent plots, measured at the start and remeasured at the end, as workbooks
    first, last, strata = _plots(registry, "CLI-1")
    books = {}
    for name, trees in (("start", first), ("end", last)):
        books[name] = tmp_path / f"{name}.xlsx"
        with pd.ExcelWriter(books[name]) as writer:
            trees.drop(columns="age_du").to_excel(writer, sheet_name="每木检尺", index=False)
            strata.to_excel(writer, sheet_name="层面积", index=False)
    early = run("monitor", "--project", "CLI-1", "--start", "2026-01-01", "--end", "2030-12-31",
                "--plots", str(books["end"]))  # fmt: skip
    assert early.returncode == 1 and "measure-start" in early.stderr
    measured = run("measure-start", "--project", "CLI-1", "--plots", str(books["start"]),
                   "--date", "2026-01-01")  # fmt: skip
    assert measured.returncode == 0, measured.stderr
    monitored = run("monitor", "--project", "CLI-1", "--start", "2026-01-01", "--end", "2030-12-31",
                    "--plots", str(books["end"]))  # fmt: skip
    assert monitored.returncode == 0, monitored.stderr
    assert "uncertainty of the change" in monitored.stdout and "unverified" in monitored.stderr
    shown = json.loads(run("show", "--project", "CLI-1", "--format", "json").stdout)
    period = shown["monitoring_periods"][0]
    assert shown["start_measured_on"] == "2026-01-01" and period["change_tco2e"] > 0
    assert [h["action"] for h in shown["history"]][-2:] == ["start_measured", "monitor"]


def test_stands_chosen_by_a_polygon_file(
    registry: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # a polygon drawn around three stands (in the file's own CRS, EPSG:4525)
    area = gpd.GeoDataFrame({"name": ["片区"]}, geometry=[frame.geometry.iloc[:3].union_all().buffer(-5)],
                            crs=frame.crs)  # fmt: skip
    path = tmp_path / "area.geojson"
    area.to_file(path, driver="GeoJSON")
    with session_scope(registry) as session:
        _new(session, "POLY")
        added = add_stands(session, STAFF, "POLY", f"polygon={path}", TOLERANCE_M2)
    expected = {f"431123-{frame.LIN_BAN[i]}-{frame.XIAO_BAN[i]}" for i in range(3)}
    assert set(added) == expected


def test_a_bamboo_project_is_monitored_from_culm_plots(registry: Engine) -> None:
    draft(registry, "BM", "AR-CM-005-V01", "species_group=moso_bamboo,land_class=竹林地")
    stands = register(registry, "BM")
    first, trees, strata = remeasured(registry, stands, "AR-CM-005-V01", 5, plots=40)
    assert set(trees["species_group"]) == {"moso_bamboo"} and trees["age_du"].between(1, 3).all()
    with session_scope(registry) as session:
        record_start_measurement(session, STAFF, "BM", date(2026, 1, 1), first, strata)
        period = submit_monitoring(
            session, STAFF, "BM", date(2026, 1, 1), date(2030, 12, 31), trees, strata
        )
        assert '"bamboo_culm_biomass"' in period.provenance_json
        provenance = json.loads(period.provenance_json)
        # removals = the change of the same plots after the deduction on the change − baseline
        assert provenance["method"] == "paired"
        assert period.change_tco2e == pytest.approx(
            provenance["end_stock_tco2e"] - provenance["start_stock_tco2e"]
        )
        assert period.removals_tco2e == pytest.approx(
            provenance["conservative_change_tco2e"] - period.baseline_tco2e
        )
