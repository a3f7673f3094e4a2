"""Word (.docx) rendering of a :class:`~registry.documents.model.Document` with python-docx.

Lays out what the builder made, computing no figure: a title page (title, project, code,
methodology, developer, edition and data-as-of time, "由 tanhui 登记簿数据生成 / generated from
the registry"), a table-of-contents field (Word fills it on opening; LibreOffice on update),
page numbers in the footer, numbered headings in the Heading 1/2/3 styles, tables with a
shaded header row repeated on each page, figures at their width with a caption, equations as
centred monospace lines with their worked numbers, notes as shaded boxes, and annexes: the key
figures and the unverified parameters.

Chinese text: every style used names an East Asian font (``w:eastAsia`` = Noto Sans CJK SC,
falling back in the reader to WenQuanYi Zen Hei), so Word and LibreOffice pick the simplified
Chinese glyph forms rather than the Japanese ones.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.styles.style import BaseStyle
from docx.table import _Cell, _Row
from docx.text.paragraph import Paragraph as DocxParagraph

from registry.documents.model import (
    Block,
    Document,
    Equation,
    Figure,
    Note,
    Paragraph,
    Section,
    Table,
)

__all__ = ["EAST_ASIAN_FONT", "render_docx"]

EAST_ASIAN_FONT = "Noto Sans CJK SC"
LATIN_FONT = "Calibri"
MONO_FONT = "DejaVu Sans Mono"
NOTE_FILL = {"unverified": "FCE4D6", "warning": "F8CBAD", "info": "DDEBF7"}
NOTE_LABEL = {"unverified": "未核实 UNVERIFIED", "warning": "注意 WARNING", "info": "说明 NOTE"}
HEADER_FILL = "D9E2F3"
DOC_KIND = {"pdd": "项目设计文件", "monitoring_report": "监测报告"}


def _fonts(style: BaseStyle, latin: str = LATIN_FONT) -> None:
    """Set a style's Latin and East Asian fonts (w:rFonts ascii/hAnsi and eastAsia)."""
    element = style.element
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), latin)
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")


def _styles(docx: DocxDocument) -> None:
    styles = docx.styles
    normal = styles["Normal"]
    _fonts(normal)
    normal.font.size = Pt(10.5)
    for name in ("Title", "Subtitle", "Heading 1", "Heading 2", "Heading 3", "Caption",
                 "Table Grid", "List Bullet"):  # fmt: skip
        _fonts(styles[name])
    for name in ("Heading 1", "Heading 2", "Heading 3", "Title"):
        styles[name].font.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)


def _field(paragraph: DocxParagraph, instruction: str, placeholder: str) -> None:
    """A Word field (``TOC``, ``PAGE``) with the text shown until it is updated."""
    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    begin.set(qn("w:dirty"), "true")
    run._r.append(begin)
    run = paragraph.add_run()
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instruction} "
    run._r.append(text)
    run = paragraph.add_run()
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    run._r.append(separate)
    paragraph.add_run(placeholder)
    run = paragraph.add_run()
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(end)


def _shade(cell: _Cell, fill: str) -> None:
    props = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    props.append(shading)


def _repeat_header(row: _Row) -> None:
    props = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    props.append(header)


