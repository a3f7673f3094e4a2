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
                       "云影 / cloud shadow", "--key", "cli-1", "--json", env=verifier)  # fmt: skip
    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    assert json.loads(reviewed.stdout)["status"] == "dismissed"
    staff_review = run_cli("monitor", "review", str(flags[0]["id"]), "--dismiss", "--reason",
                           "x", "--key", "cli-2", env=env)  # fmt: skip
    assert staff_review.returncode == 5 and "Traceback" not in staff_review.stderr
    scenes = run_cli("monitor", "scenes", "list", "--json", env=env)
    assert len(json.loads(scenes.stdout)) == 2


def test_zonal_output_review_summary_and_who_lists_scenes(issued: Engine, tmp_path: Path) -> None:
    url = issued.url.render_as_string(hide_password=False)
    pair = disturbed_pair(issued, tmp_path / "rasters")
    env = {**cli_env(url, "li"), "TANHUI_SCENE_STORE": str(tmp_path / "store")}
    done = run_cli("monitor", "disturbances", "--before", str(pair.before), "--before-date",
                   "2025-11-01", "--after", str(pair.after), "--after-date", "2026-11-01",
                   "--project", "L1", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # an output folder that does not exist: refused before any work, no traceback
    missing = run_cli("monitor", "zonal", "--raster", pair.after.stem, "--out",
                      str(tmp_path / "nowhere" / "x.csv"), env=env)  # fmt: skip
    assert missing.returncode != 0 and "Traceback" not in missing.stdout + missing.stderr
    assert "不存在" in missing.stderr and "does not exist" in missing.stderr
    # every stand of the county: those outside every project have an empty code, not "nan"
    zonal = run_cli(
        "monitor", "zonal", "--raster", pair.after.stem, "--stat", "valid_share", env=env
    )
    assert zonal.returncode == 0, zonal.stdout + zonal.stderr
    assert "nan" not in zonal.stdout.lower() and "L1" in zonal.stdout
    # a confirmation in words: f, L ± U, Q, own / pool / debt / shortfall, the ledger op, notes
    flags = json.loads(run_cli("monitor", "flags", "--project", "L1", "--json", env=env).stdout)
    verifier = {**env, "TANHUI_USER": "auditor"}
    reviewed = run_cli("monitor", "review", str(flags[0]["id"]), "--confirm", "--cause", "fire",
                       "--reason", "林火 / forest fire", "--key", "cli-9", env=verifier)  # fmt: skip
    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    [rev] = json.loads(run_cli("monitor", "reversals", "--json", env=env).stdout)
    text_ = reviewed.stdout
    assert "confirm → confirmed" in text_ and f"f (R1) = {rev['f']:.4f}" in text_
    assert f"L (R4) = {rev['loss']:,.2f} ± {rev['loss'] * rev['u']:,.2f}" in text_
    assert f"Q (R6) = {rev['quantity']:,}" in text_ and f"own {rev['own']:,}" in text_
    assert "pool" in text_ and "debt" in text_ and "shortfall" in text_
    assert f"ledger op: {rev['op_id']}" in text_
    assert "UNVERIFIED" in reviewed.stderr
    # the scene list: staff and verifiers, not buyers or banks
    assert run_cli("monitor", "scenes", "list", env=verifier).returncode == 0
    for outsider in ("buyer", "banker"):
        refused = run_cli("monitor", "scenes", "list", env={**env, "TANHUI_USER": outsider})
        assert refused.returncode == 5 and "Traceback" not in refused.stderr
