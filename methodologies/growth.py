"""Growth: Chapman–Richards yield curves V(t) = a (1 − e^(−b t))^c fitted to the county's own
inventory (age vs growing stock per hectare), per species group × site class.

Fallback when a stratum has fewer than ``MIN_STANDS`` stands with age and volume: the species
group's curve over all site classes; when the group itself has too few, the curve of all tree
stands together. Every curve records which data it was fitted on and why (``basis``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import curve_fit

from methodologies.errors import InputError

__all__ = ["MIN_STANDS", "GrowthCurve", "chapman_richards", "fit_growth_curves", "fit_one"]

MIN_STANDS = 30
POOLED = "*"  # site class (or group) value of a pooled curve


def chapman_richards(t: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike) -> NDArray[np.float64]:
    """Growing stock (m³/ha) at age t (years): V = a (1 − exp(−b t))^c (``chapman_richards``).

    ``a`` is the asymptote (m³/ha), ``b`` the rate (1/yr), ``c`` the shape (-). V(0) = 0 and V
    increases monotonically for a, b, c > 0.
    """
    age = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    a_, b_, c_ = (np.asarray(x, dtype=np.float64) for x in (a, b, c))
    return np.asarray(a_ * (1.0 - np.exp(-b_ * age)) ** c_, dtype=np.float64)


@dataclass(frozen=True)
class GrowthCurve:
    species_group: str
    site_class: str  # POOLED for a group curve
    a: float
    b: float
    c: float
    n: int
    rmse: float  # m³/ha
    r2: float
    basis: str  # which stands it was fitted on, and why (fallback)

    def volume(self, age: ArrayLike) -> NDArray[np.float64]:
        return chapman_richards(age, self.a, self.b, self.c)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_one(age: ArrayLike, volume: ArrayLike) -> tuple[float, float, float, float, float]:
    """Least-squares fit of Chapman–Richards with bounds; returns (a, b, c, rmse, r²).

    Bounds: 10 ≤ a ≤ 2000 m³/ha, 0.001 ≤ b ≤ 1 /yr, 0.3 ≤ c ≤ 10.
    """
    t = np.asarray(age, dtype=np.float64)
    v = np.asarray(volume, dtype=np.float64)
    a0 = max(float(np.percentile(v, 95)) * 1.2, 20.0)
    params, _ = curve_fit(
        chapman_richards,
        t,
        v,
        p0=(min(a0, 1900.0), 0.05, 2.0),
        bounds=((10.0, 0.001, 0.3), (2000.0, 1.0, 10.0)),
        maxfev=20_000,
    )
    a, b, c = (float(x) for x in params)
    residual = v - chapman_richards(t, a, b, c)
    rmse = float(np.sqrt(np.mean(residual**2)))
    total = float(np.sum((v - v.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 0.0
    return a, b, c, rmse, r2


def fit_growth_curves(stands: pd.DataFrame, min_stands: int = MIN_STANDS) -> list[GrowthCurve]:
    """Fit one curve per species group × site class present in ``stands``.

    ``stands`` columns: ``species_group``, ``site_class``, ``age_years``, ``volume_m3_per_ha``.
    Only rows with age > 0 and volume ≥ 0 are used (bamboo and economic groups have no volume
    and get no curve). Returns the stratum curves plus one pooled curve per group.
    """
    needed = {"species_group", "site_class", "age_years", "volume_m3_per_ha"}
    missing = needed - set(stands.columns)
    if missing:
        raise InputError(
            f"生长曲线拟合缺少列：{sorted(missing)}", f"growth fit needs columns {sorted(missing)}"
        )
    data = stands.loc[
        stands["species_group"].notna()
        & (stands["age_years"] > 0)
        & (stands["volume_m3_per_ha"] >= 0),
        list(needed),
    ].copy()
    data["site_class"] = data["site_class"].fillna(POOLED)
    if len(data) < min_stands:
        raise InputError(
            f"有年龄和蓄积的小班只有 {len(data)} 个，至少需要 {min_stands} 个才能拟合生长曲线。",
            f"only {len(data)} stands have age and volume; at least {min_stands} are needed "
            "to fit growth curves.",
        )
    curves: list[GrowthCurve] = []
    a, b, c, rmse, r2 = fit_one(data["age_years"], data["volume_m3_per_ha"])
    everything = GrowthCurve(
        POOLED, POOLED, a, b, c, len(data), rmse, r2, "all tree stands of the inventory"
    )
    for group, group_rows in data.groupby("species_group"):
        if len(group_rows) >= min_stands:
            a, b, c, rmse, r2 = fit_one(group_rows["age_years"], group_rows["volume_m3_per_ha"])
            pooled = GrowthCurve(
                str(group), POOLED, a, b, c, len(group_rows), rmse, r2,
                f"all {len(group_rows)} stands of the group, all site classes",
            )  # fmt: skip
        else:
            pooled = GrowthCurve(
                str(group), POOLED, everything.a, everything.b, everything.c, everything.n,
                everything.rmse, everything.r2,
                f"fallback: the group has {len(group_rows)} < {min_stands} stands; curve of all "
                "tree stands",
            )  # fmt: skip
        curves.append(pooled)
        for site, rows in group_rows.groupby("site_class"):
            if site == POOLED:
                continue
            if len(rows) >= min_stands:
                a, b, c, rmse, r2 = fit_one(rows["age_years"], rows["volume_m3_per_ha"])
                curves.append(
                    GrowthCurve(
                        str(group),
                        str(site),
                        a,
                        b,
                        c,
                        len(rows),
                        rmse,
                        r2,
                        f"{len(rows)} stands of this group and site class",
                    )
                )
            else:
                curves.append(
                    GrowthCurve(
                        str(group),
                        str(site),
                        pooled.a,
                        pooled.b,
                        pooled.c,
                        pooled.n,
                        pooled.rmse,
                        pooled.r2,
                        f"fallback: {len(rows)} < {min_stands} stands in this site class; "
                        f"group curve ({pooled.basis})",
                    )
                )
    return curves


def curve_lookup(
    curves: list[GrowthCurve], species_group: ArrayLike, site_class: ArrayLike
) -> NDArray[np.float64]:
    """Curve parameters (a, b, c) per stand: its stratum's, else its group's pooled curve.

    Returns an (n, 3) array; NaN where the group has no curve (bamboo, economic, non-forest).
    """
    table = pd.DataFrame(
        [(c.species_group, c.site_class, c.a, c.b, c.c) for c in curves],
        columns=["g", "s", "a", "b", "c"],
    ).set_index(["g", "s"])
    groups = pd.Series(np.asarray(species_group, dtype=object), dtype=object)
    sites = pd.Series(np.asarray(site_class, dtype=object), dtype=object).fillna(POOLED)
    exact = table.reindex(pd.MultiIndex.from_arrays([groups, sites])).to_numpy(dtype=np.float64)
    pooled = table.reindex(
        pd.MultiIndex.from_arrays([groups, pd.Series([POOLED] * len(groups), dtype=object)])
    ).to_numpy(dtype=np.float64)
    return np.where(np.isnan(exact[:, :1]), pooled, exact)
