"""GIS input/output for forest inventories: read, map fields, check, reproject, measure.

No database and no web here.
"""

from gis_data.checks import CheckOptions, PreparedInventory, area_ha, prepare_inventory
from gis_data.errors import CrsError, EncodingError, GisDataError, InventoryReadError
from gis_data.issues import InventoryIssue, IssueReport, Severity
from gis_data.profile import FieldProfile, load_profile
from gis_data.read import RawInventory, read_inventory

__all__ = [
    "CheckOptions",
    "CrsError",
    "EncodingError",
    "FieldProfile",
    "GisDataError",
    "InventoryIssue",
    "InventoryReadError",
    "IssueReport",
    "PreparedInventory",
    "RawInventory",
    "Severity",
    "area_ha",
    "load_profile",
    "prepare_inventory",
    "read_inventory",
]
