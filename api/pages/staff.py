"""The bureau's and the verifiers' pages: an inventory upload with its per-record report
(``/account/inventory``), a new project from stand filters or a selection drawn on the map
(``/account/projects/new``), and the lifecycle forms of a project page
(``partials/project_actions.html``) — submit, validate, register, send back, the start
measurement and monitoring periods, verification, issuance — each with its comment.

Each form's handler calls the API's route function (the same service, the same checks: who may
do what is decided in the registry); a refusal is a bilingual page; an upload is bounded as the
API's are (:mod:`registry.uploads`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.deps import RegistryDep
from api.pages.forms import (
    FormCallerDep,
    FormKey,
    form_value,
    see_other,
    signed_in,
    whole_number,
)
from api.pages.rendering import render
from api.pages.session import page_csrf
from api.routes import credits, inventory, projects
from api.schemas import IssueCreate, ProjectAction, ProjectCreate, StandSelection, VerifyCreate
from methodologies.catalogue import CATALOGUE
from registry.actors import Actor, require_any_role
from registry.carbon_model import refuse_server_files
from registry.errors import ImportRejected, Invalid, SelectionError
from registry.projects import add_stands, create_project
from registry.public import data_as_of
from registry.stands import IMPORTERS

__all__ = ["router", "selection_of"]

router = APIRouter(include_in_schema=False)
SCOPES = ("stands", "township", "village", "county")
UPLOAD_FOLDER = re.compile(r"[^\s：:]*tanhui-upload-[^/\\\s]+[/\\]")  # where an upload was received


def _staff_page(
    request: Request, registry: Any, template: str, extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    """A page for the registry's importers (bureau staff, admins); others are refused."""

    def read(session: Session, actor: Actor) -> dict[str, Any]:
        require_any_role(actor, IMPORTERS, "使用林业局页面 / use the bureau's pages")
        return {"who": actor, "as_of": data_as_of(session)}

    found = signed_in(request, registry, read)
    if isinstance(found, Response):
        return found
    as_of = found.pop("as_of")
    context = {**found, "nav": "account", "csrf": page_csrf(request, registry), **(extra or {})}
    return render(request, registry, template, context, status_code=status, as_of=as_of)


# -- inventory uploads ---------------------------------------------------------------------------


@router.get("/account/inventory", response_class=HTMLResponse)
def inventory_form(request: Request, registry: RegistryDep) -> Response:
    """上传小班调查数据 (bureau staff)."""
    return _staff_page(request, registry, "inventory.html", {"scopes": SCOPES})


@router.post("/account/inventory", response_class=HTMLResponse)
def inventory_upload(
    request: Request, registry: RegistryDep, caller: FormCallerDep,
    file: Annotated[UploadFile | None, File()] = None,
    inventory_year: Annotated[str, Form(max_length=4)] = "",
    crs: Annotated[str, Form(max_length=40)] = "",
    scope: Annotated[str, Form(max_length=20)] = "",
    retire_missing: Annotated[str, Form(max_length=5)] = "",
) -> Response:  # fmt: skip
    """Import the upload (all or nothing) and show its report as a table: a refused file's
    errors by record (which record, which field, why, in Chinese and English), or the warnings
    and repairs of an imported one."""
    if file is None or not file.filename:
        raise Invalid("请选择要上传的文件。", "choose a file to upload.")
    if scope and scope not in SCOPES:
        raise Invalid(f"未知范围 {scope!r}。", f"unknown scope {scope!r}.")
    year = (
        whole_number(inventory_year, "调查年度", "the inventory year") if inventory_year else None
    )
    if year is not None and not 1950 <= year <= 2100:
        raise Invalid(f"调查年度 {year} 不在 1950–2100 之间。", f"inventory year {year} is outside 1950–2100.")  # fmt: skip
    try:
        done = inventory.upload(caller, file, year, crs.strip() or None, retire_missing == "true",
                                scope or None)  # type: ignore[arg-type]  # fmt: skip
    except ImportRejected as exc:
        report = exc.report if isinstance(exc.report, dict) else None
        refused = (_without_folder(exc.message_zh), _without_folder(exc.message_en))
        return _staff_page(request, registry, "inventory.html", {
            "scopes": SCOPES, "refused": refused, "report": report,
            "filename": file.filename,
        }, status=422)  # fmt: skip
    return _staff_page(request, registry, "inventory.html", {
        "scopes": SCOPES, "imported": done, "report": done["report"], "filename": file.filename,
    })  # fmt: skip


