"""Every upload route of the app is bounded (issue #16, item 6): the routes taking a file are
found in the app itself — those of the API and any a page adds later — and each refuses a
wrong file type and a file over the size limit with the registry's bilingual message, writing
nothing; a body far over the limit is refused before it is read (413)."""

from __future__ import annotations

import datetime
import types
import typing
from typing import Any

from fastapi import UploadFile
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import text

from api import create_app
from registry.settings import Settings
from tests.registry.user_fixtures import PASSWORD
from tests.web.conftest import Web

SAMPLE = {datetime.date: "2026-06-01", int: "2031", float: "1.5", bool: "false", str: "x"}


def _example(annotation: Any) -> str:
    """A value for a required form field of this type."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Literal:
        return str(typing.get_args(annotation)[0])
    return SAMPLE.get(annotation, "x")


def _upload_routes(app: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(path, the file field's name, the other required form fields) of every route taking a
    file."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        fields = route.dependant.body_params
        files = [f for f in fields if f.field_info.annotation is UploadFile]
        if not files:
            continue
        form = {f.alias: _example(f.field_info.annotation) for f in fields
                if f not in files and f.field_info.is_required()}  # fmt: skip
        path = str(context.path).replace("{code}", "L1")
        found.append((path, files[0].alias, form))
    return found


def _state(web: Web) -> tuple[Any, ...]:
    with web.engine.connect() as c:
        return (c.execute(text("SELECT MAX(id) FROM audit_event")).scalar(),
                c.execute(text("SELECT COUNT(*) FROM inventory_batch")).scalar())  # fmt: skip


def _signed_in(client: TestClient, web: Web) -> dict[str, str]:
    """Bureau staff both ways: a bearer token (the API) and a session cookie with its CSRF
    token (pages)."""
    login = client.post("/api/v1/auth/login", json={"username": "li", "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {
        "Authorization": f"Bearer {web.tokens['li']}",
        "X-CSRF-Token": login.json()["csrf_token"],
    }


def test_every_upload_route_refuses_a_wrong_type_and_a_large_file(web: Web, tmp_path: Any) -> None:
    settings = Settings(database_url=web.db_url, upload_max_mb=0.01, tiles_dir=tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        routes = _upload_routes(client.app)
        paths = {p for p, _, _ in routes}
        assert {"/api/v1/inventory/imports", "/api/v1/projects/L1/evidence",
                "/api/v1/projects/L1/start-measurement", "/api/v1/projects/L1/monitoring"} <= paths  # fmt: skip
        headers = _signed_in(client, web)
        before = _state(web)
        for path, field, form in routes:
            data = {**form, "csrf_token": headers["X-CSRF-Token"]}

            def post(name: str, body: bytes) -> Any:
                return client.post(path, headers=headers, data=data, files={field: (name, body)})  # noqa: B023

            wrong = post("setup.exe", b"MZ" + b"\0" * 100)
            assert 400 <= wrong.status_code < 500, (path, wrong.status_code, wrong.text[:300])
            assert "not accepted" in wrong.text and "不接受" in wrong.text, (path, wrong.text[:300])
            big = [
                post(name, b"x" * (64 << 10))
                for name in ("big.gpkg", "big.csv", "big.xlsx", "big.tif")
            ]
            assert all(400 <= r.status_code < 500 for r in big), path
            assert any("larger than the limit" in r.text and "超过上限" in r.text for r in big), (
                path
            )
            huge = post("huge.gpkg", b"x" * (3 << 20))  # over the body limit: not even read
            assert huge.status_code == 413 and "超过上限" in huge.text, (path, huge.text[:300])
        assert _state(web) == before  # nothing written
