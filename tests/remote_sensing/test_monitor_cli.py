"""``tanhui monitor …`` on both engines: two raster files run through ``disturbances`` print the
flag of the stand holding the placed patch; a file that is no raster is refused in both
languages, exit code not 0, no traceback, nothing written; a review by the verifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.cli_runner import run_cli
from tests.documents.doc_fixtures import issued_project
from tests.registry.user_fixtures import cli_env
from tests.remote_sensing.rs_fixtures import disturbed_pair


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as c:
        return tuple(int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                     for t in ("rs_scene", "rs_run", "rs_flag", "audit_event"))  # fmt: skip


def test_disturbances_on_two_files_and_a_bad_file(issued: Engine, tmp_path: Path) -> None:
    url = issued.url.render_as_string(hide_password=False)
    pair = disturbed_pair(issued, tmp_path / "rasters")
    env = {**cli_env(url, "li"), "TANHUI_SCENE_STORE": str(tmp_path / "store")}
    bad = tmp_path / "坏.tif"
    bad.write_text("not a GeoTIFF")
    before = _counts(issued)
    refused = run_cli("monitor", "disturbances", "--before", str(bad), "--before-date",
                      "2025-11-01", "--after", str(pair.after), "--after-date", "2026-11-01",
                      env=env)  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "不是可读的栅格" in refused.stderr and "not a readable raster" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert _counts(issued) == before  # nothing written
    done = run_cli("monitor", "disturbances", "--before", str(pair.before), "--before-date",
                   "2025-11-01", "--after", str(pair.after), "--after-date", "2026-11-01",
                   "--project", "L1", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert pair.stand_key in done.stdout and "L1" in done.stdout
    assert "unverified" in done.stderr.lower() or "未经核实" in done.stderr
    listed = run_cli("monitor", "flags", "--project", "L1", "--json", env=env)
    flags = json.loads(listed.stdout)
    assert [f["stand_key"] for f in flags] == [pair.stand_key]
    assert flags[0]["project"] == "L1" and flags[0]["status"] == "open"
    verifier = {**env, "TANHUI_USER": "auditor"}
    reviewed = run_cli("monitor", "review", str(flags[0]["id"]), "--dismiss", "--reason",
                       "云影 / cloud shadow", "--key", "cli-1", env=verifier)  # fmt: skip
    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    assert json.loads(reviewed.stdout)["status"] == "dismissed"
    staff_review = run_cli("monitor", "review", str(flags[0]["id"]), "--dismiss", "--reason",
                           "x", "--key", "cli-2", env=env)  # fmt: skip
    assert staff_review.returncode == 5 and "Traceback" not in staff_review.stderr
    scenes = run_cli("monitor", "scenes", "list", "--json", env=env)
    assert len(json.loads(scenes.stdout)) == 2
