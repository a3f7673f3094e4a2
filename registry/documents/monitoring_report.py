"""The monitoring report (监测报告) of one monitoring period, built as a :class:`Document`.

Every figure is the registry's: the period's stored results (removals, uncertainty, baseline,
verified quantity), the ledger's issuance, and per-plot values recomputed from the stored plot
CSVs with the methodology's own functions (:func:`methodologies.expost.estimate_change`, the
function :func:`registry.projects.monitoring.submit_monitoring` used). Where the recomputed
change differs from the stored one, the report says so in a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from methodologies import catalogue
from methodologies.provenance import EQUATIONS
from methodologies.uncertainty import t_value
from registry.documents.model import (
    Block,
    Document,
    Equation,
    KeyFigure,
    Note,
    Paragraph,
    Section,
    Table,
    fmt,
)
from registry.documents.period_data import (
    PeriodData,
    baseline_parameters,
    load_disturbances,
    load_period,
    plot_order,
    registered_at,
)
from registry.models import InventoryBatch, ProjectEvent, ProjectStand, StandLineage
from registry.public.library import verifier_organisations
from registry.public.withhold import withhold_household_names

__all__ = ["build_monitoring_report"]

T = "t CO2e"
STATUS_ZH = {"submitted": "待核证 submitted", "verified": "已核证 verified",
             "rejected": "已退回 rejected"}  # fmt: skip
LINEAGE_ZH = {"split": "分割 split", "merge": "合并 merge", "renumbered": "重新编号 renumbered",
              "reshaped": "边界调整 reshaped", "retired": "注销 retired"}  # fmt: skip


def _pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.2%}"


@dataclass(frozen=True)
class _Public:
    """The words a public report may show, household names and contacts withheld: the
    project's name and developer, the verifier's override reason, the flags' messages
    (zh, en) and the verifier's organisation (never the login name)."""

    name: str
    developer: str
    override: str
    verifier: str
    flags: tuple[tuple[str, str], ...]


def _verifier_organisation(session: Session, data: PeriodData) -> str:
    """The organisation of the verifier of the period, from the lifecycle's ``verify`` events
    (the period stores the user's name, the event ``user@organisation``); "" when unknown."""
    user = data.period.verifier
    if not user:
        return ""
    actors = session.execute(
        select(col(ProjectEvent.actor))
        .where(col(ProjectEvent.project_id) == data.project.id)
        .where(col(ProjectEvent.action) == "verify")
        .order_by(col(ProjectEvent.id))
    ).scalars()  # fmt: skip
    return verifier_organisations(str(a) for a in actors).get(user, "")


def _public(session: Session, data: PeriodData) -> _Public:
    """Every private-prone text of the report through one withholding call."""
    p, m = data.project, data.period
    texts = [p.name, p.developer, m.override_reason or "", _verifier_organisation(session, data)]
    for f in data.flags:
        texts += [str(f.get("message_zh", "")), str(f.get("message_en", ""))]
    clean = withhold_household_names(session, texts)
    messages = clean[4:]
    return _Public(
        clean[0], clean[1], clean[2], clean[3],
        tuple(zip(messages[0::2], messages[1::2], strict=True)),
    )  # fmt: skip


def _shown(x: float, digits: int) -> float:
    """``x`` as a reader reads it back from the text shown with ``digits`` decimals."""
    return float(f"{x:.{digits}f}")


def _decimals(x: float, most: int = 6) -> int:
    """The fewest decimals (at least 2, at most ``most``) that show ``x`` as stored."""
    for d in range(2, most + 1):
        if math.isclose(_shown(x, d), x, rel_tol=1e-12, abs_tol=1e-12):
            return d
    return most


def _reproducing(total: float, recompute: Callable[[int], float], first: int) -> int:
    """The fewest decimals (from ``first``, at most 12) for the worked numbers of an equation
    so that a reader recomputing it from the shown numbers gets the shown total (3 decimals)."""
    for d in range(first, 13):
        if fmt(recompute(d), 3) == fmt(total, 3):
            return d
    return 12


