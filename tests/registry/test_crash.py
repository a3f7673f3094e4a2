"""A process killed with SIGKILL in the middle of an import leaves the database as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import Engine

from registry.stands import FAULT_PAUSE_ENV, ImportOptions, import_inventory
from tests.conftest import db_snapshot
from tests.inventory_files import sample_frame, write_gpkg

KILLER = """
import sys
from pathlib import Path
from registry.db import make_engine
from registry.stands import ImportOptions, import_inventory
engine = make_engine(sys.argv[1])
import_inventory(engine, Path(sys.argv[2]), ImportOptions())
print("COMMITTED", flush=True)
"""


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return sample_frame(400, 11)


def test_sigkill_before_commit_leaves_the_database_unchanged(
    engine: Engine, db_url: str, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    first = write_gpkg(frame.iloc[:200], tmp_path / "first.gpkg")
    import_inventory(engine, first, ImportOptions())
    update = frame.copy()
    update.loc[0, "MEI_GQ_XJ"] = 999.0  # a changed stand (new version) and 200 new stands
    second = write_gpkg(update, tmp_path / "second.gpkg")
    before = db_snapshot(engine)

    env = {**os.environ, FAULT_PAUSE_ENV: "60"}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLER, db_url, str(second)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stderr is not None
    # wait until every row is written and the audit event appended, but not committed
    for line in proc.stderr:
        if "FAULT-INJECTION: paused before commit" in line:
            break
    else:
        pytest.fail(f"the import never reached the pause: exit {proc.wait()}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    engine.dispose()  # fresh connections: see only what was committed
    assert db_snapshot(engine) == before
    # and the registry is usable afterwards: the same import now goes through
    result = import_inventory(engine, second, ImportOptions())
    assert (result.status, result.n_new, result.n_changed) == ("imported", 200, 1)
