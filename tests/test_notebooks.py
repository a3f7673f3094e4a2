"""The analysts' notebooks (notebooks/*.ipynb), each run top to bottom with nbclient on the demo
database at small size (``tanhui demo --stands 2000``, once per session), on a python3 kernel
from the venv's ipykernel. A notebook passes when no cell fails, it shows a plot, and the figures
it states (its cell tagged ``figures`` prints them as JSON) agree with values worked out here —
by hand where the notebook computes (plots needed), from the registry's services where it only
regroups them (totals conserved), and with no owner's real name anywhere in its output."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import text

from registry.carbon_model import run_ex_ante, select_stands
from registry.compensation.rosters import verified_period
from registry.db import make_engine, read_scope
from registry.projects.core import find_project

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = (
    "01_county_sink_potential.ipynb",
    "02_management_scenarios.ipynb",
    "03_price_and_benefit_sharing.ipynb",
    "04_monitoring_plot_design.ipynb",
)
CELL_TIMEOUT_S = 180


def test_every_notebook_is_listed_and_stored_without_outputs() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{name} cell {i} is stored with outputs"
                assert cell.execution_count is None, f"{name} cell {i} has an execution count"
        assert sum("figures" in c.metadata.get("tags", []) for c in nb.cells) == 1, name


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("notebook-demo")
    done = subprocess.run(
        [sys.executable, "-m", "registry.cli", "demo", "--workdir", str(work), "--stands", "2000"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return f"sqlite:///{work / 'tanhui.sqlite'}"


_RUNS: dict[str, tuple[nbformat.NotebookNode, dict[str, Any]]] = {}


def run_notebook(
    name: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, dict[str, Any]]:
    """The notebook executed (once per session) and the figures it printed."""
    if name not in _RUNS:
        monkeypatch.setenv("TANHUI_DATABASE_URL", url)  # the kernel inherits the environment
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        client = NotebookClient(
            nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )  # fmt: skip
        client.execute()  # raises CellExecutionError on the first failing cell
        tagged = [c for c in nb.cells if "figures" in c.metadata.get("tags", [])]
        printed = "".join(o.get("text", "") for o in tagged[0].outputs if o.output_type == "stream")
        _RUNS[name] = (nb, json.loads(printed.strip().splitlines()[-1]))
    return _RUNS[name]


def outputs_text(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(o.get("text", ""))
            for kind in ("text/plain", "text/html", "text/markdown"):
                parts.append(o.get("data", {}).get(kind, ""))
    return "\n".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_runs_and_shows_a_plot(
    name: str, demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb, _ = run_notebook(name, demo_url, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} shows no plot"
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Traceback" not in stderr and "missing from font" not in stderr, stderr[-2000:]


def test_county_potential_conserves_the_services_totals(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, figures = run_notebook(NAMES[0], demo_url, monkeypatch)
    with read_scope(make_engine(demo_url)) as session:
        fm = run_ex_ante(session, "all", "AR-CM-003-V01", 2026, 30)
        bamboo = run_ex_ante(session, "all", "AR-CM-005-V01", 2026, 30)
        stands = select_stands(session, "all").set_index("stand_id")
    # every stand of both runs lands in one township row: the table's total is the two totals
    expected = fm.total + bamboo.total
    assert figures["stands"] == len(fm.stand_ids) + len(bamboo.stand_ids)
    assert figures["county_total_tco2e"] == pytest.approx(expected, rel=1e-9)
    assert figures["table_total_tco2e"] == pytest.approx(expected, rel=1e-9)
    computed = set(stands.loc[[*fm.stand_ids, *bamboo.stand_ids], "township"])
    assert set(figures["townships"]) == computed and len(computed) > 1


def test_scenarios_state_their_parameters_and_the_default_is_the_ex_ante(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, figures = run_notebook(NAMES[1], demo_url, monkeypatch)
    # methodology_defaults.csv: Chinese fir plan rotation 26 years, project +10 years,
    # tending +10 % of the increment
    assert figures["defaults"] == {
        "fm_baseline_rotation_chinese_fir": 26.0,
        "fm_project_rotation_extension_years": 10.0,
        "fm_project_tending_growth_gain": 0.10,
    }
    scenarios = figures["scenarios"]
    default = next(s for s in scenarios.values() if s["overrides"] == {})
    with read_scope(make_engine(demo_url)) as session:
        plain = run_ex_ante(session, figures["selection"], "AR-CM-003-V01", 2026, figures["years"])
    assert default["total_tco2e"] == pytest.approx(plain.total, rel=1e-9)
    varied = {k for s in scenarios.values() for k in s["overrides"]}
    assert varied == {"fm_project_rotation_extension_years", "fm_project_tending_growth_gain"}
    # more tending, more stock at the end (the increment × 1.2 instead of × 1.1, same cuts)
    stronger = next(
        s for s in scenarios.values()
        if s["overrides"] == {"fm_project_tending_growth_gain": 0.2}
    )  # fmt: skip
    assert stronger["end_stock_tco2e"] > default["end_stock_tco2e"]


def test_benefit_sharing_pays_the_rules_shares_and_masks_every_name(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb, figures = run_notebook(NAMES[2], demo_url, monkeypatch)
    engine = make_engine(demo_url)
    with read_scope(engine) as session:
        project = find_project(session, figures["project"])
        verified = int(verified_period(session, project, 1).verified_tco2e or 0)
        names = session.execute(text("SELECT name FROM owner")).scalars().all()
    # amount = verified whole tonnes × 70.00 yuan (CCER 2025); e.g. 395,637 t → 27,694,590.00
    assert figures["verified_tonnes"] == verified
    amount = Decimal(verified) * Decimal("70.00")
    assert Decimal(figures["amount_yuan"]) == amount
    # amount × 7,000 fen is a multiple of 10, so both rules split it exactly:
    # anji 4/5 to the owners, 1/5 to the developer; per-mu 9/10 to the owners, 1/10 management
    anji, per_mu = figures["rules"]["anji"], figures["rules"]["per-mu"]
    assert Decimal(anji["to_owners_yuan"]) == amount * 4 / 5
    assert Decimal(anji["parties_yuan"]["developer"]) == amount / 5
    assert Decimal(per_mu["to_owners_yuan"]) == amount * 9 / 10
    assert Decimal(per_mu["parties_yuan"]["management"]) == amount / 10
    shown = outputs_text(nb)
    assert figures["owners"] > 10
    leaked = [n for n in names if len(n) > 1 and n in shown]
    assert not leaked, f"owner names in the notebook's output: {leaked[:5]}"


def test_plots_needed_by_hand_and_the_demo_projects_strata(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scipy import stats

    _, figures = run_notebook(NAMES[3], demo_url, monkeypatch)
    assert figures["target"] == 0.10
    # CV 0.3, E 0.10: normal start (1.6449 × 0.3 / 0.10)² = 24.35 → 25; then with t(0.95, n − 1):
    # n = 25: 1.7109 × 0.3 / 5.0000 = 0.10265 > 0.10
    # n = 26: 1.7081 × 0.3 / 5.0990 = 0.10050 > 0.10
    # n = 27: 1.7056 × 0.3 / 5.1962 = 0.09847 ≤ 0.10  → 27
    assert 1.7056 * 0.3 / math.sqrt(27) <= 0.10 < 1.7081 * 0.3 / math.sqrt(26)
    assert figures["n_at_cv"]["0.3"] == 27
    # CV 0.1: n = 5: 2.1318 × 0.1 / 2.2361 = 0.09534 ≤ 0.10; n = 4: 2.3534 × 0.1 / 2 = 0.1177
    assert figures["n_at_cv"]["0.1"] == 5
    # the demo project's strata: each n is the fewest meeting the target at its stated CV
    strata = figures["strata"]
    assert strata and all(s["n_plots"] >= 2 for s in strata)
    for s in strata:
        n, cv = s["plots_needed"], s["cv"]
        assert stats.t.ppf(0.95, n - 1) * cv / math.sqrt(n) <= 0.10, s
        assert stats.t.ppf(0.95, n - 2) * cv / math.sqrt(n - 1) > 0.10, s
    # the PDD's key figure is the sum over the strata
    assert figures["pdd_plots_needed"] == sum(s["plots_needed"] for s in strata)
