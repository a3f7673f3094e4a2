"""bench/model at scale: the forest-management ex-ante of 1,000,000 stands × 60 years
in-process, on dask, and as a numba-compiled loop of the same equations (the anchor: "close to
the limit"), each in its own child process so that its peak memory is its own.

  in-process  forest_management.project_ex_ante on all stands at once, then the yearly totals
              (what ``tanhui model ex-ante`` computes); holds every stand × year in memory
  dask        registry.model_dask.run_partitions: one partition per county (the cut quota's
              scope) on a distributed LocalCluster of 2 worker processes, per-stand rows
              written as Parquet, totals reduced (what ``--engine dask`` computes)
  numba       the equations of ``forest_management._simulate`` as one compiled loop over
              years and stands (this file only), the four runs the model makes (baseline,
              longer rotation, + tending, + enrichment); totals only, no per-stand arrays

Peak memory: the largest sum of the resident set sizes of the child and all its descendants
(the dask workers and nannies included), sampled every 20 ms by the parent (psutil).

The stands: the 50,000-stand sample's tree stands, repeated as counties (``C00-…``, ``C01-…``)
until there are as many as asked. All three apply each county's own cut quota (the 采伐限额 is
a county's), so their totals agree; each is printed with its difference.
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def tiled(base: pd.DataFrame, n: int) -> Iterator[pd.DataFrame]:
    """``n`` stands as counties: copies of ``base`` with the county in the stand key."""
    copies = math.ceil(n / len(base))
    for k in range(copies):
        part = base.iloc[: min(len(base), n - k * len(base))].copy()
        part["stand_id"] = f"C{k:02d}-" + part["stand_id"].astype(str)
        part["county_code"] = f"C{k:02d}"  # each copy its own county (its own cut quota)
        yield part


@numba.njit(cache=False)  # type: ignore[untyped-decorator,misc]
def simulate(a, b, c, v0, age0, area, factor, rotation, gain, quota, county, hwp, years):  # type: ignore[no-untyped-def]
    """One run of the model (see :func:`numba_anchor`): Σ stock at the end (t CO2e)."""
    n = len(a)
    age = age0.copy()
    v_s = v0.copy()
    wood = np.zeros(n)
    grown = np.zeros(n)
    at_start = np.empty(n)
    for i in range(n):
        at_start[i] = a[i] * (1.0 - np.exp(-b[i] * max(age0[i], 0.0))) ** c[i]
    scale = np.empty(n)
    for i in range(n):
        s = v0[i] / at_start[i] if at_start[i] > 1e-6 else 1.0
        scale[i] = min(max(s, 0.5), 2.0)
    due = np.empty(n, dtype=np.int64)
    for _ in range(years):
        m = 0
        for i in range(n):
            age[i] += 1.0
            v_now = a[i] * (1.0 - np.exp(-b[i] * age[i])) ** c[i]
            grown[i] = v_s[i] + (1.0 + gain[i]) * scale[i] * (v_now - at_start[i])
            if age[i] >= rotation[i]:
                due[m] = i
                m += 1
        if m:
            idx = due[:m]
            order = idx[np.argsort(-age[idx], kind="mergesort")]  # oldest first, stable
            cut = np.zeros(len(quota))  # this year's cut so far, per county
            full = np.zeros(len(quota), dtype=np.bool_)  # its quota reached: the rest wait
            for i in order:
                k = county[i]
                if full[k]:
                    continue
                cut[k] += grown[i] * area[i]
                if cut[k] > quota[k] + 1e-9:
                    full[k] = True
                    continue
                wood[i] += hwp * grown[i]
                grown[i] = 0.0
                age[i] = 0.0
                v_s[i] = 0.0
                at_start[i] = 0.0
    total = 0.0
    for i in range(n):
        total += (grown[i] + wood[i]) * factor[i] * area[i]
    return total


def numba_anchor(stands: pd.DataFrame, curves: list[Any], years: int) -> dict[str, float]:
    """The model's equations as a compiled loop: Chapman–Richards growth scaled to the stand's
    volume, v = v_s + (1 + gain) × scale × (V(age) − V(age_s)); clear-cut at the rotation age
    (never in 公益林), oldest first within the year's quota of the stand's county (m³); long-lived
    wood products kept; stock = (v + wood) × factor × area. Returns Σ end stock of each run
    and the net removals (t CO2e)."""
    from methodologies.parameters import defaults, species_parameters

    table = defaults()
    params = species_parameters()
    by_key = {(c.species_group, c.site_class): c for c in curves}
    groups = stands["species_group"].to_numpy(dtype=object)
    sites = stands["site_class"].fillna("*").to_numpy(dtype=object)
    keys = pd.Series(list(zip(groups, sites, strict=True)), dtype=object)
    curve = keys.map(lambda k: by_key.get(k) or by_key[(k[0], "*")])
    a = curve.map(lambda c: c.a).to_numpy(np.float64)
    b = curve.map(lambda c: c.b).to_numpy(np.float64)
    c_ = curve.map(lambda c: c.c).to_numpy(np.float64)
    factor = (
        pd.Series(groups)
        .map(
            {
                g.value: 44
                / 12
                * p.carbon_fraction.value
                * p.svd.value
                * p.bef.value
                * (1 + p.root_shoot.value)
                for g, p in params.items()
            }
        )
        .to_numpy(np.float64)
    )
    area = stands["area_ha"].to_numpy(np.float64)
    age0 = stands["age_years"].to_numpy(np.float64)
    v0 = stands["volume_m3_per_ha"].to_numpy(np.float64)
    protected = stands["forest_category"].to_numpy(dtype=object) == "公益林"
    canopy = pd.to_numeric(stands["canopy_closure"], errors="coerce").to_numpy(np.float64)
    rotation = (
        pd.Series(groups)
        .map(lambda g: table[f"fm_baseline_rotation_{g}"].value)
        .to_numpy(np.float64)
    )
    extension = table["fm_project_rotation_extension_years"].value
    tending = table["fm_project_tending_growth_gain"].value
    enrich = np.where(canopy < table["fm_enrichment_canopy_below"].value,
                      table["fm_project_enrichment_growth_gain"].value, 0.0)  # fmt: skip
    hwp = table["fm_hwp_long_lived_fraction"].value
    codes, _ = pd.factorize(stands["county_code"].fillna("").astype(str))  # one quota per county
    county = np.asarray(codes, dtype=np.int64)
    quota = table["fm_baseline_cut_quota_m3_per_ha_yr"].value * np.bincount(
        county, weights=np.where(protected, 0.0, area)
    )

    never = np.where(protected, np.inf, rotation)
    longer = np.where(protected, np.inf, rotation + extension)
    zero = np.zeros(len(a))
    runs = {
        "baseline": (never, zero),
        "longer_rotation": (longer, zero),
        "tending_thinning": (longer, zero + tending),
        "enrichment_planting": (longer, tending + enrich),
    }
    ends = {
        name: simulate(a, b, c_, v0, age0, area, factor, rot, gain, quota, county, hwp, years)
        for name, (rot, gain) in runs.items()
    }
    # every run starts from the same stock (the inventory's volume): removals = end − end
    ends["net_removals"] = ends["enrichment_planting"] - ends["baseline"]
    return ends


def child(mode: str, stands_n: int, years: int, work: Path) -> None:
    """One measurement (run in its own process): prints seconds and totals as JSON."""
    base = pd.read_parquet(work / "base.parquet")
    curves = pickle.loads((work / "curves.pickle").read_bytes())
    if mode == "dask":
        from registry.model_dask import run_partitions

        t0 = time.perf_counter()
        result = run_partitions(
            tiled(base, stands_n), stands_n, "AR-CM-003-V01", curves, 2026, years,
            work / "parquet",
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        total, partitions = result.total, result.partitions
    else:
        stands = pd.concat(list(tiled(base, stands_n)), ignore_index=True)
        if mode == "numba":
            numba_anchor(stands.iloc[:1000], curves, 2)  # compile (not timed)
            t0 = time.perf_counter()
            total = numba_anchor(stands, curves, years)["net_removals"]
        else:
            from methodologies import forest_management

            t0 = time.perf_counter()
            ex_ante = forest_management.project_ex_ante(stands, curves, 2026, years)
            total = float(ex_ante.by_year()["net_removals"].sum())
        seconds = time.perf_counter() - t0
        partitions = 1
    print(json.dumps({"seconds": seconds, "total": total, "partitions": partitions}))


def measure(mode: str, stands_n: int, years: int, work: Path) -> dict[str, Any] | None:
    """Run one child; its result with the peak RSS (bytes) of its process tree, or None when
    it failed (out of memory: killed)."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, "--stands", str(stands_n),
         "--years", str(years), "--work", str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = 0
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            rss = 0
            for p in tree:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        print(f"  {mode} with {stands_n:,} stands failed (exit {proc.returncode}): "
              f"{err.strip().splitlines()[-1] if err.strip() else ''}")  # fmt: skip
        return None
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_bytes"] = peak
    result["stands"] = stands_n
    return result