def _header(data: PeriodData, public: _Public) -> Section:
    p, m = data.project, data.period
    rows = (
        ("项目编号 Project code", p.code),
        ("项目名称 Name", public.name),
        ("方法学 Methodology", f"{catalogue.methodology(p.methodology).name}"),
        ("项目业主 Developer", public.developer),
        ("项目面积 Area", fmt(p.area_ha, 1, "ha")),
        ("监测期 Period", f"第 {m.period_no} 期 No. {m.period_no}"),
        ("起止日期 Dates", f"{m.start_date.isoformat()} – {m.end_date.isoformat()}"),
        ("状态 Status", STATUS_ZH.get(m.status, m.status)),
        ("期初测定 Start of the change", data.start_label),
        ("样地数据摘要 Plot data SHA-256", m.plots_digest),
    )
    return Section(
        "1",
        "项目与监测期 Project and monitoring period",
        (Table("表 1 项目与监测期 Project and period", ("项目 Item", "内容 Value"), rows),),
    )


def _strata(data: PeriodData) -> Section:
    end = data.change.end.strata
    start_n: dict[Any, Any] = dict(
        zip(data.change.start.strata["stratum"], data.change.start.strata["n_plots"], strict=True)
    )
    records: list[dict[str, Any]] = end.to_dict(orient="records")  # type: ignore[assignment]
    rows = tuple(
        (str(r["stratum"]), fmt(float(r["area_ha"]), 2), str(int(start_n.get(r["stratum"], 0))),
         str(int(r["n_plots"])), fmt(float(r["mean_tco2e_per_ha"]), 2))
        for r in records
    )  # fmt: skip
    total_area = float(end["area_ha"].sum())
    n_trees = int(data.change.end.plots["n_trees"].sum())
    return Section(
        "2",
        "样地与分层 Plots and strata",
        (
            Paragraph(
                f"本监测期在 {len(end)} 个层的 {int(end['n_plots'].sum())} 个固定样地上测定，"
                f"共 {n_trees} 株（丛/竿）；各层面积合计 {fmt(total_area, 2)} 公顷。"
                f" {int(end['n_plots'].sum())} permanent plots in {len(end)} strata, "
                f"{n_trees} trees or culms measured; strata total {fmt(total_area, 2)} ha."
            ),
            Table(
                "表 2 分层与样地数 Strata and plots",
                (
                    "层 Stratum",
                    "面积 Area (ha)",
                    "期初样地数 Plots (start)",
                    "期末样地数 Plots (end)",
                    "期末均值 Mean end (t CO2e/ha)",
                ),
                rows,
                numeric=(1, 2, 3, 4),
            ),
        ),
    )


def _measurements(data: PeriodData) -> Section:
    start = data.change.start.plots.set_index("plot_id")
    end = data.change.end.plots.set_index("plot_id")
    ids = sorted(set(start.index) | set(end.index), key=plot_order)
    rows: list[tuple[str, ...]] = []
    for pid in ids:
        s = start["tco2e_per_ha"].get(pid)
        e = end["tco2e_per_ha"].get(pid)
        stratum = end["stratum"].get(pid, start["stratum"].get(pid))
        d = None if s is None or e is None else float(e) - float(s)
        rows.append((str(pid), str(stratum), fmt(None if s is None else float(s), 3),
                     fmt(None if e is None else float(e), 3), fmt(d, 3)))  # fmt: skip
    blocks: list[Block] = [
        Paragraph(
            "每株碳储量按方法学的材积（或竹秆生物量）与碳计量公式计算，按样地求和并除以样地面积"
            "（t CO2e/公顷）。Per tree (or culm) carbon by the methodology's equations, summed "
            "per plot and divided by the plot area (t CO2e/ha)."
        ),
        Table(
            "表 3 各样地两次测定 Plots at both measurements",
            (
                "样地 Plot",
                "层 Stratum",
                "期初 Start (t CO2e/ha)",
                "期末 End (t CO2e/ha)",
                "变化 Change (t CO2e/ha)",
            ),
            tuple(rows),
            numeric=(2, 3, 4),
            notes=(f"期初 start: {data.start_label}；期末 end: 第 {data.period.period_no} 监测期",),
        ),
    ]
    return Section("3", "两次测定 Measurements at both times", tuple(blocks))


