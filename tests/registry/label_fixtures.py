"""Hand-made stands and layers for the eco-label tests: squares whose shares inside a layer are
computable by hand.

Four stands of a draft project, in CGCS2000 / 3-degree Gauss–Krüger zone 37 (EPSG:4525, metres),
all between y0 and y0 + 100 m:

    stand   x from … to (m, from x0)   area            species (group)        age
    S1      0 … 100                     100 × 100 = 1 ha   杉木 (chinese_fir)  10
    S2      200 … 300                   1 ha               杉木 (chinese_fir)  10
    S3      400 … 600                   200 × 100 = 2 ha   枫香 (broadleaf)    15
    S4      700 … 800                   1 ha               枫香 (broadleaf)    25

The layer ``water_source`` has two rectangles, both from y0 − 50 to y0 + 150 (so they cover the
stands' whole height): A from x0 − 50 to x0 + 275 and B from x0 + 550 to x0 + 650. Inside shares:
S1 100/100 = 1; S2 (275 − 200)/100 = 0.75; S3 (600 − 550)/200 = 0.25; S4 0.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.projects import add_stands, create_project
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import STAFF, TOLERANCE_M2

X0, Y0 = 37_570_000.0, 2_870_000.0
CRS = "EPSG:4525"
SQUARES = {  # stand: (x from, x to, species, age)
    "S1": (0.0, 100.0, "杉木", 10.0),
    "S2": (200.0, 300.0, "杉木", 10.0),
    "S3": (400.0, 600.0, "枫香", 15.0),
    "S4": (700.0, 800.0, "枫香", 25.0),
}
LAYER_RECTANGLES = ((-50.0, 275.0), (550.0, 650.0))  # x from, x to (y from y0 − 50 to y0 + 150)


def box(x1: float, x2: float, y1: float = 0.0, y2: float = 100.0) -> shapely.Polygon:
    return shapely.box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def squares_inventory(path: Path) -> Path:
    """A GeoPackage of the four stands (attributes from the synthetic sample, changed)."""
    frame = sample_frame(20, 5).head(4).copy()
    ratio = float(frame["MIAN_JI"].iloc[0]) / float(frame.geometry.iloc[0].area)  # file's unit
    geoms = []
    for i, (name, (x1, x2, species, age)) in enumerate(SQUARES.items()):
        geoms.append(box(x1, x2))
        frame.loc[frame.index[i], "XIAO_BAN"] = f"9{i + 1:02d}"
        frame.loc[frame.index[i], "LIN_BAN"] = "0999"
        frame.loc[frame.index[i], "YOU_SHI_SZ"] = species
        frame.loc[frame.index[i], "PINGJUN_NL"] = age
        frame.loc[frame.index[i], "DI_LEI"] = "乔木林地"
        frame.loc[frame.index[i], "BEIZHU"] = name
    out = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=CRS)
    out["MIAN_JI"] = out.geometry.area * ratio
    return write_gpkg(out, path)


def water_layer(path: Path, driver: str = "GPKG") -> Path:
    frame = gpd.GeoDataFrame(
        {"name": ["保护区 A", "保护区 B"]},
        geometry=[box(x1, x2, -50.0, 150.0) for x1, x2 in LAYER_RECTANGLES],
        crs=CRS,
    )
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, driver=driver)
    return path


def stand_keys(engine: Engine) -> dict[str, str]:
    """S1 … S4 → their stand keys (the file's 林班 0999, 小班 901 … 904)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT stand_key, subcompartment FROM stand WHERE compartment = '0999' AND is_current"
            )
        ).all()
    by_sub = {str(sub): str(key) for key, sub in rows}
    return {name: by_sub[f"9{i + 1:02d}"] for i, name in enumerate(SQUARES)}


def squares_project(engine: Engine, folder: Path, code: str = "LB1") -> dict[str, str]:
    """Import the four stands and put them in a draft project; returns S1 … S4 → keys."""
    import_inventory(
        engine, squares_inventory(folder / "squares.gpkg"), ImportOptions(inventory_year=2025)
    )
    keys = stand_keys(engine)
    with session_scope(engine) as session:
        create_project(session, STAFF, code=code, name="标签测试项目", methodology="AR-CM-003-V01",
                       developer="双牌县林业局", start_date=date(2026, 1, 1), crediting_years=30)  # fmt: skip
        add_stands(session, STAFF, code, "key=" + "|".join(keys.values()), TOLERANCE_M2)
    return keys
