"""``tanhui demo``: the main job, end to end, on the embedded SpatiaLite default.

Today: generate the synthetic Shuangpai inventory, import it with every check, import it again
(a no-op), print the summaries, verify the audit chain, fit growth curves, project the county's
ex-ante potential under the three methodologies (with plots), walk three SYNTHETIC projects
through their lifecycle — applicable stands only, evidence, the permanent plots measured at the
start and remeasured at the end, uncertainty on the change, the plausibility gate — and check
that each verified quantity lies within its frozen ex-ante band; then credits, the export and
the county map's vector tiles.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.rule import Rule
from sqlalchemy import Engine, text

from gis_data import area_ha, load_profile
from gis_data.sample import (
    COUNTY_CODE,
    coded_frame,
    generate_sample_inventory,
    second_inventory,
    write_filegdb,
    write_sample_inventory,
)
from gis_data.write import write_stands
from registry.actors import Actor
from registry.audit import verify_chain
from registry.db import make_engine, migrate, read_scope, session_scope
from registry.queries import current_stands_frame, export_frame, stands_summary
from registry.settings import Settings
from registry.stands import ImportOptions

__all__ = [
    "demo_people",
    "evidence_steps",
    "ledger_steps",
    "model_steps",
    "project_steps",
    "run_demo",
]

START_YEAR = 2026
CREDITING_YEARS = 30
SCENARIOS = (
    ("AR-CM-003-V01", "all", "森林经营 all tree stands", "Forest management, all tree stands"),
    ("AR-CM-005-V01", "species_group=moso_bamboo", "竹林经营 moso bamboo", "Bamboo management"),
    (
        "CCER-14-001-V01",
        "land_class=规划造林地|其他宜林地",
        "造林 afforestable land",
        "Afforestation",
    ),
)


# (code, name, methodology, selection, start, walk to verified?) — SYNTHETIC projects
PROJECTS = (
    ("SP-FM-2026-01", "双牌县江村镇杉木松木森林经营碳汇项目（合成）", "AR-CM-003-V01",
     "township=江村镇,land_class=乔木林地,species_group=chinese_fir|masson_pine,origin=人工,"
     "age_group=幼龄林|中龄林",
     date(2026, 1, 1), True),
    ("SP-AF-2028-01", "双牌县宜林地造林碳汇项目（合成）", "CCER-14-001-V01",
     "land_class=规划造林地|其他宜林地", date(2028, 1, 1), True),
    ("SP-BM-2026-01", "双牌县毛竹林经营碳汇项目（合成）", "AR-CM-005-V01",
     "species_group=moso_bamboo,land_class=竹林地", date(2026, 1, 1), True),
)  # fmt: skip


BUREAU = "双牌县林业局（合成）"
VERIFIER_ORG = "湖南某审定核证机构（合成）"
BUYER_ORG = "某电力公司（合成）"
BANK_ORG = "永州某农商银行（合成）"
# username, display name, organisation, its kind (granted by the admin), roles
PEOPLE = (
    ("li-gong", "林业局 李工", BUREAU, "bureau", "bureau_staff"),
    ("wang-gong", "审定核证机构 王工", VERIFIER_ORG, "verifier", "verifier"),
    ("hnpower", "某电力公司 碳资产部", BUYER_ORG, "buyer", "buyer"),
    ("bank-yz", "永州某农商银行 信贷部", BANK_ORG, "bank", "bank"),
)


def demo_people(engine: Engine, workdir: Path, console: Console) -> dict[str, Actor]:
    """The demo's organisations and users: the first admin (a random password, written to a
    file only its owner can read), then the others, added and granted their kinds by it."""
    import secrets

    from registry.organisations import grant_kind, register_organisation
    from registry.users import add_user, bootstrap_admin, count_users, load_actor, parse_roles

    with session_scope(engine) as session:
        if count_users(session) == 0:
            password = secrets.token_urlsafe(18)
            bootstrap_admin(session, "demo-admin", BUREAU, password, display_name="林业局 局长")
            secret = workdir / "demo-admin-password.txt"
            secret.touch(mode=0o600)
            secret.write_text(password + "\n", encoding="utf-8")
            console.print(f"管理员 admin demo-admin — 密码见 password in {secret}")
        admin = load_actor(session, "demo-admin")
        for username, display, org, kind, roles in PEOPLE:
            register_organisation(session, admin, org)
            grant_kind(session, admin, org, kind)
            if session.execute(text("SELECT 1 FROM app_user WHERE username = :u"),
                               {"u": username}).first() is None:  # fmt: skip
                add_user(session, admin, username, org, parse_roles(roles), display_name=display)
        people = {u: load_actor(session, u) for u, *_ in PEOPLE}
    return {"admin": admin, **people}


def ledger_steps(engine: Engine, settings: Settings, console: Console,
                 people: dict[str, Actor], workdir: Path) -> None:  # fmt: skip
    from decimal import Decimal

    from registry.cli.output import print_table
    from registry.issuance import issue
    from registry.ledger import check_invariants, open_account, pledge, retire, show, transfer

    registrar = people["admin"]
    with session_scope(engine) as session:
        for code, *_ in (p for p in PROJECTS if p[5]):
            result = issue(session, registrar, code, f"demo-issue-{code}", settings.buffer_pct)
            console.print(f"签发 issued {code}: {result.quantity:,} t (buffer {result.buffer:,} = {result.buffer_pct:g}%) — "
                          + "; ".join(f"{p.account} {p.serials}" for p in result.placed))  # fmt: skip
        for code, holder, kind in (("BUYER-HNPOWER", "某电力公司（合成）", "buyer"),
                                   ("BANK-YZ", "永州某农商银行（合成）", "bank")):  # fmt: skip
            open_account(session, registrar, code, holder, holder, kind)
    with session_scope(engine) as session:
        t = transfer(
            session,
            people["li-gong"],
            "demo-transfer-1",
            "HOLD-SP-BM-2026-01",
            "BUYER-HNPOWER",
            quantity=20_000,
        )
        r = retire(session, people["hnpower"], "demo-retire-1", "BUYER-HNPOWER", "某电力公司（合成）",
                   "2026 年度碳中和 carbon neutrality 2026", None, quantity=5_000)  # fmt: skip
        p = pledge(session, people["li-gong"], "demo-pledge-1", "HOLD-SP-BM-2026-01", "BANK-YZ",
                   "SP-DK-2026-001", Decimal("1000000.00"), quantity=50_000)  # fmt: skip
    from registry.ledger.batch import BatchLine, execute_batch

    with session_scope(engine) as session:  # a platform's batch: 200 retirements for its customers
        lines = [BatchLine(n + 2, "retire", "BUYER-HNPOWER", quantity=10, beneficiary=f"合成客户 {n + 1:03d}",
                           purpose="2026 年度绿色电力碳中和") for n in range(200)]  # fmt: skip
        batch = execute_batch(session, people["hnpower"], "demo-batch-1", lines)
    console.print(f"转让 transfer {t.quantity:,} t → BUYER-HNPOWER {t.serials[0]}")
    console.print(f"批量退役 batch: {batch.n_moves} retirements, {batch.quantity:,} t in one transaction "
                  f"(certificates {batch.moves[0].certificate} … {batch.moves[-1].certificate})")  # fmt: skip
    console.print(f"退役 retired {r.quantity:,} t, certificate {r.certificate}: {r.serials[0]}")
    console.print(
        f"质押 pledged {p.quantity:,} t to BANK-YZ for loan {p.loan_ref} (¥{p.amount_yuan})"
    )
    with session_scope(engine) as session:
        glance = show(session)
        problems = check_invariants(session)
    print_table(
        "项目与年份 projects and vintages (t CO2e)",
        glance.projects,
        ("project", "vintage", "issued", "active", "pledged", "retired", "in_buffer"),
        console,
    )
    print_table("账户余额 balances (t CO2e)", glance.accounts,
                ("account", "kind", "active", "pledged", "retired", "cancelled"), console)  # fmt: skip
    console.print(
        "[green]账本不变量成立 ledger invariants hold[/]" if not problems else f"[red]{problems}[/]"
    )
    eco_steps(engine, console, people, workdir / "eco")
    monitoring_steps(engine, console, people, workdir / "monitoring")
    evidence_steps(engine, settings, console, registrar)
    console.print(
        f"试试 / try: tanhui credits show --account BUYER-HNPOWER ; tanhui credits certificate --id {r.certificate}"
    )


def document_steps(engine: Engine, console: Console, staff: Actor, folder: Path) -> None:
    """The forest-management project's design document and its first monitoring report, as
    Word and PDF, written from the registry's data and stored with their SHA-256 in the audit
    log (built in a read transaction, stored in a short write one)."""
    from registry.documents.store import build_files, store_files

    code = "SP-FM-2026-01"
    folder.mkdir(parents=True, exist_ok=True)
    for kind, period in (("pdd", None), ("monitoring_report", 1)):
        with read_scope(engine) as session:
            built = build_files(session, staff, kind, code, period, ["docx", "pdf"])
        with session_scope(engine) as session:
            stored = store_files(session, staff, built)
        for file, info in zip(built, stored, strict=True):
            (folder / info.file_name).write_bytes(file.content)
            console.print(f"{folder / info.file_name}: {info.size_bytes:,} B, sha256 {info.sha256[:16]}…, "
                          f"audit #{info.audit_seq}")  # fmt: skip
    console.print(f"试试 / try: tanhui docs verify {folder / stored[-1].file_name}")


def eco_steps(engine: Engine, console: Console, people: dict[str, Actor], folder: Path) -> None:
    """Issue #17 on the bamboo project: an eco-label from a water-source layer attached to its
    credits (through the ledger), its value under four price scenarios and the bank's
    loan-to-value, then a benefit-sharing rule and period 1's payment roster, approved, with its
    exports (synthetic identities, never real people's)."""
    from registry.compensation.loans import loan_to_value
    from registry.compensation.roster_demo import demo_compensation
    from registry.compensation.valuation_demo import demo_valuation
    from registry.labels.demo import demo_labels

    code, admin, staff = "SP-BM-2026-01", people["admin"], people["li-gong"]
    folder.mkdir(parents=True, exist_ok=True)
    console.print(
        Rule(f"8a. 生态标签、价值评估与生态补偿 / eco-labels, valuation, compensation ({code})")
    )
    with session_scope(engine) as session:
        labels = demo_labels(session, admin, code, folder)
    attached = labels.attached
    console.print(
        f"水源涵养 water_conservation: {labels.n_passed:,}/{labels.n_stands:,} 个小班 stands inside "
        f"{labels.layer_file} — {labels.share_area:.0%} of the area → "
        + (f"[green]贴上 attached[/] to {attached.quantity:,} t ({len(attached.serials)} blocks)"
           if attached else "[yellow]not qualified[/]")
    )  # fmt: skip
    for note in labels.unverified:
        console.print(f"  [yellow]UNVERIFIED[/] {note}")
    with session_scope(engine) as session:
        console.print(demo_valuation(session, staff, code))
        loans = loan_to_value(session, staff, "CCER 2025")
    for line in loans.loans:
        flags = ", ".join(line.flags) if line.flags else "ok"
        console.print(f"质押 pledge {line.loan_ref}: {line.quantity:,} t × {loans.price_yuan} 元 = "
                      f"{line.value_yuan} 元; loan {line.amount_yuan} 元; LTV {line.ltv} ({flags})")  # fmt: skip
    with session_scope(engine) as session:
        paid = demo_compensation(session, admin, staff, code, folder)
    console.print(
        f"补偿名册 roster {paid.roster_id} ({paid.status}): {paid.amount:,} 元 to {paid.owners} owners "
        f"by rule v{paid.rule_version}; exports: " + ", ".join(p.name for p in paid.files)
    )


def monitoring_steps(
    engine: Engine, console: Console, people: dict[str, Actor], folder: Path
) -> None:
    """Issue #19 on the forest-management project: two synthetic summer NDVI images, a burnt
    patch found, confirmed by the verifier, its credited loss cancelled from the buffer pool."""
    from registry.remote_sensing.demo import demo_monitoring

    code = "SP-FM-2026-01"
    console.print(
        Rule(
            f"8b. 遥感监测：扰动 → 核查 → 缓冲池注销 / remote sensing: a disturbance to a cancelled buffer block ({code})"
        )
    )
    t0 = time.perf_counter()
    with console.status("合成影像与变化检测 synthetic images and change detection"):
        got = demo_monitoring(engine, people["li-gong"], people["wang-gong"], code, folder)
    run, rev = got.run, got.reversal
    console.print(f"影像 images {run.before} → {run.after} (合成 SYNTHETIC): {run.stands_checked:,} 个小班 stands checked, "
                  f"{run.flagged} flagged, {run.unobserved:,} unobserved (clouds, outside the images) — {time.perf_counter() - t0:.1f} s")  # fmt: skip
    console.print(f"  [yellow]UNVERIFIED[/] {run.note}")
    console.print(f"标记 flag {got.flag_id}: 小班 stand {got.stand_key}, burnt patch placed {got.fire_ha:.2f} ha → "
                  f"disturbed share f = {rev.f:.3f}; evidence {got.evidence}")  # fmt: skip
    console.print(f"核证机构确认（林火）verifier confirms (fire): stock lost L_phys = {rev.l_phys:,.1f} t, "
                  f"credited loss L = f × C = {rev.f:.3f} × {rev.credited_c:,.1f} = {rev.loss:,.1f} t ± {rev.u:.1%} "
                  f"→ Q = ⌈L × (1 + U)⌉ = {rev.quantity:,} t")  # fmt: skip
    console.print(f"缓冲池注销 buffer cancelled: {rev.own:,} t of the project's own buffer + {rev.pool:,} t of the pool; "
                  f"owed to the pool {rev.debt:,} t, shortfall {rev.shortfall:,} t (ledger op {rev.op_id})")  # fmt: skip
    console.print(
        f"试试 / try: tanhui monitor reversals --project {code} ; tanhui monitor flags --project {code}"
    )


def evidence_steps(engine: Engine, settings: Settings, console: Console, admin: Actor) -> None:
    """The ledger's evidence: the tables replayed from the audit log, and a signed checkpoint of
    the chain's head (in real use the key lives outside the database and its backups)."""
    from registry.checkpoints import check_checkpoint, generate_key, make_checkpoint
    from registry.db import read_scope
    from registry.ledger.replay import replay

    with read_scope(engine) as session:
        report = replay(session)
    console.print(
        f"[green]审计日志重放与数据表一致 the tables equal the replay of {report.n_events} ledger events[/]"
        if report.ok
        else f"[red]{len(report.differences)} differences: {report.differences[:3]}[/]"
    )
    key = Path(str(engine.url.database)).parent / "keys" / "checkpoint.key"
    public = key.with_name(key.name + ".pub") if key.exists() else generate_key(key)
    with session_scope(engine) as session:
        checkpoint = make_checkpoint(session, key, settings.registry_name, admin)
    with read_scope(engine) as session:
        held = check_checkpoint(session, checkpoint, public).ok
    console.print(
        f"检查点 checkpoint: event {checkpoint.seq}, hash {checkpoint.hash[:16]}…, key "
        f"{checkpoint.key_id} — {'[green]verified[/]' if held else '[red]does not verify[/]'} "
        f"(demo key {key}; keep a real one outside the database)"
    )


def exante_band(info: dict[str, Any], start: date, end: date) -> tuple[float, float, float]:
    """The frozen ex-ante net removals of a period's years and its plausibility band (t CO2e)."""
    from methodologies.parameters import defaults

    k = defaults()["plausibility_exante_factor"].value
    years = range(start.year, end.year + 1)
    expected = sum(r["net_removals"] for r in info["by_year"] if r["year"] in years)
    return expected, expected / k, expected * k


def project_steps(
    engine: Engine, console: Console, tolerance: float, people: dict[str, Actor]
) -> list[tuple[str, float, float, float]]:
    """Walk the demo projects through their lifecycle; returns (code, verified, band low, high).
    ``tolerance``: the overlap tolerance (m²) the demo's settings give."""
    import json

    from rich.table import Table

    from registry.carbon_model import latest_growth_curves
    from registry.projects import (
        add_evidence,
        add_stands,
        assess_risk,
        check_project,
        create_project,
        frozen_exante,
        project_stands,
        project_summary,
        record_start_measurement,
        remove_stands,
        submit_monitoring,
        transition,
        verify_period,
    )
    from registry.synthetic_plots import fm_growth_gain, remeasured_plots, synthetic_evidence

    staff, verifier, admin = people["li-gong"], people["wang-gong"], people["admin"]
    table = Table(title="项目 projects (t CO2e)")
    for name in ("code", "methodology", "stands", "ha", "status", "ex-ante", "period",
                 "ex-ante band", "verified"):  # fmt: skip
        table.add_column(name)
    outcomes: list[tuple[str, float, float, float]] = []
    for code, name, methodology, selection, start, monitored in PROJECTS:
        with session_scope(engine) as session:
            create_project(session, staff, code=code, name=name, methodology=methodology,
                           developer=BUREAU, start_date=start, crediting_years=30)  # fmt: skip
            keys = add_stands(session, staff, code, selection, tolerance)
            add_evidence(session, staff, code, synthetic_evidence(methodology, keys, start))
            report = check_project(session, code, tolerance)
            failing = sorted(set(report.loc[~report["passed"], "stand_id"]))
            if failing:  # the bureau takes out the stands the methodology does not accept
                remove_stands(session, staff, code, "key=" + "|".join(failing))
                rules = report.loc[~report["passed"], "rule"].value_counts().head(4)
                console.print(f"{code}: {len(failing)} 个小班不适用，已移出 stands not applicable, "
                              f"removed ({', '.join(f'{r} {n}' for r, n in rules.items())})")  # fmt: skip
            transition(session, staff, code, "submit", tolerance_m2=tolerance)
            transition(session, verifier, code, "validate", "材料齐全 documents complete")
            if methodology == "CCER-14-001-V01":  # young plantations: fire and survival risk
                assess_risk(
                    session,
                    verifier,
                    code,
                    12.0,
                    "新造林火险与成活风险（示例） / new plantation: fire and survival risk (example)",
                )
            transition(session, admin, code, "register")
            stands = project_stands(session, code)
            curves = latest_growth_curves(session)
        period_text = band_text = verified_text = "-"
        if monitored:
            planted = "chinese_fir" if methodology == "CCER-14-001-V01" else None
            if methodology == "AR-CM-003-V01":
                stands = stands.assign(growth_gain=fm_growth_gain(stands))
            # plots per stratum. Forest management credits a small difference (the effects, about
            # a tenth of the growth) of a sampled change and a modelled baseline: the change must
            # be known to a few per cent, hence many plots; bamboo culm densities vary a lot
            n_plots = {"AR-CM-003-V01": 150, "AR-CM-005-V01": 40}.get(methodology, 20)
            first, last, strata = remeasured_plots(
                stands, curves, 5, plots_per_stratum=n_plots, planted=planted
            )
            end = date(start.year + 4, 12, 31)
            with session_scope(engine) as session:
                record_start_measurement(session, staff, code, start, first, strata)
                period = submit_monitoring(session, staff, code, start, end, last, strata)
                quantity = float(int(period.removals_tco2e))  # whole tonnes, rounded down
                flags = json.loads(period.flags_json or "[]")
                for flag in flags:
                    console.print(
                        f"[yellow]合理性检查 flagged[/] {flag['message_zh']} / {flag['message_en']}"
                    )
                verify_period(session, verifier, code, quantity, "样地复测一致 plots re-measured",
                              override_reason="演示：已核查 demo: checked" if flags else "")  # fmt: skip
                u = period.change_uncertainty
            period_text = f"{start.year}–{end.year}: {period.removals_tco2e:,.0f} (U {'∞' if u is None else f'{u:.1%}'})"
            verified_text = f"{quantity:,.0f}"
        with session_scope(engine) as session:
            info = project_summary(session, code).to_dict()
            exante = frozen_exante(session, code)
        if monitored:
            expected, low, high = exante_band(exante, start, date(start.year + 4, 12, 31))
            band_text = f"{expected:,.0f} ({low:,.0f}–{high:,.0f})"
            outcomes.append((code, quantity, low, high))
        table.add_row(code, methodology, f"{info['stands']:,}", f"{info['area_ha']:,.0f}", info["status"],
                      f"{info['exante_total_tco2e']:,.0f}", period_text, band_text, verified_text)  # fmt: skip
    console.print(table)
    console.print("试试 / try: tanhui project show --project SP-FM-2026-01")
    return outcomes


def model_steps(engine: Engine, settings: Settings, workdir: Path, console: Console,
                by: Actor) -> None:  # fmt: skip
    from rich.table import Table

    from registry.carbon_model import fit_and_store_growth, run_ex_ante, select_stands
    from registry.charts import plot_growth_curves, plot_stock_trajectory

    plots = workdir / "plots"
    with session_scope(engine) as session:
        fit_id, curves = fit_and_store_growth(session, by)
        data = select_stands(session, "all")
    fitted = [c for c in curves if "fallback" not in c.basis]
    console.print(
        f"拟合 fit {fit_id}: {len(curves)} 条曲线 curves ({len(fitted)} fitted, "
        f"{len(curves) - len(fitted)} fallbacks) → {plot_growth_curves(data, curves, plots / 'growth_curves.png')}"
    )
    table = Table(
        title=f"事前净碳汇 ex-ante net removals {START_YEAR}–{START_YEAR + CREDITING_YEARS - 1} (t CO2e)"
    )
    for name in ("methodology", "scenario", "stands", "ha", "first year", "total", "t/ha/yr"):
        table.add_column(
            name, justify="right" if name not in ("methodology", "scenario") else "left"
        )
    flagged: set[str] = set()
    for code, selection, label, label_en in SCENARIOS:
        with session_scope(engine) as session:
            result = run_ex_ante(session, selection, code, START_YEAR, CREDITING_YEARS)
            area = float(
                select_stands(session, selection)
                .set_index("stand_id")
                .loc[list(result.stand_ids), "area_ha"]
                .sum()
            )
        plot_stock_trajectory(result, plots / f"ex_ante_{code}.png", label_en)
        flagged |= set(result.unverified())
        table.add_row(
            code, label, f"{len(result.stand_ids):,}", f"{area:,.0f}",
            f"{result.net_removals[:, 0].sum():,.0f}", f"{result.total:,.0f}",
            f"{result.total / area / CREDITING_YEARS:.2f}" if area else "-",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"[yellow]注意：{len(flagged)} 个参数来源未核实（见 tanhui model ex-ante --explain）/ "
        f"{len(flagged)} parameters have unverified sources; every output says so.[/]"
    )
    console.print(f"图 plots: {plots}")


def _second_inventory(
    engine: Engine, workdir: Path, n_stands: int, options: ImportOptions, console: Console,
    by: Actor,
) -> None:  # fmt: skip
    """Import a later (2031) inventory delivered as a coded 林地一张图 FileGDB, with a few 小班
    split, merged and dropped: refused with the list first, then retired and linked by overlap;
    project stands it touches are reported against their projects. It comes after the project
    steps because in the story the projects started (2026/2028) before this inventory."""
    from dataclasses import replace

    from registry.cli.importing import run_import
    from registry.queries import lineage_lines, stand_history

    console.print(
        Rule("8c. 2031 年新一期调查：林地一张图 FileGDB（代码值），有拆分、合并、消失的小班 / the "
             "2031 inventory: coded 一张图 FileGDB with splits, merges and removals")
    )  # fmt: skip
    later, done = second_inventory(generate_sample_inventory(n_stands))
    gdb = write_filegdb(coded_frame(later), workdir / "sample" / "shuangpai_yizhangtu_2031.gdb")
    console.print(f"{gdb}: " + "; ".join(f"{kind} {len(items)}" for kind, items in done.items()))
    update = replace(options, inventory_year=2031)
    reports = workdir / "import_reports"
    try:
        run_import(engine, gdb, update, reports, by)
    except typer.Exit:
        console.print("[yellow]↑ 未加 --retire-missing：列出消失的小班后拒绝导入 / refused "
                      "without --retire-missing, listing the missing stands[/]")  # fmt: skip
    run_import(engine, gdb, replace(update, retire_missing=True), reports, by)
    split_key = f"{COUNTY_CODE}-{done['split'][0][0]}"
    with session_scope(engine) as session:
        history = stand_history(session, split_key)
        area = stands_summary(session).totals["area_ha"]
    console.print(f"tanhui stands history {split_key}:")
    for line in lineage_lines(history, split_key):
        console.print(f"  {line}")
    file_area = float(area_ha(np.asarray(later.to_crs(4490).geometry.values)).sum())
    console.print(
        f"现行面积 current area {area:,.1f} ha；新调查文件面积 the new file's area {file_area:,.1f} ha"
    )


def run_demo(workdir: Path, n_stands: int, database_url: str | None, console: Console) -> None:
    from registry.cli.importing import run_import
    from registry.cli.output import print_frame

    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir / 'tanhui.sqlite'}"
    settings = Settings(database_url=url)
    console.print(Rule("碳汇 tanhui demo — 双牌县 Shuangpai County (合成数据 SYNTHETIC)"))
    console.print(f"数据库 database: {url}")

    console.print(Rule("1. 生成合成小班数据 / synthetic inventory"))
    t0 = time.perf_counter()
    with console.status(f"生成 {n_stands} 个小班 generating {n_stands} stands"):
        paths = write_sample_inventory(workdir / "sample", n_stands)
    console.print(
        f"{paths['shapefile']} (GBK .dbf, no .cpg) and {paths['geopackage']} — "
        f"{time.perf_counter() - t0:.1f} s"
    )

    engine = make_engine(settings.database_url)
    migrate(engine)
    people = demo_people(engine, workdir, console)
    clerk = people["li-gong"]  # bureau staff: imports and fits the growth curves
    options = ImportOptions(
        overlap_tolerance_m2=settings.overlap_tolerance_m2,
        area_tolerance_pct=settings.area_tolerance_pct,
        inventory_year=2025,
    )
    console.print(Rule("2. 导入小班（全部检查，要么全导入要么不导入）/ import with every check"))
    t0 = time.perf_counter()
    result = run_import(engine, paths["shapefile"], options, workdir / "import_reports", clerk)
    console.print(f"{time.perf_counter() - t0:.1f} s")

    console.print(Rule("3. 再次导入同一数据（GeoPackage 版本）：不应有任何更改 / re-import: no-op"))
    run_import(engine, paths["geopackage"], options, workdir / "import_reports", clerk)

    console.print(Rule("4. 汇总 / summary"))
    with session_scope(engine) as session:
        summary = stands_summary(session)
        chain = verify_chain(session)
        stands = current_stands_frame(session)
    print_frame(
        summary.by_species_age, "树种组 × 龄组 / species group × age group (ha, m³)", "table"
    )
    print_frame(summary.by_township, "乡镇 / township (ha, m³)", "table")
    t = summary.totals
    console.print(
        f"合计 total: {t['stands']:,.0f} 小班 stands, {t['area_ha']:,.1f} ha, "
        f"{t['volume_m3']:,.0f} m³"
    )

    console.print(Rule("5. 审计链 / audit chain"))
    status = "[green]完整 OK[/]" if chain.ok else f"[red]被破坏 BROKEN: {chain.problem_en}[/]"
    console.print(f"{chain.n_events} 个事件 events — {status}")

    console.print(Rule("6. 生长曲线与事前碳汇潜力 / growth curves and ex-ante potential"))
    model_steps(engine, settings, workdir, console, clerk)

    console.print(
        Rule("7. 碳汇项目：创建 → 审定 → 登记 → 监测 → 核证 / projects through their lifecycle")
    )
    for code, verified, low, high in project_steps(
        engine, console, settings.overlap_tolerance_m2, people
    ):
        inside = low <= verified <= high
        console.print(
            f"{code}: 核证 verified {verified:,.0f} t "
            + ("[green]在事前估算区间内 within the ex-ante band[/]" if inside
               else "[red]超出事前估算区间 OUTSIDE the ex-ante band[/]")
            + f" ({low:,.0f}–{high:,.0f})"
        )  # fmt: skip

    console.print(Rule("8. 签发、转让、退役、质押 / credits: issue, transfer, retire, pledge"))
    ledger_steps(engine, settings, console, people, workdir)

    # 2031: a new inventory arrives after the projects started (see _second_inventory)
    _second_inventory(engine, workdir, n_stands, options, console, clerk)

    console.print(Rule("9. 导出 / export"))
    out = write_stands(
        export_frame(stands, load_profile()), workdir / "export" / "stands.gpkg", "gpkg"
    )
    console.print(f"{len(stands)} 个小班 stands → {out}")

    console.print(Rule("10. 项目文件 / project documents (Word, PDF) with their hashes"))
    document_steps(engine, console, people["li-gong"], workdir / "docs")

    console.print(Rule("11. 县域地图瓦片 / the county map's vector tiles (tippecanoe)"))
    from registry.cli.tiles import run_tiles_build

    run_tiles_build(engine, workdir / "tiles")
    console.print(
        f"地图 map: TANHUI_DATABASE_URL=sqlite:///{workdir / 'tanhui.sqlite'} "
        f"TANHUI_TILES_DIR={workdir / 'tiles'} .venv/bin/tanhui serve → http://127.0.0.1:8000/map"
    )
    console.print(Rule())
    console.print(
        f"完成。批次 batch {result.batch_id}。试试 / try: "
        f"TANHUI_DATABASE_URL=sqlite:///{workdir / 'tanhui.sqlite'} .venv/bin/tanhui stands summary"
    )
