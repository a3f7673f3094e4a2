"""``tanhui docs …``: project documents (项目文件) on the command line — a thin shell over
:mod:`registry.documents.store`. Each generated file is written to ``--out`` and stored in the
registry with its SHA-256 in the audit log; ``tanhui docs verify FILE`` says which document a
file is, or that the registry never issued it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from registry.cli.context import console, ctx, err_console, refuse
from registry.cli.exits import EXIT_REFUSED
from registry.cli.output import print_json, print_table

if TYPE_CHECKING:
    from registry.documents.store import DocumentInfo

__all__ = ["docs_app"]

docs_app = typer.Typer(
    help="项目文件：设计文件、监测报告、工作簿 / project documents.", no_args_is_help=True
)

ProjectOpt = Annotated[str, typer.Option("--project", help="项目编号 / project code")]
OutOpt = Annotated[Path, typer.Option("--out", help="输出文件夹 / output folder")]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format", help="格式，逗号分隔（docx,pdf；工作簿 xlsx） / formats, comma-separated"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON")]


def _generate(kind: str, project: str, period: int | None, out: Path, formats: str | None,
              as_json: bool) -> None:  # fmt: skip
    """Build and render in a read transaction, store in a short write transaction, then write
    the files (a refusal writes nothing)."""
    from registry.documents.store import build_files, store_files
    from registry.errors import UnreadableFile

    wanted = None if formats is None else formats.split(",")
    if out.exists() and not out.is_dir():
        raise refuse(UnreadableFile(f"{out} 不是文件夹。", f"{out} is not a folder."))
    with console.status("正在生成 generating …"):
        built = ctx.read(lambda s: build_files(s, ctx.acting(s), kind, project, period, wanted))
    stored = ctx.run(lambda s: store_files(s, ctx.acting(s), built))
    out.mkdir(parents=True, exist_ok=True)
    for info, file in zip(stored, built, strict=True):
        (out / info.file_name).write_bytes(file.content)
    if as_json:
        print_json([{**i.to_dict(), "path": str(out / i.file_name)} for i in stored])
        return
    _print(stored, out)


def _print(stored: list[DocumentInfo], out: Path) -> None:
    for i in stored:
        shown = "公开 public" if i.audience == "public" else "仅工作人员 staff only"
        console.print(
            f"[green]已生成 written[/] {escape(str(out / i.file_name))} · {i.size_bytes:,} B · "
            f"sha256 {i.sha256} · 文件 #{i.id} · 审计事件 audit #{i.audit_seq} · {shown}"
        )


@docs_app.command("pdd")
def pdd_cmd(
    project: ProjectOpt, out: OutOpt, fmt: FormatOpt = None, as_json: JsonOpt = False
) -> None:
    """项目设计文件（Word、PDF） / the project design document (Word, PDF)."""
    _generate("pdd", project, None, out, fmt, as_json)


@docs_app.command("monitoring-report")
def monitoring_report_cmd(
    project: ProjectOpt,
    period: Annotated[int, typer.Option("--period", min=1, help="监测期编号 / period number")],
    out: OutOpt,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """监测报告（Word、PDF） / a monitoring period's report (Word, PDF)."""
    _generate("monitoring_report", project, period, out, fmt, as_json)


@docs_app.command("workbook")
def workbook_cmd(
    project: ProjectOpt,
    out: OutOpt,
    period: Annotated[
        int | None, typer.Option("--period", min=1, help="监测期编号 / period number")
    ] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """计算工作簿（Excel，含公式） / the calculation workbook (Excel, live formulas)."""
    _generate("workbook", project, period, out, fmt, as_json)


@docs_app.command("list")
def list_cmd(project: ProjectOpt, as_json: JsonOpt = False) -> None:
    """项目已生成的文件 / a project's stored documents (staff see drafts too)."""
    from registry.documents.store import list_documents

    found = ctx.read(lambda s: list_documents(s, project, ctx.acting(s)))
    if as_json:
        print_json([d.to_dict() for d in found])
        return
    print_table(f"项目文件 documents · {project}", found,
                ("id", "kind", "period", "format", "file_name", "size_bytes", "audience",
                 "generated_by", "generated_at", "sha256"))  # fmt: skip


@docs_app.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="收到的文件 / the file received")],
    as_json: JsonOpt = False,
) -> None:
    """核对文件是否为本系统签发 / check whether the registry issued this file (exit 0: it did;
    exit 1: unknown or altered)."""
    from registry.documents.store import verify_document
    from registry.errors import UnreadableFile

    if not file.is_file():
        raise refuse(UnreadableFile(f"找不到文件 {file}。", f"no file {file}."))
    found = ctx.read(lambda s: verify_document(s, file))
    if as_json:
        print_json(found)
    elif found.issued:
        console.print(f"[green]✓[/] {escape(found.message_zh)}")
        console.print(f"  {escape(found.message_en)}")
        console.print(f"  sha256 {found.sha256}")
    else:
        err_console.print(f"[red]✗[/] {escape(found.message_zh)}")
        err_console.print(f"  {escape(found.message_en)}")
        err_console.print(f"  sha256 {found.sha256}")
    if not found.issued:
        raise typer.Exit(EXIT_REFUSED)
