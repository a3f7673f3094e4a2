"""Web fixtures: the public registry (web_fixtures) behind the app, a TestClient asking for
pages as a browser does, a real server (``tanhui serve``) and Debian's Chromium driven by
Playwright (``executable_path``: nothing is downloaded). Screenshots go to
``test-artifacts/`` (or ``$TANHUI_ARTIFACTS``) to be looked at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api import create_app
from registry.settings import Settings
from tests.api.api_fixtures import read_tokens, uvicorn_server
from tests.web.web_fixtures import public_registry

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# a closed network: no background requests, no component updates (they would be refused)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]  # fmt: skip
HTML = {"Accept": "text/html,application/xhtml+xml"}


@dataclass
class Web:
    engine: Engine
    db_url: str
    client: TestClient
    tokens: dict[str, str]

    def page(self, path: str, **kwargs: Any) -> Any:
        """GET a page as a browser asks for it (HTML errors included)."""
        return self.client.get(path, headers={**HTML, **kwargs.pop("headers", {})}, **kwargs)


@pytest.fixture
def web(scenario: Callable[..., Engine], db_url: str, tmp_path: Path) -> Iterator[Web]:
    engine = scenario("web", public_registry)
    settings = Settings(database_url=db_url, tiles_dir=tmp_path / "tiles",
                        opendata_dir=tmp_path / "opendata")  # fmt: skip
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Web(engine, db_url, client, read_tokens(engine))


@pytest.fixture
def live_server(web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``tanhui serve`` on the same database (and the same map tiles folder): its base URL."""
    monkeypatch.setenv("TANHUI_TILES_DIR", str(tmp_path / "tiles"))  # not ./tiles of the repo
    with uvicorn_server(web.db_url) as base:
        yield base


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh page (its own cookies) 1280×900; any request to another host fails the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    outside: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()
    assert not outside, f"a page asked another server: {outside}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("TANHUI_ARTIFACTS", "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