def _removals(data: PeriodData, baseline: dict[str, dict[str, Any]]) -> Section:
    """§4: the change and the net removals, worked with as many decimals as a reader needs to
    recompute each shown total from the shown numbers."""
    m, prov, ch = data.period, data.provenance, data.change
    change = float(m.change_tco2e if m.change_tco2e is not None else prov["change_tco2e"])
    kept = float(prov.get("conservative_change_tco2e", ch.conservative_change_tco2e))
    terms = [
        (float(r["area_ha"]), float(r["mean_tco2e_per_ha"]))
        for r in (_paired_strata(data).to_dict(orient="records") if ch.method == "paired" else [])
    ]
    area_digits = [_decimals(a) for a, _ in terms]
    mean_digits = _reproducing(
        change,
        lambda d: sum(_shown(a, da) * _shown(x, d) for (a, x), da in zip(terms, area_digits,
                                                                       strict=True)),
        4,
    )  # fmt: skip
    stratum_terms = " + ".join(
        f"{fmt(a, da)} × {fmt(x, mean_digits)}"
        for (a, x), da in zip(terms, area_digits, strict=True)
    )
    blocks: list[Block] = []
    if ch.method == "paired":
        eq = EQUATIONS["change_uncertainty_paired"]
        blocks.append(
            Equation(
                f"{eq.reference}", eq.formula,
                f"ΔĈ = {stratum_terms} = {fmt(change, 3)} t CO2e",
                ("A_h: 层面积 stratum area (ha), strata CSV of the period",
                 "d̄_h: 层内样地变化均值 mean per-plot change (t CO2e/ha), 表 3"),
            )
        )  # fmt: skip
    else:
        eq = EQUATIONS["change_uncertainty_independent"]
        c2, c1 = float(prov["end_stock_tco2e"]), float(prov["start_stock_tco2e"])
        d = _reproducing(change, lambda d: _shown(c2, d) - _shown(c1, d), 3)
        blocks.append(
            Equation(
                eq.reference, eq.formula,
                f"ΔĈ = {fmt(c2, d)} − {fmt(c1, d)} = {fmt(change, 3)} t CO2e",
                ("Ĉ₁, Ĉ₂: 期初与期末分层估计 stratified estimates at start and end (t CO2e)",),
            )
        )  # fmt: skip
    net = EQUATIONS["net_removals"]
    years = ", ".join(str(y) for y in prov.get("baseline_years", [])) or "—"
    bsl, lk = float(m.baseline_tco2e), float(m.leakage_tco2e)
    d = _reproducing(
        float(m.removals_tco2e), lambda d: _shown(kept, d) - _shown(bsl, d) - _shown(lk, d), 3
    )
    blocks.append(
        Equation(
            net.reference,
            "ΔC_AR = ΔC_kept − ΔC_BSL − LK",
            f"ΔC_AR = {fmt(kept, d)} − {fmt(bsl, d)} − {fmt(lk, d)} "
            f"= {fmt(m.removals_tco2e, 3)} t CO2e",
            ("ΔC_kept: 扣减不确定性后的碳储量变化 change after the uncertainty deduction (§5)",
             f"ΔC_BSL: 基线碳储量变化，登记时冻结的事前估计（年份 {years}）"
             "baseline change from the ex-ante frozen at registration",
             f"LK: 泄漏 leakage = {fmt(lk, 3)} t CO2e，登记簿存储的本期值；方法学适用条件排除活动"
             f"转移与燃烧，泄漏计为 0（{net.reference}）。The period's stored leakage: the "
             "methodology's applicability conditions exclude displaced activities and burning, "
             "so leakage is counted as 0."),
        )
    )  # fmt: skip
    if baseline:
        blocks.append(
            Note("unverified",
                 f"ΔC_BSL（{fmt(bsl, 3)} t CO2e）来自登记时冻结的事前估计，所用参数来源未核实，"
                 f"净碳汇量因此依赖这些参数：{', '.join(baseline)}。UNVERIFIED: the baseline "
                 "change, and so the net removals, rest on these parameters of the frozen "
                 "ex-ante, whose sources are not verified.")
        )  # fmt: skip
    recomputed = ch.change_tco2e
    if not math.isclose(recomputed, change, rel_tol=1e-9, abs_tol=1e-6):
        blocks.append(
            Note("warning",
                 f"由存储的样地数据重算的变化量 {fmt(recomputed, 3)} 与登记簿存储的 {fmt(change, 3)} "
                 f"t CO2e 不一致。The change recomputed from the stored plots ({fmt(recomputed, 3)}) "
                 f"differs from the stored {fmt(change, 3)} t CO2e.")
        )  # fmt: skip
    return Section("4", "事后碳汇量 Ex-post removals", tuple(blocks))


