"""A label's criteria (标签认定条件): what they are and how stands and a project are judged.

Criteria are JSON::

    {"stand": <test>,
     "project": {"basis": "area" | "credits", "min_share": 0.5, "source": "…" | "unverified": true}}

A ``<test>`` is one of

- ``{"field": "species_group", "op": "in", "value": ["broadleaf"], "source": "…"}`` — an
  attribute of the stand's current version (:data:`FIELDS`), ``op`` one of :data:`OPS`;
- ``{"layer": "water_source", "min_inside": 0.5, "source": "…"}`` — at least ``min_inside`` of
  the stand's area lies inside the polygons of a loaded layer (share = area(stand ∩ layer) /
  area(stand), both on one equal-area projection, :mod:`registry.labels.layers`);
- ``{"all": [<test>, …]}`` or ``{"any": [<test>, …]}``.

Every leaf test and the project rule state where their threshold comes from (``source``) or
say ``"unverified": true``; an evaluation lists the unverified ones (RULES 3).

The project qualifies when the qualifying stands' share of the project's area (``basis``
area: Σ area of passing stands / Σ area of all stands, ha) or of its ex-ante credits
(``credits``: Σ ex-ante net removals of passing stands / Σ of all stands, t CO2e) is at least
``min_share``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry.errors import BadLabelInput
from registry.results import Result

__all__ = [
    "FIELDS",
    "OPS",
    "ProjectJudgement",
    "StandFacts",
    "StandJudgement",
    "check_criteria",
    "judge_project",
    "judge_stand",
    "layers_of",
    "unverified_of",
]

# the stand attributes a test may read: name → "text" or "number" (owner_kind: the owner's kind)
FIELDS: dict[str, str] = {
    "land_class": "text", "forest_use": "text", "origin": "text", "forest_category": "text",
    "dominant_species": "text", "species_group": "text", "age_group": "text",
    "site_class": "text", "land_tenure": "text", "tree_tenure": "text", "township": "text",
    "village": "text", "owner_kind": "text", "age_years": "number", "canopy_closure": "number",
    "mean_dbh_cm": "number", "mean_height_m": "number", "stems_per_ha": "number",
    "volume_m3_per_ha": "number", "slope_deg": "number", "area_ha": "number",
}  # fmt: skip
OPS = {"eq": "=", "ne": "≠", "in": "∈", "not_in": "∉", "ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
BASES = ("area", "credits")


@dataclass(frozen=True)
class StandFacts:
    """What the criteria read of one stand: its attributes, the share of its area inside each
    layer (0–1) and its ex-ante credits (t CO2e; None when not known)."""

    key: str
    area_ha: float
    attributes: Mapping[str, Any]
    inside: Mapping[str, float] = field(default_factory=dict)
    credits_tco2e: float | None = None


@dataclass(frozen=True)
class StandJudgement(Result):
    stand: str
    area_ha: float
    credits_tco2e: float | None
    passed: bool
    reason_zh: str
    reason_en: str
    inside: dict[str, float]


@dataclass(frozen=True)
class ProjectJudgement(Result):
    """A project judged against a label: every stand, the qualifying shares and the rule."""

    basis: str
    min_share: float
    n_stands: int
    n_passed: int
    area_ha: float
    area_passed_ha: float
    share_area: float
    credits_tco2e: float | None
    credits_passed_tco2e: float | None
    share_credits: float | None
    qualifies: bool
    unverified: tuple[str, ...]
    stands: tuple[StandJudgement, ...] = field(metadata={"of": StandJudgement})


def _bad(where: str, zh: str, en: str) -> BadLabelInput:
    return BadLabelInput(f"标签条件 {where}：{zh}", f"label criteria {where}: {en}")


def _check_source(test: Mapping[str, Any], where: str) -> None:
    source, unverified = test.get("source"), test.get("unverified")
    if not (isinstance(source, str) and source.strip()) and unverified is not True:
        raise _bad(where, "阈值须注明来源（source）或标为未核实（\"unverified\": true）",
                   'a threshold needs its source ("source") or "unverified": true')  # fmt: skip


def _check_test(test: Any, where: str) -> None:
    if not isinstance(test, dict):
        raise _bad(where, f"应为对象，实为 {test!r}", f"expected an object, got {test!r}")
    if "all" in test or "any" in test:
        kind = "all" if "all" in test else "any"
        parts = test[kind]
        if not isinstance(parts, list) or not parts:
            raise _bad(where, f"{kind} 须为非空列表", f"{kind} must be a non-empty list")
        for i, part in enumerate(parts):
            _check_test(part, f"{where}.{kind}[{i}]")
        return
    if "layer" in test:
        share = test.get("min_inside")
        if not isinstance(test["layer"], str) or not test["layer"].strip():
            raise _bad(where, "layer 须为图层名", "layer must name a layer")
        if not isinstance(share, int | float) or not 0 < float(share) <= 1:
            raise _bad(where, f"min_inside 须在 (0, 1] 之间，实为 {share!r}",
                       f"min_inside must lie in (0, 1], got {share!r}")  # fmt: skip
        _check_source(test, where)
        return
    name, op, value = test.get("field"), test.get("op"), test.get("value")
    if name not in FIELDS:
        raise _bad(where, f"未知字段 {name!r}（可用：{', '.join(FIELDS)}）",
                   f"unknown field {name!r} (known: {', '.join(FIELDS)})")  # fmt: skip
    if op not in OPS:
        raise _bad(where, f"未知比较 {op!r}（可用：{', '.join(OPS)}）",
                   f"unknown op {op!r} (known: {', '.join(OPS)})")  # fmt: skip
    if op in ("in", "not_in") and (not isinstance(value, list) or not value):
        raise _bad(where, f"{op} 需要非空列表", f"{op} needs a non-empty list")
    values: list[Any] = list(value) if isinstance(value, list) else [value]
    number = FIELDS[str(name)] == "number"
    for v in values:
        ok = (
            isinstance(v, int | float) and not isinstance(v, bool) if number else isinstance(v, str)
        )
        if not ok:
            raise _bad(
                where,
                f"字段 {name} 的值 {v!r} 类型不对",
                f"value {v!r} of {name} has the wrong type",
            )
    if op in ("ge", "gt", "le", "lt") and not number:
        raise _bad(where, f"文字字段 {name} 不能用 {op}", f"text field {name} cannot use {op}")
    _check_source(test, where)


def check_criteria(criteria: Any) -> dict[str, Any]:
    """The criteria if well formed; otherwise a bilingual error naming the part that is wrong."""
    if not isinstance(criteria, dict) or "stand" not in criteria or "project" not in criteria:
        raise _bad("", "须含 stand 与 project 两部分", 'needs a "stand" test and a "project" rule')
    _check_test(criteria["stand"], "stand")
    rule = criteria["project"]
    if not isinstance(rule, dict) or rule.get("basis") not in BASES:
        raise _bad("project", f"basis 须为 {' 或 '.join(BASES)}", f"basis must be one of {BASES}")
    share = rule.get("min_share")
    if not isinstance(share, int | float) or not 0 < float(share) <= 1:
        raise _bad("project", f"min_share 须在 (0, 1] 之间，实为 {share!r}",
                   f"min_share must lie in (0, 1], got {share!r}")  # fmt: skip
    _check_source(rule, "project")
    return criteria


def layers_of(test: Mapping[str, Any]) -> set[str]:
    """The layers a test reads."""
    if "all" in test or "any" in test:
        return {name for part in test.get("all", test.get("any", [])) for name in layers_of(part)}
    return {str(test["layer"])} if "layer" in test else set()


def _describe(test: Mapping[str, Any]) -> str:
    if "layer" in test:
        return f"inside {test['layer']} ≥ {float(test['min_inside']):.0%}"
    return f"{test['field']} {OPS[test['op']]} {test['value']}"


def unverified_of(criteria: Mapping[str, Any]) -> tuple[str, ...]:
    """The tests and rule whose thresholds are flagged unverified, described."""
    out: list[str] = []

    def walk(test: Mapping[str, Any]) -> None:
        if "all" in test or "any" in test:
            for part in test.get("all", test.get("any", [])):
                walk(part)
        elif test.get("unverified") is True:
            out.append(_describe(test))

    walk(criteria["stand"])
    rule = criteria["project"]
    if rule.get("unverified") is True:
        out.append(f"project {rule['basis']} share ≥ {float(rule['min_share']):.0%}")
    return tuple(out)


def _compare(actual: Any, op: str, value: Any) -> bool:
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return op in ("ne", "not_in")  # a missing value is none of the listed values
    if op == "eq":
        return bool(actual == value)
    if op == "ne":
        return bool(actual != value)
    if op == "in":
        return actual in value
    if op == "not_in":
        return actual not in value
    a, v = float(actual), float(value)
    return {"ge": a >= v, "gt": a > v, "le": a <= v, "lt": a < v}[op]


def judge_stand(test: Mapping[str, Any], facts: StandFacts) -> tuple[bool, list[str], list[str]]:
    """Whether the stand passes ``test``, with the reasons (zh, en) of each leaf test."""
    if "all" in test or "any" in test:
        kind = "all" if "all" in test else "any"
        results = [judge_stand(part, facts) for part in test[kind]]
        passed = all(r[0] for r in results) if kind == "all" else any(r[0] for r in results)
        return (passed, [z for r in results for z in r[1]], [e for r in results for e in r[2]])
    if "layer" in test:
        name, need = str(test["layer"]), float(test["min_inside"])
        share = float(facts.inside.get(name, 0.0))
        passed = share >= need
        mark = "✓" if passed else "✗"
        return (passed, [f"{mark} 位于图层 {name} 内 {share:.1%}（需 ≥ {need:.0%}）"],
                [f"{mark} {share:.1%} inside layer {name} (needs ≥ {need:.0%})"])  # fmt: skip
    name, op, value = str(test["field"]), str(test["op"]), test["value"]
    actual = facts.attributes.get(name)
    passed = _compare(actual, op, value)
    mark = "✓" if passed else "✗"
    shown = "空" if actual is None else actual
    return (passed, [f"{mark} {name} = {shown}（需 {OPS[op]} {value}）"],
            [f"{mark} {name} = {'none' if actual is None else actual} (needs {OPS[op]} {value})"])  # fmt: skip


def judge_project(criteria: Mapping[str, Any], stands: Sequence[StandFacts]) -> ProjectJudgement:
    """Judge every stand, then the project by the rule's basis and minimum share (shares are
    Σ over passing stands / Σ over all stands; an empty project does not qualify)."""
    rule = criteria["project"]
    judged = []
    for facts in stands:
        passed, zh, en = judge_stand(criteria["stand"], facts)
        judged.append(StandJudgement(facts.key, facts.area_ha, facts.credits_tco2e, passed,
                                     "；".join(zh), "; ".join(en), dict(facts.inside)))  # fmt: skip
    area = sum(j.area_ha for j in judged)
    area_passed = sum(j.area_ha for j in judged if j.passed)
    known = [j for j in judged if j.credits_tco2e is not None]
    credits = sum(float(j.credits_tco2e or 0.0) for j in known) if known else None
    credits_passed = (
        sum(float(j.credits_tco2e or 0.0) for j in known if j.passed) if known else None
    )
    share_area = area_passed / area if area > 0 else 0.0
    share_credits = (
        credits_passed / credits
        if credits is not None and credits_passed is not None and credits > 0
        else None
    )
    need = float(rule["min_share"])
    share = share_area if rule["basis"] == "area" else share_credits
    return ProjectJudgement(
        basis=str(rule["basis"]), min_share=need, n_stands=len(judged),
        n_passed=sum(1 for j in judged if j.passed), area_ha=area, area_passed_ha=area_passed,
        share_area=share_area, credits_tco2e=credits, credits_passed_tco2e=credits_passed,
        share_credits=share_credits, qualifies=share is not None and share >= need,
        unverified=unverified_of(criteria), stands=tuple(judged),
    )  # fmt: skip
