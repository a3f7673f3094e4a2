"""A retirement certificate as a bilingual PDF (碳汇退役证书 / Carbon Credit Retirement
Certificate): A4 landscape, the registry's name, the figures of the ledger's certificate, its
serials, the audit event (sequence number and hash) that recorded it with how to verify it, and
a QR code pointing to the certificate's public page.

Chinese text is set in WenQuanYi Zen Hei (Debian's ``fonts-wqy-zenhei``, a TrueType
collection: face 0 the proportional face, face 1 the monospaced one), embedded as a subset."""

from __future__ import annotations

import logging
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from registry.errors import Failure
from registry.public.ledger import UNVERIFIED_LABEL, PublicCertificate

__all__ = ["CJK_FONT", "certificate_pdf"]

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
GREEN = (47, 107, 63)
INK = (31, 42, 36)
MUTED = (92, 107, 99)
GOLD = (176, 141, 62)


class _Certificate(FPDF):
    def __init__(self, certificate_id: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.certificate_id = certificate_id
        if not CJK_FONT.is_file():
            raise Failure(
                f"找不到证书所用的中文字体 {CJK_FONT}：请安装 fonts-wqy-zenhei（make setup 会安装）。",
                f"the certificate's Chinese font {CJK_FONT} is missing: install fonts-wqy-zenhei "
                "(make setup does).",
            )
        self.add_font("zenhei", fname=CJK_FONT, collection_font_number=0)
        self.add_font("zenheimono", fname=CJK_FONT, collection_font_number=1)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(22, 16, 22)

    def header(self) -> None:  # a double frame on every page
        self.set_draw_color(*GREEN)
        self.set_line_width(1.2)
        self.rect(8, 8, self.w - 16, self.h - 16)
        self.set_draw_color(*GOLD)
        self.set_line_width(0.4)
        self.rect(11, 11, self.w - 22, self.h - 22)
        if self.page > 1:  # a long list of serials ran over: say whose page this is
            self.set_xy(self.l_margin, 13)
            self.set_font("zenhei", size=8)
            self.set_text_color(*MUTED)
            self.cell(0, 4, f"碳汇退役证书 {self.certificate_id}（续 continued）· 第 {self.page} 页 page",
                      align="R")  # fmt: skip
            self.set_xy(self.l_margin, self.t_margin)


def _qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """The QR code of ``url`` drawn as vector squares (one rectangle per run of dark modules
    in a row), ``size`` mm wide, quiet zone included."""
    code = segno.make(url, error="m", micro=False)
    matrix = [list(row) for row in code.matrix]
    quiet = 2
    n = len(matrix) + 2 * quiet
    module = size / n
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                pdf.rect(x + (quiet + start) * module, y + (quiet + r) * module,
                         (c - start) * module, module, style="F")  # fmt: skip
            else:
                c += 1


def _row(
    pdf: FPDF, zh: str, en: str, value: str, width: float, mono: bool = False,
    big: bool = False,
) -> None:  # fmt: skip
    """A labelled field: the bilingual label in a narrow column, the value beside it."""
    label_w = 44
    x0, y0 = pdf.get_x(), pdf.get_y()
    pdf.set_text_color(*MUTED)
    pdf.set_font("zenhei", size=10)
    pdf.cell(label_w, 5.5, zh, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font("zenhei", size=7.5)
    pdf.cell(label_w, 4, en, new_x=XPos.LEFT, new_y=YPos.NEXT)
    y_label = pdf.get_y()
    pdf.set_xy(x0 + label_w, y0)
    pdf.set_text_color(*(GREEN if big else INK))
    size = 9 if mono else 15 if big else 11.5
    pdf.set_font("zenheimono" if mono else "zenhei", size=size)
    pdf.multi_cell(width - label_w, size * 0.5, value, align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)  # fmt: skip
    pdf.set_xy(x0, max(pdf.get_y(), y_label) + 1.4)


def certificate_pdf(found: PublicCertificate, url: str | None, registry_name: str) -> bytes:
    """The certificate as PDF bytes. ``url``: the certificate page's absolute address, encoded
    in the QR code and printed beneath it (None: no QR code — the command line without a
    public address). Quantities in t CO2e (one credit = 1 t CO2e)."""
    cert = found.certificate
    # the collection's embedded bitmaps are dropped from the subset (the outlines are kept)
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    pdf = _Certificate(cert.certificate)
    pdf.set_title(f"碳汇退役证书 Carbon Credit Retirement Certificate {cert.certificate}")
    pdf.set_author(registry_name)
    pdf.set_creator("tanhui")
    pdf.add_page()
    full = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_text_color(*GREEN)
    pdf.set_font("zenhei", size=12)
    pdf.cell(full, 7, registry_name, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("zenhei", size=28)
    pdf.cell(full, 15, "碳汇退役证书", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("zenhei", size=15)
    pdf.cell(full, 8, "Carbon Credit Retirement Certificate", align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    pdf.set_text_color(*MUTED)
    pdf.set_font("zenhei", size=10.5)
    pdf.cell(full, 7, f"证书编号 Certificate No. {cert.certificate}", align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    pdf.set_draw_color(*GOLD)
    pdf.set_line_width(0.3)
    y = pdf.get_y() + 2
    pdf.line(pdf.l_margin + 40, y, pdf.w - pdf.r_margin - 40, y)
    pdf.set_y(y + 4)

    pdf.set_text_color(*INK)
    pdf.set_font("zenhei", size=12)
    pdf.multi_cell(full, 6.5,
        f"兹证明：{cert.quantity:,} 吨二氧化碳当量（tCO₂e）的林业碳汇减排量已于 {cert.retired_on} "
        f"代表 {cert.beneficiary} 永久退役（注销），不再转让或重复使用。",
        align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    pdf.set_font("zenhei", size=9.5)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(full, 5.5,
        f"This certifies that {cert.quantity:,} t CO₂e of forest carbon credits were retired on "
        f"{cert.retired_on} on behalf of {cert.beneficiary}; they can never be transferred or used again.",
        align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    pdf.ln(5)

    qr_size = 46
    text_w = full - qr_size - 10
    top = pdf.get_y()
    qr_bottom = top
    if url:  # first, beside the first rows (the serials may run onto another page)
        x = pdf.w - pdf.r_margin - qr_size
        _qr(pdf, url, x, top, qr_size)
        pdf.set_xy(x - 12, top + qr_size + 1)
        pdf.set_text_color(*MUTED)
        pdf.set_font("zenhei", size=8.5)
        pdf.cell(qr_size + 12, 4.5, "扫码在线核验 Scan to verify", align="C",
                 new_x=XPos.LEFT, new_y=YPos.NEXT)  # fmt: skip
        qr_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin, top)
    vintages = "\n".join(
        f"{p.project} {p.name} · {p.methodology} · {p.vintage} 年份 vintage · {p.quantity:,} t"
        for p in cert.projects
    )
    _row(pdf, "数量", "Quantity", f"{cert.quantity:,} tCO₂e（{cert.quantity:,} 个碳汇单位 credits）",
         text_w, big=True)  # fmt: skip
    _row(pdf, "受益方", "Beneficiary", cert.beneficiary, text_w)
    _row(pdf, "用途", "Purpose", cert.purpose, text_w)
    _row(pdf, "退役日期", "Retired on", f"{cert.retired_on}（由 by {found.retired_by}）", text_w)
    _row(pdf, "项目与年份", "Projects and vintages", vintages, text_w)
    _row(pdf, "序列号", "Serial numbers", "\n".join(cert.serials), text_w, mono=True)
    if found.label_lines:
        shown = "\n".join(
            line.text + (f"\n（{UNVERIFIED_LABEL}）" if line.unverified else "")
            for line in found.label_lines
        )
        _row(pdf, "生态标签", "Eco-labels", shown, text_w)
    event = cert.audit_event
    _row(pdf, "审计记录", "Audit event",
         f"#{event['seq']} · {str(event['occurred_at'])[:19].replace('T', ' ')} UTC\n"
         f"SHA-256 {event['hash']}", text_w, mono=True)  # fmt: skip
    bottom = pdf.get_y()

    if pdf.page == 1:
        bottom = max(bottom, qr_bottom)
    pdf.set_xy(pdf.l_margin, bottom + 2)

    pdf.set_draw_color(*GOLD)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(2)
    if url:
        pdf.set_text_color(*INK)
        pdf.set_font("zenhei", size=8.5)
        label = "在线核验 Verify online: "
        width = pdf.get_string_width(label) + 1
        pdf.cell(width, 4.6, label)
        pdf.set_font("zenheimono", size=8.5)
        pdf.cell(full - width, 4.6, url, link=url, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*MUTED)
    pdf.set_font("zenhei", size=7.5)
    pdf.multi_cell(full, 3.8,
        "核验方法：本证书的记录由登记簿哈希链审计日志中的上述事件写入；在登记簿上运行 tanhui audit verify "
        "可重算整条哈希链，tanhui credits certificate --id " + cert.certificate + " 显示同一证书及其事件哈希。\n"
        "How to verify: the audit event above recorded this retirement in the registry's hash-chained "
        "audit log; `tanhui audit verify` recomputes the whole chain, and `tanhui credits certificate "
        f"--id {cert.certificate}` shows this certificate with the same event hash.",
        align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    return bytes(pdf.output())
