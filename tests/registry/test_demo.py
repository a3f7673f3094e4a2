"""`tanhui demo` itself, at a small size: the main job runs end to end on a SpatiaLite file."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_runner import run_cli


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    done = run_cli("demo", "--workdir", str(work), "--stands", "2000",
                   env={"TANHUI_DATABASE_URL": ""}, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert (work / "tanhui.sqlite").exists() and (work / "export" / "stands.gpkg").exists()
    assert (work / "plots" / "growth_curves.png").stat().st_size > 10_000
    # three projects verified, each inside its frozen ex-ante's band
    assert len(re.findall(r"within the ex-ante band", out)) == 3
    assert "issued SP-FM-2026-01" in out and "certificate RC-" in out
    assert "ledger invariants hold" in out
    assert "batch: 200 retirements, 2,000 t in one transaction" in out
    # a burnt patch in SP-FM-2026-01 found, confirmed, its credited loss cancelled from the buffer
    cancelled = re.search(
        r"buffer cancelled: ([\d,]+) t of the project's own buffer \+ ([\d,]+) t", out
    )
    assert "verifier confirms (fire)" in out and cancelled is not None, out[-4000:]
    assert int(cancelled[1].replace(",", "")) + int(cancelled[2].replace(",", "")) > 0
    evidence = next((work / "monitoring").glob("evidence_flag_*.png"))
    assert evidence.stat().st_size > 10_000
    assert "images synthetic-ndvi-2029 → synthetic-ndvi-2030 (合成 SYNTHETIC)" in out
    from PIL import Image

    chunks = Image.open(evidence).text  # type: ignore[attr-defined]
    assert "synthetic-ndvi-2029" in chunks["Title"] and "UNVERIFIED" in chunks["Description"]
    assert "the tables equal the replay of" in out and "verified" in out.split("checkpoint:")[1]
    # the county map's tiles (registry.tiles), stamped with the audit head
    assert "tiles built" in out and (work / "tiles" / "registry.pmtiles").stat().st_size > 10_000
