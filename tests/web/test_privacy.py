"""Privacy across every public surface (DEVELOPERS.md rule 8): household names, ID numbers,
telephone numbers and forest-right certificate numbers never leave through a page, the OGC API,
an open-data file or the public API; village collectives and state farms may be named.

The scenario's inventory has household right holders (the sample's 农户, classified by
registry.stands.classify_owner), and an ID number and a telephone number both in a column no
profile knows (``extra``) and in 林权证号. The project holds household stands, its credits are
issued, moved and retired.

:data:`SURFACES` lists what is fetched, by route. A test checks that every GET route of the app
that anyone may call is listed (or named in :data:`NOT_DATA` with a reason): a surface added
later fails that test until its paths are added here."""

from __future__ import annotations

import gzip
import io
import math
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from shapely.geometry import shape
from sqlalchemy import Engine, text
from starlette.routing import Mount

from api import create_app
from api.deps import _caller
from api.pages.data import wait_for_refresh
from registry.carbon_model import fit_and_store_growth
from registry.db import session_scope
from registry.issuance import issue
from registry.ledger import ensure_account, retire, transfer
from registry.models import OwnerKind
from registry.projects import (
    project_stands,
    record_start_measurement,
    submit_monitoring,
    transition,
    verify_period,
)
from registry.settings import Settings
from registry.stands import ImportOptions, classify_owner, import_inventory
from registry.tiles import build_tiles
from registry.users import issue_secret, load_actor
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import (
    ADMIN,
    STAFF,
    TOLERANCE_M2,
    VERIFIER,
    draft,
    remeasured,
)
from tests.registry.user_fixtures import add_test_users
from tests.web.conftest import HTML

# what no public surface may show (besides the household names, read from the registry)
PHONES = ("13907461234", "15874612345")
ID_NUMBERS = ("431123198803150027", "43112319750612002X")


def private_registry(engine: Engine, folder: Path) -> None:
    """The verified project P1 on an inventory whose household rows carry contacts: 联系电话 /
    身份证 in an unknown column (kept in ``extra``) and an ID number in 林权证号; its credits
    issued, 100 moved to BUYER, 30 retired."""
    frame = sample_frame(300, 21)
    household = frame["LQ_QLR"].map(lambda n: classify_owner(str(n)) == OwnerKind.HOUSEHOLD)
    rows = frame.index[household]
    frame["LXDH"] = None  # no profile knows it: stored in the stand's ``extra``
    for i, row in enumerate(rows):
        phone, number = PHONES[i % 2], ID_NUMBERS[i % 2]
        frame.loc[row, "LXDH"] = f"电话 {phone} 身份证 {number}"
        if i % 3 == 0:
            frame.loc[row, "LQZ_H"] = f"湘（2019）双牌县不动产权第{number}号 {phone}"
    import_inventory(engine, write_gpkg(frame, folder / "private.gpkg"),
                     ImportOptions(inventory_year=2020))  # fmt: skip
    with session_scope(engine) as s:
        fit_and_store_growth(s, STAFF)
    draft(engine, "P1", "AR-CM-005-V01", "species_group=moso_bamboo,land_class=竹林地",
          name="隐私测试项目")  # fmt: skip
    with session_scope(engine) as s:  # a verifier's comment naming a household and its contacts
        someone = str(frame.loc[rows[0], "LQ_QLR"])
        transition(s, STAFF, "P1", "submit", tolerance_m2=TOLERANCE_M2)
        transition(s, VERIFIER, "P1", "validate",
                   f"现场核实：农户{someone}（电话 {PHONES[0]}，身份证 {ID_NUMBERS[0]}）的小班边界无误。")  # fmt: skip
        transition(s, ADMIN, "P1", "register")
        stands = project_stands(s, "P1")
    plots = remeasured(engine, stands, "AR-CM-005-V01", 1, plots=30)
    from datetime import date

    first, last, strata = plots
    with session_scope(engine) as s:  # the verifier's comment and override name a household
        record_start_measurement(s, STAFF, "P1", date(2026, 1, 1), first, strata)
        submit_monitoring(s, STAFF, "P1", date(2026, 1, 1), date(2026, 12, 31), last, strata)
        verify_period(s, VERIFIER, "P1", 1000.5, f"已与农户{someone}核对（电话 {PHONES[1]}）",
                      override_reason=f"农户{someone}（身份证 {ID_NUMBERS[1]}）确认样地无误")  # fmt: skip
    with session_scope(engine) as s:
        ensure_account(s, "BUYER", "某电力公司", "holding", "某电力公司", "buyer")
    add_test_users(engine)
    with session_scope(engine) as s:
        issue(s, load_actor(s, "director"), "P1", "priv-issue", 10)
    with session_scope(engine) as s:
        transfer(s, load_actor(s, "li"), "priv-transfer", "HOLD-P1", "BUYER", quantity=100)
    with session_scope(engine) as s:
        retire(
            s, load_actor(s, "buyer"), "priv-retire", "BUYER", "某电力公司", "碳中和", quantity=30
        )
    with session_scope(engine) as s:  # the public documents of a registered project (issue #18)
        from registry.documents.store import generate_documents

        generate_documents(s, STAFF, "pdd", "P1", formats=["docx", "pdf"])
        generate_documents(s, STAFF, "monitoring_report", "P1", 1, ["docx", "pdf"])