def _title_page(docx: DocxDocument, doc: Document) -> None:
    for _ in range(4):
        docx.add_paragraph()
    title = docx.add_paragraph(doc.title, style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle = docx.add_paragraph(doc.subtitle, style="Subtitle")
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    docx.add_paragraph()
    rows = [
        ("项目编号 Project code", doc.project),
        ("方法学 Methodology", doc.meta.get("methodology", "—")),
        ("项目业主 Developer", doc.meta.get("developer", "—")),
        ("版本 Edition", doc.meta.get("version", "—")),
        ("数据截至 Data as of", doc.as_of),
    ]
    if doc.period is not None:
        rows.insert(1, ("监测期 Monitoring period", str(doc.period)))
    table = docx.add_table(rows=len(rows), cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for row, (label, value) in zip(table.rows, rows, strict=True):
        row.cells[0].text = label
        row.cells[1].text = value
        row.cells[0].paragraphs[0].runs[0].bold = True
    docx.add_paragraph()
    made = docx.add_paragraph("由 tanhui 登记簿数据生成 / generated from the registry")
    made.alignment = WD_ALIGN_PARAGRAPH.CENTER
    made.runs[0].italic = True
    docx.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    docx.add_paragraph("目录 Contents", style="Heading 1").paragraph_format.keep_with_next = True
    _field(
        docx.add_paragraph(),
        'TOC \\o "1-3" \\h \\z \\u',
        "（打开时更新目录 / update the field to fill the table of contents）",
    )
    docx.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _footer(docx: DocxDocument, doc: Document) -> None:
    section = docx.sections[0]
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(f"{DOC_KIND.get(doc.kind, doc.kind)} {doc.project} · 第 ")
    _field(paragraph, "PAGE", "1")
    paragraph.add_run(" 页 / page")


class _Counter:
    def __init__(self) -> None:
        self.tables = 0
        self.figures = 0


def _caption(docx: DocxDocument, text: str) -> None:
    paragraph = docx.add_paragraph(text, style="Caption")
    paragraph.paragraph_format.keep_with_next = True


def _table(docx: DocxDocument, table: Table, count: _Counter) -> None:
    count.tables += 1
    _caption(docx, f"表 {count.tables}  {table.caption}")
    out = docx.add_table(rows=1 + len(table.rows), cols=len(table.headers), style="Table Grid")
    header = out.rows[0]
    _repeat_header(header)
    for cell, text in zip(header.cells, table.headers, strict=True):
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
        _shade(cell, HEADER_FILL)
    for row, values in zip(out.rows[1:], table.rows, strict=True):
        for i, (cell, text) in enumerate(zip(row.cells, values, strict=True)):
            cell.text = text
            if i in table.numeric:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for note in table.notes:
        paragraph = docx.add_paragraph()
        run = paragraph.add_run(note)
        run.font.size = Pt(8.5)
    docx.add_paragraph()


def _figure(docx: DocxDocument, figure: Figure, count: _Counter) -> None:
    count.figures += 1
    docx.add_picture(io.BytesIO(figure.png), width=Cm(figure.width_cm))
    docx.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption = docx.add_paragraph(f"图 {count.figures}  {figure.caption}", style="Caption")
    caption.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _mono(paragraph: DocxParagraph, text: str, size: float = 9.5) -> None:
    run = paragraph.add_run(text)
    run.font.name = MONO_FONT
    run.font.size = Pt(size)
    fonts = run._r.get_or_add_rPr().find(qn("w:rFonts"))
    if fonts is not None:
        fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def _equation(docx: DocxDocument, eq: Equation) -> None:
    reference = docx.add_paragraph()
    reference.add_run(eq.reference).bold = True
    reference.paragraph_format.keep_with_next = True
    for text in (eq.formula, eq.worked):
        if text:
            line = docx.add_paragraph()
            line.alignment = WD_ALIGN_PARAGRAPH.CENTER
            line.paragraph_format.keep_with_next = True
            _mono(line, text)
    for where in eq.where:
        item = docx.add_paragraph(style="List Bullet")
        item.add_run(where).font.size = Pt(9)


def _note(docx: DocxDocument, note: Note) -> None:
    box = docx.add_table(rows=1, cols=1, style="Table Grid")
    cell = box.rows[0].cells[0]
    _shade(cell, NOTE_FILL[note.kind])
    paragraph = cell.paragraphs[0]
    paragraph.add_run(f"{NOTE_LABEL[note.kind]}：").bold = True
    paragraph.add_run(note.text)
    docx.add_paragraph()


def _block(docx: DocxDocument, block: Block, count: _Counter) -> None:
    if isinstance(block, Paragraph):
        docx.add_paragraph(block.text)
    elif isinstance(block, Table):
        _table(docx, block, count)
    elif isinstance(block, Figure):
        _figure(docx, block, count)
    elif isinstance(block, Equation):
        _equation(docx, block)
    else:
        _note(docx, block)


def _section(docx: DocxDocument, section: Section, depth: int, count: _Counter) -> None:
    docx.add_heading(f"{section.number}  {section.heading}", level=min(depth, 3))
    for block in section.blocks:
        _block(docx, block, count)
    for sub in section.subsections:
        _section(docx, sub, depth + 1, count)


def _annexes(docx: DocxDocument, doc: Document, count: _Counter) -> None:
    docx.add_heading("附件 A  关键数字 Annex A: key figures", level=1)
    _table(docx, Table("关键数字（核对用） Key figures for checking", ("键 Key", "项目 Figure",
           "数值 Value"), tuple((k.key, k.label, k.shown) for k in doc.key_figures)), count)  # fmt: skip
    docx.add_heading("附件 B  未核实参数 Annex B: unverified parameters", level=1)
    if doc.unverified:
        docx.add_paragraph("以下参数或规则的来源尚未核实，使用它们的数字均须在审定前核对。 / The sources of "
                           "these parameters or rules are not verified; every figure using them must "
                           "be checked before validation.")  # fmt: skip
        for line in doc.unverified:
            docx.add_paragraph(line, style="List Bullet")
    else:
        docx.add_paragraph("无：本文件所用参数均已核实。 / None: every parameter used is verified.")


AUTHOR = "tanhui 登记簿"


def _core_properties(docx: DocxDocument, doc: Document) -> None:
    """The file's metadata: title, subject (the project), author the registry, created and
    modified the generation time — none of python-docx's template defaults (its 2013 dates,
    its "generated by python-docx" comment)."""
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)  # core.xml holds UTC, W3CDTF
    props = docx.core_properties
    props.title = f"{doc.title} {doc.subtitle}"
    props.subject = doc.project
    props.author = props.last_modified_by = AUTHOR
    props.comments = props.keywords = props.category = ""
    props.created = props.modified = now
    props.revision = 1


def render_docx(doc: Document) -> bytes:
    """The document as Word (.docx) bytes: title page, contents field, numbered sections,
    annexes (key figures, unverified parameters), page numbers in the footer."""
    docx = new_docx()
    _styles(docx)
    section = docx.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.2))
    _core_properties(docx, doc)
    _footer(docx, doc)
    _title_page(docx, doc)
    count = _Counter()
    for top in doc.sections:
        _section(docx, top, 1, count)
    _annexes(docx, doc, count)
    buffer = io.BytesIO()
    docx.save(buffer)
    return buffer.getvalue()
