"""Remote-sensing monitoring over HTTP (both engines): scenes uploaded as GeoTIFFs, a detection
run, the review of its flag by an independent verifier and the reversal it confirms — cancelled
from the buffer pool and listed publicly, facts only. Roles: a buyer can neither run nor
review; anyone reads the reversals. A file that is no raster is refused bilingually and leaves
nothing behind. No monitoring response names an owner.

(The file is not ``test_monitoring_api.py``: that one holds the plot-measurement uploads of a
project's monitoring periods.)"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api import create_app
from registry.db import session_scope
from registry.issuance import issue
from registry.settings import Settings
from tests.api.api_fixtures import api_registry, read_tokens
from tests.api.conftest import Api
from tests.registry.compensation_fixtures import project_owners
from tests.registry.ledger_fixtures import ADMIN
from tests.remote_sensing.rs_fixtures import AFTER, BEFORE, disturbed_pair

V1 = "/api/v1/monitoring"
BUFFER_SQL = (
    "SELECT COALESCE(SUM(b.last_seq - b.first_seq + 1), 0) FROM credit_block b "
    "JOIN ledger_account a ON a.id = b.account_id "
    "WHERE b.closed_op_id IS NULL AND b.state = 'active' AND a.kind = 'buffer'"
)


def _issued(engine: Engine, folder: Path) -> None:
    """The API's scenario (L1 verified for 1 000.5 t, the users and their tokens), L1 issued
    with 10 % to the buffer pool."""
    api_registry(engine, folder)
    with session_scope(engine) as s:
        issue(s, ADMIN, "L1", "rs-api-issue", minimum_pct=10)


@pytest.fixture
def rs_api(
    scenario: Callable[..., Engine], db_url: str, tmp_path: Path
) -> Iterator[tuple[Api, Path]]:
    engine = scenario("api-issued", _issued)
    store = tmp_path / "scene-store"
    settings = Settings(database_url=db_url, login_window_minutes=15, scene_store=store)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Api(engine, db_url, client, read_tokens(engine)), store


def _count(api: Api, sql: str) -> int:
    with api.engine.connect() as c:
        return int(c.execute(text(sql)).scalar_one())


def _upload(api: Api, user: str, path: Path, when: str, name: str) -> object:
    with path.open("rb") as fh:
        return api.client.post(f"{V1}/scenes", headers=api.auth(user),
                               files={"file": (path.name, fh.read(), "image/tiff")},
                               data={"acquired_on": when, "name": name})  # fmt: skip


def _refused(r: object, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body: dict[str, object] = r.json()  # type: ignore[attr-defined]
    assert body["message_zh"] and body["message_en"]
    assert "Traceback" not in r.text  # type: ignore[attr-defined]
    return body


def test_a_file_that_is_no_raster_is_refused_and_nothing_is_stored(
    rs_api: tuple[Api, Path], tmp_path: Path
) -> None:
    api, store = rs_api
    fake = tmp_path / "not-a-raster.tif"
    fake.write_text("这不是影像 / this is no GeoTIFF\n" * 20)
    body = _refused(_upload(api, "li", fake, "2026-07-01", "fake"), 422)
    assert "栅格" in str(body["message_zh"]) and "raster" in str(body["message_en"])
    text_file = tmp_path / "notes.txt"
    text_file.write_text("a note")
    body = _refused(_upload(api, "li", text_file, "2026-07-01", "notes"), 422)
    assert ".txt" in str(body["message_en"]) and ".tif" in str(body["message_en"])
    assert _count(api, "SELECT COUNT(*) FROM rs_scene") == 0
    assert not store.exists() or not any(store.iterdir())
    listed = api.client.get(f"{V1}/scenes", headers=api.auth("li"))
    assert listed.status_code == 200 and listed.json() == []


def test_upload_run_review_and_the_public_reversal(
    rs_api: tuple[Api, Path], tmp_path: Path
) -> None:
    api, store = rs_api
    pair = disturbed_pair(api.engine, tmp_path / "rasters")
    # a buyer cannot register a scene; bureau staff can
    _refused(_upload(api, "buyer", pair.before, BEFORE.isoformat(), "before"), 403)
    for path, when, name in ((pair.before, BEFORE, "before"), (pair.after, AFTER, "after")):
        r = _upload(api, "li", path, when.isoformat(), name)
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        assert (store / f"{r.json()['sha256']}.tif").is_file()  # type: ignore[attr-defined]
    scenes = api.client.get(f"{V1}/scenes", headers=api.auth("li")).json()
    assert [(s["name"], s["acquired_on"]) for s in scenes] == [
        ("before", BEFORE.isoformat()), ("after", AFTER.isoformat())
    ]  # fmt: skip

    run_body = {"before": "before", "after": "after", "project": "L1"}
    _refused(api.client.post(f"{V1}/runs", json=run_body, headers=api.auth("buyer")), 403)
    _refused(api.client.post(f"{V1}/runs", json=run_body, headers=api.auth("auditor")), 403)
    r = api.client.post(f"{V1}/runs", json=run_body, headers=api.auth("li"))
    assert r.status_code == 201, r.text
    run = r.json()
    flagged = [f for f in run["flags"] if f["stand_key"] == pair.stand_key]
    assert len(flagged) == 1 and flagged[0]["project"] == "L1" and flagged[0]["status"] == "open"
    flag_id = flagged[0]["id"]
    # the placed patch's own area (m² → ha), within the edge pixels' share (10 m cells)
    assert flagged[0]["stats"]["disturbed_ha"] == pytest.approx(pair.patch.area / 1e4, rel=0.05)
    assert run["parameters"]["provenance"]["drop"]["value"] == 0.06  # the default threshold

    shown = api.client.get(f"{V1}/flags?project=L1&status=open", headers=api.auth("auditor"))
    assert shown.status_code == 200 and flag_id in [f["id"] for f in shown.json()]
    _refused(api.client.get(f"{V1}/flags", headers=api.auth("buyer")), 403)
    png = api.client.get(f"{V1}/flags/{flag_id}/evidence.png", headers=api.auth("auditor"))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    _refused(api.client.get(f"{V1}/flags/{flag_id}/evidence.png", headers=api.auth("buyer")), 403)
    zonal = api.client.get(f"{V1}/zonal?scene=after&stat=mean&project=L1", headers=api.auth("li"))
    assert zonal.status_code == 200, zonal.text
    row = next(z for z in zonal.json() if z["stand_key"] == pair.stand_key)
    assert row["project_code"] == "L1" and 0.0 < row["mean"] < 1.0
    _refused(api.client.get(f"{V1}/zonal?scene=/etc/passwd", headers=api.auth("li")), 404)

    buffer_before = _count(api, BUFFER_SQL)
    review = {"decision": "confirm", "reason": "林火 / a forest fire", "cause": "fire",
              "event_date": "2026-03-15"}  # fmt: skip
    path = f"{V1}/flags/{flag_id}/review"
    _refused(api.client.post(path, json=review, headers={**api.auth("buyer"),
                                                         "Idempotency-Key": "b-1"}), 403)  # fmt: skip
    _refused(api.client.post(path, json=review, headers={**api.auth("li"),
                                                         "Idempotency-Key": "s-1"}), 403)  # fmt: skip
    assert _count(api, BUFFER_SQL) == buffer_before
    assert api.client.post(path, json=review, headers=api.auth("auditor")).status_code == 422
    r = api.client.post(
        path, json=review, headers={**api.auth("auditor"), "Idempotency-Key": "v-1"}
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "confirmed" and not done["replayed"]
    rev = done["reversal"]
    # R4 and R6 by hand from the stored inputs: L = f × C, Q = ⌈L × (1 + U) − 1e-9⌉
    assert rev["loss"] == pytest.approx(rev["f"] * rev["credited_c"])
    assert rev["u"] == pytest.approx(math.hypot(rev["u_area"], rev["u_change"]))
    q = math.ceil(rev["f"] * rev["credited_c"] * (1 + rev["u"]) - 1e-9)
    assert rev["quantity"] == q > 0
    # L1's own buffer credits (≥ 10 % of the 1 000 issued) cover the loss: no pool, no debt
    assert q < 100 and (rev["own"], rev["pool"], rev["debt"]) == (q, 0, 0)
    assert _count(api, BUFFER_SQL) == buffer_before - q
    again = api.client.post(
        path, json=review, headers={**api.auth("auditor"), "Idempotency-Key": "v-1"}
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert _count(api, BUFFER_SQL) == buffer_before - q

    public = api.client.get(f"{V1}/reversals?project=L1")  # no credentials: public
    assert public.status_code == 200, public.text
    [listed] = public.json()
    assert (listed["project"], listed["stand_key"], listed["cause"], listed["event_date"]) == (
        "L1", pair.stand_key, "fire", "2026-03-15")  # fmt: skip
    assert listed["credits_cancelled"] == q and listed["ledger_op"] == rev["op_id"]
    assert listed["evidence_sha256"] == flagged[0]["evidence_sha256"]
    assert listed["disturbed_ha"] == flagged[0]["stats"]["disturbed_ha"]
    assert listed["loss_pm"] == pytest.approx(rev["loss"] * rev["u"])
    assert "reason" not in listed and "review_reason" not in listed
    assert api.client.get(f"{V1}/reversals?project=NONE").json() == []

    # no owner's name in any monitoring response (staff's, verifier's or the public's)
    answers = [
        api.client.get(f"{V1}/scenes", headers=api.auth("li")).text,
        api.client.get(f"{V1}/flags", headers=api.auth("auditor")).text,
        zonal.text,
        r.text,
        json.dumps(run, ensure_ascii=False),
        public.text,
        api.client.get(f"{V1}/reversals").text,
    ]
    owners = [name for _, name, _ in project_owners(api.engine, "L1")]
    assert owners and all(name not in a for name in owners for a in answers)
