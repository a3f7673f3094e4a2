"""``POST /api/v1/credits/batch`` and ``tanhui credits batch``: a refused batch names its bad
lines (the API's ``details.report.lines``, the CLI's table) and moves nothing; a good one moves
every line once, and its retry with the same key moves nothing more."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Api
from tests.cli_runner import run_cli

GOOD = (
    "kind,from,to,quantity,beneficiary\ntransfer,HOLD-L1,BUYER,5,\nretire,HOLD-L1,,2,某电力公司\n"
)
BAD = GOOD + "transfer,HOLD-L1,NOWHERE,1,\ntransfer,HOLD-L1,BUYER,0,\n"


def _balance(api: Api, account: str) -> dict[str, int]:
    got = api.client.get(f"/api/v1/credits/accounts/{account}", headers=api.auth("director"))
    balance: dict[str, int] = got.json()["balance"]
    return balance


def test_the_api_refuses_a_batch_by_its_lines_and_runs_a_good_one_once(api: Api) -> None:
    admin, li = api.auth("director"), api.auth("li")
    assert api.client.post("/api/v1/credits/issue", json={"project": "L1"},
                           headers={**admin, "Idempotency-Key": "i-1"}).status_code == 200  # fmt: skip
    before = _balance(api, "HOLD-L1")
    refused = api.client.post("/api/v1/credits/batch", json={"csv": BAD},
                              headers={**li, "Idempotency-Key": "b-1"})  # fmt: skip
    assert refused.status_code == 422, refused.text
    lines = refused.json()["details"]["report"]["lines"]
    assert [p["line"] for p in lines] == [4, 5] and "NOWHERE" in lines[0]["message_en"]
    assert _balance(api, "HOLD-L1") == before
    done = api.client.post("/api/v1/credits/batch", json={"csv": GOOD},
                           headers={**li, "Idempotency-Key": "b-2"})  # fmt: skip
    assert done.status_code == 200 and (done.json()["n_moves"], done.json()["quantity"]) == (2, 7)
    again = api.client.post("/api/v1/credits/batch", json={"csv": GOOD},
                            headers={**li, "Idempotency-Key": "b-2"})  # fmt: skip
    assert again.json()["replayed"] and again.json()["moves"] == done.json()["moves"]
    assert _balance(api, "HOLD-L1")["active"] == before["active"] - 7
    assert _balance(api, "BUYER")["active"] == 5


def test_the_command_line_prints_the_bad_lines_and_exits_refused(api: Api, tmp_path: Path) -> None:
    env = {"TANHUI_DATABASE_URL": api.db_url}
    assert run_cli("--as", "director", "credits", "issue", "--project", "L1", "--key", "i-1",
                   env=env).returncode == 0  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    refused = run_cli("--as", "li", "credits", "batch", str(bad), "--key", "c-1", env=env)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "NOWHERE" in refused.stderr and "nothing changed" in refused.stderr
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="gbk")  # a bureau's Excel export
    done = run_cli("--as", "li", "credits", "batch", str(good), "--key", "c-2", env=env)
    assert done.returncode == 0, done.stderr
    assert "2 moves, 7 t" in done.stdout


def test_a_file_that_is_neither_utf8_nor_gbk_is_refused(api: Api, tmp_path: Path) -> None:
    env = {"TANHUI_DATABASE_URL": api.db_url}
    assert run_cli("--as", "director", "credits", "issue", "--project", "L1", "--key", "i-1",
                   env=env).returncode == 0  # fmt: skip
    bad = tmp_path / "stray.csv"  # UTF-8 Chinese and one stray byte: never read as a guess
    bad.write_bytes(("kind,from,to,quantity,beneficiary\nretire,HOLD-L1,,1,湖南某电力公司\n").encode()
                    + b"retire,HOLD-L1,,1,ok\xff\n")  # fmt: skip
    before = _balance(api, "HOLD-L1")
    refused = run_cli("--as", "li", "credits", "batch", str(bad), "--key", "c-3", env=env)
    assert refused.returncode == 2 and "neither UTF-8 nor GBK" in refused.stderr
    assert "Traceback" not in refused.stderr and _balance(api, "HOLD-L1") == before
