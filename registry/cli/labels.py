"""``tanhui labels …``: eco-labels (生态标签) on the command line — a thin shell over
:mod:`registry.labels`. Labels are attached to credits after issuance (``labels attach``);
issuance takes no labels."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from registry.cli.context import console, ctx, err_console, refuse
from registry.cli.output import print_json, print_table, warn_unverified

__all__ = ["labels_app"]

labels_app = typer.Typer(help="生态标签 / eco-labels on credits.", no_args_is_help=True)
layers_app = typer.Typer(
    help="标签图层（不带子命令：列出） / polygon layers for the labels' spatial tests (alone: list).",
    invoke_without_command=True,
)
labels_app.add_typer(layers_app, name="layers")

KeyOpt = Annotated[
    str | None, typer.Option("--key", help="幂等键：重试时用同一个 / idempotency key")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON")]


def _key(key: str | None) -> str:
    if key is None:
        key = str(uuid.uuid4())
        err_console.print(f"幂等键 idempotency key: {key}（重试请用 --key {key}）")
    return key


@labels_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """标签目录 / the label catalogue (active and revoked)."""
    from registry.labels.catalogue import list_labels

    found = ctx.read(list_labels)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    rows = [{**e.to_dict(), "valid": f"{e.valid_from} – {e.valid_to or '长期 open'}",
             "evidence": f"{e.evidence_name} sha256:{e.evidence_sha256[:12]}…"} for e in found]  # fmt: skip
    print_table("生态标签目录 eco-label catalogue", rows,
                ("code", "name_zh", "name_en", "kind", "issuer", "valid", "status", "evidence"))  # fmt: skip
    warn_unverified([f"{e.code}: {u}" for e in found for u in e.unverified])


@labels_app.command("add")
def add_cmd(
    evidence: Annotated[
        Path, typer.Option(help="证明文件（只存文件名与 SHA-256） / evidence document")
    ],
    catalogue: Annotated[
        Path | None, typer.Option(help="标签目录文件 JSON（默认起步目录） / catalogue file")
    ] = None,
    code: Annotated[
        list[str] | None, typer.Option("--code", help="只添加这些代码 / only these codes")
    ] = None,
) -> None:
    """添加标签（管理员） / add labels from a catalogue file (admin); entries are never edited."""
    from registry.labels.catalogue import STARTER_CATALOGUE, add_label, read_catalogue_file

    entries = ctx.run_plain(lambda: read_catalogue_file(catalogue or STARTER_CATALOGUE))
    if code:
        unknown = sorted(set(code) - {e["code"] for e in entries})
        if unknown:
            from registry.errors import UnknownLabel

            missing = ", ".join(unknown)
            raise refuse(
                UnknownLabel(f"目录文件中没有 {missing}。", f"the catalogue file has no {missing}.")
            )
        entries = [e for e in entries if e["code"] in code]
    added = ctx.run(lambda s: [add_label(s, ctx.acting(s), e, evidence) for e in entries])
    for e in added:
        console.print(
            f"[green]已添加 added[/] {escape(e.code)} {escape(e.name_zh)} / {escape(e.name_en)}"
        )


@labels_app.command("evaluate")
def evaluate_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    label: Annotated[str, typer.Option(help="标签代码")],
    as_json: JsonOpt = False,
    show: Annotated[int, typer.Option(help="显示多少个小班 / stands to list")] = 50,
) -> None:
    """评估标签条件（管理员、局工作人员） / judge a project's stands against a label."""
    from registry.labels.service import evaluate_label

    found = ctx.read(lambda s: evaluate_label(s, ctx.acting(s), project, label))
    if as_json:
        print_json(found)
        return
    j = found.judgement
    rows = [{"stand": x.stand, "area_ha": f"{x.area_ha:.4f}",
             "credits": "" if x.credits_tco2e is None else f"{x.credits_tco2e:,.1f}",
             "passed": "✓" if x.passed else "✗", "reason": x.reason_zh} for x in j.stands[:show]]  # fmt: skip
    print_table(
        f"{label} · {project}：小班判定 stands",
        rows,
        ("stand", "area_ha", "credits", "passed", "reason"),
    )
    if len(j.stands) > show:
        console.print(f"… 另有 {len(j.stands) - show} 个小班 more stands (--show, --json)")
    credits = "—" if j.share_credits is None else f"{j.share_credits:.1%}"
    verdict = "[green]符合 qualifies[/]" if j.qualifies else "[red]不符合 does not qualify[/]"
    console.print(
        f"{j.n_passed}/{j.n_stands} 个小班合格 stands pass · 面积占比 area share {j.share_area:.1%} "
        f"({j.area_passed_ha:,.2f} / {j.area_ha:,.2f} ha) · 事前碳汇占比 ex-ante credits share {credits} · "
        f"规则 rule: {j.basis} ≥ {j.min_share:.0%} → {verdict}"
    )
    console.print(f"[dim]{escape(found.credits_note)}[/] · digest {found.digest}")
    warn_unverified(list(j.unverified))


