"""Benchmark: ex-ante forest management for the 50 000-stand sample over 60 years.

  vectorised  methodologies.forest_management.project_ex_ante (numpy, all stands at once)
  anchor      a plain Python loop over the same equations, stand by stand and year by year
              (it lives only here), measured in the same run; results are compared.
Prints time, peak memory (tracemalloc) and the ratio loop / vectorised.
Target (issue #4): < 1 s and ≥ 50× the loop. Not a test: nothing asserts timings.

    .venv/bin/python bench/model/run.py [--stands 50000] [--years 60]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tracemalloc
import zlib
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
    })  # fmt: skip
    return frame[
        frame.species_group.isin(TREE_GROUP_VALUES)
        & frame.age_years.notna() & frame.volume_m3_per_ha.notna()
    ].reset_index(drop=True)  # fmt: skip


def python_loop(stands: pd.DataFrame, curves: list, years: int) -> float:  # type: ignore[type-arg]
    """The same equations, one stand and one year at a time. Returns the total net removals."""
    by_key = {(c.species_group, c.site_class): c for c in curves}
    params = species_parameters()
    table = defaults()
    total = 0.0
    for rec in stands.itertuples(index=False):
        curve = by_key.get((rec.species_group, rec.site_class)) or by_key[(rec.species_group, "*")]
        p = params[rec.species_group]
        factor = (
            44 / 12 * p.carbon_fraction.value * p.svd.value * p.bef.value * (1 + p.root_shoot.value)
        )

        def cr(t: float, c=curve) -> float:
            return c.a * (1 - math.exp(-c.b * max(t, 0.0))) ** c.c

        at_start = cr(rec.age_years)
        scale = min(max(rec.volume_m3_per_ha / at_start, 0.5), 2.0) if at_start > 1e-6 else 1.0
        rotation = table[f"fm_baseline_rotation_{rec.species_group}"].value
        if rotation - rec.age_years >= 1:
            first_cut = rotation - rec.age_years
        else:
            first_cut = 1 + zlib.crc32(str(rec.stand_id).encode()) % 10
        protected = rec.forest_category == "公益林"
        prev_p = prev_b = scale * at_start * factor * rec.area_ha
        for step in range(1, years + 1):
            project = scale * cr(rec.age_years + step) * factor * rec.area_ha
            if protected:
                baseline = project
            else:
                since = (step - first_cut) % rotation if step >= first_cut else rec.age_years + step
                baseline = scale * cr(since) * factor * rec.area_ha
            total += (project - prev_p) - (baseline - prev_b)
            prev_p, prev_b = project, baseline
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stands", type=int, default=50_000)
    parser.add_argument("--years", type=int, default=60)
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


if __name__ == "__main__":
    main()
