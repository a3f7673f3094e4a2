"""The HTML and PDF renderers (registry/documents/pdf_render.py) on the sample document (every
block kind, Chinese headings, a matplotlib PNG): the HTML is self-contained and escapes what it
is given; the PDF read back with poppler — pdftotext finds the Chinese headings and the key
figures (worked out by hand in tests/documents/sample.py) with no replacement character, every
font is Noto Sans CJK SC embedded, each Chinese character of the document is extracted as
itself (no tofu); the long table repeats its header row; pdftoppm renders every page as A4
with ink on it (pages were looked at while writing the renderer)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from registry.documents.model import Paragraph, Section
from registry.documents.pdf_render import render_html, render_pdf
from tests.documents.sample import LONG_TABLE_ROWS, sample_document

HEADINGS = (
    "1 项目概况 / project description",
    "1.1 项目边界 / boundary",
    "2 项目边界与小班 / boundary and stands",
    "3 事前估算 / ex-ante estimate",
    "3.1 碳库 / carbon pools",
)


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "sample.pdf"
    path.write_bytes(render_pdf(sample_document()))
    return path


def _text(pdf: Path, *args: str) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", *args, str(pdf), "-"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    found = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M)
    assert found is not None
    return int(found.group(1))


def test_the_html_is_self_contained_and_laid_out_for_print() -> None:
    html = render_html(sample_document())
    assert "<link" not in html and "http://" not in html and "https://" not in html
    assert re.search(r"""src=["'](?!data:)""", html) is None  # every image inlined
    assert html.count('src="data:image/png;base64,') == 1
    assert "size: A4" in html and "counter(page)" in html and "counter(pages)" in html
    assert "element(running)" in html  # the running header, with the project code
    assert "SP-TEST-01 · 项目设计文件" in html
    assert html.count("<thead>") == 3  # key figures, stands, the long table
    for number, heading in (h.split(" ", 1) for h in HEADINGS):
        assert f'<span class="number">{number}</span> {heading}' in html
    assert 'class="note note-unverified"' in html and 'class="note note-warning"' in html
    assert 'id="annex-unverified"' in html
    assert "r 年均清除率 annual removal rate: 来源未核实 source not verified" in html


def test_the_cover_shows_the_builders_meta_under_bilingual_labels() -> None:
    """The design document's builder writes ``methodology``, ``developer``, ``status``,
    ``project_name``: the title page shows them as 方法学 methodology and so on, never the keys."""
    meta = {"methodology": "森林经营碳汇", "developer": "双牌县林业局", "status": "registered",
            "project_name": "测试项目"}  # fmt: skip
    html = render_html(replace(sample_document(), meta=meta))
    cover = html[
        html.index('<table class="meta">') : html.index(
            "</table>", html.index('<table class="meta">')
        )
    ]
    for label, value in (("方法学 methodology", "森林经营碳汇"), ("项目业主 developer", "双牌县林业局"),
                         ("登记状态 status", "registered"), ("项目名称 project name", "测试项目")):  # fmt: skip
        assert f"<tr><th>{label}</th><td>{value}</td></tr>" in cover
    for key in ("<th>methodology</th>", "<th>developer</th>", "<th>status</th>", "project_name"):
        assert key not in cover


def test_the_html_escapes_the_text_it_is_given() -> None:
    doc = sample_document()
    hostile = Section("9", "<b>标题</b>", blocks=(Paragraph('<script>alert("x")</script>'),))
    html = render_html(replace(doc, sections=(*doc.sections, hostile)))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;标题&lt;/b&gt;" in html


def test_pdftotext_finds_the_chinese_headings_and_the_key_figures(pdf: Path) -> None:
    text = _text(pdf)
    assert "\ufffd" not in text
    flat = re.sub(r"\s+", " ", text)
    for heading in HEADINGS:
        assert heading in flat
    assert "项目设计文件" in flat and "附录 未核实参数" in flat
    # the sample's key figures: 1,234.50 + 2,000.25 + 465.25 = 3,700.00 ha;
    # 3,700.00 ha × 4.2 t CO2e/ha/a × 20 a = 310,800 t CO2e
    assert "项目面积 project area (ha) 3,700.00" in flat
    assert "事前估算 ex-ante (t CO2e) 310,800" in flat
    assert "ΔC = 3,700.00 × 4.2 × 20 = 310,800 t CO2e" in flat
    assert "未核实 UNVERIFIED" in flat and "警告 warning" in flat


def test_every_chinese_character_comes_back_as_itself(pdf: Path) -> None:
    """No tofu: a glyph missing from the font would come back as something else (or nothing)."""
    html = render_html(sample_document())
    wanted = {c for c in html if "\u4e00" <= c <= "\u9fff"}
    got = {c for c in _text(pdf) if "\u4e00" <= c <= "\u9fff"}
    assert len(wanted) > 80
    assert wanted <= got, sorted(wanted - got)


def test_the_fonts_are_noto_sans_cjk_sc_embedded(pdf: Path) -> None:
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows
    for row in rows:
        assert "Noto-Sans-CJK-SC" in row, row
        assert re.search(r"\byes\s+yes\s+yes\b", row), row  # embedded, subset, Unicode map


def test_pages_are_numbered_and_the_long_table_repeats_its_header(pdf: Path) -> None:
    pages = _pages(pdf)
    text = _text(pdf, "-layout")
    for page in range(1, pages + 1):
        assert f"第 {page} 页 / 共 {pages} 页" in text
    by_page = text.split("\f")
    spanned = [p for p in by_page if "层 stratum" in p]
    assert len(spanned) >= 2  # the 120 rows run over more than one page …
    for page_text in spanned:  # … and each page they are on starts with the header row
        assert "年份 year" in page_text and "清除量 removals (t CO2e)" in page_text
    rows = re.findall(r"层 stratum \d", text)
    assert len(rows) == LONG_TABLE_ROWS
    for page_text in by_page[1:-1]:
        assert "SP-TEST-01 · 项目设计文件" in page_text  # the running header


def test_pdftoppm_renders_every_page_with_ink(pdf: Path, tmp_path: Path) -> None:
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == _pages(pdf)
    for image in images:
        with Image.open(image) as im:
            assert im.size[0] < im.size[1]  # A4 portrait: 210 × 297 mm
            assert abs(im.size[1] / im.size[0] - 297 / 210) < 0.01
            grey = im.convert("L")
            dark = sum(grey.histogram()[:128])  # pixels darker than mid-grey
            assert dark > 200, image.name  # text on the page, not a blank sheet
