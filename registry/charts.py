"""Plots a forester would rather look at than read (matplotlib, PNG, English labels)."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from methodologies.exante import ExAnteResult
from methodologies.growth import POOLED, GrowthCurve
from registry.errors import Failure

__all__ = ["CJK_FONT_FAMILY", "plot_growth_curves", "plot_stock_trajectory", "use_cjk_font"]

CJK_FONT_FAMILY = "WenQuanYi Zen Hei"


class _OnlyWeightNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("findfont: Failed to find font weight")


def use_cjk_font() -> str:
    """Let matplotlib draw Chinese labels: registers WenQuanYi Zen Hei (Debian's
    ``fonts-wqy-zenhei``, which ``make setup`` installs; the certificates' font) and puts it
    first among the sans-serif families, keeping DejaVu Sans for what it lacks. Returns the
    family's name; a missing font is refused with what to install."""
    from matplotlib import font_manager

    from registry.certificate_pdf import CJK_FONT

    if not CJK_FONT.is_file():
        raise Failure(
            f"找不到图表所用的中文字体 {CJK_FONT}：请安装 fonts-wqy-zenhei（make setup 会安装）。",
            f"the charts' Chinese font {CJK_FONT} is missing: install fonts-wqy-zenhei "
            "(make setup does).",
        )
    font_manager.fontManager.addfont(str(CJK_FONT))
    matplotlib.rcParams["font.sans-serif"] = [CJK_FONT_FAMILY, "DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False  # the CJK font lacks U+2212
    # the font has one weight (500): matplotlib says so on every label; that note only
    logging.getLogger("matplotlib.font_manager").addFilter(_OnlyWeightNotes())
    return CJK_FONT_FAMILY


def plot_growth_curves(data: pd.DataFrame, curves: list[GrowthCurve], out: Path) -> Path:
    """Fitted curves (one panel per species group, one line per site class) over the scatter."""
    groups = sorted({c.species_group for c in curves if c.species_group != POOLED})
    cols = min(3, len(groups)) or 1
    rows = int(np.ceil(len(groups) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    ages = np.linspace(0, 80, 200)
    for ax, group in zip(axes.ravel(), groups, strict=False):
        pts = data[data["species_group"] == group]
        ax.scatter(pts["age_years"], pts["volume_m3_per_ha"], s=2, alpha=0.15, color="grey")
        for c in sorted(
            (c for c in curves if c.species_group == group), key=lambda c: c.site_class
        ):
            style = "-" if c.site_class == POOLED else "--"
            label = "all sites" if c.site_class == POOLED else f"site {c.site_class}"
            if "fallback" in c.basis:
                label += " (fallback)"
            ax.plot(ages, c.volume(ages), style, lw=1.6, label=f"{label}: R²={c.r2:.2f}")
        ax.set_title(f"{group} (n={len(pts)})")
        ax.set_xlabel("age (years)")
        ax.set_ylabel("growing stock (m³/ha)")
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(groups) :]:
        ax.axis("off")
    fig.suptitle("Chapman–Richards growth curves fitted to the inventory (SYNTHETIC sample)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_stock_trajectory(result: ExAnteResult, out: Path, title: str) -> Path:
    """Project and baseline stock by species group over the crediting period, and removals."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6))
    groups = np.array([s.split("|")[0] for s in result.stratum], dtype=object)
    for g in sorted(set(groups)):
        mask = groups == g
        left.plot(result.years, result.project_stock[mask].sum(axis=0) / 1e6, label=f"{g} project")
        left.plot(result.years, result.baseline_stock[mask].sum(axis=0) / 1e6, "--", lw=1,
                  label=f"{g} baseline")  # fmt: skip
    left.set_xlabel("year")
    left.set_ylabel("tree carbon stock (Mt CO2e)")
    left.set_title("stock by species group")
    left.legend(fontsize=7, ncol=2)
    totals = result.by_year()
    right.bar(totals["year"], totals["net_removals"] / 1e3, color="seagreen")
    right.set_xlabel("year")
    right.set_ylabel("net removals (kt CO2e / yr)")
    ax2 = right.twinx()
    ax2.plot(totals["year"], totals["cumulative_net_removals"] / 1e6, color="black")
    ax2.set_ylabel("cumulative (Mt CO2e)")
    right.set_title("net removals (project − baseline − leakage)")
    flagged = result.unverified()
    note = (
        f"{len(flagged)} parameters UNVERIFIED (see trace)"
        if flagged
        else "all parameters verified"
    )
    fig.suptitle(f"{title} — {result.methodology} — {note}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
