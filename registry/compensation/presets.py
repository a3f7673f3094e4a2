"""Benefit-sharing presets after schemes reported in China. Every preset's figures are flagged
``unverified``: the sources found are press reports, not the schemes' official rules; a bureau
adopting one should check the figures against the official document and make its own rule.

Each preset is a complete rule (see :class:`registry.compensation.rules.RuleSpec`); the amount a
roster shares out is always given explicitly (e.g. credits sold × price), the preset only says
how it is divided."""

from __future__ import annotations

from typing import Any

from registry.compensation.rules import RuleSpec, rule_object
from registry.errors import Invalid

__all__ = ["DEPARTURES", "FIXED", "PRESETS", "preset_rule"]


def _anji() -> dict[str, Any]:
    """安吉 (Anji, Zhejiang) bamboo carbon buy-back: 80 % of the net revenue back to village
    collectives and households. Here: the amount given is the net revenue; 80 % to the owners of
    the stands (households and collectives are both owners in the inventory), by the verified
    removals of their stands; 20 % to the developer (the buy-back's operator).
    Source: issue #17's summary of Anji's scheme (73.41 元/t, 80 % back) — press reports; the
    official scheme text was not found: unverified."""
    return {"shares": {"owners": "4/5", "developer": "1/5"}, "basis": "removals",
            "sources": ["安吉竹林碳汇收储：净收益 80% 返还村集体和农户（新闻报道，未核实官方文件）"]}  # fmt: skip


def _sanming() -> dict[str, Any]:
    """三明 林票 (Sanming, Fujian, forest tickets): of the face value issued, 30 % stays with the
    village collective and 70 % goes to the villagers, paid per person. Here: 30 % village
    collective; 70 % to the owners by income shares 股 — give each household's number of
    persons (or its 林票 shares) as ``owner_shares``.
    Source: Xinhua, 2023-11-14, 《三明：一张林票通向人富林丰》 (梨树村: 30 % to the collective,
    70 % to villagers) — a press report: unverified."""
    return {"shares": {"village_collective": "3/10", "owners": "7/10"}, "basis": "shares",
            "sources": ["新华社 2023-11-14《三明：一张林票通向人富林丰》：30%留村集体，70%交村民（新闻报道）"]}  # fmt: skip


def _guizhou() -> dict[str, Any]:
    """贵州 单株碳汇 (Guizhou single-tree carbon sink, poverty alleviation): 3 元 per tree per
    year, the whole purchase paid into the household's own account; a household takes part with
    at most 2 亩 and 225 trees per 亩, i.e. at most 450 trees → a cap of 450 × 3 = 1,350 元 per
    household per year. Here: 100 % to the owners by trees (stems_per_ha × area), capped at
    1,350 元 per owner per roster (one roster a year); what is above the caps goes to the
    village collective.
    Sources: Xinhua, 2019-06-20 (《“种树卖空气”：碳汇树为贵州贫困山民增收》, 3 元 per tree);
    a 2019 report on 望谟县 石屯镇 (at most 2 亩, 225 trees per 亩, 450 trees per household) —
    press reports: unverified."""
    return {"shares": {"owners": "1"}, "basis": "trees", "cap_per_owner": "1350",
            "cap_surplus_to": "village_collective",
            "sources": ["新华社 2019-06-20：每株碳汇树每年 3 元，购碳资金全额进入农户账户（新闻报道）",
                        "望谟县单株碳汇试点报道：每户最多 2 亩、每亩最多 225 株、合计最多 450 株（新闻报道）"]}  # fmt: skip


def _hunan_shares() -> dict[str, Any]:
    """湖南 收益权证 ("分股不分山、分利不分林": shares, not the hill; income, not the forest):
    the collective forest is managed as one and its income paid out by each household's income
    shares 股. Here: 100 % to the owners by ``owner_shares``.
    Source: issue #17's summary of Hunan's 收益权证; the official text was not found:
    unverified."""
    return {"shares": {"owners": "1"}, "basis": "shares",
            "sources": ["湖南集体林 收益权证：分股不分山、分利不分林（未核实官方文件）"]}  # fmt: skip


def _per_mu() -> dict[str, Any]:
    """公益林 per-亩 compensation (public-welfare forest): 30 元 per 亩 per year, of which 27 to
    the right holder and 3 to management (one Hunan county's standard). Here: 9/10 to the
    owners by area, 1/10 to management (27 : 3).
    Source: issue #17's summary of a Hunan county's standard; the county's document was not
    found: unverified."""
    return {"shares": {"owners": "9/10", "management": "1/10"}, "basis": "area",
            "sources": ["公益林生态效益补偿：30 元/亩/年，权利人 27 元、管护 3 元（某湖南县标准，未核实）"]}  # fmt: skip


PRESETS = {
    "anji": _anji,
    "sanming": _sanming,
    "guizhou": _guizhou,
    "hunan-shares": _hunan_shares,
    "per-mu": _per_mu,
}
PRESET_NAMES = {
    "anji": "安吉 竹林碳汇收储（净收益 80% 返还）",
    "sanming": "三明 林票（集体 30% / 村民 70%）",
    "guizhou": "贵州 单株碳汇（按株，每户封顶）",
    "hunan-shares": "湖南 收益权证（按股）",
    "per-mu": "公益林 按亩（27:3）",
}


FIXED = ("preset", "unverified", "sources")
"""What an override may not set: a preset stays named, unverified and cited as it is."""
DEPARTURES = ("shares", "basis", "cap_per_owner", "cap_surplus_to")
"""What changes the preset's figures: the rule stays unverified and its note says it departs."""


def preset_rule(name: str, overrides: object = None) -> RuleSpec:
    """The preset ``name`` as a checked rule, flagged unverified, with ``overrides`` (a JSON
    object: e.g. the ``owner_shares`` table, payee names, a note) applied on top. Overrides may
    not set ``preset``, ``unverified`` or ``sources`` (refused); overriding the shares, basis or
    cap keeps the rule unverified and its note says which figures depart from the preset."""
    if name not in PRESETS:
        raise Invalid(f"未知的预设规则 {name!r}；可用：{', '.join(PRESETS)}。",
                      f"unknown preset {name!r}; use one of: {', '.join(PRESETS)}.")  # fmt: skip
    extra = {} if overrides is None else rule_object(overrides, "覆盖预设的字段 / the overrides")
    fixed = [k for k in FIXED if k in extra]
    if fixed:
        raise Invalid(
            f"覆盖预设时不能设定 {', '.join(fixed)}：预设的名称、来源与“未核实”标记不可更改。",
            f"the overrides of a preset may not set {', '.join(fixed)}: a preset's name, "
            "sources and unverified flag stay as they are.",
        )
    raw = PRESETS[name]()
    departs = [k for k in DEPARTURES if k in extra and extra[k] != raw.get(k)]
    note = PRESET_NAMES[name] + "：预设数值未经官方文件核实 / preset figures unverified"
    if departs:
        note += (f"；已偏离预设（改动：{', '.join(departs)}） / departs from the preset "
                 f"(changed: {', '.join(departs)})")  # fmt: skip
    own_note = extra.get("note")
    if own_note is not None and not isinstance(own_note, str):
        raise Invalid("规则的 note 应为文字。", "the rule's note must be text.")
    if own_note:
        note += f"；{own_note}"
    raw.update({k: v for k, v in extra.items() if k != "note"})
    raw.update({"preset": name, "unverified": True, "note": note})
    return RuleSpec.build(raw)
