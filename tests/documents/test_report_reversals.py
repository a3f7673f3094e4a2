"""§7 of the monitoring report (干扰与逆转) on both engines, with a reversal confirmed in L1's
period 1 (event 2026-10-15), a flag of the same stand dismissed with a reason naming a
household, and one left open: the reversal's numbers in the report are the ones set up, checked
by hand here (f from the stand's area, L = f × C, U = √(U_area² + U_change²),
Q = ⌈L × (1 + U) − 1e-9⌉, the buffer pool Q credits lighter), the cancellation's ledger
operation and the evidence's SHA-256 are named, the household's name is withheld, the rule is
stated."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.documents.model import Paragraph, Table
from registry.documents.monitoring_report import build_monitoring_report
from registry.ledger.reversals import RULE
from registry.public.withhold import HOUSEHOLD_WITHHELD
from tests.documents.doc_fixtures import CODE, issued_project
from tests.documents.reversal_fixtures import confirm_a_reversal
from tests.documents.test_monitoring_report import _all_text
from tests.registry.compensation_fixtures import project_owners

BUFFER_SQL = (
    "SELECT COALESCE(SUM(b.last_seq - b.first_seq + 1), 0) FROM credit_block b "
    "JOIN ledger_account a ON a.id = b.account_id "
    "WHERE b.closed_op_id IS NULL AND b.state = 'active' AND a.kind = 'buffer'"
)


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def _stand_area_m2(engine: Engine, stand_key: str) -> float:
    wkb = _scalar(engine, "SELECT ST_AsBinary(geom) FROM stand WHERE stand_key = :k "
                  "AND is_current", k=stand_key)  # fmt: skip
    shape = gpd.GeoSeries([shapely.from_wkb(bytes(wkb))], crs=4490).to_crs(4525)  # type: ignore[arg-type]
    return float(shape.area.iloc[0])


def test_section_7_lists_the_reversal_the_open_and_the_dismissed_flags(
    registry: Engine, tmp_path: Path
) -> None:
    someone = next(n for _, n, k in project_owners(registry, CODE) if k == "household")
    buffer_before = int(_scalar(registry, BUFFER_SQL))  # type: ignore[call-overload]
    done = confirm_a_reversal(registry, tmp_path, tmp_path / "store", with_other_flags=True,
                              dismiss_reason=f"与{someone}核实：云影 a cloud shadow")  # fmt: skip
    rev, flag = done.reversal, done.flag
    # by hand: f = disturbed area / stand area (R1); L = f × C (R4); U (R5); Q (R6)
    f = flag.stats["disturbed_ha"] * 10_000 / _stand_area_m2(registry, done.stand_key)
    assert rev.f == pytest.approx(f, rel=1e-3)
    loss = rev.f * rev.credited_c
    u = math.sqrt(rev.u_area**2 + rev.u_change**2)
    q = math.ceil(loss * (1 + u) - 1e-9)
    assert (rev.loss, rev.u, rev.quantity) == (pytest.approx(loss), pytest.approx(u), q)
    assert q > 0 and int(_scalar(registry, BUFFER_SQL)) == buffer_before - q  # type: ignore[call-overload]

    with session_scope(registry) as s:
        doc = build_monitoring_report(s, CODE, 1)
    section = next(sec for sec in doc.walk() if sec.number == "7")
    assert section.heading == "干扰与逆转 Disturbances and reversals"
    tables = {b.caption[:3]: b for b in section.blocks if isinstance(b, Table)}
    [row] = tables["表 4"].rows
    assert row == (
        done.stand_key, "2026-10-15", "火灾 fire", f"{flag.stats['disturbed_ha']:,.4f}",
        f"{rev.f:,.4f}", f"{rev.l_phys:,.3f}", f"{loss:,.3f} ± {loss * u:,.3f}", f"{q:,}",
        f"{q:,}", "0", "0", str(rev.op_id),
    )  # fmt: skip
    assert rev.op_id is not None and rev.own == q  # L1's own buffer covers it: no debt
    assert tables["表 5"].rows == ((done.stand_key, "2025-11-01", "2026-11-01"),)
    words = [b.text for b in section.blocks if isinstance(b, Paragraph)]
    assert any(flag.evidence_sha256 in w for w in words)
    assert any(w.startswith("已驳回的扰动标记 1 个") and HOUSEHOLD_WITHHELD in w for w in words)
    assert RULE in words
    everything = _all_text(doc)
    assert someone not in everything
    assert "R6: Q = ceil(L × (1 + U) − 1e-9)" in everything


def test_a_reversal_after_the_period_is_not_in_its_report(registry: Engine, tmp_path: Path) -> None:
    """The event 2027-03-15 is after period 1's end (2026-12-31): its report lists none (the
    after scene of 2027-07-01 registered with the clock set to that day)."""
    confirm_a_reversal(registry, tmp_path, tmp_path / "store", event=date(2027, 3, 15),
                       after=date(2027, 7, 1))  # fmt: skip
    with session_scope(registry) as s:
        doc = build_monitoring_report(s, CODE, 1)
    section = next(sec for sec in doc.walk() if sec.number == "7")
    assert not [b for b in section.blocks if isinstance(b, Table)]
    words = " ".join(b.text for b in section.blocks if isinstance(b, Paragraph))
    assert "2026-01-01 – 2026-12-31 期间没有确认的逆转" in words
