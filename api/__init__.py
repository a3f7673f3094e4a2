"""HTTP API and pages. Imports registry; nothing imports api."""

from api.main import create_app

__all__ = ["create_app"]
