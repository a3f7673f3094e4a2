"""Zonal statistics of a raster over the registry's stands (``tanhui monitor zonal``): a
registered scene (its SHA-256 checked) or a file, read by ``gis_data.zonal.zonal_stats``
(exact-area weighted, eqs. Z1–Z4; stands reprojected to the raster's CRS)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from gis_data.errors import GisDataError
from gis_data.zonal import ZonalOptions, zonal_stats
from registry.actors import Actor, require_any_role
from registry.errors import Invalid, NotFound
from registry.remote_sensing.runs import READERS
from registry.remote_sensing.scenes import find_scene, scene_file
from registry.remote_sensing.stand_frame import stand_frame

__all__ = ["STATS", "zonal_for_stands"]

STATS = ("mean", "p10", "p50", "p90", "frac_above", "valid_share")


def _raster(session: Session, raster: str, store: Path | None) -> Path:
    """A registered scene's checked file, else the file at ``raster``."""
    try:
        return scene_file(session, find_scene(session, raster), store)
    except NotFound:
        path = Path(raster)
        if path.is_file():
            return path
        raise NotFound(f"{raster!r} 既不是已登记的影像名称，也不是文件。",
                       f"{raster!r} is neither a registered scene nor a file.") from None  # fmt: skip


def zonal_for_stands(
    session: Session, actor: Actor, raster: str, stats: Sequence[str], threshold: float | None,
    project: str | None, progress: Callable[[int, int], None] | None = None,
    store: Path | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per stand (``stand_key``, ``project_code`` and the ``stats`` asked for, of
    :data:`STATS`; ``pNN`` any percentile 0–100); ``frac_above`` needs ``threshold``."""
    require_any_role(actor, READERS, "计算小班栅格统计 / zonal statistics over stands")
    wanted, percentiles = [], []
    for s in list(stats) or ["mean", "valid_share"]:
        if s.startswith("p") and s[1:].replace(".", "", 1).isdigit():
            percentiles.append(float(s[1:]))
            wanted.append(f"p{float(s[1:]):g}")  # the name zonal_stats gives it
            continue
        if s not in ("mean", "frac_above", "valid_share", "valid_area", "cells"):
            raise Invalid(f"未知统计量 {s!r}（可用：mean、pNN、frac_above、valid_share）。",
                          f"unknown statistic {s!r} (one of: mean, pNN, frac_above, valid_share).")  # fmt: skip
        wanted.append(s)
    if "frac_above" in wanted and threshold is None:
        raise Invalid("frac_above 需要 --threshold。", "frac_above needs --threshold.")
    if project is not None:
        from registry.projects.core import find_project

        find_project(session, project)
    stands = stand_frame(session, project)
    if stands.empty:
        raise Invalid("没有可统计的小班。", "no stands to read the raster over.")
    path = _raster(session, raster, store)
    options = ZonalOptions(percentiles=tuple(percentiles), threshold=threshold)
    try:
        table = zonal_stats(stands, path, options, progress=progress)
    except GisDataError as exc:
        raise Invalid(exc.message_zh, exc.message_en) from exc
    out = stands[["stand_key", "project_code"]].copy()
    for c in wanted:
        if c not in table.columns:
            raise Invalid(f"统计量 {c!r} 未算出。", f"statistic {c!r} was not computed.")
        out[c] = table[c].to_numpy()
    result: pd.DataFrame = out.reset_index(drop=True)
    return result