def _paired_strata(data: PeriodData) -> Any:
    """Per stratum: area and mean per-plot difference (t CO2e/ha), from the paired plots."""
    pairs = data.change.pairs
    areas = data.end_strata.set_index("stratum")["area_ha"].astype(float)
    grouped = pairs.groupby("stratum")["difference_tco2e_per_ha"].mean().reset_index()
    grouped["area_ha"] = grouped["stratum"].map(areas)
    return grouped.rename(columns={"difference_tco2e_per_ha": "mean_tco2e_per_ha"})


def _uncertainty(data: PeriodData) -> tuple[Section, float]:
    m, prov, ch = data.period, data.provenance, data.change
    change = float(prov["change_tco2e"])
    half = float(prov["change_half_width_tco2e"])
    u = m.change_uncertainty
    fraction = float(prov["deduction_fraction"])
    kept = float(prov["conservative_change_tco2e"])
    deducted = fraction * half
    df = float(prov["change_df"])
    eq = EQUATIONS["conservative_deduction"]
    rule = ch.deduction.rule
    blocks: list[Block] = [
        Paragraph(
            f"扣减规则：{rule.text}（{rule.source}）。The deduction rule: {rule.text} "
            f"({rule.source}). 90 % 置信区间半宽 half-width = t(0.95, {df:.0f}) × SE = "
            f"{t_value(df):.4f} × SE = {fmt(half, 3)} t CO2e."
        ),
        Equation(
            eq.reference, eq.formula,
            f"U = {fmt(half, 3)} / |{fmt(change, 3)}| = {_pct(u)} → f = {fraction:g}；"
            f"kept = {fmt(change, 3)} − {fraction:g} × {fmt(half, 3)} = {fmt(kept, 3)} t CO2e",
            (f"扣减量 deduction = {fmt(deducted, 3)} t CO2e",),
        ),
    ]  # fmt: skip
    if not rule.verified:
        blocks.append(Note("unverified", f"扣减规则 {rule.describe()}"))
    return Section("5", "不确定性与扣减 Uncertainty and deduction", tuple(blocks)), deducted


def _plausibility(data: PeriodData, public: _Public) -> Section:
    blocks: list[Block] = []
    eq = EQUATIONS["plausibility_gate"]
    blocks.append(Paragraph(f"合理性检查 Plausibility gate: {eq.formula}（{eq.reference}）。"))
    if not data.flags:
        blocks.append(Paragraph("本监测期未触发合理性标记。No plausibility flag was raised."))
    for f, (zh, en) in zip(data.flags, public.flags, strict=True):
        blocks.append(
            Note("warning",
                 f"{zh}（{f['kind']}：{fmt(float(f['figure']), 2)}，界限 limit "
                 f"{fmt(float(f['limit']), 2)} t CO2e/ha/yr）{en}")
        )  # fmt: skip
        for name in f.get("unverified", ()):
            blocks.append(Note("unverified", f"界限所用参数来源未核实 limit parameter: {name}"))
    if public.override:
        blocks.append(
            Note("warning", f"核证机构越过标记的理由 Verifier's override: {public.override}")
        )
    return Section("6", "合理性标记与越过 Plausibility flags and overrides", tuple(blocks))


CAUSES_ZH = {"fire": "火灾 fire", "pests": "病虫害 pests", "felling": "采伐 felling",
             "wind": "风灾 wind", "other": "其他 other"}  # fmt: skip


