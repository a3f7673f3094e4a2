"""A roster's exports (bureau staff or admin):

- ``xlsx``: the roster for the bureau (openpyxl): Chinese headers, one line per payee with its
  ID number, bank and card, stands and figures, the total, and a sheet with the rule version,
  shares, basis, method and sources (and the word 未核实 / unverified when the preset's figures
  are). Private: it holds full ID and card numbers.
- ``bank-csv``: a bank-upload file, one row per owner to be paid: 户名, 卡号, 金额（元，两位
  小数）, 附言 (the payment's reference: ``TANHUI-{project}-P{period}-R{roster}-L{line}``).
  The column layout is generic — every bank has its own upload template; map these columns to
  it. UTF-8 with a byte-order mark (Excel opens it in Chinese).
- ``notice``: the public notice list 公示, CSV and a simple HTML page: masked names and ID
  numbers (:mod:`registry.compensation.masking`), no bank numbers, no phones, the amounts, the
  rule and its sources."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.compensation.compensation_tables import owner_identity
from registry.compensation.masking import mask_id, mask_name
from registry.compensation.rosters import RosterView, roster_view
from registry.compensation.rules import PARTY_NAMES, rule_by_id
from registry.errors import Invalid
from registry.vocabulary import Role

__all__ = ["FORMATS", "ExportFile", "export_roster", "write_exports"]

FORMATS = ("xlsx", "bank-csv", "notice")
STAFF = (Role.BUREAU_STAFF, Role.ADMIN)
STATUS_ZH = {"draft": "草稿 draft", "approved": "已审批 approved", "paid": "已发放 paid"}


@dataclass(frozen=True)
class ExportFile:
    name: str
    media_type: str
    content: bytes


def _identities(session: Session, view: RosterView) -> dict[int, Any]:
    ids = [line["owner_id"] for line in view.lines if line["owner_id"] is not None]
    rows = session.execute(
        sa.select(owner_identity).where(owner_identity.c.owner_id.in_(ids))
    ).all()
    return {int(r.owner_id): r for r in rows}


def _rule_text(session: Session, view: RosterView) -> list[tuple[str, str]]:
    rule = rule_by_id(session, view.rule_id)
    spec = rule.spec
    rows = [
        ("项目 project", view.project), ("监测期 period", str(view.period)),
        ("名册 roster", f"{view.id}（{STATUS_ZH[view.status]}）"),
        ("分配金额 amount (yuan)", str(view.amount)),
        ("规则版本 rule version", str(rule.version)), ("预设 preset", spec.preset or "—"),
        ("各方份额 shares", "；".join(f"{PARTY_NAMES[p]} {f}" for p, f in spec.shares.items())),
        ("权利人分配依据 owners' basis", str(view.method.get("basis_name", spec.basis))),
        ("封顶 cap per owner (yuan)", str(spec.cap_per_owner) if spec.cap_per_owner is not None else "—"),
        ("数值核实 figures", "未核实 unverified" if spec.unverified else "已核实 verified"),
    ]  # fmt: skip
    if view.method.get("removals_rule"):
        rows.append(("减排量分摊 removals per stand", str(view.method["removals_rule"])))
    rows.append(("尾差 leftover fen", str(view.method.get("ties", ""))))
    rows.extend(("来源 source", s) for s in spec.sources)
    return rows


def _xlsx(session: Session, view: RosterView) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    ids = _identities(session, view)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "发放名册"
    headers = ["序号", "分配方", "收款人", "证件号码", "开户行", "银行卡号", "小班", "面积（公顷）",
               "核证减排量（tCO2e）", "株数", "股数", "金额（元）"]  # fmt: skip
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in view.lines:
        who = ids.get(line["owner_id"]) if line["owner_id"] is not None else None
        fig = line["figures"]
        sheet.append([
            line["line"], PARTY_NAMES[line["party"]], line["payee"],
            who.id_number if who else "", who.bank_name if who else "",
            who.bank_card if who else "", "、".join(line["stands"]),
            fig.get("area_ha", ""), fig.get("removals_tco2e", ""), _trees(fig),
            fig.get("shares", ""), float(line["amount"]),
        ])  # fmt: skip
        sheet.cell(sheet.max_row, 12).number_format = "0.00"
    total_row = sheet.max_row + 1
    sheet.cell(total_row, 1, "合计")
    sheet.cell(total_row, 12, f"=SUM(L2:L{total_row - 1})").number_format = "0.00"
    sheet.cell(total_row + 1, 1, f"合计（核对）{view.amount} 元")
    rules = book.create_sheet("规则与来源")
    rules.append(["项目 item", "内容 value"])
    for item in _rule_text(session, view):
        rules.append(list(item))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _trees(figures: dict[str, Any]) -> str:
    """Trees as a reader counts them: stems per ha × area, to the whole tree (the figure the
    share used keeps its decimals in the roster)."""
    trees = figures.get("trees")
    return "" if trees in (None, "") else f"{Decimal(str(trees)):.0f}"


def _csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _bank_csv(session: Session, view: RosterView) -> bytes:
    ids = _identities(session, view)
    rows = [["户名", "卡号", "金额", "附言"]]
    for line in view.lines:
        if line["owner_id"] is None or line["amount"] == "0.00":
            continue
        who = ids.get(line["owner_id"])
        if who is None:
            raise Invalid(f"{line['payee']} 没有银行卡信息，无法生成银行代发文件。",
                          f"{line['payee']} has no bank card on record: no bank file.")  # fmt: skip
        ref = f"TANHUI-{view.project}-P{view.period}-R{view.id}-L{line['line']}"
        rows.append([line["payee"], who.bank_card, line["amount"], ref])
    return _csv(rows)


def _notice_rows(session: Session, view: RosterView) -> list[list[str]]:
    ids = _identities(session, view)
    rows = [["序号", "收款人", "证件号码", "小班数", "面积（公顷）", "核证减排量（tCO2e）", "株数",
             "股数", "金额（元）"]]  # fmt: skip
    for line in view.lines:
        fig = line["figures"]
        if line["owner_id"] is not None:
            who = ids.get(line["owner_id"])
            rows.append([str(line["line"]), mask_name(line["payee"]),
                         mask_id(who.id_number) if who else "", str(len(line["stands"])),
                         fig.get("area_ha", ""), fig.get("removals_tco2e", ""),
                         _trees(fig), fig.get("shares", ""), line["amount"]])  # fmt: skip
        else:
            rows.append([str(line["line"]), PARTY_NAMES[line["party"]], "", "", "", "", "", "",
                         line["amount"]])  # fmt: skip
    rows.append(["合计", "", "", "", "", "", "", "", str(view.amount)])
    return rows


def _notice_html(session: Session, view: RosterView, rows: list[list[str]]) -> bytes:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    rule = "".join(f"<li>{e(k)}：{e(v)}</li>" for k, v in _rule_text(session, view))
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>碳汇收益分配公示 {e(view.project)} 第{view.period}期</title></head><body>"
        f"<h1>碳汇收益分配公示 / benefit-sharing notice</h1>"
        f"<p>项目 {e(view.project)}，第 {view.period} 监测期，名册 {view.id}"
        f"（{e(STATUS_ZH[view.status])}）。姓名仅显示首字，证件号码仅显示前 6 位与后 4 位。"
        "Names show their first character only; ID numbers their first 6 and last 4.</p>"
        f"<table border=1><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<h2>分配规则 / the rule</h2><ul>{rule}</ul></body></html>"
    )
    return page.encode("utf-8")


def export_roster(session: Session, actor: Actor, roster_id: int, fmt: str) -> list[ExportFile]:
    """The export files of a roster in a format (bureau staff or admin)."""
    require_any_role(actor, STAFF, "导出补偿款发放名册 / export a payment roster")
    if fmt not in FORMATS:
        raise Invalid(f"未知导出格式 {fmt!r}；可用：{', '.join(FORMATS)}。",
                      f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")  # fmt: skip
    view = roster_view(session, actor, roster_id)
    stem = f"roster-{view.project}-P{view.period}-R{view.id}"
    if fmt == "xlsx":
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return [ExportFile(f"{stem}.xlsx", xlsx, _xlsx(session, view))]
    if fmt == "bank-csv":
        return [ExportFile(f"{stem}-bank.csv", "text/csv; charset=utf-8", _bank_csv(session, view))]
    rows = _notice_rows(session, view)
    return [ExportFile(f"{stem}-notice.csv", "text/csv; charset=utf-8", _csv(rows)),
            ExportFile(f"{stem}-notice.html", "text/html; charset=utf-8",
                       _notice_html(session, view, rows))]  # fmt: skip


def write_exports(files: list[ExportFile], folder: Path) -> list[Path]:
    """Write the files into ``folder`` (made if missing); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        path = folder / f.name
        path.write_bytes(f.content)
        out.append(path)
    return out