def _without_folder(message: str) -> str:
    """A message naming the upload by its file name, not the server's folder it was put in."""
    return UPLOAD_FOLDER.sub("", message)


# -- new projects --------------------------------------------------------------------------------


def selection_of(filters: str, stand_keys: str) -> str:
    """A stand selection in the command line's syntax from a form: the filters as written
    (``township=…,species_group=…``) and/or the stand keys drawn on the map (one per line or
    comma-separated) as ``key=a|b|…`` — both given: stands that meet both. Files are never
    named over HTTP (``@file``, ``polygon=``)."""
    text = filters.strip()
    refuse_server_files(text)
    keys = [k.strip() for k in stand_keys.replace(",", "\n").splitlines() if k.strip()]
    bad = [k for k in keys if "|" in k or "=" in k]
    if bad:
        raise SelectionError(f"小班编号不能含 | 或 =：{bad[0]!r}", f"a stand key cannot hold | or =: {bad[0]!r}")  # fmt: skip
    parts = [text] if text else []
    if keys:
        parts.append("key=" + "|".join(dict.fromkeys(keys)))
    if not parts:
        raise SelectionError(
            "请填写小班筛选条件，或在地图上按住 Shift 拖框选择小班。",
            "give stand filters, or draw a box on the map with Shift held to select stands.",
        )
    return ",".join(parts)


@router.get("/account/projects/new", response_class=HTMLResponse)
def project_form(request: Request, registry: RegistryDep) -> Response:
    """新建项目: the project's particulars and its stands (filters or a map selection)."""
    from api.pages.map import county_map_context

    methodologies = [(code.value, record.name) for code, record in CATALOGUE.items()]
    county_map, _ = county_map_context(request, registry)
    return _staff_page(request, registry, "project_new.html", {
        "methodologies": methodologies, "today": date.today().isoformat(), **county_map,
    })  # fmt: skip


@router.post("/account/projects/new")
def project_create(
    caller: FormCallerDep,
    code: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    methodology: Annotated[str, Form(max_length=40)] = "",
    developer: Annotated[str, Form(max_length=200)] = "",
    start_date: Annotated[str, Form(max_length=10)] = "",
    crediting_years: Annotated[str, Form(max_length=3)] = "30",
    filters: Annotated[str, Form(max_length=5000)] = "",
    stand_keys: Annotated[str, Form(max_length=2_000_000)] = "",
) -> Response:  # fmt: skip
    """The draft and its stands in one transaction (a refusal — a taken code, double counting,
    a selection of nothing — leaves no draft behind); then the project's page."""
    body = form_value(ProjectCreate, code=code.strip(), name=name.strip(), methodology=methodology,
                      developer=developer.strip(), start_date=start_date or None,
                      crediting_years=whole_number(crediting_years, "计入期", "the crediting period"))  # fmt: skip
    selection = selection_of(filters, stand_keys)
    tolerance = caller.registry.settings.overlap_tolerance_m2

    def work(session: Session, actor: Actor) -> list[str]:
        create_project(session, actor, code=body.code, name=body.name,
                       methodology=body.methodology, developer=body.developer,
                       start_date=body.start_date, crediting_years=body.crediting_years)  # fmt: skip
        keys = add_stands(session, actor, body.code, selection, tolerance)
        if not keys:
            raise SelectionError(f"选择条件 {selection[:200]!r} 没有选中任何小班。",
                                 f"the selection {selection[:200]!r} selects no stand.")  # fmt: skip
        return keys

    caller.write(work)
    return see_other(f"/projects/{body.code}")


# -- a project's lifecycle (the forms of partials/project_actions.html) ---------------------------


