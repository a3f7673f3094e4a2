"""A confirmed reversal in the issued project L1 (``doc_fixtures.issued_project``), by the
services: the placed patch of ``tests.remote_sensing.rs_fixtures`` found by a detection run and
confirmed by the independent verifier (cause fire, event ``EVENT`` inside period 1, 2026,
unless told another).
``with_other_flags``: two more runs over the same scenes, one flag dismissed with a reason
naming ``dismiss_reason`` and one left open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from registry.db import session_scope
from registry.remote_sensing.reversals import review_flag
from registry.remote_sensing.runs import run_detection
from registry.remote_sensing.scenes import register_scene
from registry.remote_sensing.views import FlagView, ReversalView
from tests.registry.project_fixtures import STAFF, VERIFIER
from tests.remote_sensing.rs_fixtures import AFTER, BEFORE, disturbed_pair

__all__ = ["EVENT", "Confirmed", "confirm_a_reversal"]

EVENT = date(2026, 10, 15)


@dataclass(frozen=True)
class Confirmed:
    stand_key: str
    flag: FlagView
    reversal: ReversalView
    open_flag: FlagView | None
    dismissed_flag: FlagView | None


def _flag_of(engine: Engine, store: Path, stand_key: str) -> FlagView:
    with session_scope(engine) as s:
        run = run_detection(s, STAFF, "before", "after", project="L1", store=store)
    return next(f for f in run.flags if f.stand_key == stand_key)


def confirm_a_reversal(
    engine: Engine, folder: Path, store: Path, with_other_flags: bool = False,
    dismiss_reason: str = "云影 a cloud shadow", event: date = EVENT, after: date = AFTER,
) -> Confirmed:  # fmt: skip
    """``after`` later than today plays ahead: the registry's clock is then set to it."""
    pair = disturbed_pair(engine, folder / "rasters")
    with session_scope(engine) as s:
        register_scene(s, STAFF, pair.before, BEFORE, "before", store=store, today=after)
        register_scene(s, STAFF, pair.after, after, "after", store=store, today=after)
    flag = _flag_of(engine, store, pair.stand_key)
    with session_scope(engine) as s:
        done = review_flag(s, VERIFIER, "rev-1", flag.id, "confirm", "林火 a forest fire",
                           cause="fire", event_date=event)  # fmt: skip
    assert done.reversal is not None
    dismissed = opened = None
    if with_other_flags:
        dismissed = _flag_of(engine, store, pair.stand_key)
        with session_scope(engine) as s:
            review_flag(s, VERIFIER, "rev-2", dismissed.id, "dismiss", dismiss_reason)
        opened = _flag_of(engine, store, pair.stand_key)
    return Confirmed(pair.stand_key, flag, done.reversal, opened, dismissed)
