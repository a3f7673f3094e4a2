"""Benchmark: the project design document of the demo's forest-management project
(SP-FM-2026-01; its size is printed — the issue's "5,700 ha" was the project before its
non-applicable stands were removed), as Word and as PDF.

  subject   registry.documents.pdd.build_pdd on the demo database, then render_docx (Word) and
            render_pdf (HTML + WeasyPrint, Noto Sans CJK SC, fonts subset by HarfBuzz).
  anchors   measured in the same run: WeasyPrint on a minimal document (title page, contents,
            one short section: the fixed cost of a PDF), and the same document written as plain text (the cost of its content without
            layout); with --no-hb-subset also the PDF with fontTools subsetting instead of
            HarfBuzz (the issue: 23 s a page without libharfbuzz-subset0, 0.33 s with).
Prints time, pages, seconds per page, peak memory (tracemalloc, Python allocations, in a
separate run; and the process's peak RSS) and the ratios. Not a test: nothing asserts timings.

    .venv/bin/python bench/docs/run.py [--workdir DIR] [--project SP-FM-2026-01] [--no-hb-subset]

The demo database is made in --workdir by ``tanhui demo`` when it is not there yet (minutes).
"""

from __future__ import annotations

import argparse
import io
import re
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from registry.db import make_engine, read_scope  # noqa: E402
from registry.documents.docx_render import render_docx  # noqa: E402
from registry.documents.model import (  # noqa: E402
    Document,
    Figure,
    Note,
    Paragraph,
    Section,
    Table,
)
from registry.documents.pdd import build_pdd  # noqa: E402
from registry.documents.pdf_render import render_html, render_pdf  # noqa: E402

TANHUI = str(Path(sys.executable).parent / "tanhui")


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = work()
    return out, time.perf_counter() - t0


def peak_mb(work: Callable[[], Any]) -> float:
    """Peak Python allocations of one more run (tracemalloc slows it: not timed)."""
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def pages(pdf: bytes) -> int:
    done = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=False)
    found = re.search(rb"^Pages:\s+(\d+)", done.stdout, re.M)
    return int(found.group(1)) if found else len(re.findall(rb"/Type\s*/Page\b", pdf))


def plain_text(doc: Document) -> str:
    """The anchor: the same content as plain text, no layout."""
    out = io.StringIO()
    out.write(f"{doc.title}\n{doc.subtitle}\n{doc.project}\n")
    for s in doc.walk():
        out.write(f"\n{s.number} {s.heading}\n")
        for b in s.blocks:
            if isinstance(b, Paragraph | Note):
                out.write(b.text + "\n")
            elif isinstance(b, Table):
                out.write(b.caption + "\n" + "\t".join(b.headers) + "\n")
                out.writelines("\t".join(r) + "\n" for r in b.rows)
            elif isinstance(b, Figure):
                out.write(f"[{b.caption}]\n")
            else:
                out.write(f"{b.reference}: {b.formula} {b.worked}\n")
    return out.getvalue()


def one_page() -> Document:
    return Document(kind="pdd", title="一页 anchor", subtitle="", project="ANCHOR",
                    as_of="bench", sections=(Section("1", "锚点 anchor", blocks=(
                        Paragraph("森林碳汇项目设计文件的一页。 " * 20),)),))  # fmt: skip


def pdf_without_hb_subset(html_path: Path) -> tuple[float, int]:
    """The PDF in a child process with WeasyPrint's HarfBuzz subsetting switched off (it then
    subsets with fontTools, as without libharfbuzz-subset0): seconds, pages."""
    script = (
        "import sys, time, weasyprint.pdf.fonts as f\n"
        "f.harfbuzz_subset = None\n"
        "import weasyprint\n"
        "html = open(sys.argv[1], encoding='utf-8').read()\n"
        "t = time.perf_counter(); pdf = weasyprint.HTML(string=html).write_pdf()\n"
        "sys.stdout.buffer.write(f'{time.perf_counter() - t}\\n'.encode() + pdf)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(html_path)], capture_output=True,
                          check=True)  # fmt: skip
    first, _, pdf = done.stdout.partition(b"\n")
    return float(first), pages(pdf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "demo_output")
    parser.add_argument("--project", default="SP-FM-2026-01")
    parser.add_argument("--no-hb-subset", action="store_true",
                        help="also time the PDF with fontTools subsetting (slow)")  # fmt: skip
    args = parser.parse_args()
    database = args.workdir / "tanhui.sqlite"
    if not database.exists():
        print(f"making the demo in {args.workdir} (tanhui demo) …", flush=True)
        subprocess.run([TANHUI, "demo", "--workdir", str(args.workdir)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    engine = make_engine(f"sqlite:///{database}")

    def built() -> Document:
        with read_scope(engine) as s:
            return build_pdd(s, args.project)

    doc, t_build = timed(built)
    size = {k.key: k.shown for k in doc.key_figures}
    print(f"{args.project}: {size.get('project_area_ha', '?')}, {size.get('n_stands', '?')} stands; "
          f"sections {len(doc.walk())}")  # fmt: skip
    print(f"  build            {t_build:8.2f} s   peak {peak_mb(built):8.1f} MB (tracemalloc)")
    docx, t_docx = timed(lambda: render_docx(doc))
    print(f"  Word (docx)      {t_docx:8.2f} s   peak {peak_mb(lambda: render_docx(doc)):8.1f} MB"
          f"   {len(docx) / 2**20:.1f} MiB")  # fmt: skip

    pdf, t_pdf = timed(lambda: render_pdf(doc))
    n = pages(pdf)
    print(f"  PDF              {t_pdf:8.2f} s   peak {peak_mb(lambda: render_pdf(doc)):8.1f} MB"
          f"   {n} pages, {t_pdf / n:.3f} s/page, {len(pdf) / 2**20:.1f} MiB")  # fmt: skip

    anchor_pdf, t_one = timed(lambda: render_pdf(one_page()))
    text, t_text = timed(lambda: plain_text(doc))
    n_one = pages(anchor_pdf)
    print(
        f"anchor: minimal PDF (title page, contents, one section) {t_one:.3f} s ({n_one} pages); "
        f"the same content as plain text {t_text * 1000:.1f} ms ({len(text):,} chars)"
    )
    print(f"ratios: PDF / minimal PDF {t_pdf / t_one:.1f}× for {n / n_one:.1f}× the pages; "
          f"PDF / plain text {t_pdf / t_text:,.0f}×")  # fmt: skip
    if args.no_hb_subset:
        html_path = args.workdir / f"{args.project}-bench.html"
        html_path.write_text(render_html(doc), encoding="utf-8")
        t_slow, n_slow = pdf_without_hb_subset(html_path)
        print(f"without HarfBuzz subsetting (fontTools): {t_slow:.2f} s, {n_slow} pages, "
              f"{t_slow / n_slow:.3f} s/page — {t_slow / t_pdf:.1f}× the HarfBuzz run")  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:,.0f} MB")
    engine.dispose()


if __name__ == "__main__":
    main()