def _disturbances(session: Session, data: PeriodData) -> Section:
    """§7: the confirmed reversals whose event falls in the period's window (their numbers by
    eqs. R1–R6 of ``registry.remote_sensing.losses`` and the cancellation from the buffer pool
    by ``registry.ledger.reversals.RULE``), the flags awaiting review and the dismissed ones;
    said plainly when there are none. The verifiers' reasons pass through
    :func:`withhold_household_names`."""
    from registry.ledger.reversals import RULE, RULE_SOURCES
    from registry.remote_sensing.losses import EQUATIONS as LOSS_EQUATIONS

    found = load_disturbances(session, data)
    window = f"{found.first.isoformat()} – {found.last.isoformat()}"
    blocks: list[Block] = [
        Paragraph(f"遥感监测发现的干扰与核证员确认的碳储量逆转（事件日期在 {window} 之间）。"
                  f"Disturbances found by remote-sensing monitoring and the reversals a verifier "
                  f"confirmed, with an event date in {window}.")
    ]  # fmt: skip
    if found.reversals:
        rows = tuple(
            (r.stand_key, r.event_date[:10], CAUSES_ZH.get(r.cause, r.cause),
             fmt(r.disturbed_ha, 4), fmt(r.f, 4), fmt(r.l_phys, 3),
             f"{fmt(r.loss, 3)} ± {fmt(r.loss_pm, 3)}", fmt(r.credits_cancelled),
             fmt(r.own), fmt(r.pool), fmt(r.debt), str(r.ledger_op or "—"))
            for r in found.reversals
        )  # fmt: skip
        blocks.append(Table(
            "表 4 已确认的逆转及缓冲池注销 Confirmed reversals and the buffer cancellations",
            ("小班 Stand", "事件日期 Event", "原因 Cause", "受扰面积 Disturbed (ha)", "f (R1)",
             "物理损失 L_phys (R2, t CO2e)", "逆转 L ± L×U (R4–R5, t CO2e)",
             "注销 Cancelled (R6, credits)", "本项目缓冲 Own buffer", "缓冲池 Pool",
             "欠缓冲池 Debt to the pool", "账本操作 Ledger op"),
            rows, numeric=(3, 4, 5, 7, 8, 9, 10),
        ))  # fmt: skip
        blocks += [
            Paragraph(f"小班 {r.stand_key} 的证据（统计与影像图）SHA-256 evidence: "
                      f"{r.evidence_sha256}")
            for r in found.reversals
        ]  # fmt: skip
        blocks += [Paragraph(f"{k}: {v}") for k, v in LOSS_EQUATIONS.items()]
    else:
        blocks.append(Paragraph(f"{window} 期间没有确认的逆转。No reversal was confirmed with an "
                                f"event date in {window}."))  # fmt: skip
    if found.open_flags:
        blocks.append(Table(
            "表 5 待复核的扰动标记 Disturbance flags awaiting review",
            ("小班 Stand", "前期影像 Before", "后期影像 After"), found.open_flags,
        ))  # fmt: skip
    else:
        blocks.append(Paragraph("没有待复核的扰动标记。No disturbance flag awaits review."))
    if found.dismissed:
        reasons = withhold_household_names(session, [r for _, r in found.dismissed])
        listed = "；".join(f"{k}：{r}" for (k, _), r in zip(found.dismissed, reasons, strict=True))
        blocks.append(Paragraph(f"已驳回的扰动标记 {len(found.dismissed)} 个 Dismissed flags: "
                                f"{len(found.dismissed)}（{listed}）。"))  # fmt: skip
    else:
        blocks.append(Paragraph("没有被驳回的扰动标记。No disturbance flag was dismissed."))
    blocks.append(Paragraph(RULE))
    blocks += [
        Note("unverified" if "unverified" in src else "info", f"规则来源 Rule source: {src}")
        for src in RULE_SOURCES
    ]
    if found.reversals or found.open_flags or found.dismissed:
        blocks.append(Note("unverified", "扰动检测阈值（默认指数下降 0.06、斑块与小班最小面积 "
                           "400 m²）来源未核实，待林业局以本地影像标定 / the detection "
                           "thresholds (defaults: index drop 0.06, minimum patch and stand area "
                           "400 m²) are UNVERIFIED until the bureau calibrates its own "
                           "(gis_data.disturbance.DetectionParameters)."))  # fmt: skip
    return Section("7", "干扰与逆转 Disturbances and reversals", tuple(blocks))