@router.post("/projects/{code}/stands")
def project_stands(
    code: str, caller: FormCallerDep,
    filters: Annotated[str, Form(max_length=5000)] = "",
    stand_keys: Annotated[str, Form(max_length=2_000_000)] = "",
) -> Response:  # fmt: skip
    """Add stands to a draft (filters or a map selection)."""
    selection = selection_of(filters, stand_keys)
    if len(selection) > 5000:  # never cut: a key cut in two could be another stand's
        raise SelectionError(
            f"选择条件过长（{len(selection)} 个字符，上限 5000）：请分几次加入，或改用筛选条件。",
            f"the selection is too long ({len(selection)} characters, at most 5000): add the "
            "stands in several steps, or use filters.",
        )
    projects.add(code, form_value(StandSelection, selection=selection), caller)
    return see_other(f"/projects/{code}#actions")


@router.post("/projects/{code}/evidence")
def project_evidence(
    code: str, caller: FormCallerDep, file: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Applicability evidence of a draft's stands (a table: all rows or none)."""
    if file is None or not file.filename:
        raise Invalid("请选择要上传的证据表。", "choose the evidence table to upload.")
    projects.evidence(code, caller, file)
    return see_other(f"/projects/{code}#actions")


def _day(text: str, zh: str, en: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise Invalid(f"{zh}须为日期（年-月-日），收到 {text!r}。", f"{en} must be a date (YYYY-MM-DD), not {text!r}.") from exc  # fmt: skip


@router.post("/projects/{code}/start-measurement")
def project_start_measurement(
    code: str, caller: FormCallerDep, file: Annotated[UploadFile | None, File()] = None,
    measured_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    """The permanent plots measured at the start of the crediting period (a plot workbook)."""
    if file is None or not file.filename:
        raise Invalid("请选择样地表（xlsx）。", "choose the plot workbook (xlsx).")
    projects.start_measurement(
        code, caller, file, _day(measured_on, "测定日期", "the measurement date")
    )
    return see_other(f"/projects/{code}#actions")


@router.post("/projects/{code}/monitoring")
def project_monitoring(
    code: str, caller: FormCallerDep, file: Annotated[UploadFile | None, File()] = None,
    start: Annotated[str, Form(max_length=10)] = "",
    end: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    """A monitoring period: the same plots remeasured (a plot workbook)."""
    if file is None or not file.filename:
        raise Invalid("请选择样地复测表（xlsx）。", "choose the remeasured plot workbook (xlsx).")
    projects.monitoring(code, caller, file, _day(start, "开始日期", "the start"), _day(end, "结束日期", "the end"))  # fmt: skip
    return see_other(f"/projects/{code}#actions")


@router.post("/projects/{code}/verify")
def project_verify(
    code: str, caller: FormCallerDep,
    quantity: Annotated[str, Form(max_length=30)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    override_reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    """A verifier verifies the open monitoring period (t CO2e), with its comment."""
    try:
        tonnes = float(quantity.strip())
    except ValueError as exc:
        raise Invalid(f"核证量须为数字（吨 CO2e），收到 {quantity!r}。",
                      f"the verified quantity must be a number (t CO2e), not {quantity!r}.") from exc  # fmt: skip
    body = form_value(VerifyCreate, quantity=tonnes, comment=comment.strip(),
                      override_reason=override_reason.strip())  # fmt: skip
    projects.verify(code, body, caller)
    return see_other(f"/projects/{code}#actions")


@router.post("/projects/{code}/issue")
def project_issue(code: str, caller: FormCallerDep, form_key: FormKey) -> Response:
    """An admin issues the verified period's credits (the registry's buffer share)."""
    credits.issue(form_value(IssueCreate, project=code), form_key, caller)
    return see_other(f"/projects/{code}#actions")


@router.post("/projects/{code}/actions/{action}")
def project_action(
    code: str, action: str, caller: FormCallerDep,
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    """Submit, validate, register or send back, with a comment (kept in the project's history
    with who acted)."""
    if action not in ("submit", "validate", "register", "reject"):
        raise Invalid(f"未知操作 {action!r}。", f"unknown action {action!r}.")
    projects.act(code, action, form_value(ProjectAction, comment=comment.strip()), caller)  # type: ignore[arg-type]
    return see_other(f"/projects/{code}#actions")
