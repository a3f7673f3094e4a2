"""Bamboo forest management carbon sink (竹林经营碳汇), following AR-CM-005-V01.

Per-culm biomass M(D, A) = a·D^b·(c·A/(d + A))^e + f (kg d.m.; D cm at 1.3 m; A age in 度,
1 du = 2 years), parameters in ``data/bamboo_parameters.csv`` (status: recalled — verify).
Stand carbon = 44/12 × CF × (1 + R) × culms/ha × Σ_A share_A × M(D, A) / 1000 × area.
Managed moso stands are in a steady state with annual harvest: the baseline stock is
constant; the project raises the culm density (``bamboo_project_culm_increase`` over
``bamboo_project_ramp_years``, an assumption to replace with the project's design) and then
holds the new steady state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from methodologies.engine import CO2_PER_C
from methodologies.errors import InputError
from methodologies.exante import ExAnteResult, check_stand_inputs, check_years
from methodologies.parameters import Parameter, bamboo_parameters, defaults, require
from methodologies.provenance import EQUATIONS, Step, Trace

__all__ = [
    "CODE",
    "culm_biomass_kg",
    "culm_carbon_tco2e",
    "default_age_shares",
    "project_ex_ante",
    "stand_carbon_tco2e",
]

CODE = "AR-CM-005-V01"
NAME = "竹林经营碳汇 Bamboo forest management (AR-CM-005-V01)"
DBH_RANGE_CM = (1.0, 20.0)


def _culm_parameters() -> tuple[Parameter, ...]:
    table = bamboo_parameters()
    return tuple(require(table, f"culm_{k}") for k in "abcdef")


def culm_biomass_kg(dbh_cm: ArrayLike, age_du: ArrayLike) -> NDArray[np.float64]:
    """Dry biomass of one moso culm (kg d.m.), equation ``bamboo_culm_biomass``.

    M = a × D^b × (c × A / (d + A))^e + f, D in cm at 1.3 m, A in 度 (du).
    """
    a, b, c, d, e, f = (p.value for p in _culm_parameters())
    dbh = np.asarray(dbh_cm, dtype=np.float64)
    age = np.asarray(age_du, dtype=np.float64)
    return np.asarray(a * dbh**b * (c * age / (d + age)) ** e + f, dtype=np.float64)


def default_age_shares() -> dict[int, Parameter]:
    table = defaults()
    return {du: require(table, f"bamboo_culm_age_share_du{du}") for du in (1, 2, 3)}


def culm_carbon_tco2e(dbh_cm: ArrayLike, age_du: ArrayLike) -> NDArray[np.float64]:
    """Carbon of one culm, above- plus below-ground (t CO2e), ``bamboo_stand_carbon`` per culm:
    44/12 × CF × (1 + R) × M / 1000, M from :func:`culm_biomass_kg` (kg). The one place the
    bamboo carbon chain is written: stands (below) and monitoring plots (``expost``) use it."""
    table = bamboo_parameters()
    cf = require(table, "carbon_fraction").value
    r = require(table, "root_shoot_ratio").value
    m = culm_biomass_kg(dbh_cm, age_du)
    return np.asarray(CO2_PER_C * cf * (1.0 + r) * m / 1000.0, dtype=np.float64)


def stand_carbon_tco2e(
    culms_per_ha: ArrayLike,
    dbh_cm: ArrayLike,
    area_ha: ArrayLike,
    age_du: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Whole-stand bamboo carbon, above- plus below-ground (t CO2e), ``bamboo_stand_carbon``:
    culms per ha × carbon per culm × area.

    With ``age_du`` each stand's culms are taken at that age; without it the default age
    structure (shares of 1, 2, 3 du) is used.
    """
    if age_du is None:
        per_culm = sum(
            share.value * culm_carbon_tco2e(dbh_cm, du)
            for du, share in default_age_shares().items()
        )
    else:
        per_culm = culm_carbon_tco2e(dbh_cm, age_du)
    n = np.asarray(culms_per_ha, dtype=np.float64)
    area = np.asarray(area_ha, dtype=np.float64)
    return np.asarray(n * per_culm * area, dtype=np.float64)


def trace(with_age_structure: bool) -> Trace:
    table = bamboo_parameters()
    steps = [
        Step(EQUATIONS["bamboo_culm_biomass"], _culm_parameters()),
        Step(
            EQUATIONS["bamboo_stand_carbon"],
            (
                require(table, "carbon_fraction"),
                require(table, "root_shoot_ratio"),
                *(default_age_shares().values() if with_age_structure else ()),
            ),
        ),
    ]
    return Trace(NAME, tuple(steps))


def project_ex_ante(stands: pd.DataFrame, start_year: int, years: int) -> ExAnteResult:
    """Ex-ante for bamboo management: steady-state baseline, culm-density ramp in the project.

    ``stands`` columns: ``stand_id``, ``area_ha``, ``culms_per_ha``, ``mean_dbh_cm``.
    """
    check_years(years)
    ids = stands["stand_id"].to_numpy(dtype=object)
    area = stands["area_ha"].to_numpy(dtype=np.float64)
    culms = stands["culms_per_ha"].to_numpy(dtype=np.float64)
    dbh = stands["mean_dbh_cm"].to_numpy(dtype=np.float64)
    check_stand_inputs(ids, area_ha=area, culms_per_ha=culms, mean_dbh_cm=dbh)
    out_of_range = (dbh < DBH_RANGE_CM[0]) | (dbh > DBH_RANGE_CM[1])
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise InputError(
            f"竹林小班 {ids[i]!r} 的平均胸径 {dbh[i]:g} 厘米超出模型范围 {DBH_RANGE_CM}。",
            f"bamboo stand {ids[i]!r}: mean DBH {dbh[i]:g} cm is outside the model's range "
            f"{DBH_RANGE_CM} cm.",
        )
    table = defaults()
    increase = require(table, "bamboo_project_culm_increase")
    ramp = require(table, "bamboo_project_ramp_years")
    steps = np.arange(0, years + 1, dtype=np.float64)[None, :]
    gain = 1.0 + increase.value * np.minimum(steps / ramp.value, 1.0)
    base = stand_carbon_tco2e(culms, dbh, area)[:, None]
    project_stock = base * gain
    baseline_stock = np.repeat(base, years + 1, axis=1)
    t = trace(True)
    t = Trace(
        t.methodology,
        (
            *t.steps,
            Step(EQUATIONS["stock_difference"], (increase, ramp),
                 "baseline: steady state with annual harvest (ΔC_BSL = 0)"),
            Step(EQUATIONS["net_removals"], (), "LK = 0, GHG_E = 0"),
        ),
    )  # fmt: skip
    strata = np.full(len(ids), "moso_bamboo", dtype=object)
    return ExAnteResult.from_stocks(
        CODE, ids, start_year, baseline_stock, project_stock, strata, {"moso_bamboo": t}
    )
