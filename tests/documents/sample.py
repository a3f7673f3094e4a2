"""A small document holding every block kind (Chinese headings, a matplotlib PNG, an equation
with its numbers, notes of each kind, a table long enough to run over a page), for the renderers'
and the store's tests before the builders of parts A and B are merged."""

from __future__ import annotations

import io

from registry.documents.model import (
    Document,
    Equation,
    Figure,
    KeyFigure,
    Note,
    Paragraph,
    Section,
    Table,
    fmt,
)

# the areas of the sample's stands (ha) and their total, written out by hand:
# 1,234.50 + 2,000.25 + 465.25 = 3,700.00
STAND_AREAS = (("S-001", 1234.50), ("S-002", 2000.25), ("S-003", 465.25))
TOTAL_AREA_HA = 3700.00
# ex-ante removals: 3,700.00 ha × 4.2 t CO2e/ha/a × 20 a = 310,800 t CO2e
EXANTE_TCO2E = 310_800
LONG_TABLE_ROWS = 120  # years × strata: runs over a page, so the header row must repeat


def chart_png() -> bytes:
    """A small bar chart (matplotlib, Agg backend) with Chinese labels."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.font_manager import FontProperties

    from registry.documents.pdf_render import CJK_FONT

    cjk = FontProperties(fname=CJK_FONT)
    fig = MplFigure(figsize=(6, 3), dpi=100)
    ax = fig.add_subplot()
    ax.bar([s for s, _ in STAND_AREAS], [a for _, a in STAND_AREAS], color="#2f6b3f")
    ax.set_title("小班面积 stand areas (ha)", fontproperties=cjk)
    ax.set_ylabel("公顷 ha", fontproperties=cjk)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def sample_document(project: str = "SP-TEST-01", kind: str = "pdd") -> Document:
    """The sample: three top-level sections with subsections, every block kind."""
    stands = Table(
        caption="表 2-1 项目小班 / project stands",
        headers=("小班 stand", "面积 area (ha)"),
        rows=(*tuple((code, fmt(area, 2)) for code, area in STAND_AREAS), ("合计 total", fmt(TOTAL_AREA_HA, 2))),
        numeric=(1,),
        notes=("来源：登记系统小班表 / source: the registry's stands",),
    )  # fmt: skip
    long_rows = tuple(
        (str(2026 + i // 6), f"层 stratum {i % 6 + 1}", fmt(1000 + i, 0)) for i in range(LONG_TABLE_ROWS)
    )  # fmt: skip
    by_year = Table(
        caption="表 3-1 逐年事前估算 / ex-ante estimate by year",
        headers=("年份 year", "碳层 stratum", "清除量 removals (t CO2e)"),
        rows=long_rows,
        numeric=(2,),
    )
    return Document(
        kind=kind,
        title="项目设计文件",
        subtitle="森林经营碳汇项目 / forest management carbon-sink project",
        project=project,
        as_of="2026-11-30T00:00:00+00:00",
        sections=(
            Section(
                "1",
                "项目概况 / project description",
                blocks=(
                    Paragraph("本项目位于双牌县。 / The project lies in Shuangpai County."),
                    Note(
                        "info",
                        "官方模板结构未能取得。 / The official template's structure was not available.",
                    ),
                ),
                subsections=(
                    Section("1.1", "项目边界 / boundary", blocks=(Paragraph("边界由小班组成。"),)),
                ),
            ),
            Section(
                "2",
                "项目边界与小班 / boundary and stands",
                blocks=(
                    stands,
                    Figure("图 2-1 小班面积 / stand areas", chart_png(), width_cm=12),
                ),
            ),
            Section(
                "3",
                "事前估算 / ex-ante estimate",
                blocks=(
                    Equation(
                        reference="AR-CM-003-V01 式 (5)",
                        formula="ΔC = A × r × t",
                        worked=f"ΔC = {fmt(TOTAL_AREA_HA, 2)} × 4.2 × 20 = {fmt(EXANTE_TCO2E)} t CO2e",
                        where=(
                            "A: 项目面积 area (ha) = 3,700.00，登记系统",
                            "r: 年均清除 (t CO2e/ha/a) = 4.2，未核实",
                        ),
                    ),
                    Note(
                        "unverified",
                        "年均清除率 r = 4.2 的来源未核实。 / the source of r = 4.2 is not verified.",
                    ),
                    Note(
                        "warning",
                        "小班 S-003 的蓄积超出合理范围。 / stand S-003's volume is implausible.",
                    ),
                    by_year,
                ),
                subsections=(
                    Section(
                        "3.1",
                        "碳库 / carbon pools",
                        blocks=(Paragraph("地上生物量、地下生物量。"),),
                    ),
                ),
            ),
        ),
        key_figures=(
            KeyFigure(
                "area_ha", "项目面积 project area (ha)", TOTAL_AREA_HA, fmt(TOTAL_AREA_HA, 2)
            ),
            KeyFigure(
                "exante_total_tco2e", "事前估算 ex-ante (t CO2e)", EXANTE_TCO2E, fmt(EXANTE_TCO2E)
            ),
        ),
        unverified=("r 年均清除率 annual removal rate: 来源未核实 source not verified",),
        meta={"方法学 methodology": "AR-CM-003-V01", "业主 developer": "双牌县林业局"},
    )