def run_scale(base: pd.DataFrame, curves: list[Any], stands_n: int, years: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        work = Path(tmp)
        base.to_parquet(work / "base.parquet", index=False)
        (work / "curves.pickle").write_bytes(pickle.dumps(curves))
        results: dict[str, dict[str, Any]] = {}
        for mode in ("numba", "in-process", "dask"):
            n = stands_n
            while n >= len(base):
                got = measure(mode, n, years, work)
                if got is not None:
                    results[mode] = got
                    break
                n //= 2  # did not fit: the largest that does
        print(f"\nex-ante forest management at scale: × {years} years, 2 cores "
              f"(counties of {len(base):,} tree stands)")  # fmt: skip
        print(f"{'':<11} {'stands':>10} {'seconds':>9} {'peak MB':>9} {'net removals t CO2e':>22}")
        for mode, r in results.items():
            print(f"{mode:<11} {r['stands']:>10,} {r['seconds']:>9.2f} "
                  f"{r['peak_bytes'] / 2**20:>9.0f} {r['total']:>22,.1f}"
                  + (f"   ({r['partitions']} partitions)" if mode == "dask" else ""))  # fmt: skip
        anchor = results.get("numba")
        for mode in ("in-process", "dask"):
            r = results.get(mode)
            if r and anchor and r["stands"] == anchor["stands"]:
                print(f"ratio {mode} / numba: {r['seconds'] / anchor['seconds']:.1f}x time, "
                      f"{r['peak_bytes'] / anchor['peak_bytes']:.1f}x peak memory; total differs "
                      f"by {abs(r['total'] - anchor['total']) / abs(anchor['total']):.2e} "
                      "(relative)")  # fmt: skip
        inproc, dask = results.get("in-process"), results.get("dask")
        if inproc and dask and inproc["stands"] == dask["stands"]:
            print(f"ratio dask / in-process: {dask['seconds'] / inproc['seconds']:.1f}x time, "
                  f"{dask['peak_bytes'] / inproc['peak_bytes']:.2f}x peak memory "
                  "(dask: each county's own quota, per-stand Parquet written)")  # fmt: skip


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True)
    parser.add_argument("--stands", type=int, required=True)
    parser.add_argument("--years", type=int, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    child(args.child, args.stands, args.years, args.work)
