"""The (still empty) web API answers its health check."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api import create_app


def test_health() -> None:
    client = TestClient(create_app())
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
