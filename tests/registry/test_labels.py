"""Eco-labels: the catalogue, criteria judged BY HAND for hand-made square stands and a polygon
layer, roles, bad layer files and the validity rule — on both engines (the ledger's part is in
test_labels_ledger.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from registry.db import session_scope
from registry.errors import (
    BadLabelInput,
    LabelConflict,
    PermissionDenied,
    UnknownLabel,
)
from registry.issuance import issue
from registry.labels.catalogue import (
    STARTER_CATALOGUE,
    add_label,
    get_label,
    list_labels,
    read_catalogue_file,
)
from registry.labels.criteria import StandFacts, judge_project
from registry.labels.layers import list_layers, load_layer
from registry.labels.service import attach_label, evaluate_label, revoke_label
from tests.conftest import registry_digest
from tests.registry.label_fixtures import X0, Y0, squares_project, water_layer
from tests.registry.ledger_fixtures import BUYER_USER, verified_project
from tests.registry.project_fixtures import ADMIN, STAFF, VERIFIER

# the test label: a stand qualifies when at least half of it lies in the water-source layer, or
# when it is a broadleaf stand of 20 years or more; the project when half its area qualifies
TEST_CRITERIA = {
    "stand": {"any": [
        {"layer": "water_source", "min_inside": 0.5, "source": "test"},
        {"all": [{"field": "species_group", "op": "in", "value": ["broadleaf"], "source": "test"},
                 {"field": "age_years", "op": "ge", "value": 20, "unverified": True}]},
    ]},
    "project": {"basis": "area", "min_share": 0.5, "source": "test"},
}  # fmt: skip


def _entry(code: str = "test_water", **changes: object) -> dict[str, object]:
    return {"code": code, "name_zh": "测试水源", "name_en": "Test water", "kind": "co-benefit",
            "issuer": "双牌县林业局", "valid_from": "2026-01-01", "valid_to": "2035-12-31",
            "criteria": TEST_CRITERIA, **changes}  # fmt: skip


def _evidence(folder: Path) -> Path:
    path = folder / "designation.txt"
    path.write_text("双牌县水源保护区划定文件（测试）", encoding="utf-8")
    return path


def test_criteria_by_hand_for_square_stands_and_a_polygon_layer(
    engine: Engine, tmp_path: Path
) -> None:
    keys = squares_project(engine, tmp_path)
    with session_scope(engine) as s:
        layer = load_layer(s, STAFF, "water_source", water_layer(tmp_path / "water.gpkg"))
        add_label(s, ADMIN, _entry(), _evidence(tmp_path))
    # the layer: A is 325 m × 200 m, B 100 m × 200 m → 65 000 + 20 000 m² = 8.5 ha; the file's
    # Gauss–Krüger metres are longer than true metres by the scale factor there (~1.00006 at
    # 70 km from the central meridian), so the true area is smaller by ~0.012 %
    assert layer.n_polygons == 2 and layer.source_crs == "EPSG:4525"
    assert layer.area_ha == pytest.approx(8.5, rel=3e-4)
    with session_scope(engine) as s:
        found = evaluate_label(s, STAFF, "LB1", "test_water")
    by_key = {j.stand: j for j in found.judgement.stands}
    s1, s2, s3, s4 = (by_key[keys[n]] for n in ("S1", "S2", "S3", "S4"))
    # inside shares: S1 100/100; S2 (275 − 200)/100; S3 (600 − 550)/200; S4 0/100
    assert s1.inside["water_source"] == pytest.approx(1.0, abs=1e-6)
    assert s2.inside["water_source"] == pytest.approx(75 / 100, abs=1e-4)
    assert s3.inside["water_source"] == pytest.approx(50 / 200, abs=1e-4)
    assert s4.inside["water_source"] == 0.0
    # areas: 100 m × 100 m = 1 ha (S3: 200 m × 100 m = 2 ha), within the scale factor
    assert [s1.area_ha, s2.area_ha, s3.area_ha, s4.area_ha] == pytest.approx([1, 1, 2, 1], rel=3e-4)
    # S1, S2: inside ≥ 50 %; S3: 25 % inside and a broadleaf of 15 years < 20 → fails;
    # S4: outside but a broadleaf of 25 years ≥ 20 → passes
    assert (s1.passed, s2.passed, s3.passed, s4.passed) == (True, True, False, True)
    assert "25.0% inside layer water_source" in s3.reason_en and "age_years = 15" in s3.reason_en
    assert "位于图层 water_source 内 25.0%" in s3.reason_zh
    # project: (1 + 1 + 1) ha of (1 + 1 + 2 + 1) ha = 3/5 = 0.6 ≥ 0.5 → qualifies
    j = found.judgement
    assert (j.n_stands, j.n_passed) == (4, 3)
    assert j.share_area == pytest.approx(3 / 5, abs=1e-4)
    assert j.qualifies is True
    assert j.unverified == ("age_years ≥ 20",)
    assert j.credits_tco2e is None  # a draft has no ex-ante
    assert len(found.digest) == 64 and found.layers == {"water_source": layer.file_sha256}
    with session_scope(engine) as s:  # the same inputs give the same digest
        assert evaluate_label(s, STAFF, "LB1", "test_water").digest == found.digest
    for sql in ("DELETE FROM label_layer_polygon", "UPDATE label_layer SET source_crs = 'x'"):
        with pytest.raises(DBAPIError) as appended, engine.begin() as conn:
            conn.execute(text(sql))
        assert "append-only" in str(appended.value)


def test_the_project_share_of_credits_by_hand() -> None:
    criteria = {"stand": {"field": "owner_kind", "op": "eq", "value": "household", "source": "t"},
                "project": {"basis": "credits", "min_share": 0.7, "source": "t"}}  # fmt: skip
    stands = [
        StandFacts("a", 1.0, {"owner_kind": "household"}, credits_tco2e=10.0),
        StandFacts("b", 2.0, {"owner_kind": "household"}, credits_tco2e=20.0),
        StandFacts("c", 3.0, {"owner_kind": "collective"}, credits_tco2e=30.0),
        StandFacts("d", 4.0, {"owner_kind": "household"}, credits_tco2e=40.0),
    ]
    j = judge_project(criteria, stands)
    # credits: (10 + 20 + 40) / (10 + 20 + 30 + 40) = 70/100 = 0.7 ≥ 0.7 → qualifies
    assert j.share_credits == pytest.approx(0.7)
    # area: (1 + 2 + 4) / 10 = 0.7 (shown, not the rule's basis)
    assert j.share_area == pytest.approx(0.7)
    assert j.qualifies is True
    stricter = {**criteria, "project": {"basis": "credits", "min_share": 0.71, "source": "t"}}
    assert judge_project(stricter, stands).qualifies is False
    # a missing value passes only "not equal" / "not in" tests
    none = judge_project(criteria, [StandFacts("e", 1.0, {"owner_kind": None}, credits_tco2e=1.0)])
    assert none.n_passed == 0 and none.qualifies is False


def test_the_starter_catalogue_states_its_sources(engine: Engine, tmp_path: Path) -> None:
    entries = read_catalogue_file(STARTER_CATALOGUE)
    assert {e["name_zh"] for e in entries} == {
        "生物多样性",
        "水源涵养",
        "乡村振兴",
        "森林康养",
        "国家储备林",
    }
    with session_scope(engine) as s:
        for e in entries:
            add_label(s, ADMIN, e, STARTER_CATALOGUE)
    with session_scope(engine) as s:
        shown = {e.code: e for e in list_labels(s)}
        events = s.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'label.added'")
        ).scalar()
    assert events == 5
    water = shown["water_conservation"]
    assert (water.name_zh, water.name_en, water.kind, water.status) == (
        "水源涵养",
        "Water conservation",
        "co-benefit",
        "active",
    )
    import hashlib

    assert water.evidence_sha256 == hashlib.sha256(STARTER_CATALOGUE.read_bytes()).hexdigest()
    assert water.evidence_name == "starter_catalogue.json"
    # every entry flags its registry-chosen thresholds
    assert all(e.unverified for e in shown.values())
    assert "project area share ≥ 50%" in water.unverified


def test_catalogue_entries_are_checked_and_never_replaced(engine: Engine, tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    before = registry_digest(engine)
    no_source = {**TEST_CRITERIA, "project": {"basis": "area", "min_share": 0.5}}
    cases = [
        (_entry(criteria=no_source), "须注明来源", "needs its source"),
        (_entry(kind="premium"), "类别", "kind 'premium'"),
        (_entry(valid_to="2025-01-01"), "早于开始", "before it starts"),
        (
            _entry(
                criteria={
                    "stand": {"field": "colour", "op": "eq", "value": "x", "source": "t"},
                    "project": {"basis": "area", "min_share": 0.5, "source": "t"},
                }
            ),
            "未知字段",
            "unknown field 'colour'",
        ),
    ]
    for entry, zh, en in cases:
        with pytest.raises(BadLabelInput) as caught, session_scope(engine) as s:
            add_label(s, ADMIN, entry, evidence)
        assert zh in caught.value.message_zh and en in caught.value.message_en
    with pytest.raises(BadLabelInput) as missing, session_scope(engine) as s:
        add_label(s, ADMIN, _entry(), tmp_path / "no-such-file.pdf")
    assert "无法读取证明文件" in missing.value.message_zh
    assert registry_digest(engine) == before  # nothing written by any refusal
    with session_scope(engine) as s:
        add_label(s, ADMIN, _entry(), evidence)
    with pytest.raises(LabelConflict) as again, session_scope(engine) as s:
        add_label(s, ADMIN, _entry(name_zh="改名"), evidence)
    assert "不可修改" in again.value.message_zh and "never edited" in again.value.message_en
    with session_scope(engine) as s:
        assert get_label(s, "test_water").name_zh == "测试水源"
    # the database refuses an edit behind the service's back, and any deletion
    for sql in ("UPDATE eco_label SET name_zh = '改名' WHERE code = 'test_water'",
                "UPDATE eco_label SET valid_to = '2099-12-31' WHERE code = 'test_water'",
                "DELETE FROM eco_label WHERE code = 'test_water'"):  # fmt: skip
        with pytest.raises(DBAPIError) as guarded, engine.begin() as conn:
            conn.execute(text(sql))
        assert "never edited" in str(guarded.value)


def test_roles_admin_attaches_and_revokes_staff_evaluates(engine: Engine, tmp_path: Path) -> None:
    squares_project(engine, tmp_path)
    evidence = _evidence(tmp_path)
    with pytest.raises(PermissionDenied), session_scope(engine) as s:
        add_label(s, STAFF, _entry(), evidence)
    with pytest.raises(PermissionDenied), session_scope(engine) as s:
        load_layer(s, BUYER_USER, "water_source", water_layer(tmp_path / "w.gpkg"))
    with session_scope(engine) as s:
        load_layer(s, STAFF, "water_source", water_layer(tmp_path / "w.gpkg"))  # staff may
        add_label(s, ADMIN, _entry(), evidence)
    for actor in (BUYER_USER, VERIFIER):
        with pytest.raises(PermissionDenied) as refused, session_scope(engine) as s:
            evaluate_label(s, actor, "LB1", "test_water")
        assert "评估生态标签" in refused.value.message_zh
    with session_scope(engine) as s:
        assert evaluate_label(s, STAFF, "LB1", "test_water").judgement.n_stands == 4
    before = registry_digest(engine)
    with pytest.raises(PermissionDenied) as attach, session_scope(engine) as s:
        attach_label(s, STAFF, "a-1", "LB1", 2026, "test_water")
    assert "附加生态标签" in attach.value.message_zh
    with pytest.raises(PermissionDenied), session_scope(engine) as s:
        revoke_label(s, STAFF, "r-1", "test_water", "测试")
    assert registry_digest(engine) == before
    with session_scope(engine) as s:
        assert get_label(s, "test_water").status == "active"


@pytest.mark.parametrize(
    "case",
    ["not-a-file", "no-crs", "points", "outside-china", "unknown-format", "collinear",
     "repaired-to-nothing"],
)  # fmt: skip
def test_a_bad_layer_file_is_refused_bilingually_and_nothing_is_stored(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    if case == "not-a-file":
        path = tmp_path / "broken.gpkg"
        path.write_bytes(b"this is not a GeoPackage")
        zh, en = "无法读取", "Cannot read"
    elif case == "no-crs":
        path = tmp_path / "nocrs.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(
                shapely.box(X0, Y0, X0 + 100, Y0 + 100))}]}))  # fmt: skip
        # GeoJSON without "crs" is WGS 84 by the RFC; these metres then fall far outside China
        zh, en = "不在中国境内", "outside China"
    elif case == "points":
        path = tmp_path / "points.gpkg"
        pyogrio.write_dataframe(gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(X0, Y0)], crs="EPSG:4525"), path)  # fmt: skip
        zh, en = "没有面要素", "holds no polygon"
    elif case == "outside-china":
        path = tmp_path / "paris.gpkg"
        pyogrio.write_dataframe(gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(2.3, 48.8, 2.4, 48.9)], crs="EPSG:4326"), path)  # fmt: skip
        zh, en = "不在中国境内", "outside China"
    elif case == "collinear":  # feature 2's points all lie on one line: no area
        path = tmp_path / "collinear.gpkg"
        line = shapely.Polygon([(X0, Y0), (X0 + 50, Y0 + 50), (X0 + 100, Y0 + 100), (X0, Y0)])
        frame = gpd.GeoDataFrame({"编号": ["W-1", "W-2"]}, crs="EPSG:4525",
                                 geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100), line])  # fmt: skip
        pyogrio.write_dataframe(frame, path)
        zh, en = (
            "第 2 个要素（编号 = W-2）是退化的面",
            "feature 2 (编号 = W-2) is a degenerate polygon",
        )
    elif case == "repaired-to-nothing":  # feature 1 returns on itself: make_valid leaves a line
        path = tmp_path / "spike.geojson"
        spike = [[113.0, 26.0], [113.01, 26.0], [113.0, 26.0], [113.0, 26.0]]
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"区": "甲"},
             "geometry": {"type": "Polygon", "coordinates": [spike]}}]}))  # fmt: skip
        zh, en = "第 1 个要素是退化的面", "feature 1 is a degenerate polygon"
    else:
        path = tmp_path / "layer.csv"
        path.write_text("x,y\n1,2\n")
        zh, en = "格式不支持", "not supported"
    before = registry_digest(engine)
    with pytest.raises(BadLabelInput) as refused, session_scope(engine) as s:
        load_layer(s, STAFF, "water_source", path)
    assert zh in refused.value.message_zh and en in refused.value.message_en
    assert path.name in refused.value.message_zh and path.name in refused.value.message_en
    assert registry_digest(engine) == before
    with session_scope(engine) as s:
        assert list_layers(s) == []


def test_a_shapefile_layer_in_another_crs_is_reprojected(engine: Engine, tmp_path: Path) -> None:
    """The same rectangles written as a Shapefile in WGS 84 / UTM zone 49N (EPSG:32649) give the
    same inside shares once reprojected (CGCS2000 and WGS 84 agree to centimetres)."""
    keys = squares_project(engine, tmp_path)
    gpkg = gpd.read_file(water_layer(tmp_path / "w.gpkg")).to_crs("EPSG:32649")
    shp = tmp_path / "water.shp"
    pyogrio.write_dataframe(gpkg, shp, driver="ESRI Shapefile")
    with session_scope(engine) as s:
        layer = load_layer(s, STAFF, "water_source", shp)
        add_label(s, ADMIN, _entry(), _evidence(tmp_path))
    assert layer.source_crs == "EPSG:32649"
    with session_scope(engine) as s:
        found = evaluate_label(s, STAFF, "LB1", "test_water")
    inside = {j.stand: j.inside["water_source"] for j in found.judgement.stands}
    assert inside[keys["S2"]] == pytest.approx(0.75, abs=1e-3)
    assert inside[keys["S3"]] == pytest.approx(0.25, abs=1e-3)


def _issued(engine: Engine, folder: Path) -> None:
    verified_project(engine, folder)  # L1, period 2026-01-01 – 2026-12-31
    with session_scope(engine) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return scenario("labels-issued", _issued)


def test_a_label_valid_for_less_than_the_verification_period_is_refused(
    issued: Engine, tmp_path: Path
) -> None:
    evidence = _evidence(tmp_path)
    open_rule = {"stand": {"field": "area_ha", "op": "gt", "value": 0, "source": "test"},
                 "project": {"basis": "area", "min_share": 0.5, "source": "test"}}  # fmt: skip
    with session_scope(issued) as s:
        add_label(
            s, ADMIN, _entry("late_start", valid_from="2026-03-01", criteria=open_rule), evidence
        )
        add_label(
            s, ADMIN, _entry("early_end", valid_to="2026-11-30", criteria=open_rule), evidence
        )
    before = registry_digest(issued)
    for code, shown in (
        ("late_start", "2026-03-01–2035-12-31"),
        ("early_end", "2026-01-01–2026-11-30"),
    ):
        with pytest.raises(LabelConflict) as refused, session_scope(issued) as s:
            attach_label(s, ADMIN, f"attach-{code}", "L1", 2026, code)
        assert (
            f"有效期 {shown} 短于 2026 年份的核证期 2026-01-01–2026-12-31"
            in refused.value.message_zh
        )
        assert (
            "shorter than the verification period 2026-01-01–2026-12-31" in refused.value.message_en
        )
    with pytest.raises(LabelConflict) as none, session_scope(issued) as s:
        attach_label(s, ADMIN, "attach-2027", "L1", 2027, "late_start")
    assert "尚未签发" in none.value.message_zh and "after issuance" in none.value.message_en
    with pytest.raises(UnknownLabel), session_scope(issued) as s:
        attach_label(s, ADMIN, "attach-x", "L1", 2026, "no_such_label")
    assert registry_digest(issued) == before


def test_a_project_that_does_not_qualify_is_refused(issued: Engine, tmp_path: Path) -> None:
    strict = {"stand": {"field": "species_group", "op": "eq", "value": "broadleaf", "source": "t"},
              "project": {"basis": "area", "min_share": 0.5, "source": "t"}}  # fmt: skip
    with session_scope(issued) as s:
        add_label(s, ADMIN, _entry("broadleaf_only", criteria=strict), _evidence(tmp_path))
    before = registry_digest(issued)
    with pytest.raises(LabelConflict) as refused, session_scope(issued) as s:
        attach_label(s, ADMIN, "attach-b", "L1", 2026, "broadleaf_only")
    # L1 is a moso bamboo project: no stand is broadleaf, 0 % of its area qualifies
    assert "不符合标签 broadleaf_only" in refused.value.message_zh
    assert "0.0% of the area" in refused.value.message_en
    assert registry_digest(issued) == before


def test_a_revoked_label_cannot_be_attached(issued: Engine, tmp_path: Path) -> None:
    open_rule = {"stand": {"field": "area_ha", "op": "gt", "value": 0, "source": "test"},
                 "project": {"basis": "area", "min_share": 0.5, "source": "test"}}  # fmt: skip
    with session_scope(issued) as s:
        add_label(s, ADMIN, _entry("gone", criteria=open_rule), _evidence(tmp_path))
    with session_scope(issued) as s:  # carried by no block yet: revoking detaches nothing
        revoked = revoke_label(s, ADMIN, "revoke-1", "gone", "发布机构撤回 withdrawn by the issuer")
    assert revoked.detached == ()
    with session_scope(issued) as s:  # the same key: the first result, nothing more
        assert revoke_label(
            s, ADMIN, "revoke-1", "gone", "发布机构撤回 withdrawn by the issuer"
        ).replayed
    with pytest.raises(LabelConflict) as refused, session_scope(issued) as s:
        attach_label(s, ADMIN, "attach-gone", "L1", 2026, "gone")
    assert "已于" in refused.value.message_zh and "revoked" in refused.value.message_en
    with session_scope(issued) as s:
        entry = get_label(s, "gone")
    assert (
        entry.status == "revoked" and entry.revoke_reason == "发布机构撤回 withdrawn by the issuer"
    )
    assert date.fromisoformat(str(entry.revoked_at)[:10]) >= date(2026, 1, 1)
    with pytest.raises(DBAPIError), issued.begin() as conn:  # revoked once, then final
        conn.execute(text("UPDATE eco_label SET revoke_reason = 'x' WHERE code = 'gone'"))


def test_a_layer_keeps_none_of_the_files_attributes(engine: Engine, tmp_path: Path) -> None:
    """A layer file may carry owners' names and ID numbers: only the polygons and their numbers
    are stored (the table has no attribute column), and the audit event names none of them."""
    path = tmp_path / "owners.gpkg"
    frame = gpd.GeoDataFrame(
        {"户主": ["赵小明", "钱小红"], "身份证号": ["43112319800101001X", "431123198002020026"]},
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100)],
        crs="EPSG:4525",
    )  # fmt: skip
    pyogrio.write_dataframe(frame, path)
    with session_scope(engine) as s:
        assert load_layer(s, STAFF, "owners_zone", path).n_polygons == 2
    columns = {c["name"] for c in inspect(engine).get_columns("label_layer_polygon")}
    assert columns == {"id", "layer_id", "feature_no", "geom"}
    with engine.connect() as conn:
        stored = [
            str(v)
            for sql in ("SELECT * FROM label_layer", "SELECT id, layer_id, feature_no FROM label_layer_polygon",
                        "SELECT payload FROM audit_event")
            for row in conn.execute(text(sql))
            for v in row
        ]  # fmt: skip
    for secret in (
        "赵小明",
        "钱小红",
        "43112319800101001X",
        "431123198002020026",
        "户主",
        "身份证号",
    ):
        assert not any(secret in v for v in stored), secret
    assert "owners.gpkg" in stored  # the layer's own record is there: the check reads real rows
