"""``tanhui docs …`` on both engines: ``verify`` names a stored document (exit 0) and says
"unknown or altered" for a file with one changed byte (exit 1); ``list`` shows staff the
drafts; generating is refused for a verifier (exit 5) and writes nothing; a bad kind of format
is refused in both languages."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from registry.db import make_engine, session_scope
from registry.documents.store import store_document
from tests.cli_runner import run_cli
from tests.registry.project_fixtures import STAFF
from tests.registry.user_fixtures import cli_env


def _stored(db_url: str, content: bytes, audience: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            return store_document(s, STAFF, kind="pdd", project="SP-TEST-01", period=None,
                                  fmt="pdf", content=content, audience=audience).id  # fmt: skip
    finally:
        engine.dispose()


def test_verify_names_the_document_or_refuses_it(db_url: str, tmp_path: Path) -> None:
    env = cli_env(db_url)
    content = b"%PDF-1.7\n a design document as issued\n%%EOF\n"
    doc_id = _stored(db_url, content, "public")
    received = tmp_path / "received.pdf"
    received.write_bytes(content)
    done = run_cli("docs", "verify", str(received), env=env)
    assert done.returncode == 0, done.stderr
    assert "SP-TEST-01" in done.stdout and "李工@双牌县林业局" in done.stdout
    as_json = json.loads(run_cli("docs", "verify", str(received), "--json", env=env).stdout)
    assert as_json["issued"] is True and as_json["document"]["id"] == doc_id
    received.write_bytes(content.replace(b"issued", b"issueD"))  # one byte changed
    refused = run_cli("docs", "verify", str(received), env=env)
    assert refused.returncode == 1
    assert "未知或已被改动" in refused.stderr and "never issued" in refused.stderr
    missing = run_cli("docs", "verify", str(tmp_path / "none.pdf"), env=env)
    assert missing.returncode == 1 and "找不到文件" in missing.stderr


def test_list_shows_staff_the_drafts(db_url: str) -> None:
    env = cli_env(db_url)
    _stored(db_url, b"public", "public")
    _stored(db_url, b"draft", "staff")
    staff = json.loads(run_cli("docs", "list", "--project", "SP-TEST-01", "--json", env=env).stdout)
    assert sorted(d["audience"] for d in staff) == ["public", "staff"]
    verifier = run_cli("docs", "list", "--project", "SP-TEST-01", "--json",
                       env={**env, "TANHUI_USER": "auditor"})  # fmt: skip
    assert [d["audience"] for d in json.loads(verifier.stdout)] == ["public"]


def test_generating_is_refused_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    env = cli_env(db_url)
    out = tmp_path / "out"
    forbidden = run_cli("docs", "pdd", "--project", "SP-TEST-01", "--out", str(out),
                        env={**env, "TANHUI_USER": "auditor"})  # fmt: skip
    assert forbidden.returncode == 5 and "生成项目文件" in forbidden.stderr
    wrong = run_cli("docs", "pdd", "--project", "SP-TEST-01", "--out", str(out), "--format", "xlsx",
                    env=env)  # fmt: skip
    assert wrong.returncode == 1
    assert "没有这些格式" in wrong.stderr and "is not written as xlsx" in wrong.stderr
    unknown = run_cli("docs", "pdd", "--project", "NO-SUCH", "--out", str(out), env=env)
    assert unknown.returncode == 4 and "NO-SUCH" in unknown.stderr
    assert not out.exists()
    engine = make_engine(db_url)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM document")).scalar() == 0
    engine.dispose()
