"""Benchmark: ex-ante forest management for the 50 000-stand sample over 60 years.

  vectorised  methodologies.forest_management.project_ex_ante (numpy, all stands at once)
  anchor      a plain Python loop over the same equations, stand by stand and year by year
              (it lives only here), measured in the same run; results are compared.
Prints time, peak memory (tracemalloc) and the ratio loop / vectorised.
Target (issue #4): < 1 s and ≥ 50× the loop. Not a test: nothing asserts timings.
Measured 2026-11-30 (2 cores, 38,550 tree stands × 60 years): 0.51 s vectorised, 8.8 s loop,
17× — the model of issue #12 couples stands through the yearly cut quota (oldest first), so
both sides loop over the years; the ≥ 50× of the earlier, uncoupled model is not reached.

At scale (issue #20; bench/model/scale.py, each engine in its own process, peak = the largest
sum of RSS over the process tree, dask workers included): 1,000,000 tree stands × 60 years
(26 counties of 38,550), measured 2026-11-30 on the 2 shared cores (other helpers' tests and
benchmarks were running at the same time, so the times are pessimistic):

                 seconds   peak MB   net removals t CO2e
    numba          11.7       823    140,481,369.3   (anchor: compiled loop, totals only)
    in-process     48.2     5,400    140,481,369.3   (every stand × year in memory)
    dask          136.4     2,399    140,951,850.3   (26 county partitions, 2 workers,
                                                      60,000,000 per-stand rows to Parquet)

in-process / numba 4.1× time, 6.6× memory (totals equal to 5.8e-13); dask / in-process 2.8×
time, 0.44× memory. In-process memory grows with stands × years (it fitted at 1,000,000 here
with 24 GiB); dask's is bounded by the partition (a county) whatever the number of counties.
dask's total differed by 0.33 % in that run: it applied each county's own cut quota, the
in-process run and the anchor then one quota over the whole selection. The model now applies a
quota per county everywhere (the 采伐限额 is a county's): at 100,000 stands (--scale-stands
100000, 26 counties) the three totals agree to 5e-14 (numba 1.0 s, in-process 2.5 s, dask 16.8 s
on the loaded machine); the 1,000,000-stand run above was not repeated. No assertion.

    .venv/bin/python bench/model/run.py [--stands 50000] [--years 60] [--scale-stands 1000000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from gis_data.sample import generate_sample_inventory  # noqa: E402
from methodologies import forest_management  # noqa: E402
from methodologies.growth import fit_growth_curves  # noqa: E402
from methodologies.parameters import defaults, species_parameters  # noqa: E402
from methodologies.species import TREE_GROUP_VALUES, load_species_vocabulary  # noqa: E402


def stands_from_sample(n: int) -> pd.DataFrame:
    sample = generate_sample_inventory(n, 431123)
    vocabulary = {k: v.value for k, v in load_species_vocabulary().items()}
    frame = pd.DataFrame({
        "stand_id": sample.XIAN + "-" + sample.LIN_BAN + "-" + sample.XIAO_BAN,
        "species_group": sample.YOU_SHI_SZ.map(vocabulary),
        "site_class": sample.LD_ZL_DJ,
        "area_ha": sample.geometry.area / 10_000,
        "age_years": sample.PINGJUN_NL,
        "volume_m3_per_ha": sample.MEI_GQ_XJ,
        "forest_category": sample.SEN_LIN_LB,
        "canopy_closure": sample.YU_BI_DU,
    })  # fmt: skip
    return frame[
        frame.species_group.isin(TREE_GROUP_VALUES)
        & frame.age_years.notna() & frame.volume_m3_per_ha.notna()
    ].reset_index(drop=True)  # fmt: skip


def python_loop(stands: pd.DataFrame, curves: list, years: int) -> float:  # type: ignore[type-arg]
    """The same model as ``forest_management.project_ex_ante``, written as plain Python loops —
    year by year, stand by stand — from the equations in its docstring. Returns the total net
    removals (t CO2e): Σ project stock change − Σ baseline stock change.

    Per stand: factor = 44/12 × CF × SVD × BEF × (1 + R) (t CO2e per m³); the fitted curve
    V(t) = a (1 − e^(−b t))^c scaled to the stand's own volume (0.5–2); growth from the last start
    v = v_s + (1 + gain) × scale × (V(age) − V(age_s)); clear-cut at the rotation age (never in
    公益林), oldest first while the year's cut stays within the quota (m³, whole selection);
    long-lived wood products kept in the stock. Baseline: the plan's rotation, no gain; project:
    rotation + extension, tending gain, plus the enrichment gain where canopy < threshold."""
    by_key = {(c.species_group, c.site_class): c for c in curves}
    params = species_parameters()
    table = defaults()
    extension = table["fm_project_rotation_extension_years"].value
    tending = table["fm_project_tending_growth_gain"].value
    enrich_gain = table["fm_project_enrichment_growth_gain"].value
    open_below = table["fm_enrichment_canopy_below"].value
    hwp = table["fm_hwp_long_lived_fraction"].value
    quota_per_ha = table["fm_baseline_cut_quota_m3_per_ha_yr"].value

    records = []
    for rec in stands.itertuples(index=False):
        curve = by_key.get((rec.species_group, rec.site_class)) or by_key[(rec.species_group, "*")]
        p = params[rec.species_group]
        factor = (
            44 / 12 * p.carbon_fraction.value * p.svd.value * p.bef.value * (1 + p.root_shoot.value)
        )
        at_start = curve.a * (1 - math.exp(-curve.b * max(rec.age_years, 0.0))) ** curve.c
        scale = min(max(rec.volume_m3_per_ha / at_start, 0.5), 2.0) if at_start > 1e-6 else 1.0
        protected = rec.forest_category == "公益林"
        rotation = table[f"fm_baseline_rotation_{rec.species_group}"].value
        canopy = rec.canopy_closure
        enrich = enrich_gain if canopy == canopy and canopy < open_below else 0.0  # NaN: none
        records.append((curve, factor, scale, protected, rotation, enrich, rec))
    quota = quota_per_ha * sum(r[6].area_ha for r in records if not r[3])

    def simulate(project: bool) -> float:
        """Σ stock (t CO2e) at the end of the last year."""
        n = len(records)
        age = [r[6].age_years for r in records]
        age_s = list(age)
        v_s = [r[6].volume_m3_per_ha for r in records]
        wood = [0.0] * n
        grown = [0.0] * n
        for _ in range(years):
            due = []
            for i, (curve, _f, scale, protected, rotation, enrich, _rec) in enumerate(records):
                age[i] += 1.0
                gain = (tending + enrich) if project else 0.0
                v_now = curve.a * (1 - math.exp(-curve.b * max(age[i], 0.0))) ** curve.c
                v_then = curve.a * (1 - math.exp(-curve.b * max(age_s[i], 0.0))) ** curve.c
                grown[i] = v_s[i] + (1.0 + gain) * scale * (v_now - v_then)
                cut_at = math.inf if protected else rotation + (extension if project else 0.0)
                if age[i] >= cut_at:
                    due.append(i)
            due.sort(key=lambda i: -age[i])  # oldest first (stable among equals)
            cut = 0.0
            for i in due:
                cut += grown[i] * records[i][6].area_ha
                if cut > quota + 1e-9:
                    break  # the quota is spent: the rest wait
                wood[i] += hwp * grown[i]
                grown[i] = 0.0
                age[i] = age_s[i] = v_s[i] = 0.0
        return sum((grown[i] + wood[i]) * r[1] * r[6].area_ha for i, r in enumerate(records))

    # both start from the same stock (the inventory's volume), so the net removals are the
    # difference of the end stocks
    return simulate(project=True) - simulate(project=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stands", type=int, default=50_000)
    parser.add_argument("--years", type=int, default=60)
    parser.add_argument(
        "--scale-stands", type=int, default=1_000_000,
        help="in-process, dask and the numba anchor on this many stands (0: skip)",
    )  # fmt: skip
    args = parser.parse_args()
    stands = stands_from_sample(args.stands)
    curves = fit_growth_curves(stands)

    forest_management.project_ex_ante(stands.iloc[:100], curves, 2026, 2)  # warm-up
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = forest_management.project_ex_ante(stands, curves, 2026, args.years)
        timings.append(time.perf_counter() - t0)
    vectorised = min(timings)
    # memory in a separate run: tracemalloc slows allocation-heavy code several-fold
    tracemalloc.start()
    forest_management.project_ex_ante(stands, curves, 2026, args.years)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    t0 = time.perf_counter()
    loop_total = python_loop(stands, curves, args.years)
    loop = time.perf_counter() - t0

    print(f"\nex-ante forest management: {len(stands):,} tree stands × {args.years} years "
          f"({len(stands) * args.years:,} stand-years), 2 cores")  # fmt: skip
    print(f"{'':<12} {'seconds':>9} {'peak MB':>9}")
    print(f"{'vectorised':<12} {vectorised:>9.3f} {peak / 2**20:>9.0f}   (best of 3)")
    print(f"{'python loop':<12} {loop:>9.3f} {'':>9}")
    print(f"ratio loop / vectorised: {loop / vectorised:.0f}x   (target: < 1 s and ≥ 50x)")
    print(f"same answer: vectorised {result.total:,.1f} t CO2e, loop {loop_total:,.1f} t CO2e, "
          f"relative difference {abs(result.total - loop_total) / abs(loop_total):.2e}")  # fmt: skip
    if args.scale_stands:
        from bench.model.scale import run_scale

        run_scale(stands, curves, args.scale_stands, args.years)


if __name__ == "__main__":
    main()
