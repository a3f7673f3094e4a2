"""The ex-ante result shared by the three methodologies: arrays of stands × years."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from methodologies.engine import net_removals
from methodologies.errors import InputError
from methodologies.provenance import Trace

__all__ = ["ExAnteResult", "check_stand_inputs", "check_years"]

Array2 = NDArray[np.float64]


@dataclass
class ExAnteResult:
    """Ex-ante projection over a crediting period, per stand (rows) and year (columns).

    All quantities in t CO2e: stocks at the end of each year, changes and removals per year.
    ``traces`` maps a stratum label to the equations and parameters that produced its rows;
    ``stratum`` gives each stand's label.
    """

    methodology: str
    stand_ids: NDArray[np.object_]
    years: NDArray[np.int64]  # calendar years (end of year)
    baseline_stock: Array2
    project_stock: Array2
    baseline_change: Array2
    project_change: Array2
    leakage: Array2
    project_emissions: Array2
    net_removals: Array2
    stratum: NDArray[np.object_]
    traces: dict[str, Trace] = field(default_factory=dict)
    effects: dict[str, float] = field(default_factory=dict)  # t CO2e of net removals per effect

    @classmethod
    def from_stocks(
        cls,
        methodology: str,
        stand_ids: NDArray[np.object_],
        start_year: int,
        baseline_stock: Array2,
        project_stock: Array2,
        stratum: NDArray[np.object_],
        traces: dict[str, Trace],
    ) -> ExAnteResult:
        """Build the result from stocks at the start and at the end of each year
        (n_stands × (years + 1), t CO2e): changes by stock difference, net removals with
        leakage and project emissions zero (equation ``net_removals``)."""
        project_change = np.diff(project_stock, axis=1)
        baseline_change = np.diff(baseline_stock, axis=1)
        zeros = np.zeros_like(project_change)
        years = project_change.shape[1]
        return cls(
            methodology,
            stand_ids,
            np.arange(start_year, start_year + years, dtype=np.int64),
            baseline_stock[:, 1:],
            project_stock[:, 1:],
            baseline_change,
            project_change,
            zeros,
            zeros.copy(),
            net_removals(project_change, baseline_change, zeros, zeros),
            stratum,
            traces,
        )

    @property
    def cumulative(self) -> Array2:
        return np.asarray(np.cumsum(self.net_removals, axis=1), dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.net_removals.sum())

    def by_year(self) -> pd.DataFrame:
        """County (or project) totals per year, t CO2e."""
        return pd.DataFrame(
            {
                "year": self.years,
                "baseline_stock": self.baseline_stock.sum(axis=0),
                "project_stock": self.project_stock.sum(axis=0),
                "baseline_change": self.baseline_change.sum(axis=0),
                "project_change": self.project_change.sum(axis=0),
                "leakage": self.leakage.sum(axis=0),
                "project_emissions": self.project_emissions.sum(axis=0),
                "net_removals": self.net_removals.sum(axis=0),
                "cumulative_net_removals": self.cumulative.sum(axis=0),
            }
        )

    def long(self) -> pd.DataFrame:
        """One row per stand and year (n_stands × n_years rows)."""
        n, m = self.net_removals.shape
        return pd.DataFrame(
            {
                "stand_id": np.repeat(self.stand_ids, m),
                "year": np.tile(self.years, n),
                "stratum": np.repeat(self.stratum, m),
                "baseline_stock_tco2e": self.baseline_stock.ravel(),
                "project_stock_tco2e": self.project_stock.ravel(),
                "baseline_change_tco2e": self.baseline_change.ravel(),
                "project_change_tco2e": self.project_change.ravel(),
                "leakage_tco2e": self.leakage.ravel(),
                "project_emissions_tco2e": self.project_emissions.ravel(),
                "net_removals_tco2e": self.net_removals.ravel(),
                "cumulative_tco2e": self.cumulative.ravel(),
            }
        )

    def unverified(self) -> list[str]:
        names: dict[str, None] = {}
        for trace in self.traces.values():
            for p in trace.unverified():
                names[p.name] = None
        return list(names)


def check_years(years: int) -> None:
    if not 1 <= years <= 100:
        raise InputError(f"年数 {years} 须在 1–100 之间。", f"years {years} must be within 1–100.")


def check_stand_inputs(
    stand_ids: NDArray[np.object_],
    **columns: NDArray[np.float64],
) -> None:
    """Refuse negative or non-finite areas, ages and volumes, naming the stand."""
    labels = {
        "area_ha": ("面积", "area (ha)"),
        "age_years": ("年龄", "age (years)"),
        "volume_m3_per_ha": ("每公顷蓄积", "volume (m³/ha)"),
        "culms_per_ha": ("每公顷立竹数", "culms per ha"),
        "mean_dbh_cm": ("平均胸径", "mean DBH (cm)"),
    }
    for name, values in columns.items():
        values = np.asarray(values, dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            zh, en = labels.get(name, (name, name))
            raise InputError(
                f"小班 {stand_ids[i]!r} 的{zh} {values[i]!r} 无效（须为非负数），共 {int(bad.sum())} 个小班有此问题。",
                f"stand {stand_ids[i]!r}: {en} {values[i]!r} is invalid (must be a non-negative "
                f"number); {int(bad.sum())} stands have this problem.",
            )
