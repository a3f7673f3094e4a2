"""Pure forest-carbon science: equations, parameter tables and vocabularies.

Imports numpy/pandas only; no database, no web, no files except its own package data.
"""

from methodologies.species import SpeciesGroup, load_species_vocabulary

__all__ = ["SpeciesGroup", "load_species_vocabulary"]
