"""OGC API – Features at ``/ogc``: the registry's public projects and stands for GIS clients
(GDAL's OAPIF driver, QGIS), read through ``registry.public`` like every public page."""

from api.ogc.routes import CONFORMANCE, router

__all__ = ["CONFORMANCE", "router"]
