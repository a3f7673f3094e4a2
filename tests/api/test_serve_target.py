"""``tanhui serve`` names the app factory as a string (uvicorn's workers import it; registry/
never imports api/): the name must resolve to the factory itself."""

from __future__ import annotations

from uvicorn.importer import import_from_string

from api.main import create_app
from registry.cli.serve import APP_FACTORY


def test_the_served_name_is_the_app_factory() -> None:
    assert import_from_string(APP_FACTORY) is create_app
