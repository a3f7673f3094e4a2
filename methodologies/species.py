"""Species groups: the fixed vocabulary every methodology parameter table is keyed on.

The mapping from the species names used in Chinese forest inventories (优势树种) to species
groups is package data (``data/species_vocabulary.csv``), copied from the project's reference
table so a bureau can see and extend it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType

__all__ = ["TREE_GROUPS", "TREE_GROUP_VALUES", "SpeciesGroup", "load_species_vocabulary"]


class SpeciesGroup(StrEnum):
    """Species groups used by the parameter tables (values match the CSV ``species_group``)."""

    CHINESE_FIR = "chinese_fir"
    MASSON_PINE = "masson_pine"
    OTHER_PINE = "other_pine"
    OTHER_CONIFER = "other_conifer"
    MIXED_CONIFER = "mixed_conifer"
    BROADLEAF = "broadleaf"
    MIXED_CONIFER_BROADLEAF = "mixed_conifer_broadleaf"
    MOSO_BAMBOO = "moso_bamboo"
    OTHER_BAMBOO = "other_bamboo"
    ECONOMIC = "economic"

    @property
    def is_bamboo(self) -> bool:
        return self in (SpeciesGroup.MOSO_BAMBOO, SpeciesGroup.OTHER_BAMBOO)

    @property
    def is_tree(self) -> bool:
        """A tree group (乔木): not bamboo, not economic forest."""
        return self in TREE_GROUPS


# the tree groups (乔木) every tree methodology and table uses; bamboo and economic forest are not
TREE_GROUPS: tuple[SpeciesGroup, ...] = (
    SpeciesGroup.CHINESE_FIR, SpeciesGroup.MASSON_PINE, SpeciesGroup.OTHER_PINE,
    SpeciesGroup.OTHER_CONIFER, SpeciesGroup.MIXED_CONIFER, SpeciesGroup.BROADLEAF,
    SpeciesGroup.MIXED_CONIFER_BROADLEAF,
)  # fmt: skip
TREE_GROUP_VALUES = frozenset(g.value for g in TREE_GROUPS)  # as stored in stands and tables


@cache
def load_species_vocabulary() -> Mapping[str, SpeciesGroup]:
    """Return the read-only mapping 优势树种 name (zh) → :class:`SpeciesGroup`."""
    text = (
        resources.files("methodologies")
        .joinpath("data/species_vocabulary.csv")
        .read_text(encoding="utf-8")
    )
    mapping = {
        row["name_zh"].strip(): SpeciesGroup(row["species_group"].strip())
        for row in csv.DictReader(text.splitlines())
    }
    return MappingProxyType(mapping)