@labels_app.command("attach")
def attach_cmd(
    project: Annotated[str, typer.Option(help="项目编号")],
    label: Annotated[str, typer.Option(help="标签代码")],
    vintage: Annotated[
        int | None, typer.Option(help="年份（默认全部已签发年份） / vintage (default: all)")
    ] = None,
    key: KeyOpt = None,
) -> None:
    """为已签发的积分附加标签（管理员） / attach a label to issued credits (admin)."""
    from registry.labels.service import attach_label

    k = _key(key)
    print_json(ctx.run(lambda s: attach_label(s, ctx.acting(s), k, project, vintage, label)))


@labels_app.command("revoke")
def revoke_cmd(
    label: Annotated[str, typer.Option(help="标签代码")],
    reason: Annotated[str, typer.Option(help="撤销理由")],
    key: KeyOpt = None,
) -> None:
    """撤销标签并从未退役积分上移除（管理员） / revoke a label and detach it from live credits."""
    from registry.labels.service import revoke_label

    k = _key(key)
    print_json(ctx.run(lambda s: revoke_label(s, ctx.acting(s), k, label, reason)))


@layers_app.command("add")
def layer_add_cmd(
    name: Annotated[str, typer.Argument(help="图层名，如 water_source")],
    file: Annotated[Path, typer.Argument(help="GeoPackage / Shapefile / GeoJSON")],
    layer: Annotated[str | None, typer.Option(help="文件中的图层 / layer inside the file")] = None,
) -> None:
    """载入面图层（管理员、局工作人员） / load a polygon layer (reprojected to CGCS2000; the
    file's attributes are not stored)."""
    from registry.labels.layers import load_layer

    info = ctx.run(lambda s: load_layer(s, ctx.acting(s), name, file, layer))
    console.print(
        f"[green]图层已载入 layer loaded[/] {escape(info.name)}: {info.n_polygons} 个面 polygons, "
        f"{info.area_ha:,.2f} ha, {escape(info.source_crs)} → EPSG:4490, sha256 {info.file_sha256}"
    )
    console.print("[dim]只保存面及其序号，不保存文件的属性 / only the polygons and their numbers are "
                  "stored, none of the file's attributes[/]")  # fmt: skip


@layers_app.callback()
def layers_default(context: typer.Context) -> None:
    if context.invoked_subcommand is None:
        layer_list_cmd()


@layers_app.command("list")
def layer_list_cmd() -> None:
    """已载入的图层 / the loaded layers."""
    from registry.labels.layers import list_layers

    print_table("标签图层 label layers", ctx.read(list_layers),
                ("name", "source_name", "source_crs", "n_polygons", "area_ha", "loaded_by", "loaded_at"))  # fmt: skip