def _changes(session: Session, data: PeriodData) -> Section:
    p = data.project
    since = registered_at(session, p)
    members = session.execute(
        select(ProjectStand).where(col(ProjectStand.project_id) == p.id)
    ).scalars().all()  # fmt: skip
    keys = sorted({s.stand_key for s in members})
    removed = [s for s in members if not s.active and s.removed_at is not None
               and (since is None or _after(s.removed_at, since))]  # fmt: skip
    lineage_rows: list[tuple[str, ...]] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found = session.execute(
            select(StandLineage, InventoryBatch)
            .join(InventoryBatch, col(InventoryBatch.id) == col(StandLineage.batch_id))
            .where(col(StandLineage.old_key).in_(chunk))
            .order_by(col(StandLineage.id))
        ).all()
        for lin, batch in found:
            if since is not None and not _after(batch.imported_at, since):
                continue
            lineage_rows.append((lin.old_key, lin.new_key or "—", LINEAGE_ZH.get(lin.kind, lin.kind),
                                 batch.source_name, batch.imported_at.date().isoformat()))  # fmt: skip
    blocks: list[Block] = [
        Paragraph(
            f"登记时间 registered: {since.isoformat() if since else '—'}；当前小班 {p.n_stands} 个 "
            f"current stands {p.n_stands}."
        )
    ]
    if removed:
        blocks.append(
            Table(
                "表 6 移出项目的小班 Stands taken out of the project",
                ("小班 Stand", "移出时间 Removed"),
                tuple(
                    (s.stand_key, s.removed_at.date().isoformat() if s.removed_at else "—")
                    for s in removed
                ),
            )
        )
    else:
        blocks.append(
            Paragraph("登记后没有小班移出项目。No stand left the project since registration.")
        )
    if lineage_rows:
        blocks.append(
            Table(
                "表 7 影响项目小班的资源清查更新 Inventory updates affecting the project's stands",
                (
                    "原小班 Old stand",
                    "新小班 New stand",
                    "变化 Change",
                    "清查文件 Inventory file",
                    "导入日期 Imported",
                ),
                tuple(lineage_rows),
            )
        )
    else:
        blocks.append(
            Paragraph("登记后没有清查更新改变项目的小班（分割、合并、注销）。No inventory update "
                      "since registration split, merged, renumbered or retired a project stand.")
        )  # fmt: skip
    return Section("8", "自登记以来的变化 Changes since registration", tuple(blocks))


def _after(a: datetime, b: datetime) -> bool:
    def aware(x: datetime) -> datetime:
        return x if x.tzinfo else x.replace(tzinfo=UTC)

    return aware(a) >= aware(b)


def _credits(data: PeriodData, public: _Public) -> Section:
    m, issued = data.period, data.issued
    rows = [
        ("申请（计算的净碳汇）Requested (computed net removals)", fmt(m.removals_tco2e, 3, T)),
        ("核证量 Verified", fmt(m.verified_tco2e, 3, T)),
        ("核证机构 Verifier", public.verifier or "—"),
    ]
    if issued is not None:
        rows += [
            ("签发 Issued credits (floor of verified)", fmt(issued.quantity, 0)),
            ("缓冲 Buffer credits", fmt(issued.buffer, 0)),
            ("持有账户 To the holding account", fmt(issued.quantity - issued.buffer, 0)),
            ("年份 Vintage", str(issued.vintage)),
        ]
    else:
        rows.append(("签发 Issued", "尚未签发 not issued yet"))
    return Section(
        "9",
        "碳信用 Credits requested, verified and issued",
        (Table("表 8 碳信用 Credits", ("项目 Item", "数量 Quantity"), tuple(rows)),),
    )


