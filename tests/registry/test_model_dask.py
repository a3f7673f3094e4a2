"""The ex-ante on dask (registry.model_dask) against the in-process run, on both engines.

A 5,000-stand sample imported once per engine and test session; the dask runs go to a real
distributed cluster of 2 worker processes, with partitions smaller than the selection so that
several run. Equality: every per-stand row (read back from the Parquet partitions) and every
yearly total equal the in-process run's to floating-point tolerance.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from registry.carbon_model import fit_and_store_growth, run_ex_ante
from registry.db import session_scope
from registry.errors import SelectionError
from registry.model_dask import SchedulerUnreachable, run_ex_ante_dask
from registry.stands import ImportOptions, import_inventory
from tests.cli_runner import run_cli
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import STAFF
from tests.registry.user_fixtures import cli_env

SAMPLE = 5_000
PARTITION = 1_200  # stands per partition: several partitions of the sample
SELECTIONS = {  # methodology → the selection it is run on
    "AR-CM-003-V01": "all",
    "AR-CM-005-V01": "species_group=moso_bamboo",
    "CCER-14-001-V01": "land_class=规划造林地|其他宜林地",
}


def _sample(engine: Engine, folder: Path) -> None:
    import_inventory(
        engine,
        write_gpkg(sample_frame(SAMPLE, 20), folder / "s.gpkg"),
        ImportOptions(inventory_year=2020),
    )
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)


def _two_counties(engine: Engine, folder: Path) -> None:
    frame = sample_frame(900, 31)
    frame.loc[frame.index[::2], "XIAN"] = "431199"  # every other stand in a second county
    import_inventory(
        engine, write_gpkg(frame, folder / "c.gpkg"), ImportOptions(inventory_year=2020)
    )
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return scenario("dask-sample", _sample)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A real distributed cluster: 2 worker processes, one thread each; its address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield str(local.scheduler_address)


def _parquet(out: Path) -> pd.DataFrame:
    parts = sorted(out.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def _assert_same(in_process: Any, dask: Any, rows: pd.DataFrame) -> None:
    expected = in_process.long().sort_values(["stand_id", "year"], ignore_index=True)
    got = rows.sort_values(["stand_id", "year"], ignore_index=True)[expected.columns]
    assert len(got) == len(expected) == len(in_process.stand_ids) * len(in_process.years)
    assert list(got["stand_id"]) == list(expected["stand_id"])
    assert list(got["stratum"]) == list(expected["stratum"])
    numeric = [c for c in expected.columns if c.endswith("_tco2e")]
    pd.testing.assert_frame_equal(got[numeric], expected[numeric], rtol=1e-9, atol=1e-9)
    totals = in_process.by_year()
    pd.testing.assert_frame_equal(
        dask.by_year[totals.columns].reset_index(drop=True), totals, rtol=1e-9, atol=1e-6
    )
    assert dask.stands == len(in_process.stand_ids)
    assert dask.total == pytest.approx(in_process.total, rel=1e-12)
    assert set(dask.unverified) == set(in_process.unverified())


@pytest.mark.slow
@pytest.mark.parametrize("code", list(SELECTIONS))
def test_dask_equals_in_process(registry: Engine, cluster: str, tmp_path: Path, code: str) -> None:
    selection = SELECTIONS[code]
    with session_scope(registry) as session:
        expected = run_ex_ante(session, selection, code, 2026, 30)
    out = tmp_path / "parts"
    fm = code == "AR-CM-003-V01"
    n = len(expected.stand_ids)  # bamboo and afforestation compute every selected stand
    partition = PARTITION if fm else -(-n // 4)  # about four partitions of the selection
    got = run_ex_ante_dask(
        registry, selection, code, 2026, 30, out, scheduler=cluster, partition_stands=partition
    )
    rows = _parquet(out)
    _assert_same(expected, got, rows)
    # the partitions: FM holds the county whole (one county here: the quota's scope);
    # the others are chunks of at most PARTITION stands of the selection
    assert got.partitions == len(list(out.glob("part-*.parquet")))
    if fm:
        assert n > PARTITION and got.partitions == 1
    else:
        assert got.partitions == -(-n // partition) >= 3
    # by stratum and by species group: the per-stand rows summed by hand
    last = rows[rows["year"] == 2055]
    fir = got.by_species_group.set_index("species_group")
    for group, sub in rows.groupby("species_group"):
        assert fir.loc[group, "net_removals_tco2e"] == pytest.approx(
            sub["net_removals_tco2e"].sum()
        )
        assert fir.loc[group, "stands"] == sub["stand_id"].nunique()
    strata = got.by_stratum.set_index("stratum")
    for stratum, sub in last.groupby("stratum"):
        assert strata.loc[stratum, "project_stock_tco2e"] == pytest.approx(
            sub["project_stock_tco2e"].sum()
        )


@pytest.mark.slow
def test_forest_management_partitions_by_county(
    scenario: Callable[..., Engine], cluster: str, tmp_path: Path
) -> None:
    """Two counties, each with its own cut quota: the dask run (one partition per county)
    equals the in-process run of each county's stands on their own."""
    registry = scenario("dask-two-counties", _two_counties)
    got = run_ex_ante_dask(
        registry, "all", "AR-CM-003-V01", 2026, 40, tmp_path / "o", scheduler=cluster,
        partition_stands=100,
    )  # fmt: skip
    assert got.partitions == 2
    rows = _parquet(tmp_path / "o")
    expected_parts = []
    for county in ("431123", "431199"):
        keys = sorted({k for k in rows["stand_id"] if k.startswith(county + "-")})
        assert keys
        (tmp_path / f"{county}.txt").write_text("\n".join(keys), encoding="utf-8")
        with session_scope(registry) as session:
            expected_parts.append(
                run_ex_ante(session, f"@{tmp_path / county}.txt", "AR-CM-003-V01", 2026, 40)
            )
    expected = pd.concat([r.long() for r in expected_parts]).sort_values(["stand_id", "year"])
    got_rows = rows.sort_values(["stand_id", "year"])
    assert list(got_rows["stand_id"]) == list(expected["stand_id"])
    for column in ("baseline_stock_tco2e", "project_stock_tco2e", "net_removals_tco2e"):
        assert got_rows[column].to_numpy() == pytest.approx(expected[column].to_numpy(), rel=1e-9)
    assert got.total == pytest.approx(sum(r.total for r in expected_parts), rel=1e-12)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_scheduler_is_refused(registry: Engine, tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    with pytest.raises(SchedulerUnreachable, match="cannot reach the dask scheduler"):
        run_ex_ante_dask(registry, "all", "AR-CM-005-V01", 2026, 20, tmp_path / "o",
                         scheduler=address)  # fmt: skip
    with pytest.raises(SchedulerUnreachable, match="must be tcp://host:port"):
        run_ex_ante_dask(registry, "all", "AR-CM-005-V01", 2026, 20, tmp_path / "o",
                         scheduler="tls://127.0.0.1:1")  # fmt: skip
    with pytest.raises(SelectionError, match="selects no current stand"):
        run_ex_ante_dask(registry, "township=nowhere", "AR-CM-005-V01", 2026, 20,
                         tmp_path / "o", scheduler=address)  # fmt: skip


@pytest.mark.slow
def test_command_line_on_a_local_cluster(registry: Engine, db_url: str, tmp_path: Path) -> None:
    """The command with its default local cluster (2 worker processes), then an unreachable
    scheduler: a bilingual refusal, no traceback."""
    env = cli_env(db_url)
    args = ("model", "ex-ante", "--stands", "species_group=moso_bamboo", "--methodology",
            "AR-CM-005-V01", "--start-year", "2026", "--years", "20")  # fmt: skip
    done = run_cli(*args, "--engine", "dask", "--partition-stands", "200", "--out", "p",
                   "--format", "json", env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    with session_scope(registry) as session:
        expected = run_ex_ante(session, "species_group=moso_bamboo", "AR-CM-005-V01", 2026, 20)
    assert data["stands"] == len(expected.stand_ids) and data["partitions"] >= 2
    assert [r["net_removals"] for r in data["by_year"]] == pytest.approx(
        list(expected.by_year()["net_removals"]), rel=1e-12
    )
    assert len(_parquet(tmp_path / "p")) == len(expected.stand_ids) * 20
    table = run_cli(
        *args, "--engine", "dask", "--partition-stands", "200", "--out", "p", env=env, cwd=tmp_path
    )  # fmt: skip  (a re-run replaces the parts)
    assert table.returncode == 0, table.stderr
    assert "net removals" in table.stdout and "moso_bamboo" in table.stdout
    refused = run_cli(*args, "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{_free_port()}",
                      "--out", "q", env=env, cwd=tmp_path)  # fmt: skip
    assert refused.returncode != 0
    assert (
        "无法连接 dask 调度器" in refused.stderr
        and "cannot reach the dask scheduler" in refused.stderr
    )
    assert "Traceback" not in refused.stderr + refused.stdout
    assert not (tmp_path / "q").exists()


def test_a_port_that_is_no_scheduler_is_refused_in_time(registry: Engine, tmp_path: Path) -> None:
    """A web server where the scheduler should be (the dashboard's port given by mistake): the
    handshake never completes; refused after the deadline, not a hang or a traceback."""
    import http.server
    import threading

    from registry import model_dask

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    deadline = model_dask.CONNECT_DEADLINE_S
    model_dask.CONNECT_DEADLINE_S = 8.0
    try:
        with pytest.raises(SchedulerUnreachable, match="cannot reach the dask scheduler"):
            run_ex_ante_dask(registry, "all", "AR-CM-005-V01", 2026, 20, tmp_path / "o",
                             scheduler=f"tcp://127.0.0.1:{server.server_address[1]}")  # fmt: skip
    finally:
        model_dask.CONNECT_DEADLINE_S = deadline
        server.shutdown()
