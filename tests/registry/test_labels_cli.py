"""``tanhui labels …`` as a user types it: layers, the catalogue, an evaluation, roles and a bad
layer file — refusals in both languages, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from registry.db import make_engine
from tests.cli_runner import run_cli
from tests.registry.label_fixtures import squares_project, water_layer
from tests.registry.user_fixtures import cli_env


def test_labels_on_the_command_line(db_url: str, tmp_path: Path) -> None:
    staff, admin = cli_env(db_url, "li"), cli_env(db_url, "director")
    engine = make_engine(db_url)
    keys = squares_project(engine, tmp_path)
    engine.dispose()
    evidence = tmp_path / "designation.pdf"
    evidence.write_bytes(b"%PDF-1.4 test designation")

    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    bad = run_cli("labels", "layers", "add", "water_source", str(broken), env=staff)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "图层文件 'broken.geojson'" in bad.stderr and "layer file 'broken.geojson'" in bad.stderr

    loaded = run_cli(
        "labels", "layers", "add", "water_source", str(water_layer(tmp_path / "w.gpkg")), env=staff
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "2 个面 polygons" in loaded.stdout and "EPSG:4525 → EPSG:4490" in loaded.stdout
    assert "不保存文件的属性" in loaded.stdout  # says the attributes are not kept
    for args in (("labels", "layers", "list"), ("labels", "layers")):
        listed = run_cli(*args, env=staff)
        assert (
            listed.returncode == 0 and "water_source" in listed.stdout and "w.gpkg" in listed.stdout
        )

    refused = run_cli("labels", "add", "--evidence", str(evidence), env=staff)
    assert refused.returncode != 0 and "admin" in refused.stderr
    added = run_cli(
        "labels", "add", "--evidence", str(evidence), "--code", "water_conservation", env=admin
    )
    assert added.returncode == 0, added.stderr
    assert "water_conservation 水源涵养 / Water conservation" in added.stdout
    catalogue = json.loads(run_cli("labels", "list", "--json", env=staff).stdout)
    assert [e["code"] for e in catalogue] == ["water_conservation"]
    assert catalogue[0]["evidence_name"] == "designation.pdf"

    found = run_cli(
        "labels",
        "evaluate",
        "--project",
        "LB1",
        "--label",
        "water_conservation",
        "--json",
        env=staff,
    )
    assert found.returncode == 0, found.stderr
    judged = json.loads(found.stdout)["judgement"]
    # the starter label: ≥ 50 % of a stand inside the layer; S1 (100 %) and S2 (75 %) pass,
    # S3 (25 %) and S4 (0 %) fail: (1 + 1) ha of 5 ha = 0.4 < 0.5 → the project does not qualify
    passed = {s["stand"] for s in judged["stands"] if s["passed"]}
    assert passed == {keys["S1"], keys["S2"]}
    assert abs(judged["share_area"] - 2 / 5) < 1e-3 and judged["qualifies"] is False
    table = run_cli(
        "labels", "evaluate", "--project", "LB1", "--label", "water_conservation", env=staff
    )
    assert "不符合 does not qualify" in table.stdout and "40.0%" in table.stdout
    assert "unverified" in table.stderr  # the starter thresholds are the registry's choice

    attach = run_cli(
        "labels",
        "attach",
        "--project",
        "LB1",
        "--label",
        "water_conservation",
        "--key",
        "k1",
        env=staff,
    )
    assert (
        attach.returncode != 0
        and "附加生态标签" in attach.stderr
        and "Traceback" not in attach.stderr
    )
