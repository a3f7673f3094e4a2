"""A roster's exports (bureau staff or admin):

- ``xlsx``: the roster for the bureau (openpyxl): a status banner on row 1 (a draft's says
  草稿 DRAFT — 未审批, and its sheet is named so), Chinese headers on row 2, one line per payee
  with its ID number, bank and card, stands and figures, the total, and a sheet with the rule
  version, shares, basis, method and sources (and the word 未核实 / unverified when the rule's
  figures are). Private: it holds full ID and card numbers.
- ``bank-csv``: a bank-upload file, one row per owner to be paid: 户名, 卡号, 金额（元，两位
  小数）, 附言 (the payment's reference: ``TANHUI-{project}-P{period}-R{roster}-L{line}``).
  Only for an approved or paid roster (a draft is refused). The column layout is generic —
  every bank has its own upload template; map these columns to it. UTF-8 with a byte-order mark
  (Excel opens it in Chinese).
- ``notice``: the public notice list 公示, CSV and a simple HTML page: masked names and ID
  numbers (:mod:`registry.compensation.masking`), no bank numbers, no phones, the amounts, the
  rule and its sources.

An approved or paid roster's identities (ID number, bank, card) are those frozen into its
lines at approval (:func:`registry.compensation.rosters.payees_of`), never the identity table
as it is at export; a draft's are the identity table's (a draft pays nobody). The private
formats (xlsx, bank-csv) write an audit event ``compensation.export`` (roster, format, the
file's SHA-256, who) and are written to disk readable by their owner only (mode 0600).
Spreadsheet and CSV text cells are never formulas: openpyxl text cells are typed as strings,
and CSV text beginning with ``= + - @`` (or a tab / carriage return) gets a leading ``'``."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.compensation.compensation_tables import owner_identity
from registry.compensation.masking import mask_id, mask_name
from registry.compensation.rosters import Payee, RosterView, payees_of, roster_view
from registry.compensation.rules import PARTY_NAMES, rule_by_id
from registry.errors import Invalid, RosterNotApproved
from registry.vocabulary import Role

__all__ = ["FORMATS", "PRIVATE_FORMATS", "ExportFile", "export_roster", "write_exports",
           "write_private"]  # fmt: skip

FORMATS = ("xlsx", "bank-csv", "notice")
PRIVATE_FORMATS = ("xlsx", "bank-csv")
DRAFT_BANNER = "草稿 DRAFT — 未审批（不得据此发放） / not approved: not for payment"
STAFF = (Role.BUREAU_STAFF, Role.ADMIN)
STATUS_ZH = {"draft": "草稿 draft", "approved": "已审批 approved", "paid": "已发放 paid"}


@dataclass(frozen=True)
class ExportFile:
    name: str
    media_type: str
    content: bytes
    private: bool = False


def _identities(session: Session, view: RosterView) -> dict[int, Payee]:
    """Each owner line's payee identity, by line number: the snapshot frozen at approval for an
    approved or paid roster; the identity table's current rows for a draft."""
    if view.status != "draft":
        return payees_of(session, view.id)
    ids = [line["owner_id"] for line in view.lines if line["owner_id"] is not None]
    rows = {int(r.owner_id): r for r in session.execute(
        sa.select(owner_identity).where(owner_identity.c.owner_id.in_(ids))).all()}  # fmt: skip
    return {
        int(line["line"]): Payee(r.id_kind, r.id_number, r.bank_name, r.bank_card)
        for line in view.lines
        if line["owner_id"] is not None and (r := rows.get(int(line["owner_id"]))) is not None
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(text: str) -> str:
    """CSV text a spreadsheet never reads as a formula: a leading ``'`` when it begins with
    ``= + - @`` (or a tab / carriage return)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


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
    draft = view.status == "draft"
    sheet.title = "草稿 DRAFT 未审批" if draft else "发放名册"
    banner = (f"{DRAFT_BANNER}　名册 roster {view.id}" if draft
              else f"名册 roster {view.id}：{STATUS_ZH[view.status]}（身份与银行卡为审批时冻结的信息 / "
                   "identities and cards as frozen at approval）")  # fmt: skip
    sheet.append([banner])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=12)
    sheet.cell(1, 1).font = Font(bold=True, size=16 if draft else 12,
                                 color="FFC00000" if draft else "FF000000")  # fmt: skip
    headers = ["序号", "分配方", "收款人", "证件号码", "开户行", "银行卡号", "小班", "面积（公顷）",
               "核证减排量（tCO2e）", "株数", "股数", "金额（元）"]  # fmt: skip
    sheet.append(headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    first = sheet.max_row + 1
    for line in view.lines:
        who = ids.get(int(line["line"]))
        fig = line["figures"]
        sheet.append([
            line["line"], PARTY_NAMES[line["party"]], line["payee"],
            who.id_number if who else "", who.bank_name if who else "",
            who.bank_card if who else "", "、".join(line["stands"]),
            fig.get("area_ha", ""), fig.get("removals_tco2e", ""), _trees(fig),
            fig.get("shares", ""), float(line["amount"]),
        ])  # fmt: skip
        for column in range(2, 12):  # text, never a formula (a payee named "=…" stays text)
            cell = sheet.cell(sheet.max_row, column)
            if isinstance(cell.value, str):
                cell.data_type = "s"
        sheet.cell(sheet.max_row, 12).number_format = "0.00"
    total_row = sheet.max_row + 1
    sheet.cell(total_row, 1, "合计")
    sheet.cell(total_row, 12, f"=SUM(L{first}:L{total_row - 1})").number_format = "0.00"
    sheet.cell(total_row + 1, 1, f"合计（核对）{view.amount} 元")
    rules = book.create_sheet("规则与来源")
    rules.append(["项目 item", "内容 value"])
    if draft:
        rules.append(["状态 status", DRAFT_BANNER])
    for item in _rule_text(session, view):
        rules.append(list(item))
        for cell in rules[rules.max_row]:
            cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _trees(figures: dict[str, Any]) -> str:
    """Trees as a reader counts them: stems per ha × area, to the whole tree (the figure the
    share used keeps its decimals in the roster)."""
    trees = figures.get("trees")
    return "" if trees in (None, "") else f"{Decimal(str(trees)):.0f}"


def _csv(rows: list[list[str]]) -> bytes:
    """UTF-8 CSV with a byte-order mark; every cell through :func:`_safe` (the amounts, never
    negative, are unchanged)."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([[_safe(str(c)) for c in r] for r in rows])
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _bank_csv(session: Session, view: RosterView) -> bytes:
    if view.status not in ("approved", "paid"):
        raise RosterNotApproved(
            f"发放名册 {view.id} 为{STATUS_ZH[view.status]}，尚未审批，不能生成银行代发文件。",
            f"roster {view.id} is a {view.status}, not approved: no bank payment file for it.",
        )
    ids = _identities(session, view)
    rows = [["户名", "卡号", "金额", "附言"]]
    for line in view.lines:
        if line["owner_id"] is None or line["amount"] == "0.00":
            continue
        who = ids.get(int(line["line"]))
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
            who = ids.get(int(line["line"]))
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
    """The export files of a roster in a format (bureau staff or admin). The bank file only
    for an approved or paid roster (:class:`RosterNotApproved`). The private formats (xlsx,
    bank-csv) write the audit event ``compensation.export`` (roster, format, file, its
    SHA-256, who): call it in a write transaction."""
    require_any_role(actor, STAFF, "导出补偿款发放名册 / export a payment roster")
    if fmt not in FORMATS:
        raise Invalid(f"未知导出格式 {fmt!r}；可用：{', '.join(FORMATS)}。",
                      f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")  # fmt: skip
    view = roster_view(session, actor, roster_id)
    stem = f"roster-{view.project}-P{view.period}-R{view.id}"
    if fmt == "notice":
        rows = _notice_rows(session, view)
        return [ExportFile(f"{stem}-notice.csv", "text/csv; charset=utf-8", _csv(rows)),
                ExportFile(f"{stem}-notice.html", "text/html; charset=utf-8",
                           _notice_html(session, view, rows))]  # fmt: skip
    if fmt == "xlsx":
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name = f"{stem}-DRAFT.xlsx" if view.status == "draft" else f"{stem}.xlsx"
        made = ExportFile(name, xlsx, _xlsx(session, view), private=True)
    else:
        made = ExportFile(f"{stem}-bank.csv", "text/csv; charset=utf-8", _bank_csv(session, view),
                          private=True)  # fmt: skip
    append_event(session, actor=actor.label, action="compensation.export", entity_type="roster",
                 entity_id=str(view.id),
                 payload={"format": fmt, "file": made.name, "status": view.status,
                          "sha256": hashlib.sha256(made.content).hexdigest()})  # fmt: skip
    return [made]


def write_private(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` readable and writable by its owner only (mode 0600), set
    when the file is made (never a moment world-readable) and again if it existed."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(content)
    return path


def write_exports(files: list[ExportFile], folder: Path) -> list[Path]:
    """Write the files into ``folder`` (made if missing); their paths. Private files (xlsx,
    bank CSV: full ID and card numbers) are written with mode 0600."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        path = folder / f.name
        if f.private:
            write_private(path, f.content)
        else:
            path.write_bytes(f.content)
        out.append(path)
    return out
