"""``tanhui docs …`` on both engines: ``verify`` names a stored document (exit 0) and says
"unknown or altered" for a file with one changed byte (exit 1); ``list`` shows staff and the
verifier the drafts, others the public documents by organisation; an unwritable ``--out`` is
refused before anything is stored; generating is refused for a verifier (exit 5) and writes nothing; a bad kind of format
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
    assert "SP-TEST-01" in done.stdout and "双牌县林业局" in done.stdout
    assert "李工" not in done.stdout  # anyone may verify: the organisation, not the staff member
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
    assert sorted(d["audience"] for d in json.loads(verifier.stdout)) == ["public", "staff"]
    buyer = run_cli("docs", "list", "--project", "SP-TEST-01", "--json",
                    env={**env, "TANHUI_USER": "buyer"})  # fmt: skip
    assert [d["audience"] for d in json.loads(buyer.stdout)] == ["public"]
    assert [d["generated_by"] for d in json.loads(buyer.stdout)] == ["双牌县林业局"]


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


def test_an_unwritable_folder_is_refused_before_anything_is_built_or_stored(
    db_url: str, tmp_path: Path
) -> None:
    """``--out`` under a file (``/dev/null/x``, or a folder below an ordinary file) is refused in
    both languages before the project is even looked up: no traceback, no row, no audit event."""
    env = cli_env(db_url)
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"")
    for out in (Path("/dev/null/x"), a_file / "sub" / "docs", a_file):
        done = run_cli("docs", "pdd", "--project", "SP-TEST-01", "--out", str(out), env=env)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert "无法在" in done.stderr and "cannot write files in" in done.stderr
        assert "is not a folder" in done.stderr
    engine = make_engine(db_url)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM document")).scalar() == 0
        assert (
            c.execute(
                text("SELECT count(*) FROM audit_event WHERE action = 'document.generated'")
            ).scalar()
            == 0
        )
    engine.dispose()


def test_verify_warns_when_the_stored_copy_is_gone(db_url: str, tmp_path: Path) -> None:
    """The tables' owner deleted the row: the audit event still vouches for the file (exit 0),
    with a warning naming the event."""
    from registry.db import is_postgres
    from tests.registry.test_ledger_evidence import _disable_guards

    env = cli_env(db_url)
    content = b"%PDF-1.7\n issued, then its row deleted\n%%EOF\n"
    doc_id = _stored(db_url, content, "public")
    engine = make_engine(db_url)
    with engine.begin() as c:
        _disable_guards(c, "document", is_postgres(engine))
        c.execute(text("DELETE FROM document WHERE id = :i"), {"i": doc_id})
    engine.dispose()
    received = tmp_path / "received.pdf"
    received.write_bytes(content)
    done = run_cli("docs", "verify", str(received), env=env)
    assert done.returncode == 0, done.stderr
    assert "缺失或被改动" in done.stdout and "stored copy is missing or altered" in done.stdout
