"""Eco-labels (生态标签) that travel with credits.

- :mod:`.tables`: the catalogue, polygon layers, evaluations and attachments (migration 0018).
- :mod:`.catalogue`: the catalogue — add (admin, with an evidence document's SHA-256), list,
  revoke; the starter catalogue in ``data/starter_catalogue.json``.
- :mod:`.criteria`: what a label's criteria are (attribute tests and spatial tests against
  polygon layers, combined with all/any) and how one stand and a project are judged.
- :mod:`.layers`: polygon layers loaded from GeoPackage, Shapefile or GeoJSON files,
  reprojected to CGCS2000 with pyproj, and the share of a stand's area inside a layer.
- :mod:`.service`: evaluate (staff), attach and revoke (admin) — attaching is the ledger's
  ``relabel`` operation, which closes and rewrites the blocks; labels are attached after
  issuance (issuance takes no labels).
- :mod:`.demo`: the demo's water-source layer and label.

:func:`label_unverified_notes` (from :mod:`.catalogue`): the unverified thresholds of labels'
criteria, for outputs that use the labels (a valuation's label premium, a certificate).

Importing this package imports nothing heavy (the schema imports :mod:`.tables`):
:func:`label_unverified_notes` is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.labels.catalogue import label_unverified_notes

__all__ = ["label_unverified_notes"]


def __getattr__(name: str) -> Any:
    if name == "label_unverified_notes":
        from registry.labels.catalogue import label_unverified_notes

        return label_unverified_notes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
