"""Parameter tables (package data) with their source and status.

A parameter whose ``status`` is not ``published`` or ``official`` is *unverified*: every result
that uses it carries it in its trace, and :func:`unverified` lists them so that outputs say so.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from methodologies.errors import ParameterError
from methodologies.species import SpeciesGroup

__all__ = [
    "Parameter",
    "SpeciesParameters",
    "VolumeEquation",
    "bamboo_parameters",
    "defaults",
    "species_parameters",
    "table_rows",
    "unverified",
    "volume_equations",
    "with_overrides",
]

VERIFIED_STATUSES = ("published", "official")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    value: float
    unit: str
    source: str
    status: str
    text: str = ""  # a text setting (e.g. a rule name); value is then NaN

    @property
    def verified(self) -> bool:
        return self.status.strip().lower() in VERIFIED_STATUSES

    def describe(self) -> str:
        flag = "" if self.verified else f" [UNVERIFIED: {self.status}]"
        shown = self.text or f"{self.value:g}"
        return f"{self.name} = {shown} {self.unit} ({self.source}){flag}"


@dataclass(frozen=True)
class SpeciesParameters:
    """Wood density SVD (t d.m./m³), BEF (-), root:shoot R (-), carbon fraction CF (t C/t d.m.)."""

    group: SpeciesGroup
    svd: Parameter
    bef: Parameter
    root_shoot: Parameter
    carbon_fraction: Parameter

    def all(self) -> tuple[Parameter, ...]:
        return (self.svd, self.bef, self.root_shoot, self.carbon_fraction)


@dataclass(frozen=True)
class VolumeEquation:
    """Two-way tree volume V = a · D^b · H^c (V m³ per tree; D cm at 1.3 m; H m)."""

    name: str
    a: float
    b: float
    c: float
    source: str
    status: str

    def parameter(self) -> Parameter:
        return Parameter(
            f"volume_equation[{self.name}] a,b,c = {self.a:g},{self.b:g},{self.c:g}",
            self.a,
            "V = a·D^b·H^c, m³/tree",
            self.source,
            self.status,
        )


def table_rows(name: str) -> list[dict[str, str]]:
    """The rows of one of the package's parameter tables (``data/<name>``), as text."""
    text = resources.files("methodologies").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def species_parameters() -> Mapping[SpeciesGroup, SpeciesParameters]:
    """SVD, BEF, R, CF per tree species group from ``data/species_parameters.csv``."""
    out: dict[SpeciesGroup, SpeciesParameters] = {}
    for row in table_rows("species_parameters.csv"):
        try:
            group = SpeciesGroup(row["species_group"])
        except ValueError:
            continue  # e.g. the IPCC default row, used only as documentation of fallbacks
        src, status = row["source"], row["status"]

        def p(
            column: str, unit: str, _row: dict[str, str] = row, _group: SpeciesGroup = group,
            _src: str = src, _status: str = status,
        ) -> Parameter:  # fmt: skip
            # a column may carry its own source and status (``<column>_source``, ``_status``)
            own_src = (_row.get(f"{column}_source") or "").strip()
            own_status = (_row.get(f"{column}_status") or "").strip()
            return Parameter(
                f"{column}[{_group.value}]", float(_row[column]), unit,
                own_src or _src, own_status or _status,
            )  # fmt: skip

        out[group] = SpeciesParameters(
            group,
            p("wood_density_t_per_m3", "t d.m./m³"),
            p("bef", "-"),
            p("root_shoot_ratio", "-"),
            p("carbon_fraction", "t C/t d.m."),
        )
    return MappingProxyType(out)


@cache
def volume_equations() -> Mapping[str, VolumeEquation]:
    return MappingProxyType(
        {
            row["species_group"]: VolumeEquation(
                row["species_group"],
                float(row["a"]),
                float(row["b"]),
                float(row["c"]),
                row["source"],
                row["status"],
            )
            for row in table_rows("volume_equations.csv")
        }
    )


def _keyed(name: str) -> Mapping[str, Parameter]:
    out = {}
    for row in table_rows(name):
        text = ""
        try:
            value = float(row["value"])
        except ValueError:
            value, text = float("nan"), row["value"].strip()  # a text setting (a rule name)
        out[row["parameter"]] = Parameter(
            row["parameter"], value, row["unit"], row["source"], row["status"], text
        )
    return MappingProxyType(out)


@cache
def bamboo_parameters() -> Mapping[str, Parameter]:
    return _keyed("bamboo_parameters.csv")


@cache
def defaults() -> Mapping[str, Parameter]:
    return _keyed("methodology_defaults.csv")


SCENARIO_STATUS = "scenario - a value chosen for the analysis, not a published one"


def with_overrides(
    table: Mapping[str, Parameter], overrides: Mapping[str, float] | None
) -> Mapping[str, Parameter]:
    """``table`` with some values replaced for a scenario (an analyst's "what if").

    Each replaced parameter keeps its name and unit; its source names the default it replaces
    (value and source) and its status is :data:`SCENARIO_STATUS`, so it is *unverified* and every
    output that uses it says so. A name not in the table or a non-finite value is refused.
    """
    if not overrides:
        return table
    out = dict(table)
    for name, value in overrides.items():
        old = require(table, name)
        number = float(value)
        if not math.isfinite(number):
            raise ParameterError(
                f"情景参数 {name!r} 的值 {value!r} 无效（须为有限数）。",
                f"the scenario value {value!r} of {name!r} is invalid (must be a finite number).",
            )
        out[name] = Parameter(
            name, number, old.unit,
            f"scenario value; replaces the default {old.value:g} {old.unit} ({old.source})",
            SCENARIO_STATUS,
        )  # fmt: skip
    return MappingProxyType(out)


def require(table: Mapping[str, Parameter], name: str) -> Parameter:
    try:
        return table[name]
    except KeyError as exc:
        raise ParameterError(
            f"参数表缺少参数 {name!r}。", f"The parameter table has no {name!r}."
        ) from exc


def species(group: SpeciesGroup | str) -> SpeciesParameters:
    """Parameters of one tree species group; a clear error for bamboo, economic or unknown."""
    try:
        key = SpeciesGroup(group)
        return species_parameters()[key]
    except (ValueError, KeyError) as exc:
        raise ParameterError(
            f"树种组 {str(group)!r} 没有材积—碳储量参数（SVD、BEF、R、CF）。"
            "竹林请用竹林方法，经济林不在计量范围。",
            f"Species group {str(group)!r} has no volume-to-carbon parameters (SVD, BEF, R, "
            "CF); bamboo uses the bamboo model, economic forest is out of scope.",
        ) from exc


def unverified(parameters: tuple[Parameter, ...] | list[Parameter]) -> list[Parameter]:
    """The parameters among ``parameters`` whose source is not verified (deduplicated)."""
    seen: dict[str, Parameter] = {}
    for p in parameters:
        if not p.verified:
            seen.setdefault(p.name, p)
    return list(seen.values())
