"""Coordinate reference systems of Chinese forest inventories.

Geometries are stored in CGCS2000 geographic coordinates (EPSG:4490). Inventories come in
Gauss–Krüger 3-degree zones of CGCS2000, Xi'an 1980 or Beijing 1954, with the zone number in
the false easting (e.g. EPSG:4525, x ≈ 37 500 000) or without it (e.g. EPSG:4546,
x ≈ 500 000). A file without a CRS is never guessed: we recognise the likely system from the
coordinates and tell the user which EPSG code to pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS

from gis_data.errors import CrsError

__all__ = [
    "STORAGE_CRS",
    "CrsDecision",
    "equal_area_crs",
    "gauss_kruger_epsg",
    "recognise_coordinates",
    "resolve_crs",
    "suggest_crs",
]

STORAGE_CRS = CRS.from_epsg(4490)  # CGCS2000 geographic (longitude, latitude)

# EPSG code of the 3-degree Gauss–Krüger zone 25 (with zone prefix) and of CM 75°E (without),
# per datum; zones 25..45 follow consecutively (CM = 3 × zone).
_GK3_BASE = {
    "CGCS2000": (4513, 4534),
    "Xian 1980": (2349, 2370),
    "Beijing 1954": (2401, 2422),
}
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)


def gauss_kruger_epsg(datum: str, zone: int, zone_prefix: bool) -> int:
    """EPSG code of a 3-degree Gauss–Krüger zone (25–45, central meridian 3 × zone °E)."""
    if not 25 <= zone <= 45:
        raise ValueError(f"3-degree zone {zone} is outside China (25–45)")
    with_prefix, without = _GK3_BASE[datum]
    return (with_prefix if zone_prefix else without) + zone - 25


@dataclass(frozen=True)
class CrsDecision:
    crs: CRS
    source: str  # "file", "--crs", "--crs (overrides file)"
    warnings: tuple[tuple[str, str], ...] = ()  # (zh, en)


def recognise_coordinates(bounds: tuple[float, float, float, float]) -> tuple[str, str]:
    """Say in words (zh, en) what coordinates with these bounds most likely are."""
    minx, miny, maxx, maxy = bounds
    swapped = _swapped_hint((miny, minx, maxy, maxx))
    if swapped is not None:
        return swapped
    if CHINA_LON[0] <= minx and maxx <= CHINA_LON[1] and CHINA_LAT[0] <= miny <= CHINA_LAT[1]:
        return (
            "坐标像经纬度（度）。若为 CGCS2000 请使用 --crs EPSG:4490。",
            "The coordinates look like longitude/latitude in degrees. "
            "If they are CGCS2000, pass --crs EPSG:4490.",
        )
    north_ok = miny >= 200_000 and maxy <= 6_000_000
    if north_ok and minx >= 13_000_000 and maxx < 46_000_000:
        zone = int(minx // 1_000_000)
        if int(maxx // 1_000_000) == zone and 25 <= zone <= 45:
            c, x, b = (gauss_kruger_epsg(d, zone, True) for d in _GK3_BASE)
            return (
                f"坐标像高斯-克吕格 3 度带第 {zone} 带（东坐标含带号，中央经线 {3 * zone}°E）。"
                f"CGCS2000 请用 --crs EPSG:{c}；西安 1980 用 EPSG:{x}；北京 1954 用 EPSG:{b}。",
                f"The coordinates look like Gauss-Kruger 3-degree zone {zone} with the zone "
                f"number in the easting (central meridian {3 * zone}E). Pass --crs EPSG:{c} "
                f"for CGCS2000, EPSG:{x} for Xi'an 1980, EPSG:{b} for Beijing 1954.",
            )
    if north_ok and minx >= 100_000 and maxx <= 900_000:
        c111, x111, b111 = (gauss_kruger_epsg(d, 37, False) for d in _GK3_BASE)
        return (
            "坐标像高斯-克吕格投影（东坐标不含带号，约 500 000 米），但从坐标本身无法判断中央经线。"
            f"双牌县位于 3 度带第 37 带（中央经线 111°E）：CGCS2000 请用 --crs EPSG:{c111}，"
            f"西安 1980 用 EPSG:{x111}，北京 1954 用 EPSG:{b111}；其他地区请按中央经线选择。",
            "The coordinates look like Gauss-Kruger without the zone number in the easting "
            "(about 500,000 m); the central meridian cannot be read from the coordinates. "
            f"Shuangpai lies in 3-degree zone 37 (CM 111E): pass --crs EPSG:{c111} for "
            f"CGCS2000, EPSG:{x111} for Xi'an 1980, EPSG:{b111} for Beijing 1954; elsewhere "
            "choose the code of your central meridian.",
        )
    return (
        f"无法从坐标范围 {bounds!r} 判断坐标系。请向数据提供方询问并用 --crs 指定。",
        f"Cannot recognise the coordinate system from the bounds {bounds!r}. Ask the data "
        "provider and pass it with --crs.",
    )


def _swapped_hint(flipped: tuple[float, float, float, float]) -> tuple[str, str] | None:
    """If the coordinates make sense only with x and y exchanged, say so (zh, en)."""
    minx, miny, maxx, maxy = flipped
    lonlat = (
        CHINA_LON[0] <= minx <= maxx <= CHINA_LON[1]
        and CHINA_LAT[0] <= miny <= maxy <= CHINA_LAT[1]
    )
    if lonlat and not (CHINA_LON[0] <= miny <= CHINA_LON[1]):
        return (
            "坐标的 x、y 颠倒了：x 像纬度、y 像经度。CGCS2000 经纬度为 EPSG:4490（x=经度，y=纬度）；"
            "请在 GIS 中交换坐标轴后再导入。",
            "The axes are swapped: x looks like latitude and y like longitude. CGCS2000 "
            "longitude/latitude is EPSG:4490 (x = longitude, y = latitude); swap the axes in "
            "your GIS and import again.",
        )
    zone = int(minx // 1_000_000)
    if (
        200_000 <= miny <= maxy <= 6_000_000
        and 13_000_000 <= minx <= maxx < 46_000_000
        and int(maxx // 1_000_000) == zone
        and 25 <= zone <= 45
    ):
        c = gauss_kruger_epsg("CGCS2000", zone, True)
        return (
            f"坐标的 x、y 颠倒了：x 像北坐标、y 像含带号的东坐标（3 度带第 {zone} 带）。交换坐标轴后，"
            f"CGCS2000 应为 EPSG:{c}。",
            f"The axes are swapped: x looks like a northing and y like an easting with the zone "
            f"number (3-degree zone {zone}). Once the axes are exchanged, CGCS2000 is EPSG:{c}.",
        )
    return None


def suggest_crs(bounds: tuple[float, float, float, float]) -> tuple[str, str]:
    """What the coordinates (in the file's own units) suggest, for a contradicted .prj."""
    return recognise_coordinates(bounds)


def _parse_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except Exception as exc:  # pyproj raises CRSError; keep the user's words in the message
        raise CrsError(
            f"无法识别坐标系 {text!r}，请使用 EPSG:4525 这样的写法。",
            f"Unknown coordinate reference system {text!r}; write it like EPSG:4525.",
        ) from exc


def resolve_crs(
    file_crs: CRS | None,
    user_crs: str | None,
    bounds: tuple[float, float, float, float],
    source: str,
) -> CrsDecision:
    """Decide the CRS of the data: the file's, or the user's ``--crs``; never a guess."""
    if user_crs:
        chosen = _parse_crs(user_crs)
        if file_crs is not None and not chosen.equals(file_crs, ignore_axis_order=True):
            return CrsDecision(
                chosen,
                "--crs (overrides file)",
                (
                    (
                        f"文件自带坐标系 {file_crs.name!r}，已按 --crs 改用 {chosen.name!r}。",
                        f"The file declares {file_crs.name!r}; --crs {chosen.name!r} is used "
                        "instead.",
                    ),
                ),
            )
        return CrsDecision(chosen, "--crs")
    if file_crs is None:
        hint_zh, hint_en = recognise_coordinates(bounds)
        raise CrsError(
            f"{source}：文件没有坐标系（缺少 .prj 或未声明 CRS），不会猜测。{hint_zh}",
            f"{source}: the file has no coordinate reference system (no .prj or no declared "
            f"CRS); tanhui never guesses one. {hint_en}",
        )
    return CrsDecision(file_crs, "file")


def check_in_china(
    lon_lat_bounds: tuple[float, float, float, float],
    crs: CRS,
    source: str,
    source_bounds: tuple[float, float, float, float] | None = None,
) -> None:
    """Refuse data that, once in CGCS2000, do not fall inside China: the CRS must be wrong."""
    minx, miny, maxx, maxy = lon_lat_bounds
    finite = all(np.isfinite(v) for v in lon_lat_bounds)
    inside = (
        finite
        and CHINA_LON[0] <= minx <= maxx <= CHINA_LON[1]
        and CHINA_LAT[0] <= miny <= maxy <= CHINA_LAT[1]
    )
    if not inside:
        hint_zh, hint_en = ("", "")
        if source_bounds is not None:
            hint_zh, hint_en = recognise_coordinates(source_bounds)
            hint_zh, hint_en = (
                f"文件坐标本身提示：{hint_zh}",
                f" The coordinates suggest: {hint_en}",
            )
        raise CrsError(
            f"{source}：按坐标系 {crs.name!r} 换算后，数据范围 {lon_lat_bounds!r} 不在中国境内，"
            "坐标系多半不对（例如带号或中央经线不符）。请核对后用 --crs 指定正确的 EPSG 代码。"
            + hint_zh,
            f"{source}: with the CRS {crs.name!r} the data fall at {lon_lat_bounds!r} "
            "(lon/lat), outside China, so the CRS is most likely wrong (zone prefix or "
            "central meridian). Check it and pass the right EPSG code with --crs." + hint_en,
        )


def equal_area_crs(lon: float, lat: float) -> CRS:
    """A Lambert azimuthal equal-area projection on the CGCS2000 ellipsoid centred on (lon, lat).

    Areas computed in it equal areas on the ellipsoid (the projection is equal-area); we use it
    for hectares and for overlap areas in m².
    """
    return CRS.from_proj4(
        f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +x_0=0 +y_0=0 "
        "+a=6378137 +rf=298.257222101 +units=m +no_defs"
    )
