"""A loss is counted once and only within what was credited, on both engines:

- the same two images re-dated (scene rows of the same SHA-256 under other names and dates, as a
  database from before the check could hold) cannot be confirmed again for the stand;
- a stand's confirmed shares never add up above 1 (R1: f = min(f_det, 1 − Σ f_prev)) and its
  credited losses never above its credited removals (R4: L = min(f × C, C − Σ L_prev)); when
  nothing remains a confirmation is refused;
- an event before the project's start or after its crediting period is refused;
- R3 counts the verified period containing the event by its days up to the event;
- the modelled stock is never clipped: a year outside the ex-ante is refused.

The variants of the placed pair are written here: the same values shifted by a tiny offset (so
the bytes differ), and for a second loss the whole stand burnt (drop 0.35)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import geometry_mask
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.errors import Conflict, Invalid
from registry.ledger import blocks
from registry.projects.core import find_project
from registry.projects.lifecycle import ex_ante
from registry.projects.removals import modelled_stock
from registry.remote_sensing.reversals import review_flag
from registry.remote_sensing.runs import run_detection
from registry.remote_sensing.scenes import register_scene
from registry.remote_sensing.views import FlagView
from tests.documents.doc_fixtures import issued_project
from tests.registry.project_fixtures import STAFF, VERIFIER
from tests.remote_sensing.rs_fixtures import AFTER, BEFORE, Pair, disturbed_pair, stands_4525


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _variant(src: Path, dst: Path, offset: float, burn: shapely.Geometry | None = None) -> Path:
    """``src`` + ``offset`` (index units); with ``burn``, its cells dropped by 0.35 more."""
    with rasterio.open(src) as ds:
        profile, data = ds.profile, ds.read(1)
        inside = (
            np.zeros(data.shape, dtype=bool) if burn is None
            else ~geometry_mask([burn], data.shape, ds.transform, all_touched=True)
        )  # fmt: skip
    valid = np.isfinite(data) & (data != profile.get("nodata"))
    out = np.where(valid, data + offset - 0.35 * inside, data).astype(data.dtype)
    with rasterio.open(dst, "w", **profile) as ds:
        ds.write(out, 1)
    return dst


def _held(engine: Engine) -> int:
    with session_scope(engine) as s:
        return sum(b.quantity for b in blocks(s, "BUFFER") if b.state == "active")


def _flag(engine: Engine, store: Path, before: str, after: str, stand_key: str) -> FlagView:
    with session_scope(engine) as s:
        run = run_detection(s, STAFF, before, after, project="L1", store=store)
    return next(f for f in run.flags if f.stand_key == stand_key)


def _first(engine: Engine, tmp_path: Path) -> tuple[Pair, Path, FlagView]:
    pair = disturbed_pair(engine, tmp_path / "rasters")
    store = tmp_path / "store"
    with session_scope(engine) as s:
        register_scene(s, STAFF, pair.before, BEFORE, "before", store=store)
        register_scene(s, STAFF, pair.after, AFTER, "after", store=store)
    return pair, store, _flag(engine, store, "before", "after", pair.stand_key)


def test_the_same_images_re_dated_are_not_confirmed_twice(issued: Engine, tmp_path: Path) -> None:
    pair, store, flag = _first(issued, tmp_path)
    with session_scope(issued) as s:
        review_flag(s, VERIFIER, "r-1", flag.id, "confirm", "林火 fire", cause="fire")
    held = _held(issued)
    # the same files as two more scenes, later and not overlapping (rows written as a database
    # from before register_scene's SHA-256 check could hold them)
    for old, new, on in (("before", "before-again", "2026-11-02"),
                         ("after", "after-again", "2026-11-20")):  # fmt: skip
        with issued.begin() as c:
            c.execute(text(
                "INSERT INTO rs_scene (name, acquired_on, index_name, file_name, sha256, "
                "size_bytes, crs_wkt, width, height, transform_json, nodata, created_by, "
                "created_at) SELECT :new, :on, index_name, file_name, sha256, size_bytes, "
                "crs_wkt, width, height, transform_json, nodata, created_by, created_at "
                "FROM rs_scene WHERE name = :old"), {"new": new, "on": date.fromisoformat(on),
                                                     "old": old})  # fmt: skip
    again = _flag(issued, store, "before-again", "after-again", pair.stand_key)
    with pytest.raises(Conflict) as twice, session_scope(issued) as s:
        review_flag(s, VERIFIER, "r-2", again.id, "confirm", "林火 fire", cause="fire")
    assert "同一变化只计一次" in twice.value.message_zh and f"flag {flag.id}" in str(twice.value)
    assert _held(issued) == held


def test_shares_never_add_above_one_and_losses_never_above_the_credited(
    issued: Engine, tmp_path: Path
) -> None:
    pair, store, flag = _first(issued, tmp_path)
    with session_scope(issued) as s:
        one = review_flag(s, VERIFIER, "r-1", flag.id, "confirm", "林火 fire", cause="fire")
    first = one.reversal
    assert first is not None and 0.0 < first.f < 1.0
    stand = stands_4525(issued).set_index("stand_key").geometry[pair.stand_key]
    # the stand grows back (2026-11-05) and burns entirely (2026-11-10): detected share ≈ 1
    regrown = _variant(pair.before, tmp_path / "regrown.tif", 0.001)
    burnt = _variant(pair.before, tmp_path / "burnt.tif", 0.001, burn=stand)
    with session_scope(issued) as s:
        register_scene(s, STAFF, regrown, date(2026, 11, 5), "regrown", store=store)
        register_scene(s, STAFF, burnt, date(2026, 11, 10), "burnt", store=store)
    flag2 = _flag(issued, store, "regrown", "burnt", pair.stand_key)
    assert flag2.stats["disturbed_share"] > 1.0 - first.f  # more than what remains
    with session_scope(issued) as s:
        two = review_flag(s, VERIFIER, "r-2", flag2.id, "confirm", "林火 fire", cause="fire")
    second = two.reversal
    assert second is not None
    assert second.f == pytest.approx(1.0 - first.f)  # R1: min(f_det, 1 − f_1)
    # R3 up to 2026-11-10: 314 of the period's 365 days, against 305 for the first event
    assert second.credited_c == pytest.approx(first.credited_c * 314 / 305)
    c2 = second.credited_c
    assert second.loss == pytest.approx(min((1.0 - first.f) * c2, c2 - first.loss))  # R4
    assert first.loss + second.loss <= c2 + 1e-9
    r1 = second.equations["R1"]
    assert r1["f_det"] == flag2.stats["disturbed_share"] and r1["sum_f_prev"] == first.f
    held = _held(issued)
    # a third loss of the stand (2026-11-15 → 2026-11-20): nothing remains, refused
    regrown2 = _variant(pair.before, tmp_path / "regrown2.tif", 0.002)
    burnt2 = _variant(pair.before, tmp_path / "burnt2.tif", 0.002, burn=stand)
    with session_scope(issued) as s:
        register_scene(s, STAFF, regrown2, date(2026, 11, 15), "regrown2", store=store)
        register_scene(s, STAFF, burnt2, date(2026, 11, 20), "burnt2", store=store)
    flag3 = _flag(issued, store, "regrown2", "burnt2", pair.stand_key)
    with pytest.raises(Invalid) as nothing, session_scope(issued) as s:
        review_flag(s, VERIFIER, "r-3", flag3.id, "confirm", "林火 fire", cause="fire")
    assert "已无剩余" in nothing.value.message_zh and "nothing remains" in str(nothing.value)
    assert _held(issued) == held


def test_an_event_outside_the_crediting_period_is_refused(issued: Engine, tmp_path: Path) -> None:
    pair, store, flag = _first(issued, tmp_path)
    held = _held(issued)
    with pytest.raises(Invalid) as early, session_scope(issued) as s:  # L1 starts 2026-01-01
        review_flag(s, VERIFIER, "r-1", flag.id, "confirm", "林火 fire", cause="fire",
                    event_date=date(2025, 12, 15))  # fmt: skip
    assert "起始碳储量" in early.value.message_zh and "starting stock" in str(early.value)
    # 30 years of crediting from 2026-01-01: the period ends before 2056-01-01
    later_b = _variant(pair.before, tmp_path / "b2056.tif", 0.003)
    later_a = _variant(pair.after, tmp_path / "a2056.tif", 0.003)
    with session_scope(issued) as s:  # the clock set ahead to register them
        register_scene(s, STAFF, later_b, date(2055, 11, 1), "b2056", store=store,
                       today=date(2056, 3, 1))  # fmt: skip
        register_scene(s, STAFF, later_a, date(2056, 3, 1), "a2056", store=store,
                       today=date(2056, 3, 1))  # fmt: skip
    late_flag = _flag(issued, store, "b2056", "a2056", pair.stand_key)
    with pytest.raises(Invalid) as late, session_scope(issued) as s:
        review_flag(s, VERIFIER, "r-2", late_flag.id, "confirm", "林火 fire", cause="fire",
                    event_date=date(2056, 1, 1))  # fmt: skip
    assert "计入期" in late.value.message_zh and "nothing is credited" in str(late.value)
    with session_scope(issued) as s:  # the last day of the crediting period is still inside
        done = review_flag(s, VERIFIER, "r-3", late_flag.id, "confirm", "林火 fire",
                           cause="fire", event_date=date(2055, 12, 31))  # fmt: skip
    assert done.status == "confirmed"
    assert _held(issued) == held - (done.reversal.quantity if done.reversal else 0)


def test_the_modelled_stock_is_never_clipped(issued: Engine) -> None:
    with session_scope(issued) as s:
        project = find_project(s, "L1")
        result, _ = ex_ante(s, project)
        years = [int(y) for y in result.years]
        assert (years[0], years[-1]) == (2026, 2055)
        stocks, year = modelled_stock(s, project, date(2026, 3, 1))  # end of 2025: the start
        key = str(result.stand_ids[0])
        start = float(result.project_stock[0, 0] - result.project_change[0, 0])
        assert year == 2025 and stocks[key] == pytest.approx(start)
        stocks, year = modelled_stock(s, project, date(2056, 6, 1))  # end of 2055: the last
        assert year == 2055 and stocks[key] == pytest.approx(float(result.project_stock[0, -1]))
        for outside in (date(2025, 6, 1), date(2057, 1, 1)):  # ends of 2024 and 2056
            with pytest.raises(Invalid) as refused:
                modelled_stock(s, project, outside)
            assert "事前估算只覆盖 2025–2055" in refused.value.message_zh