@dataclass
class Scene:
    engine: Engine
    client: TestClient
    values: dict[str, str]  # what the paths' placeholders stand for
    buyer: dict[str, str]  # a signed-in buyer's header (not staff)
    secrets: list[str]  # what must never show


def _rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(text(sql), {"t": True, "h": OwnerKind.HOUSEHOLD.value}))


@pytest.fixture
def scene(scenario: Callable[..., Engine], db_url: str, tmp_path: Path) -> Iterator[Scene]:
    engine = scenario("private", private_registry)
    households = [str(r[0]) for r in _rows(engine, "SELECT name FROM owner WHERE kind = :h")]
    certificates = [str(r[0]) for r in _rows(engine, "SELECT DISTINCT forest_right_cert FROM stand "
                                                     "WHERE forest_right_cert IS NOT NULL")]  # fmt: skip
    # the scenario holds what it should: household stands in the project, contacts in extra
    in_project = _rows(engine, "SELECT s.stand_key FROM stand s JOIN owner o ON o.id = s.owner_id "
                               "JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active = :t "
                               "WHERE o.kind = :h AND s.is_current = :t ORDER BY s.stand_key")  # fmt: skip
    with_contacts = _rows(engine, "SELECT COUNT(*) FROM stand WHERE is_current = :t AND CAST(extra AS TEXT) LIKE "
                                  f"'%{PHONES[0]}%' AND forest_right_cert IS NOT NULL")  # fmt: skip
    assert len(households) > 20 and in_project and with_contacts[0][0] > 0
    certificate = str(_rows(engine, "SELECT certificate_id FROM retirement")[0][0])
    serial = str(_rows(engine, "SELECT serials FROM retirement")[0][0]).split("..")[0]
    with session_scope(engine) as s:
        _, token = issue_secret(s, load_actor(s, "buyer"), "api_token", "privacy", None)
    settings = Settings(database_url=db_url, tiles_dir=tmp_path / "tiles",
                        opendata_dir=tmp_path / "opendata")  # fmt: skip
    build_tiles(engine, settings.tiles_dir)  # built before the server looks: none in the background
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.get("/data")  # the open-data files, made in the background: wait for them
        wait_for_refresh(client.app.state.registry)  # type: ignore[attr-defined]
        yield Scene(
            engine, client,
            {"code": "P1", "stand": str(in_project[0][0]), "certificate": certificate,
             "serial": serial},
            {"Authorization": f"Bearer {token}"},
            [*households, *PHONES, *ID_NUMBERS, *certificates],
        )  # fmt: skip


def _tiles_over_stands(scene: Scene) -> list[str]:
    """The z14 tiles (all attributes kept at that zoom) under the project's stands, household
    ones among them; the client un-gzips them, and MVT keeps its strings as UTF-8."""
    items = scene.client.get("/ogc/collections/stands/items?limit=60").json()["features"]
    tiles = set()
    for feature in items:
        lon, lat = shape(feature["geometry"]).representative_point().coords[0]
        n = 2**14
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        tiles.add(f"/tiles/14/{x}/{y}.pbf")
    assert len(tiles) > 3
    return sorted(tiles)


