"""``tanhui docs …``: project documents (项目文件) on the command line — a thin shell over
:mod:`registry.documents.store`. Each generated file is written to ``--out`` and stored in the
registry with its SHA-256 in the audit log; ``tanhui docs verify FILE`` says which document a
file is, or that the registry never issued it."""

from __future__ import annotations

import os
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


def _unwritable(out: Path, reason_zh: str, reason_en: str) -> typer.Exit:
    from registry.errors import OutputNotWritable

    return refuse(
        OutputNotWritable(
            f"无法在 {out} 写入文件：{reason_zh}。未生成任何文件。",
            f"cannot write files in {out}: {reason_en}. Nothing was generated.",
        )
    )


def _check_folder(out: Path) -> None:
    """Refuse, before anything is built, a folder that cannot be made or written: the nearest
    existing ancestor must be a folder this process may write in (``out`` is created only once
    the files are built, so that a refusal leaves nothing behind)."""
    found = out.absolute()
    while not found.exists():  # the root always exists
        found = found.parent
    if not found.is_dir():
        raise _unwritable(out, f"{found} 不是文件夹", f"{found} is not a folder")
    if not os.access(found, os.W_OK | os.X_OK):
        raise _unwritable(out, f"没有 {found} 的写入权限", f"no permission to write in {found}")


def _generate(kind: str, project: str, period: int | None, out: Path, formats: str | None,
              as_json: bool) -> None:  # fmt: skip
    """Check the folder, build and render in a read transaction, write the files under
    temporary names, store them in a short write transaction, then give them their names: a
    refusal or a failure leaves neither a stored row without its file nor a file."""
    from registry.documents.store import build_files, file_name_for, store_files

    wanted = None if formats is None else formats.split(",")
    _check_folder(out)
    with console.status("正在生成 generating …"):
        built = ctx.read(lambda s: build_files(s, ctx.acting(s), kind, project, period, wanted))
    names = [file_name_for(f.kind, f.project, f.period, f.format) for f in built]
    partial = [out / f".{name}.partial" for name in names]
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
            for path, file in zip(partial, built, strict=True):
                path.write_bytes(file.content)
        except OSError as exc:
            raise _unwritable(out, str(exc.strerror or exc), str(exc.strerror or exc)) from None
        stored = ctx.run(lambda s: store_files(s, ctx.acting(s), built))
        for path, info in zip(partial, stored, strict=True):
            path.replace(out / info.file_name)
    finally:
        for path in partial:
            path.unlink(missing_ok=True)
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
    """核对文件是否为本系统签发 / check whether the registry issued this file (exit 0: it did —
    with a warning if the registry's stored copy is missing or altered; exit 1: unknown or
    altered)."""
    from registry.documents.store import verify_document
    from registry.errors import UnreadableFile

    if not file.is_file():
        raise refuse(UnreadableFile(f"找不到文件 {file}。", f"no file {file}."))
    found = ctx.read(lambda s: verify_document(s, file))
    if as_json:
        print_json(found)
    elif found.issued and found.document is None:  # issued, but the stored copy is gone
        console.print(f"[yellow]![/] {escape(found.message_zh)}")
        console.print(f"  {escape(found.message_en)}")
        console.print(f"  sha256 {found.sha256}")
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
