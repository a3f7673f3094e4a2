"""A :class:`~registry.documents.model.Document` as one self-contained HTML page and as a PDF.

- :func:`render_html`: the document as HTML (Jinja2 template ``templates/document.html`` and its
  print style ``templates/document.css``, both inlined): A4 pages with margins, a running header
  with the project code, page numbers from the ``@page`` counters, a title page, a table of
  contents, the key figures, headings numbered as the document numbers them, tables whose header
  row repeats on every page, figures embedded as ``data:`` URIs (nothing is fetched), notes
  boxed, and an annex listing every unverified parameter. A browser prints the same page.
- :func:`render_pdf`: that HTML laid out by WeasyPrint. Chinese is set in Noto Sans CJK SC
  (Debian's ``fonts-noto-cjk``; ``lang="zh-CN"`` selects the Simplified Chinese glyph forms),
  embedded as a subset by HarfBuzz (``libharfbuzz-subset0``).

Renderers never compute a figure: every number arrives formatted by the builder.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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
from registry.errors import Failure

__all__ = ["CJK_FONT", "render_html", "render_pdf"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Noto Sans CJK (a collection: SC, TC, JP, KR faces); fontconfig finds the SC face by name
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
NOTE_LABELS = {
    "unverified": "未核实 UNVERIFIED",
    "warning": "警告 warning",
    "info": "说明 note",
}


@dataclass(frozen=True)
class _Shown:
    """A block as the template shows it: its kind and what the template cannot compute."""

    kind: str
    block: Block
    src: str = ""  # a figure's data: URI
    width: float = 0.0  # a figure's width (cm)
    label: str = ""  # a note's kind, in words


@dataclass(frozen=True)
class _Heading:
    number: str
    heading: str
    level: int  # 1 for "3", 2 for "3.2" …
    tag: int  # h2 … h5 (h1 is the document's title)
    anchor: str
    blocks: tuple[_Shown, ...]


def _shown(block: Block) -> _Shown:
    if isinstance(block, Paragraph):
        return _Shown("paragraph", block)
    if isinstance(block, Table):
        return _Shown("table", block)
    if isinstance(block, Figure):
        uri = "data:image/png;base64," + base64.b64encode(block.png).decode("ascii")
        return _Shown("figure", block, src=uri, width=block.width_cm)
    if isinstance(block, Equation):
        return _Shown("equation", block)
    if isinstance(block, Note):
        return _Shown("note", block, label=NOTE_LABELS[block.kind])
    raise TypeError(f"not a document block: {type(block).__name__}")


def _headings(doc: Document) -> list[_Heading]:
    out: list[_Heading] = []
    for i, s in enumerate(doc.walk()):
        level = _level(s)
        out.append(
            _Heading(
                number=s.number,
                heading=s.heading,
                level=level,
                tag=min(level + 1, 5),
                anchor=f"{i}",
                blocks=tuple(_shown(b) for b in s.blocks),
            )
        )
    return out


def _level(section: Section) -> int:
    return section.number.count(".") + 1 if section.number else 1


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


META_LABELS = {  # the builders' meta keys → the cover's bilingual labels
    "project_name": "项目名称 project name",
    "methodology": "方法学 methodology",
    "developer": "项目业主 developer",
    "status": "登记状态 status",
    "version": "版本 edition",
}


def _cover_meta(doc: Document) -> list[tuple[str, str]]:
    """The title page's rows: each meta entry under its bilingual label (a key the table does
    not know is shown as the builder wrote it)."""
    return [(META_LABELS.get(key, key), value) for key, value in doc.meta.items()]


def render_html(doc: Document) -> str:
    """The document as one self-contained HTML page (UTF-8 text; images inlined)."""
    css = (TEMPLATES / "document.css").read_text(encoding="utf-8")
    template = _environment().get_template("document.html")
    return template.render(doc=doc, toc=_headings(doc), css=css, meta=_cover_meta(doc))


def render_pdf(doc: Document) -> bytes:
    """The document as a PDF (A4), laid out by WeasyPrint from :func:`render_html`."""
    if not CJK_FONT.is_file():
        raise Failure(
            f"找不到项目文件所用的中文字体 {CJK_FONT}：请安装 fonts-noto-cjk（make setup 会安装）。",
            f"the Chinese font of the project documents {CJK_FONT} is missing: install "
            "fonts-noto-cjk (make setup does).",
        )
    import weasyprint

    # WeasyPrint logs every CSS property it ignores and every font it subsets at INFO/WARNING
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    html = weasyprint.HTML(string=render_html(doc), base_url=str(TEMPLATES))
    pdf: bytes = html.write_pdf()
    return pdf