def _dump_files(scene: Scene) -> list[str]:
    manifest = scene.client.get("/data/manifest.json").json()
    return ["/data/manifest.json", *(f"/data/{f['name']}" for f in manifest["files"])]


def _documents(scene: Scene) -> list[str]:
    """Every public project document of the scene's project (P1's design document and
    monitoring report, Word and PDF), through the API and the page (read as their text)."""
    listed = scene.client.get("/api/v1/documents", params={"project": scene.values["code"]}).json()
    assert len(listed) == 4, listed
    return [p for d in listed for p in (f"/api/v1/documents/{d['id']}",
                                        f"/projects/{d['project']}/documents/{d['id']}")]  # fmt: skip


# route → the paths fetched for it ({…}: the scene's values); a callable lists them itself
SURFACES: dict[str, tuple[str, ...] | Callable[[Scene], list[str]]] = {
    "/library": ("/library", "/library?lang=en", "/library?township=泷泊镇"),
    "/data": ("/data", "/data?lang=en"),
    "/map": ("/map", "/map?lang=en"),
    "/login": ("/login", "/login?lang=en"),
    # the signed-in pages, asked by nobody: the sign-in page (followed from the redirect)
    "/logout": ("/logout",),
    "/account": ("/account",),
    "/purchase-requests/new": ("/purchase-requests/new?project={code}",),
    "/account/inventory": ("/account/inventory",),
    "/account/projects/new": ("/account/projects/new",),
    "/tiles/status": ("/tiles/status",),
    "/tiles/projects.json": ("/tiles/projects.json",),
    "/tiles/registry.json": ("/tiles/registry.json",),
    "/tiles/{z}/{x}/{y}.pbf": _tiles_over_stands,
    "/data/{name}": _dump_files,
    "/ogc": ("/ogc",),
    "/ogc/conformance": ("/ogc/conformance",),
    "/ogc/collections": ("/ogc/collections",),
    "/ogc/collections/{collection_id}": ("/ogc/collections/projects", "/ogc/collections/stands"),
    "/ogc/collections/{collection_id}/items": (
        "/ogc/collections/projects/items",
        "/ogc/collections/stands/items?limit=500",
    ),
    "/ogc/collections/{collection_id}/items/{feature_id}": (
        "/ogc/collections/projects/items/{code}",
        "/ogc/collections/stands/items/{stand}",
    ),
    "/api/v1/certificates/{certificate_id}": ("/api/v1/certificates/{certificate}",),
    "/projects/{code}": ("/projects/{code}", "/projects/{code}?lang=en"),
    "/projects/{code}/exante.csv": ("/projects/{code}/exante.csv",),
    "/projects/{code}/stands.csv": ("/projects/{code}/stands.csv",),
    "/ledger": ("/ledger", "/ledger?serial={serial}", "/ledger?lang=en"),
    "/certificates": ("/certificates?serial={serial}",),  # 303 to the certificate page
    "/certificates/{certificate_id}": ("/certificates/{certificate}",),
    "/certificates/{certificate_id}.pdf": ("/certificates/{certificate}.pdf",),
    "/api/v1/documents": ("/api/v1/documents?project={code}",),
    "/api/v1/monitoring/reversals": (
        "/api/v1/monitoring/reversals",
        "/api/v1/monitoring/reversals?project={code}",
    ),
    "/api/v1/documents/{doc_id}": _documents,
    "/projects/{code}/documents/{doc_id}": _documents,
}
# routes anyone may call that refuse the public (fetched anyway: the refusal shows nothing)
REFUSED = {
    "/projects/{code}/grievances": ("/projects/{code}/grievances",),  # bureau staff only
}
# routes anyone may GET that carry no registry data
NOT_DATA = {
    "/": "a redirect to /library",
    "/health": "a status",
    "/openapi.json": "the API's description",
    "/docs": "the API's documentation page",
    "/docs/oauth2-redirect": "part of the documentation page",
    "/redoc": "the API's documentation page",
    "/static": "our style sheet and scripts",
    "/static/vendor/maplibre-gl": "MapLibre GL JS (npm)",
    "/static/vendor/pmtiles": "the PMTiles reader (npm)",
    "/tiles/registry.pmtiles": "the tiles of /tiles/{z}/{x}/{y}.pbf packed in one file, each "
    "compressed: checked through those (and decoded whole in tests/web/test_tiles.py)",
}
# what a signed-in user who is not staff (a buyer) reads through the API: no names either
SIGNED_IN = ("/api/v1/stands?limit=500", "/api/v1/stands?format=geojson&limit=500")


