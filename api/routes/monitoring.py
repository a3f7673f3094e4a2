"""Remote-sensing monitoring (遥感监测) over HTTP: scenes uploaded as GeoTIFFs (bounded like
every upload, :mod:`registry.uploads`) and listed, detection runs between two scenes and their
flags (bureau staff, admin; verifiers read the flags and their evidence), the review of a flag
(an independent verifier, with an ``Idempotency-Key``), zonal statistics over the stands, and
the confirmed reversals — public, facts only (:mod:`registry.public.reversals`: no owner, no
reviewer, no free-text reason). Roles are decided by the services
(:mod:`registry.remote_sensing`)."""

from __future__ import annotations

import math
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, IdempotencyKey, RegistryDep, scoped_key
from api.uploaded import received
from registry.actors import require_any_role
from registry.uploads import RASTER_TYPES

__all__ = ["router"]

router = APIRouter(prefix="/monitoring", tags=["monitoring 遥感监测"])
NAME = Field(min_length=1, max_length=100)
CODE = Field(default=None, min_length=1, max_length=64)


class RunCreate(BaseModel):
    """A detection run between two registered scenes (names); the thresholds default to
    ``gis_data.disturbance.DetectionParameters`` (UNVERIFIED until the bureau calibrates)."""

    model_config = ConfigDict(extra="forbid")
    before: str = NAME
    after: str = NAME
    drop: float | None = Field(default=None, gt=0, le=2, description="index units")
    min_patch_m2: float | None = Field(default=None, ge=0, le=1e8, description="m²")
    min_stand_m2: float | None = Field(default=None, ge=0, le=1e8, description="m²")
    project: str | None = CODE


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(pattern=r"^(confirm|dismiss)$")
    reason: str = Field(min_length=1, max_length=2000)
    cause: str | None = Field(default=None, max_length=40)
    event_date: date | None = None


@router.post("/scenes", status_code=201)
def add_scene(
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="GeoTIFF (.tif/.tiff) of one index")],
    acquired_on: Annotated[date, Form()],
    name: Annotated[str | None, Form(min_length=1, max_length=100)] = None,
    index: Annotated[str, Form(pattern=r"^(ndvi|nbr|evi)$")] = "ndvi",
) -> dict[str, Any]:  # fmt: skip
    """登记遥感影像（管理员、局工作人员） / register a scene (admin, bureau staff): the file is
    bounded before it is read, refused if GDAL cannot read it as a raster with a CRS, and kept
    under its SHA-256; the same name and bytes again is a no-op."""
    from registry.remote_sensing.scenes import OPERATORS, register_scene

    settings = caller.registry.settings
    actor = caller.read(lambda s, a: a)
    require_any_role(actor, OPERATORS, "登记遥感影像 / register a scene")
    folder = Path(tempfile.mkdtemp(prefix="tanhui-scene-"))
    try:
        path = received(file, settings, folder, RASTER_TYPES)
        scene = caller.write(lambda s, a: register_scene(
            s, a, path, acquired_on, name, index, store=settings.scene_store))  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {**scene.to_dict(), "replayed": scene.replayed}


@router.get("/scenes")
def scenes(caller: CallerDep) -> list[dict[str, Any]]:
    """已登记的影像 / the registered scenes (admin, bureau staff, verifiers)."""
    from registry.remote_sensing.scenes import list_scenes

    def work(session: Any, actor: Any) -> list[dict[str, Any]]:
        return [v.to_dict() for v in list_scenes(session, actor)]

    return caller.read(work)


@router.post("/runs", status_code=201)
def run(body: RunCreate, caller: CallerDep) -> dict[str, Any]:
    """运行扰动检测（管理员、局工作人员） / detect disturbances between two scenes: the run
    with its flags (one per flagged stand, with evidence)."""
    from gis_data.disturbance import DetectionParameters
    from registry.remote_sensing.runs import run_detection

    given = {k: v for k, v in body.model_dump(include={"drop", "min_patch_m2", "min_stand_m2"})
             .items() if v is not None}  # fmt: skip
    params = DetectionParameters(**given)
    store = caller.registry.settings.scene_store
    found = caller.write(lambda s, a: run_detection(
        s, a, body.before, body.after, params, body.project, store=store))  # fmt: skip
    return found.to_dict()


@router.get("/flags")
def flags(
    caller: CallerDep,
    project: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    status: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """扰动标记（管理员、局工作人员、核证员） / the disturbance flags (admin, staff, verifiers)."""
    from registry.remote_sensing.runs import list_flags

    return [f.to_dict() for f in caller.read(lambda s, a: list_flags(s, a, project, status))]


@router.get("/flags/{flag_id}/evidence.png", response_class=Response)
def evidence(flag_id: int, caller: CallerDep) -> Response:
    """标记的证据图（PNG，SHA-256 已核对） / a flag's evidence map (its SHA-256 checked)."""
    from registry.errors import NotFound
    from registry.remote_sensing.runs import flag_evidence

    if not 0 < flag_id < 2**31:
        raise NotFound(f"没有编号为 {flag_id} 的扰动标记。", f"no disturbance flag {flag_id}.")
    png = caller.read(lambda s, a: flag_evidence(s, a, flag_id))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.post("/flags/{flag_id}/review")
def review(
    flag_id: int, body: ReviewCreate, key: IdempotencyKey, caller: CallerDep
) -> dict[str, Any]:
    """复核扰动标记（独立核证员） / review a flag (a verifier independent of its project):
    dismiss, or confirm a reversal — its loss cancelled from the buffer pool."""
    from registry.errors import NotFound
    from registry.remote_sensing.reversals import review_flag

    if not 0 < flag_id < 2**31:
        raise NotFound(f"没有编号为 {flag_id} 的扰动标记。", f"no disturbance flag {flag_id}.")
    found = caller.write(lambda s, a: review_flag(
        s, a, scoped_key(a, key), flag_id, body.decision, body.reason, body.cause,
        body.event_date))  # fmt: skip
    return {**found.to_dict(), "replayed": found.replayed}


@router.get("/reversals")
def reversals(
    registry: RegistryDep,
    project: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """已确认的逆转（公开） / the confirmed reversals (public: facts only, no owner)."""
    from registry.public.reversals import public_reversals

    return [r.to_dict() for r in registry.read(lambda s: public_reversals(s, project))]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


@router.get("/zonal")
def zonal(
    caller: CallerDep,
    scene: Annotated[str, Query(min_length=1, max_length=100)],
    stat: Annotated[list[str] | None, Query(max_length=8)] = None,
    threshold: Annotated[float | None, Query(ge=-1e6, le=1e6)] = None,
    project: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """小班栅格统计（管理员、局工作人员、核证员） / zonal statistics of a registered scene over
    the stands (exact-area weighted): one row per stand."""
    from registry.errors import Invalid
    from registry.remote_sensing.runs import READERS
    from registry.remote_sensing.scenes import find_scene
    from registry.remote_sensing.zonal import zonal_for_stands

    store = caller.registry.settings.scene_store
    if threshold is not None and not math.isfinite(threshold):
        raise Invalid("阈值须为有限数。", "the threshold must be a finite number.")

    def work(session: Any, actor: Any) -> list[dict[str, Any]]:
        require_any_role(actor, READERS, "计算小班栅格统计 / zonal statistics over stands")
        find_scene(session, scene)  # a registered scene only: never a path on the server
        table = zonal_for_stands(session, actor, scene, stat or [], threshold, project,
                                 store=store)  # fmt: skip
        return [{str(k): _plain(v) for k, v in row.items()} for row in table.to_dict("records")]

    return caller.read(work)
