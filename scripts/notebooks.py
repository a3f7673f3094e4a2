"""Run the analysts' notebooks without Jupyter, or strip their outputs before a commit.

    .venv/bin/python scripts/notebooks.py run [--out demo_output/notebooks] [NAME ...]
    .venv/bin/python scripts/notebooks.py strip

``run`` executes each notebook of notebooks/ top to bottom (nbclient, the venv's python3
kernel) on the database named by TANHUI_DATABASE_URL (default: the demo's
demo_output/tanhui.sqlite) and writes the executed copy and its plots (PNG) to ``--out``; the
notebooks in notebooks/ stay without outputs. ``strip`` clears the outputs and execution counts
of notebooks/*.ipynb (after working on them in Jupyter): git never stores outputs.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run(names: list[str], out: Path, timeout_s: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    paths = [NOTEBOOKS / n for n in names] if names else sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=timeout_s, kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )  # fmt: skip
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as exc:
            failed += 1
            status = f"失败 FAILED: {str(exc).splitlines()[-1] if str(exc) else exc!r}"
        nbformat.write(nb, out / path.name)
        images = 0
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png:
                    images += 1
                    (out / f"{path.stem}_{images}.png").write_bytes(base64.b64decode(png))
        print(f"{path.name}: {status}; {images} 张图 plots → {out}")
    return 1 if failed else 0


def strip() -> int:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        nbformat.write(nb, path)
        print(f"{path.name}: 已清除输出 outputs cleared")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run", help="执行笔记本 run the notebooks")
    go.add_argument("names", nargs="*", help="笔记本文件名 notebook file names (default: all)")
    go.add_argument("--out", type=Path, default=Path("demo_output/notebooks"))
    go.add_argument("--timeout", type=int, default=300, help="每个单元格秒数 seconds per cell")
    sub.add_parser("strip", help="清除输出 clear the outputs of notebooks/*.ipynb")
    args = parser.parse_args()
    if args.command == "run":
        return run(args.names, args.out, args.timeout)
    return strip()


if __name__ == "__main__":
    sys.exit(main())
