"""The ``tanhui`` command line, run as a user runs it (real files, real databases): in-process
through Typer's runner, and once as the installed executable in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from tests.cli_runner import run_cli
from tests.registry.test_audit import _tamper
from tests.registry.user_fixtures import cli_env

TANHUI = str(Path(sys.executable).parent / "tanhui")


def tanhui(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=cli_env(db_url), cwd=cwd)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    done = run_cli("sample-data", "--out", str(out), "--stands", "80", "--seed", "5")
    assert done.returncode == 0, done.stderr
    return out


def test_the_installed_command_runs_in_its_own_process(tmp_path: Path) -> None:
    """The smoke test: the entry point, the schema of a new database, a refusal's exit code,
    and the last-resort handler (a database that cannot be reached: one bilingual line)."""
    env = {**os.environ, "TANHUI_DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite'}"}

    def run(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"TANHUI_DATABASE_URL": url} if url else {}
        return subprocess.run([TANHUI, *args], capture_output=True, text=True,
                              env={**env, **extra}, cwd=tmp_path, timeout=300)  # fmt: skip

    assert run("--help").returncode == 0
    assert run("credits", "check").returncode == 0  # a brand-new database gets its schema
    unknown = run("credits", "certificate", "--id", "RC-2026-00000001")
    assert unknown.returncode == 4 and "no retirement certificate" in unknown.stderr
    unreachable = run("credits", "check", url="postgresql://nobody@127.0.0.1:9/none")
    assert unreachable.returncode == 3 and "Traceback" not in unreachable.stderr
    assert "无法连接" in unreachable.stderr and "cannot connect" in unreachable.stderr


def test_sample_data_is_marked_synthetic_and_arrives_like_bureau_data(sample_dir: Path) -> None:
    shp = sample_dir / "shuangpai_xiaoban_synthetic.shp"
    assert shp.exists() and (sample_dir / "shuangpai_xiaoban_synthetic.gpkg").exists()
    assert not shp.with_suffix(".cpg").exists()
    assert "SYNTHETIC" in (sample_dir / "README_SYNTHETIC.txt").read_text(encoding="utf-8")


def test_import_summary_export_roundtrip_and_audit(
    db_url: str, sample_dir: Path, tmp_path: Path
) -> None:
    shp = str(sample_dir / "shuangpai_xiaoban_synthetic.shp")
    first = tanhui(db_url, "import-inventory", shp, cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "已导入批次 1" in first.stdout and "80 new" in first.stdout
    again = tanhui(db_url, "import-inventory", shp, cwd=tmp_path)
    assert again.returncode == 0 and "already imported as batch 1" in again.stdout

    summary = tanhui(db_url, "stands", "summary", "--format", "json", cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout)
    assert data["totals"]["stands"] == 80
    assert sum(r["stands"] for r in data["by_species_age"]) == 80
    assert sum(r["area_ha"] for r in data["by_township"]) == pytest.approx(
        data["totals"]["area_ha"]
    )
    table = tanhui(db_url, "stands", "summary", cwd=tmp_path)
    assert "chinese_fir" in table.stdout and "乡镇" in table.stdout

    for fmt, name in (("gpkg", "out.gpkg"), ("geojson", "out.geojson"), ("shp", "out.shp")):
        out = tmp_path / fmt / name
        exported = tanhui(
            db_url, "stands", "export", "--format", fmt, "--out", str(out), cwd=tmp_path
        )
        assert exported.returncode == 0, exported.stderr
        back = tanhui(db_url, "import-inventory", str(out), cwd=tmp_path)
        assert back.returncode == 0, back.stderr + back.stdout
        assert "nothing changed" in back.stdout and "equal the registered" in back.stdout, fmt

    xlsx = tmp_path / "stands.xlsx"
    assert tanhui(db_url, "stands", "export", "--format", "xlsx", "--out", str(xlsx),
                  cwd=tmp_path).returncode == 0  # fmt: skip
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet is not None and sheet.max_row == 1 + 80
    header = [c.value for c in sheet[1]]
    assert "XIAO_BAN" in header and "AREA_HA_CALC" in header

    from sqlalchemy import create_engine, text

    db = create_engine(db_url)  # the test users' events, then one import (the re-imports: none)
    with db.connect() as c:
        n = c.execute(text("SELECT COUNT(*) FROM audit_event")).scalar_one()
        imports = c.execute(
            text("SELECT COUNT(*) FROM audit_event WHERE action = 'inventory.imported'")
        )
        assert imports.scalar_one() == 1
    db.dispose()
    verified = tanhui(db_url, "audit", "verify", cwd=tmp_path)
    assert verified.returncode == 0 and f"audit chain OK: {n} events" in verified.stdout
    log = tanhui(db_url, "audit", "log", cwd=tmp_path)
    assert "inventory.imported" in log.stdout

    _tamper_first_event(db_url)
    broken = tanhui(db_url, "audit", "verify", cwd=tmp_path)
    assert broken.returncode == 3  # a broken chain is a failure of the registry, not a refusal
    assert "BROKEN" in broken.stderr and "event 1" in broken.stderr


def _tamper_first_event(db_url: str) -> None:
    _tamper(db_url, "UPDATE audit_event SET actor = 'mallory' WHERE id = 1")


def test_refused_import_exits_nonzero_and_writes_the_report(
    db_url: str, sample_dir: Path, tmp_path: Path
) -> None:
    import geopandas as gpd

    frame = gpd.read_file(sample_dir / "shuangpai_xiaoban_synthetic.gpkg")
    frame.loc[3, "PINGJUN_NL"] = -4
    bad = tmp_path / "bad.gpkg"
    frame.to_file(bad, driver="GPKG")
    done = tanhui(db_url, "import-inventory", str(bad), "--report-dir", "reports", cwd=tmp_path)
    assert done.returncode == 1
    assert "未导入" in done.stderr and "Not imported" in done.stderr
    key = f"431123-{frame.LIN_BAN[3]}-{frame.XIAO_BAN[3]}"
    assert key in done.stdout and "PINGJUN_NL" in done.stdout
    report = (tmp_path / "reports" / "bad.report.csv").read_text(encoding="utf-8-sig")
    assert key in report and "out_of_range" in report
    summary = tanhui(db_url, "stands", "summary", "--format", "json", cwd=tmp_path)
    assert json.loads(summary.stdout)["totals"]["stands"] == 0


def test_missing_file_and_missing_prj_are_explained(
    db_url: str, sample_dir: Path, tmp_path: Path
) -> None:
    missing = tanhui(db_url, "import-inventory", str(tmp_path / "nope.shp"), cwd=tmp_path)
    assert (
        missing.returncode == 3
        and "找不到文件" in missing.stderr
        and "File not found" in missing.stderr
    )
    for part in sample_dir.glob("shuangpai_xiaoban_synthetic.*"):
        if part.suffix in {".shp", ".shx", ".dbf"}:
            (tmp_path / part.name).write_bytes(part.read_bytes())
    noprj = tanhui(db_url, "import-inventory", str(tmp_path / "shuangpai_xiaoban_synthetic.shp"),
                   cwd=tmp_path)  # fmt: skip
    assert noprj.returncode == 1 and "EPSG:4525" in noprj.stdout


def test_coded_filegdb_and_its_update_through_the_cli(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "sample"
    made = run_cli(
        "sample-data", "--out", str(out), "--stands", "200", "--seed", "8", "--yizhangtu"
    )
    assert made.returncode == 0, made.stderr
    gdb = out / "shuangpai_xiaoban_synthetic_yizhangtu.gdb"
    update = out / "shuangpai_xiaoban_synthetic_yizhangtu_2031.gdb"
    assert gdb.is_dir() and update.is_dir()
    first = tanhui(db_url, "import-inventory", str(gdb), cwd=tmp_path)
    assert first.returncode == 0 and "200 new" in first.stdout, first.stderr + first.stdout
    refused = tanhui(db_url, "import-inventory", str(update), cwd=tmp_path)
    assert refused.returncode == 1 and "--retire-missing" in refused.stdout + refused.stderr
    done = tanhui(db_url, "import-inventory", str(update), "--retire-missing", cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "retired 8 stands" in done.stdout  # 3 split + 2 merged away + 3 dropped
    split = next(
        line.split(" → ")[0].strip()
        for line in done.stdout.splitlines()
        if line.strip().endswith("(split)")
    )
    history = tanhui(db_url, "stands", "history", split, "--format", "text", cwd=tmp_path)
    assert history.returncode == 0 and f"{split} → {split}-" in history.stdout
    assert "(split)" in history.stdout
