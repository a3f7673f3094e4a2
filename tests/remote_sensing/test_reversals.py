"""A confirmed reversal on both engines: the flag of the placed patch in L1 is confirmed by an
independent verifier; exactly Q credits are cancelled from BUFFER (L1's own buffer first), the
ledger invariants hold, the audit chain verifies, the reversal row carries the operation and
the evidence's SHA-256; a retry with the same key moves nothing; a second confirmation of an
overlapping flag of the same stand is refused; no owner name in the reversal JSON.

Q is recomputed here by the equations from their inputs (R1–R6; the stand's stock and modelled
removals read from the project's ex-ante, the methodology's own output, not the code under
test): Q = ceil(f × C × (1 + √(U_area² + U_change²)) − 1e-9), C = V × m_s / M."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from registry.audit import verify_chain
from registry.db import session_scope
from registry.errors import Conflict
from registry.ledger import blocks, check_invariants
from registry.projects.core import find_project
from registry.projects.lifecycle import ex_ante
from registry.remote_sensing.reversals import reversals_of, review_flag
from registry.remote_sensing.runs import run_detection
from registry.remote_sensing.scenes import register_scene
from tests.documents.doc_fixtures import VERIFIED, issued_project
from tests.registry.compensation_fixtures import project_owners
from tests.registry.project_fixtures import STAFF, VERIFIER
from tests.remote_sensing.rs_fixtures import AFTER, BEFORE, disturbed_pair, stands_4525


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _buffer(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        live = blocks(s, "BUFFER")
    return {"held": sum(b.quantity for b in live if b.state == "active")}


def test_a_confirmed_reversal_cancels_exactly_q_from_the_buffer(
    issued: Engine, tmp_path: Path
) -> None:
    pair = disturbed_pair(issued, tmp_path / "rasters")
    store = tmp_path / "store"
    with session_scope(issued) as s:
        register_scene(s, STAFF, pair.before, BEFORE, "before", store=store)
        register_scene(s, STAFF, pair.after, AFTER, "after", store=store)
        run = run_detection(s, STAFF, "before", "after", project="L1", store=store)
    flag = next(f for f in run.flags if f.stand_key == pair.stand_key)
    # R1 against the placed patch's geometry (shapely, EPSG:4525 metres): the share of the stand
    # the patch covers, within half a 10 m pixel along the patch's edge inside the stand
    stand = stands_4525(issued).set_index("stand_key").geometry[pair.stand_key]
    burnt = pair.patch.intersection(stand)
    true_f = burnt.area / stand.area
    edge_tolerance = burnt.length * 5.0 / stand.area
    assert 0.2 < true_f < 0.6  # the western half of the stand less a 20 m inset
    assert abs(flag.stats["disturbed_share"] - true_f) <= edge_tolerance
    # the inputs, by hand from the flag and the project's ex-ante (event = the after date,
    # 2026-11-01, inside the verified period 2026-01-01 – 2026-12-31)
    f, u_area = flag.stats["disturbed_share"], flag.stats["area_u"]
    with session_scope(issued) as s:
        project = find_project(s, "L1")
        result, _ = ex_ante(s, project)
        u_change = s.execute(text(
            "SELECT change_uncertainty FROM monitoring_period WHERE project_id = :p "
            "AND status = 'verified'"), {"p": project.id}).scalar_one() or 0.0  # fmt: skip
    years = list(np.asarray(result.years))
    row = list(map(str, result.stand_ids)).index(pair.stand_key)
    first = years.index(2026)  # end of 2025: the starting stock (end of 2026 less its change)
    stock = float(np.asarray(result.project_stock)[row, first]
                  - np.asarray(result.project_change)[row, first])  # fmt: skip
    in_2026 = np.asarray(result.net_removals)[:, first]  # the verified period: 2026
    m_s, m_all = max(float(in_2026[row]), 0.0), float(np.clip(in_2026, 0, None).sum())
    w = (304 + 1) / 365  # 2026-01-01 … 2026-11-01 inclusive: 305 of the period's 365 days
    credited = w * VERIFIED * m_s / m_all  # R3 with one verified period: w × 1000.5 × m_s / M
    loss = f * credited  # R4
    u = math.sqrt(u_area**2 + u_change**2)  # R5
    expected_q = math.ceil(loss * (1 + u) - 1e-9)  # R6
    assert expected_q > 0
    held = _buffer(issued)["held"]
    assert held == 100  # 10 % of the 1 000 credits issued
    with session_scope(issued) as s:
        done = review_flag(s, VERIFIER, "rev-1", flag.id, "confirm", "林火 / forest fire",
                           cause="fire")  # fmt: skip
    rev = done.reversal
    assert rev is not None and done.status == "confirmed"
    assert rev.quantity == expected_q and rev.own == expected_q and rev.pool == 0
    assert rev.debt == 0 and rev.shortfall == 0
    assert rev.f == pytest.approx(f) and rev.stock_s == pytest.approx(stock)
    assert rev.l_phys == pytest.approx(f * stock) and rev.loss == pytest.approx(loss)
    assert rev.u == pytest.approx(u)
    assert rev.op_id is not None and rev.evidence_sha256 == flag.evidence_sha256
    assert _buffer(issued)["held"] == held - expected_q
    with session_scope(issued) as s:
        assert check_invariants(s) == []
        assert verify_chain(s).ok
        event = json.loads(s.execute(text(
            "SELECT payload FROM audit_event WHERE action = 'monitoring.reversal_confirmed'"
        )).scalar_one())  # fmt: skip
    assert event["op_id"] == rev.op_id and event["evidence_sha256"] == flag.evidence_sha256
    assert event["estimate"]["Q"] == expected_q
    with session_scope(issued) as s:  # a retry with the same key moves nothing
        again = review_flag(s, VERIFIER, "rev-1", flag.id, "confirm", "林火 / forest fire",
                            cause="fire")  # fmt: skip
    assert again.replayed and again.reversal == rev
    assert _buffer(issued)["held"] == held - expected_q
    with session_scope(issued) as s:  # the same scenes again: an overlapping flag
        rerun = run_detection(s, STAFF, "before", "after", project="L1", store=store)
    second = next(x for x in rerun.flags if x.stand_key == pair.stand_key)
    with pytest.raises(Conflict) as twice, session_scope(issued) as s:
        review_flag(s, VERIFIER, "rev-2", second.id, "confirm", "林火 / fire", cause="fire")
    assert "只计一次" in twice.value.message_zh
    assert _buffer(issued)["held"] == held - expected_q
    with session_scope(issued) as s:
        shown = json.dumps([r.to_dict() for r in reversals_of(s)], ensure_ascii=False)
        assert len(reversals_of(s, "L1")) == 1
    for _, name, _ in project_owners(issued, "L1"):
        assert name not in shown
