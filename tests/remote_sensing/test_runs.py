"""A disturbance placed by the synthetic raster generator inside a stand of the issued project
L1 is found by run_detection (a flag on that stand, with the project code and its evidence PNG),
on both engines; a dismissal changes only the flag; the wrong reviewers are refused; no owner
name appears in the flags' JSON."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from registry.actors import Actor
from registry.audit import verify_chain
from registry.db import session_scope
from registry.errors import Conflict, Invalid, PermissionDenied
from registry.ledger import check_invariants
from registry.remote_sensing.reversals import review_flag
from registry.remote_sensing.runs import flag_evidence, list_flags, run_detection
from registry.remote_sensing.scenes import register_scene
from registry.vocabulary import Role
from tests.documents.doc_fixtures import issued_project
from tests.registry.compensation_fixtures import project_owners
from tests.registry.ledger_fixtures import BUYER_USER
from tests.registry.project_fixtures import STAFF, VERIFIER
from tests.remote_sensing.rs_fixtures import AFTER, BEFORE, Pair, disturbed_pair

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _ledger(engine: Engine) -> dict[str, object]:
    with engine.connect() as c:
        return {
            "blocks": c.execute(text("SELECT account_id, first_seq, last_seq, state, closed_op_id "
                                     "FROM credit_block ORDER BY id")).all(),
            "ops": c.execute(text("SELECT count(*) FROM ledger_operation")).scalar_one(),
        }  # fmt: skip


def _run(engine: Engine, tmp_path: Path, project: str | None = "L1") -> tuple[Pair, int]:
    pair = disturbed_pair(engine, tmp_path / "rasters", project)
    store = tmp_path / "store"
    with session_scope(engine) as s:
        register_scene(s, STAFF, pair.before, BEFORE, "before", store=store)
        register_scene(s, STAFF, pair.after, AFTER, "after", store=store)
        run = run_detection(s, STAFF, "before", "after", store=store)
    flagged = [f for f in run.flags if f.stand_key == pair.stand_key]
    assert len(flagged) == 1, [(f.stand_key, f.stats) for f in run.flags]
    return pair, flagged[0].id


def test_a_placed_patch_is_flagged_and_a_dismissal_changes_only_the_flag(
    issued: Engine, tmp_path: Path
) -> None:
    pair, flag_id = _run(issued, tmp_path)
    with session_scope(issued) as s:
        flag = next(f for f in list_flags(s, VERIFIER, project="L1") if f.id == flag_id)
        png = flag_evidence(s, STAFF, flag_id)
    assert flag.project == "L1" and flag.status == "open"
    # the patch's area (m² → ha); the generator lowers cells whose centre is inside it (10 m
    # cells), the detection weighs the kept-patch cells by their exact coverage: within 5 %
    assert flag.stats["disturbed_ha"] == pytest.approx(pair.patch.area / 10_000, rel=0.05)
    assert flag.stats["disturbed_mean_change"] < -0.3  # the drop 0.35, less the noise
    assert png.startswith(PNG) and hashlib.sha256(png).hexdigest() == flag.evidence_sha256
    from PIL import Image

    chunks = Image.open(io.BytesIO(png)).text  # type: ignore[attr-defined]
    assert chunks["Title"] == (f"林分 stand {flag.stand_key}: before ({BEFORE}) → after ({AFTER})")
    assert "UNVERIFIED" in chunks["Description"]
    before = _ledger(issued)
    with pytest.raises(PermissionDenied), session_scope(issued) as s:  # staff cannot review
        review_flag(s, STAFF, "r-staff", flag_id, "dismiss", "云影 / a cloud shadow")
    with pytest.raises(PermissionDenied), session_scope(issued) as s:
        review_flag(s, BUYER_USER, "r-buyer", flag_id, "dismiss", "云影 / a cloud shadow")
    with session_scope(issued) as s:
        developer = s.execute(text("SELECT developer FROM project WHERE code = 'L1'")).scalar_one()
    own = Actor.of("业主的核证员", Role.VERIFIER, str(developer).strip(), "verifier")
    with pytest.raises(PermissionDenied), session_scope(issued) as s:
        review_flag(s, own, "r-own", flag_id, "dismiss", "云影 / a cloud shadow")
    with session_scope(issued) as s:
        done = review_flag(s, VERIFIER, "r-1", flag_id, "dismiss", "云影 / a cloud shadow")
    assert done.status == "dismissed" and done.reversal is None
    with session_scope(issued) as s:  # the same key again: the first result, nothing moves
        again = review_flag(s, VERIFIER, "r-1", flag_id, "dismiss", "云影 / a cloud shadow")
    assert again.replayed and again.status == "dismissed"
    with pytest.raises(Conflict), session_scope(issued) as s:  # reviewed once
        review_flag(s, VERIFIER, "r-2", flag_id, "confirm", "火灾 / fire", cause="fire")
    assert _ledger(issued) == before
    with session_scope(issued) as s:
        assert verify_chain(s).ok
        assert check_invariants(s) == []
        shown = json.dumps([f.to_dict() for f in list_flags(s, VERIFIER)], ensure_ascii=False)
    for _, name, _ in project_owners(issued, "L1"):
        assert name not in shown
    with pytest.raises(Exception, match=r"reviewed, once"), issued.begin() as c:
        c.execute(text(f"UPDATE rs_flag SET status = 'open' WHERE id = {flag_id}"))


def test_a_flag_outside_every_project_cannot_become_a_reversal(
    issued: Engine, tmp_path: Path
) -> None:
    pair, flag_id = _run(issued, tmp_path, project=None)
    with session_scope(issued) as s:
        flag = next(f for f in list_flags(s, STAFF) if f.id == flag_id)
    assert flag.project is None and flag.stand_key == pair.stand_key
    before = _ledger(issued)
    with pytest.raises(Invalid, match="outside every project"), session_scope(issued) as s:
        review_flag(s, VERIFIER, "r-out", flag_id, "confirm", "火灾 / fire", cause="fire")
    with session_scope(issued) as s:  # nothing credited there: it may only be dismissed
        done = review_flag(s, VERIFIER, "r-out-2", flag_id, "dismiss", "非项目林地 / no credits")
    assert done.status == "dismissed" and _ledger(issued) == before