def _text(body: bytes) -> str:
    """What a reader of the response sees: gzip unpacked, PDF as its text (pdftotext), a Word
    or Excel file (a zip) as the text of every part in it."""
    if body.startswith(b"\x1f\x8b"):
        body = gzip.decompress(body)
    if body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "\n".join(z.read(n).decode("utf-8", errors="replace") for n in z.namelist())
    if body.startswith(b"%PDF"):
        done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=body,
                              capture_output=True, check=True, timeout=60)  # fmt: skip
        return done.stdout.decode()
    return body.decode("utf-8", errors="replace")


def _leaks(
    scene: Scene, path: str, headers: dict[str, str] | None = None, status: int = 200
) -> tuple[str, list[str]]:
    r = scene.client.get(path, headers={**HTML, **(headers or {})})
    assert r.status_code == status or (status != 200 and r.status_code in (401, 403)), (
        path, r.status_code, r.text[:300])  # fmt: skip
    seen = _text(r.content)
    return seen, [s for s in scene.secrets if s in seen]


def _paths(scene: Scene, listed: tuple[str, ...] | Callable[[Scene], list[str]]) -> list[str]:
    return listed(scene) if callable(listed) else [p.format(**scene.values) for p in listed]


def test_no_public_surface_shows_a_household_name_id_or_phone(scene: Scene) -> None:
    leaks: dict[str, list[str]] = {}
    shown = ""
    for listed in SURFACES.values():
        for path in _paths(scene, listed):
            seen, found = _leaks(scene, path)
            shown += seen
            if found:
                leaks[path] = found[:5]
    for listed in REFUSED.values():
        for path in _paths(scene, listed):
            _, found = _leaks(scene, path, status=403)
            if found:
                leaks[path] = found[:5]
    for path in SIGNED_IN:
        _, found = _leaks(scene, path, scene.buyer)
        if found:
            leaks[f"{path} (buyer)"] = found[:5]
    assert not leaks, leaks
    # the surfaces do carry right holders: collectives and the state farm are named
    public_owners = [
        str(r[0]) for r in _rows(scene.engine, "SELECT name FROM owner WHERE kind <> :h")
    ]
    assert any(name in shown for name in public_owners)
    assert "双牌县国有林场（合成）" in shown


def test_the_check_would_see_a_leak(scene: Scene) -> None:
    """Bureau staff do see right holders' names through the API: the same check finds them
    there, so it is not blind (the contacts are in the database: the fixture checks that)."""
    with session_scope(scene.engine) as s:
        _, token = issue_secret(s, load_actor(s, "li"), "api_token", "privacy-staff", None)
    _, found = _leaks(scene, "/api/v1/stands?limit=500", {"Authorization": f"Bearer {token}"})
    households = {str(r[0]) for r in _rows(scene.engine, "SELECT name FROM owner WHERE kind = :h")}
    assert len(set(found) & households) >= 5


def _public_get_routes(app: Any) -> list[str]:
    """Every route of the app anyone may GET: pages, /ogc, /data, the API routes that do not
    ask who calls, and mounted folders."""

    def asks_who(dependant: Any) -> bool:
        return any(d.call is _caller or asks_who(d) for d in dependant.dependencies)

    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            found.append(str(context.path))
            continue
        if "GET" not in (getattr(route, "methods", None) or set()):
            continue
        if isinstance(route, APIRoute) and asks_who(route.dependant):
            continue
        found.append(str(context.path))
    return found


def test_every_public_route_is_checked(scene: Scene) -> None:
    routes = _public_get_routes(scene.client.app)
    missing = [r for r in routes if r not in SURFACES and r not in REFUSED and r not in NOT_DATA]
    assert not missing, (
        f"public routes the privacy test does not fetch: {missing}; add them to SURFACES in "
        "tests/web/test_privacy.py (with paths to fetch), or to NOT_DATA with a reason"
    )
    assert set(SURFACES) | set(REFUSED) <= set(routes)  # nothing the app no longer serves
