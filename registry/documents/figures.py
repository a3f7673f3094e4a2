"""The pictures of the project documents, drawn with matplotlib (Agg) from the registry's own
figures: the project map (stands coloured by species group, the project boundary, a north
arrow, a scale bar and the CGCS2000 note) and the ex-ante chart (net removals by year and
their running total). Each returns PNG bytes of a fixed pixel size (no tight bounding box), so
a document's layout does not depend on the data."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import shapely
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter

__all__ = [
    "CHART_SIZE_PX",
    "MAP_SIZE_PX",
    "align_zero",
    "exante_chart_png",
    "project_map_png",
    "zero_fraction",
]

DPI = 150
MAP_INCHES = (8.0, 7.0)
CHART_INCHES = (9.0, 4.5)
MAP_SIZE_PX = (int(MAP_INCHES[0] * DPI), int(MAP_INCHES[1] * DPI))  # (width, height)
CHART_SIZE_PX = (int(CHART_INCHES[0] * DPI), int(CHART_INCHES[1] * DPI))

# the Chinese fonts the set-up installs (fonts-wqy-zenhei; fonts-noto-cjk when present)
CJK_FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
KM_PER_DEGREE = 111.32  # length of one degree of latitude (and of longitude at the equator), km
COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
           "#666666", "#1f78b4", "#b2df8a")  # fmt: skip


def _cjk_families() -> list[str]:
    names: list[str] = []
    for path in CJK_FONT_FILES:
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            names.append(font_manager.FontProperties(fname=str(path)).get_name())
    return names


@contextmanager
def _style() -> Iterator[None]:
    """Chinese-capable fonts for the duration of one drawing (the global style is untouched)."""
    families = [*_cjk_families(), "DejaVu Sans"]
    with plt.rc_context({"font.family": "sans-serif", "font.sans-serif": families,
                         "axes.unicode_minus": False}):  # fmt: skip
        yield


def _png(fig: MplFigure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _patch(geom: shapely.Geometry, **style: object) -> PathPatch:
    """A (multi)polygon with its holes as one matplotlib patch."""
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    for polygon in shapely.get_parts(geom):
        if polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            points = list(ring.coords)
            vertices.extend(points)
            codes.extend([int(MplPath.MOVETO)] + [int(MplPath.LINETO)] * (len(points) - 2)
                         + [int(MplPath.CLOSEPOLY)])  # fmt: skip
    return PathPatch(MplPath(vertices, codes), **style)


def _nice_length(km: float) -> float:
    """A round scale-bar length (km) of at most ``km``: 1, 2 or 5 × 10ⁿ."""
    if km <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(km))
    return max(m * power for m in (1, 2, 5) if m * power <= km)


def _north_and_scale(ax: Axes, x0: float, x1: float, y0: float, y1: float) -> None:
    lat = (y0 + y1) / 2
    km_per_lon = KM_PER_DEGREE * math.cos(math.radians(lat))
    length_km = _nice_length((x1 - x0) * km_per_lon / 4)
    if length_km > 0:
        bar = length_km / km_per_lon
        bx, by = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.05
        ax.plot([bx, bx + bar], [by, by], color="black", lw=3, solid_capstyle="butt")
        label = f"{length_km:g} km" if length_km >= 1 else f"{length_km * 1000:g} m"
        ax.text(bx + bar / 2, by + (y1 - y0) * 0.015, f"比例尺 scale {label}", ha="center",
                va="bottom", fontsize=8)  # fmt: skip
    ax.annotate("北 N", xy=(0.94, 0.95), xytext=(0.94, 0.83), xycoords="axes fraction",
                ha="center", va="center", fontsize=10,
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5})  # fmt: skip


def project_map_png(
    stands: Sequence[tuple[shapely.Geometry, str]], boundary: shapely.Geometry | None, title: str
) -> bytes:
    """The project map: each stand (geometry in CGCS2000 longitude/latitude, EPSG:4490) filled by
    its species group, the project boundary outlined, a north arrow, a scale bar (km at the
    map's mean latitude: 111.32 km × cos φ per degree of longitude) and the coordinate system.
    ``MAP_SIZE_PX`` pixels."""
    with _style():
        fig, ax = plt.subplots(figsize=MAP_INCHES)
        groups = sorted({g for _, g in stands})
        colour = {g: COLOURS[i % len(COLOURS)] for i, g in enumerate(groups)}
        for geom, group in stands:
            ax.add_patch(_patch(geom, facecolor=colour[group], edgecolor="white", lw=0.3))
        if boundary is not None and not shapely.is_empty(boundary):
            ax.add_patch(_patch(boundary, facecolor="none", edgecolor="black", lw=1.4))
        every = [g for g, _ in stands] + ([boundary] if boundary is not None else [])
        if every:
            x0, y0, x1, y1 = shapely.total_bounds(every)
        else:
            x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
        pad_x, pad_y = max((x1 - x0) * 0.08, 1e-4), max((y1 - y0) * 0.12, 1e-4)
        x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect(1 / math.cos(math.radians((y0 + y1) / 2)))
        handles = [Rectangle((0, 0), 1, 1, color=colour[g]) for g in groups]
        handles.append(Rectangle((0, 0), 1, 1, facecolor="none", edgecolor="black"))
        ax.legend(handles, [*groups, "项目边界 project boundary"], loc="lower right", fontsize=7,
                  title="树种组 species group", title_fontsize=8)  # fmt: skip
        _north_and_scale(ax, x0, x1, y0, y1)
        ax.set_xlabel("经度 longitude (°E)")
        ax.set_ylabel("纬度 latitude (°N)")
        ax.ticklabel_format(useOffset=False)
        ax.set_title(title, fontsize=11)
        fig.text(0.01, 0.01, "坐标系 CGCS2000（EPSG:4490），经纬度 / coordinates CGCS2000 "
                 "longitude–latitude; 由 tanhui 登记簿的小班几何生成 / drawn from the registry's "
                 "stand geometries", fontsize=7)  # fmt: skip
        fig.subplots_adjust(left=0.1, right=0.97, top=0.93, bottom=0.1)
        return _png(fig)


def zero_fraction(ax: Axes) -> float:
    """Where 0 sits on ``ax``'s y axis, as a fraction of its height from the bottom."""
    low, high = ax.get_ylim()
    return (0.0 - low) / (high - low)


def align_zero(left: Axes, right: Axes) -> None:
    """Set the two y axes' limits so that both show 0 at the same height f (a fraction from
    the bottom) and still hold all their data: f is the higher of the two zeros (or, when one
    axis is wholly negative and the other wholly positive, the middle); each axis is extended
    down (bottom = −f·top/(1 − f)) or up (top = −bottom·(1 − f)/f) to put its zero there."""
    limits = [(min(a.get_ylim()[0], 0.0), max(a.get_ylim()[1], 0.0)) for a in (left, right)]
    fractions = [-lo / (hi - lo) if hi > lo else 0.5 for lo, hi in limits]
    low, high = min(fractions), max(fractions)
    f = high if high < 1.0 else (low if low > 0.0 else 0.5)
    for axis, (lo, hi) in zip((left, right), limits, strict=True):
        if hi <= lo:  # nothing but zeros
            axis.set_ylim(-f, 1.0 - f)
        elif f <= 0.0:  # both wholly at or above zero
            axis.set_ylim(0.0, hi)
        elif f >= 1.0:  # both wholly at or below zero
            axis.set_ylim(lo, 0.0)
        else:
            axis.set_ylim(min(lo, -f * hi / (1.0 - f)), max(hi, -lo * (1.0 - f) / f))


def exante_chart_png(years: Sequence[int], net: Sequence[float], title: str) -> bytes:
    """Ex-ante net removals by year (bars, t CO2e/yr) and their running total (line, t CO2e,
    right axis), as frozen at registration. ``CHART_SIZE_PX`` pixels."""
    with _style():
        fig, ax = plt.subplots(figsize=CHART_INCHES)
        ax.bar(list(years), list(net), color="seagreen", label="年净碳汇量 net removals")
        ax.set_xlabel("年份 year")
        ax.set_ylabel("年净碳汇量 net removals (t CO2e/yr)")
        running: list[float] = []
        total = 0.0
        for value in net:
            total += value
            running.append(total)
        right = ax.twinx()
        right.plot(list(years), running, color="black", marker=".", label="累计 cumulative")
        right.set_ylabel("累计 cumulative (t CO2e)")
        align_zero(ax, right)
        thousands = FuncFormatter(lambda v, _: f"{v:,.0f}")
        ax.yaxis.set_major_formatter(thousands)
        right.yaxis.set_major_formatter(thousands)
        ax.set_title(title, fontsize=11)
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(
            lines[0] + more[0], lines[1] + more[1], loc="lower right", fontsize=8, framealpha=0.9
        )
        fig.subplots_adjust(left=0.1, right=0.88, top=0.9, bottom=0.13)
        return _png(fig)