def _parameters(data: PeriodData, baseline: dict[str, dict[str, Any]]) -> tuple[Section, list[str]]:
    seen: dict[str, Any] = {}
    for step in data.change.trace.steps:
        for prm in step.parameters:
            seen.setdefault(prm.name, prm)
    rows = tuple(
        (p.name, p.text or f"{p.value:g}", p.unit, p.source, p.status if not p.verified
         else f"{p.status}") for p in seen.values()
    )  # fmt: skip
    unverified = [p.name for p in seen.values() if not p.verified]
    unverified += [
        n for n in data.provenance.get("unverified_parameters", []) if n not in unverified
    ]
    blocks: list[Block] = [
        Table(
            "表 9 参数与来源 Parameters and sources",
            ("参数 Parameter", "值 Value", "单位 Unit", "来源 Source", "状态 Status"),
            rows,
        )
    ]
    blocks += [
        Note("unverified", f"参数来源未核实 UNVERIFIED: {seen[n].describe() if n in seen else n}")
        for n in unverified
    ]
    for name, frozen in baseline.items():
        if name in unverified:
            continue
        unverified.append(name)
        blocks.append(
            Note("unverified",
                 f"基线（登记时冻结的事前估计）所用参数来源未核实 UNVERIFIED, used by the baseline "
                 f"change ΔC_BSL: {name} = {frozen.get('value', '—')} {frozen.get('unit', '')}；"
                 f"{frozen.get('status', '—')}（来源 source: {frozen.get('source', '—')}）")
        )  # fmt: skip
    return Section("10", "参数与来源 Parameters and sources", tuple(blocks)), unverified


def build_monitoring_report(
    session: Session, project_code: str, period_no: int | None = None
) -> Document:
    """The monitoring report of period ``period_no`` of a project (``None``: its latest period
    that was not rejected), read only. ``Document.period`` is the period the report holds —
    what a store of the document records, also when it was asked without one. The project's
    name, developer, the override reason and flag messages pass through
    :func:`~registry.public.withhold.withhold_household_names`; the verifier is named by
    organisation."""
    data = load_period(session, project_code, period_no)
    m = data.period
    public = _public(session, data)
    baseline = baseline_parameters(data)
    uncertainty, deducted = _uncertainty(data)
    parameters, unverified = _parameters(data, baseline)
    sections = (
        _header(data, public), _strata(data), _measurements(data), _removals(data, baseline),
        uncertainty, _plausibility(data, public), _disturbances(session, data),
        _changes(session, data),
        _credits(data, public), parameters,
    )  # fmt: skip
    issued = data.issued
    figures = [
        KeyFigure("change_tco2e", "碳储量变化 Stock change", float(m.change_tco2e or 0.0),
                  fmt(m.change_tco2e, 3, T)),
        KeyFigure("removals_tco2e", "净碳汇量 Net removals", float(m.removals_tco2e),
                  fmt(m.removals_tco2e, 3, T)),
        KeyFigure("uncertainty", "变化量不确定性 Uncertainty of the change",
                  float(m.change_uncertainty) if m.change_uncertainty is not None else float("inf"),
                  _pct(m.change_uncertainty)),
        KeyFigure("deduction_tco2e", "不确定性扣减 Uncertainty deduction", deducted,
                  fmt(deducted, 3, T)),
        KeyFigure("verified_tco2e", "核证量 Verified", m.verified_tco2e if m.verified_tco2e
                  is not None else "—", fmt(m.verified_tco2e, 3, T)),
        KeyFigure("issued_credits", "签发碳信用 Issued credits",
                  issued.quantity if issued else "—", fmt(issued.quantity if issued else None)),
        KeyFigure("buffer_credits", "缓冲 Buffer credits", issued.buffer if issued else "—",
                  fmt(issued.buffer if issued else None)),
    ]  # fmt: skip
    p = data.project
    return Document(
        kind="monitoring_report",
        title=f"{public.name} 监测报告（第 {m.period_no} 监测期）",
        subtitle=f"Monitoring report, period {m.period_no}: {m.start_date} – {m.end_date}",
        project=p.code,
        period=m.period_no,
        sections=sections,
        as_of=data.as_of,
        key_figures=tuple(figures),
        unverified=tuple(unverified),
        meta={
            "methodology": p.methodology,
            "developer": public.developer,
            "status": m.status,
            "project_name": public.name,
        },
    )
