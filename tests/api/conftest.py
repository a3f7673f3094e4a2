"""API fixtures: the scenario database, an app on it (TestClient), the users' tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api import create_app
from registry.settings import Settings
from tests.api.api_fixtures import api_registry, read_tokens
from tests.api.lifecycle_fixtures import lifecycle_registry


@dataclass
class Api:
    engine: Engine
    db_url: str
    client: TestClient
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _serve(engine: Engine, db_url: str) -> Iterator[Api]:
    app = create_app(Settings(database_url=db_url, login_window_minutes=15))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(engine, db_url, client, read_tokens(engine))


@pytest.fixture
def api(scenario: Callable[..., Engine], db_url: str) -> Iterator[Api]:
    yield from _serve(scenario("api", api_registry), db_url)


@pytest.fixture
def lifecycle_api(scenario: Callable[..., Engine], db_url: str) -> Iterator[Api]:
    """The API on :func:`tests.api.lifecycle_fixtures.lifecycle_registry` (projects at each
    step of their lifecycle)."""
    yield from _serve(scenario("api-lifecycle", lifecycle_registry), db_url)
