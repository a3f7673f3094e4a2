"""``tanhui import-inventory``, ``sample-data`` and ``tanhui stands …``: inventories in and out.

The services import geopandas; this module imports them inside the commands, so that the
command line starts without them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from registry.cli.context import console, ctx, err_console
from registry.cli.exits import EXIT_NOT_FOUND, EXIT_USAGE
from registry.cli.importing import run_import
from registry.cli.output import print_frame, print_json, print_table

__all__ = ["app", "stands_app"]

app = typer.Typer()  # its commands join the root app (registry.cli.app)
stands_app = typer.Typer(help="小班查询与导出 / query and export stands.", no_args_is_help=True)


def _usage(zh: str, en: str) -> typer.Exit:
    err_console.print(f"[bold red]用法错误[/] {zh}")
    err_console.print(f"[bold red]Bad usage[/] {en}")
    return typer.Exit(EXIT_USAGE)


@app.command("import-inventory")
def import_inventory_cmd(
    path: Annotated[Path, typer.Argument(help="Shapefile (.shp or .zip), GeoPackage or GeoJSON")],
    profile: Annotated[
        Path | None, typer.Option(help="字段配置 CSV / field profile (default: 二类调查)")
    ] = None,
    crs: Annotated[
        str | None, typer.Option(help="坐标系，如 EPSG:4525 / CRS, e.g. EPSG:4525")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="属性表编码，如 GBK / attribute encoding, e.g. GBK")
    ] = None,
    inventory_year: Annotated[int | None, typer.Option(help="调查年度 / inventory year")] = None,
    fix_geometry: Annotated[
        bool,
        typer.Option(help="用 make_valid 修复无效图形并列出每处修复 / repair invalid geometry"),
    ] = False,
    overlap_tolerance: Annotated[
        float | None, typer.Option(help="重叠容差（平方米） / overlap tolerance in m²")
    ] = None,
    report_dir: Annotated[Path, typer.Option(help="报告目录 / where reports go")] = Path(
        "import_reports"
    ),
    layer: Annotated[
        str | None, typer.Option(help="GeoPackage/FileGDB 图层名 / layer of a GPKG or FileGDB")
    ] = None,
    codes: Annotated[
        Path | None,
        typer.Option(help="本县代码表 CSV（field,code,meaning） / county code table"),
    ] = None,
    area_unit: Annotated[
        str | None, typer.Option(help="面积单位 ha|mu（亩） / unit of 面积: ha or mu")
    ] = None,
    slope_unit: Annotated[
        str | None, typer.Option(help="坡度为 deg（度）或 class（坡度级） / slope in deg or class")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="小班编号字段，逗号分隔 / stand key fields, e.g. "
            "county_code,township,compartment,subcompartment,fine_stand"
        ),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(
            help="更新范围 township|village|county|stands（默认：文件中的乡镇） / what the file "
            "covers (default: its townships)"
        ),
    ] = None,
    retire_missing: Annotated[
        bool,
        typer.Option(
            help="注销范围内不在文件中的已登记小班（保留历史） / retire registered stands of the "
            "scope that the file no longer holds (history kept)"
        ),
    ] = False,
) -> None:
    """导入小班调查数据 / import a 小班 inventory (all checks, all-or-nothing, re-run safe)."""
    from gis_data.checks import KEY_CHOICES
    from registry.stands import ImportOptions

    settings = ctx.settings()
    key_fields = tuple(k.strip() for k in key.split(",") if k.strip()) if key else None
    for value, allowed, name in (
        (area_unit, ("ha", "mu"), "--area-unit"),
        (slope_unit, ("deg", "class"), "--slope-unit"),
        (scope, ("township", "village", "county", "stands"), "--scope"),
    ):
        if value is not None and value not in allowed:
            raise _usage(f"{name} 须为 {' | '.join(allowed)}，而不是 {value!r}",
                         f"{name} must be one of {' | '.join(allowed)}, not {value!r}")  # fmt: skip
    for field in key_fields or ():
        if field not in KEY_CHOICES:
            raise _usage(f"--key 中的 {field!r} 不是可用字段：{', '.join(KEY_CHOICES)}",
                         f"--key: {field!r} is not one of {', '.join(KEY_CHOICES)}")  # fmt: skip
    options = ImportOptions(
        crs=crs,
        encoding=encoding,
        profile=profile,
        inventory_year=inventory_year,
        fix_geometry=fix_geometry,
        overlap_tolerance_m2=(
            settings.overlap_tolerance_m2 if overlap_tolerance is None else overlap_tolerance
        ),
        area_tolerance_pct=settings.area_tolerance_pct,
        layer=layer,
        codes=codes,
        area_unit=area_unit,
        slope_unit=slope_unit,
        key=key_fields,
        scope=scope,
        retire_missing=retire_missing,
    )
    run_import(ctx.engine(), path, options, report_dir, ctx.actor())


@app.command("sample-data")
def sample_data_cmd(
    out: Annotated[Path, typer.Option(help="输出目录 / output folder")],
    stands: Annotated[int, typer.Option(help="小班数 / number of stands")] = 50_000,
    seed: Annotated[int, typer.Option(help="随机种子 / random seed")] = 431123,
    yizhangtu: Annotated[
        bool,
        typer.Option(
            help="另写林地一张图风格（代码值）的 FileGDB 及一份后续调查 / also write the coded "
            "一张图 style as FileGDB, plus a later inventory with splits, merges and removals"
        ),
    ] = False,
) -> None:
    """生成双牌县合成小班数据 / write the synthetic Shuangpai inventory (Shapefile GBK + GPKG)."""
    from gis_data.sample import write_sample_inventory

    with console.status(f"生成 {stands} 个合成小班 generating {stands} synthetic stands"):
        t0 = time.perf_counter()
        paths = write_sample_inventory(out, stands, seed, yizhangtu=yizhangtu)
    console.print(
        f"[green]已生成合成样例数据（非真实调查）[/] SYNTHETIC sample written in "
        f"{time.perf_counter() - t0:.1f} s:"
    )
    for kind, p in paths.items():
        console.print(f"  {kind}: {p}")


@stands_app.command("summary")
def stands_summary_cmd(
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """面积与蓄积汇总（树种组×龄组、乡镇） / area and volume by species × age group and township."""
    from registry.queries import stands_summary

    with ctx.reading() as session:
        summary = stands_summary(session)
    if fmt == "json":
        payload = {
            "by_species_age": summary.by_species_age.to_dict(orient="records"),
            "by_township": summary.by_township.to_dict(orient="records"),
            "totals": summary.totals,
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    print_frame(summary.by_species_age, "树种组 × 龄组 / species group × age group (ha, m³)", fmt)
    print_frame(summary.by_township, "乡镇 / township (ha, m³)", fmt)
    if fmt == "table":
        t = summary.totals
        console.print(
            f"合计 total: {t['stands']:,.0f} 小班 stands, {t['area_ha']:,.1f} ha, "
            f"{t['volume_m3']:,.0f} m³"
        )


@stands_app.command("list")
def stands_list_cmd(
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="字段=值，可重复 / FIELD=VALUE, repeatable: township, "
            "village, species_group, land_class, forest_category, origin, age_group, "
            "compartment",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="每页条数（有上限） / page size (capped)")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="跳过条数 / rows to skip")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="table | json | geojson")] = "table",
) -> None:
    """现有小班（按小班键；与 API 同一规则：林权人只见自己的小班） / current stands by key, as
    the acting user may see them (the API's rule: a forest owner sees only its own)."""
    from registry.listings import feature_collection, stands_page

    if fmt not in ("table", "json", "geojson"):
        raise _usage(f"--format 须为 table | json | geojson，而不是 {fmt!r}",
                     f"--format must be table, json or geojson, not {fmt!r}")  # fmt: skip
    filters: dict[str, str] = {}
    for item in where or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _usage(f"--filter 应写作 字段=值，而不是 {item!r}",
                         f"--filter must be written FIELD=VALUE, not {item!r}")  # fmt: skip
        filters[name.strip()] = value.strip()
    size = min(limit, ctx.settings().page_limit_max)
    geo = fmt == "geojson"
    page = ctx.read(lambda s: stands_page(s, ctx.acting(s), filters, size, offset, geo))
    if fmt != "table":
        print_json(feature_collection(page) if geo else {"items": page.items, "total": page.total,
                   "limit": page.limit, "offset": page.offset})  # fmt: skip
        return
    print_table(f"小班 stands {offset + 1}–{offset + len(page.items)} / {page.total}", page.items,
                ("stand_key", "township", "village", "area_ha", "land_class", "species_group",
                 "age_group", "owner"))  # fmt: skip


@stands_app.command("export")
def stands_export_cmd(
    out: Annotated[Path, typer.Option(help="输出文件 / output file")],
    fmt: Annotated[str, typer.Option("--format", help="gpkg | geojson | shp | xlsx")] = "gpkg",
    profile: Annotated[Path | None, typer.Option(help="字段配置 / field profile")] = None,
) -> None:
    """导出当前小班（按用户可见范围） / export the current stands the acting user may see
    (re-importable through the same profile): a forest owner its own; right holders' names only
    to staff, verifiers and owners."""
    from gis_data import load_profile
    from gis_data.write import EXPORT_FORMATS, write_stands
    from registry.listings import visible_stands_frame
    from registry.queries import export_frame

    if fmt not in EXPORT_FORMATS:
        err_console.print(f"格式须为 / format must be one of: {', '.join(EXPORT_FORMATS)}")
        raise typer.Exit(EXIT_USAGE)
    stands = ctx.read(lambda s: visible_stands_frame(s, ctx.acting(s)))
    frame = export_frame(stands, load_profile(profile))
    if fmt == "xlsx":
        frame["AREA_HA_CALC"] = stands["area_ha"].values
        frame["SPECIES_GROUP"] = stands["species_group"].values
    path = write_stands(frame, out, fmt)
    console.print(f"[green]已导出 {len(frame)} 个小班[/] exported {len(frame)} stands → {path}")


@stands_app.command("history")
def stands_history_cmd(
    key: Annotated[str, typer.Argument(help="小班编号 县-林班-小班")],
    fmt: Annotated[str, typer.Option("--format", help="json | text")] = "json",
) -> None:
    """小班历史版本与拆分/合并关联 / every version of one stand, with its splits and merges."""
    from registry.queries import lineage_lines, stand_history

    with ctx.reading() as session:
        history = stand_history(session, key)
    if not history:
        err_console.print(f"未找到小班 {key!r} / no stand {key!r}")
        raise typer.Exit(EXIT_NOT_FOUND)
    if fmt == "text":
        for v in history:
            state = (
                "现行 current"
                if v["is_current"]
                else f"已被批次 {v['superseded_by_batch_id']} 取代 superseded"
            )
            console.print(
                f"v{v['version']} 批次 batch {v['batch_id']} ({v['source']}): "
                f"{v['area_ha']:.4f} ha, {v['land_class']}, {v['species']} — {state}"
            )
        for line in lineage_lines(history, key):
            console.print(line)
        return
    sys.stdout.write(json.dumps(history, ensure_ascii=False, indent=2) + "\n")
