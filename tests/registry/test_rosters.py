"""Owners' identities, payment rosters, their approval, payment, exports and who may see them,
on a real registry (both engines): the API scenario — project L1 verified for 1,000.5 t in
period 1, the test users (director: admin, li: bureau staff, owner: forest owner, buyer).

The arithmetic of the split is worked out by hand in test_sharing_rules.py; here: a roster
sums exactly to the amount and names its rule version, an approved roster never changes (a new
rule version does not touch it, preparing it again is refused), approval is refused naming the
owners without an identity, a bad identity file names its rows and writes nothing, the public
notice holds no full name or number, a forest owner sees only its own lines, a buyer nothing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from registry.compensation.exports import export_roster
from registry.compensation.owners import import_identities, link_owner
from registry.compensation.presets import preset_rule
from registry.compensation.roster_demo import demo_compensation
from registry.compensation.rosters import (
    approve_roster,
    my_payments,
    pay_roster,
    prepare_roster,
    roster_view,
)
from registry.compensation.rules import RuleSpec, create_rule
from registry.db import session_scope
from registry.errors import (
    Forbidden,
    IdentityFileRejected,
    IdentityMissing,
    Invalid,
    NotFound,
    RosterClosed,
)
from registry.users import load_actor
from tests.api.api_fixtures import api_registry
from tests.conftest import registry_digest
from tests.registry.compensation_fixtures import (
    IDENTITY_HEADER,
    identity_csv,
    project_identities,
    project_owners,
)

HEADER = IDENTITY_HEADER


@pytest.fixture
def l1(scenario: Callable[..., Engine]) -> Engine:
    return scenario("api", api_registry)


def _owners(engine: Engine) -> list[tuple[int, str, str]]:
    return project_owners(engine)


def _identity_csv(rows: list[dict[str, str]]) -> bytes:
    return identity_csv(rows)


def _identities(engine: Engine, skip: int = 0) -> list[dict[str, str]]:
    return project_identities(engine, skip=skip)


def _act(engine: Engine, user: str, work: Callable[..., Any]) -> Any:
    with session_scope(engine) as s:
        return work(s, load_actor(s, user))


def test_a_bad_identity_file_names_its_rows_and_writes_nothing(l1: Engine) -> None:
    rows = [r for r in _identities(l1) if r["身份证号"]]  # households
    good = rows[0]
    number = rows[1]["身份证号"]  # one check character is right: any other is wrong
    bad_id = {**rows[1], "身份证号": number[:-1] + ("1" if number[-1] != "1" else "2")}
    card = rows[2]["银行卡号"]
    bad_card = {**rows[2], "银行卡号": card[:-1] + str((int(card[-1]) + 1) % 10)}
    stranger = {**good, "姓名": "不存在的人"}
    before = registry_digest(l1)
    data = _identity_csv([good, bad_id, bad_card, stranger])
    with pytest.raises(IdentityFileRejected) as refused:
        _act(l1, "li", lambda s, a: import_identities(s, a, data, "ids.csv"))
    # rows as the spreadsheet counts them: headers on row 1, so the bad rows are 3, 4 and 5
    assert sorted({n for n, _, _ in refused.value.rows}) == [3, 4, 5]
    assert "第 3 行" in refused.value.message_zh and "row 5" in refused.value.message_en
    assert "不存在的人" in refused.value.message_zh
    assert registry_digest(l1) == before  # nothing written, not even an audit event


def test_identities_import_again_safely_and_the_audit_keeps_no_number(l1: Engine) -> None:
    rows = _identities(l1)
    data = _identity_csv(rows)
    first = _act(l1, "li", lambda s, a: import_identities(s, a, data, "ids.csv"))
    again = _act(l1, "li", lambda s, a: import_identities(s, a, data, "ids.csv"))
    assert (first.added, first.replaced) == (len(rows), 0)
    assert (again.added, again.replaced) == (0, len(rows))
    with l1.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM owner_identity")).scalar_one() == len(rows)
        payloads = [p for (p,) in c.execute(text(
            "SELECT payload FROM audit_event WHERE action = 'compensation.identities'"))]  # fmt: skip
    assert len(payloads) == 2
    for row in rows:
        for number in (row["身份证号"], row["统一社会信用代码"], row["银行卡号"]):
            assert not number or all(number not in p for p in payloads)
    # a buyer may not import identities
    with pytest.raises(Forbidden):
        _act(l1, "buyer", lambda s, a: import_identities(s, a, data, "ids.csv"))


def test_roster_sums_approval_payment_and_an_approved_roster_never_changes(l1: Engine) -> None:
    rule = _act(l1, "li", lambda s, a: create_rule(s, a, "L1", preset_rule("per-mu")))
    assert rule.version == 1
    draft = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("73448.70")))
    owners = _owners(l1)
    owner_lines = [ln for ln in draft.lines if ln["owner_id"] is not None]
    assert sorted(ln["owner_id"] for ln in owner_lines) == [i for i, _, _ in owners]
    assert sum(Decimal(ln["amount"]) for ln in draft.lines) == Decimal("73448.70")
    # management takes 1/10: 7,344,870 fen / 10 = 734,487 fen exactly
    assert [ln["amount"] for ln in draft.lines if ln["party"] == "management"] == ["7344.87"]
    assert {ln["rule_version"] for ln in draft.lines} == {1}
    # the owners' part by area: each owner's share within a fen of its exact quota
    areas = {ln["owner_id"]: Fraction(ln["figures"]["area_ha"]) for ln in owner_lines}
    total_area = sum(areas.values(), Fraction(0))
    for ln in owner_lines:
        quota = Fraction(6610383) * areas[ln["owner_id"]] / total_area  # owners' 9/10, in fen
        assert abs(Fraction(Decimal(ln["amount"]) * 100) - quota) < Fraction(101, 100)

    # a draft may be prepared again (replaced); staff may not approve; no identity: refused
    draft = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("73448.70")))
    with pytest.raises(Forbidden):
        _act(l1, "li", lambda s, a: approve_roster(s, a, draft.id))
    data = _identity_csv(_identities(l1, skip=1))  # the first owner has none
    _act(l1, "li", lambda s, a: import_identities(s, a, data, "ids.csv"))
    with pytest.raises(IdentityMissing) as refused:
        _act(l1, "director", lambda s, a: approve_roster(s, a, draft.id))
    assert owners[0][1] in refused.value.message_zh and owners[1][1] not in refused.value.message_zh
    data = _identity_csv(_identities(l1))
    _act(l1, "li", lambda s, a: import_identities(s, a, data, "ids.csv"))
    approved = _act(l1, "director", lambda s, a: approve_roster(s, a, draft.id))
    assert approved.status == "approved"

    # a new rule version does not touch the approved roster; preparing it again is refused
    _act(l1, "li", lambda s, a: create_rule(s, a, "L1", RuleSpec.build(
        {"shares": {"owners": "1/2", "developer": "1/2"}, "basis": "area"})))  # fmt: skip
    with pytest.raises(RosterClosed):
        _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("1.00")))
    after = _act(l1, "li", lambda s, a: roster_view(s, a, draft.id))
    assert after.lines == approved.lines and after.rule_version == 1

    with pytest.raises(Forbidden):
        _act(l1, "li", lambda s, a: pay_roster(s, a, draft.id, "BATCH-1"))
    paid = _act(l1, "director", lambda s, a: pay_roster(s, a, draft.id, "BATCH-2026-001"))
    assert (paid.status, paid.payment_reference, paid.lines) == ("paid", "BATCH-2026-001",
                                                                  approved.lines)  # fmt: skip
    with pytest.raises(RosterClosed):
        _act(l1, "director", lambda s, a: pay_roster(s, a, draft.id, "again"))
    with l1.connect() as c:
        actions = [a for (a,) in c.execute(text(
            "SELECT action FROM audit_event WHERE entity_type = 'roster' ORDER BY id"))]  # fmt: skip
    assert actions == ["compensation.roster", "compensation.roster",
                       "compensation.roster_approved", "compensation.roster_paid"]  # fmt: skip


def test_exports_and_the_notice_shows_no_full_name_or_number(l1: Engine, tmp_path: Path) -> None:
    with session_scope(l1) as s:
        admin, staff = load_actor(s, "director"), load_actor(s, "li")
        report = demo_compensation(s, admin, staff, "L1", tmp_path)
    assert report.status == "approved" and len(report.files) == 4
    import stat

    # the private files (identities, Excel, bank file) are readable by their owner only
    private = [tmp_path / "identities-synthetic.csv"] + [
        p for p in report.files if p.name.endswith((".xlsx", "-bank.csv"))
    ]
    assert len(private) == 3
    assert [stat.S_IMODE(p.stat().st_mode) for p in private] == [0o600] * 3
    rows = _identities(l1)
    with session_scope(l1) as s:
        view = roster_view(s, staff, report.roster_id)
        files = {f.name.rsplit("-", 1)[-1]: f.content for fmt in ("xlsx", "bank-csv", "notice")
                 for f in export_roster(s, staff, report.roster_id, fmt)}  # fmt: skip
    assert view.method["unverified"] and view.method["removals_rule"]
    # Excel: the status on row 1, headers on row 2, one row per line, the total by formula,
    # the rule sheet says unverified
    book = load_workbook(BytesIO(files[f"R{report.roster_id}.xlsx"]))
    sheet = book["发放名册"]
    assert "已审批" in str(sheet.cell(1, 1).value) and sheet.cell(2, 1).value == "序号"
    amounts = [sheet.cell(r, 12).value for r in range(3, 3 + len(view.lines))]
    assert sum(Decimal(str(a)) for a in amounts) == report.amount
    assert sheet.cell(3 + len(view.lines), 12).value == f"=SUM(L3:L{2 + len(view.lines)})"
    assert any("未核实" in str(c.value) for r in book["规则与来源"].iter_rows() for c in r)
    # bank file: the owners paid, card and amount to the fen, a reference each
    bank = list(csv.reader(io.StringIO(files["bank.csv"].decode("utf-8-sig"))))
    assert bank[0] == ["户名", "卡号", "金额", "附言"]
    cards = {r["姓名"]: r["银行卡号"] for r in rows}
    paid = {
        ln["payee"]: ln["amount"] for ln in view.lines if ln["owner_id"] and ln["amount"] != "0.00"
    }
    assert {r[0]: (r[1], r[2]) for r in bank[1:]} == {n: (cards[n], a) for n, a in paid.items()}
    assert len({r[3] for r in bank[1:]}) == len(bank) - 1
    # the public notice: no full name, ID number, credit code or card of any identity
    for name in ("notice.csv", "notice.html"):
        notice = files[name].decode("utf-8-sig")
        for row in rows:
            assert row["姓名"] not in notice, (name, row["姓名"])
            for number in (row["身份证号"], row["统一社会信用代码"], row["银行卡号"]):
                assert not number or number not in notice
        masked = next(r for r in rows if r["身份证号"])["身份证号"]
        assert masked[:6] + "********" + masked[-4:] in notice  # the masked form is there
    # the demo's amount: int(1,000.5 t verified) × 73.41 yuan/t = 1,000 × 73.41 = 73,410.00
    assert report.amount == Decimal("73410.00")


def test_a_forest_owner_sees_only_its_own_lines_and_a_buyer_nothing(
    l1: Engine, tmp_path: Path
) -> None:
    with session_scope(l1) as s:
        report = demo_compensation(
            s, load_actor(s, "director"), load_actor(s, "li"), "L1", tmp_path
        )
    owners = _owners(l1)
    mine = owners[1]
    with pytest.raises(NotFound):  # not linked yet
        _act(l1, "owner", my_payments)
    with pytest.raises(Forbidden):
        _act(l1, "li", lambda s, a: link_owner(s, a, mine[1], "owner"))  # admin only
    _act(l1, "director", lambda s, a: link_owner(s, a, mine[1], "owner"))
    seen = _act(l1, "owner", my_payments)
    with session_scope(l1) as s:
        view = roster_view(s, load_actor(s, "li"), report.roster_id)
    expected = [ln for ln in view.lines if ln["owner_id"] == mine[0]]
    assert [(p["roster"], p["amount"], p["stands"]) for p in seen] == [
        (report.roster_id, ln["amount"], ln["stands"]) for ln in expected
    ]
    for who in ("buyer", "owner"):
        with pytest.raises(Forbidden):
            _act(l1, who, lambda s, a: roster_view(s, a, report.roster_id))
    with pytest.raises(Forbidden):
        _act(l1, "buyer", my_payments)


def test_the_command_line_round(l1: Engine, db_url: str, tmp_path: Path) -> None:
    from tests.cli_runner import run_cli

    env = {"TANHUI_DATABASE_URL": db_url}

    def tanhui(user: str, *args: str) -> Any:
        return run_cli("--as", user, "compensation", *args, env=env, cwd=tmp_path)

    rows = _identities(l1)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_identity_csv([rows[0], {**rows[1], "银行卡号": "1234"}]))
    before = registry_digest(l1)
    done = tanhui("li", "owners", "import", str(bad))
    assert done.returncode == 1, done.stderr
    assert done.stderr.index("第 3 行") < done.stderr.index("row 3")  # zh first, then en
    assert registry_digest(l1) == before
    for body in ("[1, 2]", '"x"', "null"):  # a rule file that is not a JSON object
        (tmp_path / "rule.json").write_text(body, encoding="utf-8")
        refused = tanhui("li", "rules", "--project", "L1", "--file", str(tmp_path / "rule.json"))
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert refused.stderr.index("JSON 对象") < refused.stderr.index("JSON object")
        refused = tanhui("li", "rules", "--project", "L1", "--preset", "anji", "--file",
                         str(tmp_path / "rule.json"))  # fmt: skip
        assert refused.returncode == 1 and "JSON object" in refused.stderr, refused.stderr
    good = tmp_path / "ids.csv"
    good.write_bytes(_identity_csv(rows))
    assert tanhui("li", "owners", "import", str(good)).returncode == 0
    assert tanhui("li", "rules", "--project", "L1", "--preset", "per-mu").returncode == 0
    made = tanhui("li", "roster", "--project", "L1", "--period", "1", "--amount", "1000.00",
                  "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    rid = str(json.loads(made.stdout)["id"])
    digest = json.loads(made.stdout)["lines_sha256"]
    shown = tanhui("li", "show", "--roster", rid)
    assert shown.returncode == 0 and digest in shown.stdout
    assert tanhui("li", "approve", "--roster", rid).returncode == 5  # admin only
    wrong = tanhui("director", "approve", "--roster", rid, "--expect", "0" * 64)
    assert wrong.returncode == 1, wrong.stderr  # refused: zh first, then en
    assert wrong.stderr.index("已被更改") < wrong.stderr.index("changed since you read it")
    approved = tanhui("director", "approve", "--roster", rid, "--expect", digest)
    assert approved.returncode == 0 and digest in approved.stdout  # the digest it approved
    out = tmp_path / "out"
    assert (
        tanhui("li", "export", "--roster", rid, "--format", "notice", "--out", str(out)).returncode
        == 0
    )
    assert sorted(p.suffix for p in out.iterdir()) == [".csv", ".html"]
    assert tanhui("director", "pay", "--roster", rid, "--reference", "B-9").returncode == 0
    assert tanhui("buyer", "show", "--roster", rid).returncode == 5


def test_an_identity_workbook_keeps_the_x_and_leading_zeros(l1: Engine, tmp_path: Path) -> None:
    import pandas as pd

    rows = _identities(l1)
    with_x = next(r for r in rows if r["身份证号"].endswith("X"))  # one of L1's households
    path = tmp_path / "ids.xlsx"
    pd.DataFrame(rows, columns=HEADER).to_excel(path, index=False)
    done = _act(l1, "li", lambda s, a: import_identities(s, a, path.read_bytes(), path.name))
    assert done.added == len(rows)
    with l1.connect() as c:
        stored = c.execute(text(
            "SELECT i.id_number FROM owner_identity i JOIN owner o ON o.id = i.owner_id "
            "WHERE o.name = :n"), {"n": with_x["姓名"]}).scalar_one()  # fmt: skip
    assert stored == with_x["身份证号"]


def test_income_shares_must_name_every_owner_and_only_registered_ones(l1: Engine) -> None:
    owners = _owners(l1)
    table = {name: 1 for _, name, _ in owners[1:]}
    with pytest.raises(Invalid) as refused:
        _act(l1, "li", lambda s, a: create_rule(
            s, a, "L1", preset_rule("hunan-shares", {"owner_shares": {**table, "无名氏": 2}})))  # fmt: skip
    assert "无名氏" in refused.value.message_zh
    _act(l1, "li", lambda s, a: create_rule(s, a, "L1",
                                            preset_rule("hunan-shares", {"owner_shares": table})))  # fmt: skip
    with pytest.raises(Invalid) as refused:
        _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("100.00")))
    assert owners[0][1] in refused.value.message_zh
    full = {name: 2 if i % 2 else 1 for i, (_, name, _) in enumerate(owners)}
    _act(l1, "li", lambda s, a: create_rule(s, a, "L1",
                                            preset_rule("hunan-shares", {"owner_shares": full})))  # fmt: skip
    view = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("100.00")))
    assert view.rule_version == 2 and sum(Decimal(ln["amount"]) for ln in view.lines) == Decimal(
        "100.00"
    )


def test_the_audit_log_keeps_the_income_share_table_as_a_digest_never_names(l1: Engine) -> None:
    import hashlib

    owners = _owners(l1)
    table = {name: 2 if i % 2 else 1 for i, (_, name, _) in enumerate(owners)}
    _act(l1, "li", lambda s, a: create_rule(s, a, "L1",
                                            preset_rule("hunan-shares", {"owner_shares": table})))  # fmt: skip
    with l1.connect() as c:
        payload = json.loads(c.execute(text(
            "SELECT payload FROM audit_event WHERE action = 'compensation.rule' ORDER BY id DESC")).first()[0])  # fmt: skip
    assert not any(name in json.dumps(payload, ensure_ascii=False) for _, name, _ in owners)
    text_ = json.dumps({k: str(v) for k, v in table.items()}, ensure_ascii=False, sort_keys=True)
    assert payload["owner_shares_sha256"] == hashlib.sha256(text_.encode()).hexdigest()
    assert payload["owner_shares_n"] == len(owners)


def test_the_database_refuses_changing_an_approved_roster_and_payment_checks_its_digest(
    l1: Engine,
) -> None:
    from sqlalchemy.exc import DBAPIError

    _act(l1, "li", lambda s, a: create_rule(s, a, "L1", preset_rule("per-mu")))
    draft = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("1000.00")))
    data = _identity_csv(_identities(l1))
    _act(l1, "li", lambda s, a: import_identities(s, a, data, "i.csv"))
    _act(l1, "director", lambda s, a: approve_roster(s, a, draft.id))
    for sql in (  # each refused by migration 0017's guards, on both engines
        "UPDATE roster_line SET amount_fen = amount_fen + 100 WHERE line_no = 1",
        "DELETE FROM roster_line WHERE line_no = 1",
        "INSERT INTO roster_line (roster_id, line_no, party, payee, amount_fen) "
        "VALUES (1, 99, 'owners', '某人', 100)",
        "UPDATE roster SET amount_fen = 1",
        "UPDATE roster SET status = 'draft'",
        "DELETE FROM roster",
        "UPDATE roster_line SET payee_bank_card = '9999000000000000' WHERE line_no = 1",
    ):
        with pytest.raises(DBAPIError, match="never changes"), l1.begin() as c:
            c.execute(text(sql))
    for sql in ("UPDATE sharing_rule SET rule_json = '{}'", "DELETE FROM sharing_rule"):
        with pytest.raises(DBAPIError, match="never changed or deleted"), l1.begin() as c:
            c.execute(text(sql))
    # the tables' owner drops the guard and moves a fen between two lines (the sum still
    # holds): the payment compares the lines with the digest the approval logged, and refuses
    postgres = l1.dialect.name == "postgresql"
    with l1.begin() as c:
        if postgres:
            c.execute(text("ALTER TABLE roster_line DISABLE TRIGGER USER"))
        else:
            c.execute(text("DROP TRIGGER roster_line_guard_update"))
        # first the payee of line 1 redirected to another card (the lines are as approved)
        c.execute(text("UPDATE roster_line SET payee_bank_card = '9999000000000000' "
                       "WHERE line_no = 1"))  # fmt: skip
    with pytest.raises(RosterClosed, match="payees' identities and cards"):
        _act(l1, "director", lambda s, a: pay_roster(s, a, draft.id, "BATCH-X"))
    with l1.begin() as c:
        c.execute(text("UPDATE roster_line SET amount_fen = amount_fen + 1 WHERE line_no = 2"))
        c.execute(text("UPDATE roster_line SET amount_fen = amount_fen - 1 WHERE line_no = 3"))
    with pytest.raises(RosterClosed, match="differ from those the audit log recorded"):
        _act(l1, "director", lambda s, a: pay_roster(s, a, draft.id, "BATCH-X"))
    with l1.connect() as c:
        assert c.execute(text("SELECT status FROM roster")).scalar_one() == "approved"


def _bank_rows(engine: Engine, roster_id: int) -> dict[str, list[str]]:
    with session_scope(engine) as s:
        (got,) = export_roster(s, load_actor(s, "li"), roster_id, "bank-csv")
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    return {r[0]: r for r in rows[1:]}


def test_an_approved_roster_pays_the_identities_frozen_at_its_approval(l1: Engine) -> None:
    import hashlib

    from registry.audit import canonical_json
    from registry.compensation.roster_demo import synthetic_identity

    _act(l1, "li", lambda s, a: create_rule(s, a, "L1", preset_rule("per-mu")))
    draft = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("1000.00")))
    rows = _identities(l1)
    _act(l1, "li", lambda s, a: import_identities(s, a, _identity_csv(rows), "ids.csv"))
    approved = _act(l1, "director", lambda s, a: approve_roster(s, a, draft.id, draft.lines_sha256))
    assert approved.lines_sha256 == draft.lines_sha256
    line = next(
        ln for ln in approved.lines if ln["owner_id"] is not None and ln["amount"] != "0.00"
    )
    old = next(r for r in rows if r["姓名"] == line["payee"])
    # the approval logged the digest of the snapshot: each owner line's (number, ID kind, ID
    # number, bank, card) as imported, in line order; and the digest of the rule's JSON
    snapshot = []
    for ln in approved.lines:
        if ln["owner_id"] is None:
            continue
        r = next(r for r in rows if r["姓名"] == ln["payee"])
        kind, number = (
            ("resident_id", r["身份证号"])
            if r["身份证号"]
            else ("credit_code", r["统一社会信用代码"])
        )
        snapshot.append([ln["line"], kind, number, r["开户行"], r["银行卡号"]])
    with l1.connect() as c:
        payload = json.loads(c.execute(text(
            "SELECT payload FROM audit_event WHERE action = 'compensation.roster_approved'")).scalar_one())  # fmt: skip
        rule_json = c.execute(text("SELECT rule_json FROM sharing_rule")).scalar_one()
    assert payload["payees_sha256"] == hashlib.sha256(canonical_json(snapshot).encode()).hexdigest()
    assert payload["rule_sha256"] == hashlib.sha256(rule_json.encode()).hexdigest()
    assert payload["lines_sha256"] == draft.lines_sha256

    # staff re-import the owner's identity with another card and bank: allowed (a lost card),
    # logged with the owner, the fields changed and the new card's last 4 digits only
    new_card = synthetic_identity(777, old["姓名"], "household")["银行卡号"]
    assert new_card != old["银行卡号"]
    moved = [
        {**r, "银行卡号": new_card, "开户行": "另一银行（虚构）"} if r is old else r for r in rows
    ]
    done = _act(l1, "li", lambda s, a: import_identities(s, a, _identity_csv(moved), "ids2.csv"))
    assert (done.changed, done.in_unpaid_rosters) == (1, (line["owner_id"],))
    with l1.connect() as c:
        logged = c.execute(text(
            "SELECT payload FROM audit_event WHERE action = 'compensation.identities' "
            "ORDER BY id DESC")).first()[0]  # fmt: skip
    assert json.loads(logged)["owners"] == [
        {"owner_id": line["owner_id"], "change": "replaced", "fields": ["bank_name", "bank_card"],
         "card_last4": new_card[-4:]}]  # fmt: skip
    assert json.loads(logged)["in_unpaid_rosters"] == [line["owner_id"]]
    assert new_card not in logged and old["银行卡号"] not in logged

    # the approved roster still pays the card it was approved with: the bank file and Excel
    assert _bank_rows(l1, draft.id)[line["payee"]][1] == old["银行卡号"]
    with session_scope(l1) as s:
        (xlsx,) = export_roster(s, load_actor(s, "li"), draft.id, "xlsx")
    sheet = load_workbook(BytesIO(xlsx.content))["发放名册"]
    row = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[2] == line["payee"])
    assert (row[4], row[5]) == (old["开户行"], old["银行卡号"])
    paid = _act(l1, "director", lambda s, a: pay_roster(s, a, draft.id, "B-1"))
    assert paid.status == "paid"
    assert _bank_rows(l1, draft.id)[line["payee"]][1] == old["银行卡号"]  # paid: the same


def test_approval_is_refused_when_the_roster_changed_since_it_was_read(l1: Engine) -> None:
    from registry.errors import RosterChanged

    _act(l1, "li", lambda s, a: create_rule(s, a, "L1", preset_rule("per-mu")))
    read = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("1000.00")))
    ids = _identity_csv(_identities(l1))
    _act(l1, "li", lambda s, a: import_identities(s, a, ids, "i.csv"))
    # staff prepare the draft again with another amount after the admin read it
    now = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("2000.00")))
    assert now.lines_sha256 != read.lines_sha256
    before = registry_digest(l1)
    with pytest.raises(RosterChanged) as refused:
        _act(l1, "director", lambda s, a: approve_roster(s, a, read.id, read.lines_sha256))
    assert "已被更改" in refused.value.message_zh and "changed since" in refused.value.message_en
    assert registry_digest(l1) == before  # nothing written, the draft stays a draft
    done = _act(l1, "director", lambda s, a: approve_roster(s, a, now.id, now.lines_sha256.upper()))
    assert done.status == "approved" and done.amount == Decimal("2000.00")


def test_a_draft_has_no_bank_file_and_its_excel_says_draft_and_private_exports_are_logged(
    l1: Engine, tmp_path: Path
) -> None:
    import hashlib
    import stat

    from registry.compensation.exports import write_exports
    from registry.errors import RosterNotApproved

    _act(l1, "li", lambda s, a: create_rule(s, a, "L1", preset_rule("per-mu")))
    draft = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("1000.00")))
    ids = _identity_csv(_identities(l1))
    _act(l1, "li", lambda s, a: import_identities(s, a, ids, "i.csv"))
    before = registry_digest(l1)
    with pytest.raises(RosterNotApproved) as refused:
        _act(l1, "li", lambda s, a: export_roster(s, a, draft.id, "bank-csv"))
    assert "尚未审批" in refused.value.message_zh and "not approved" in refused.value.message_en
    assert registry_digest(l1) == before
    files = _act(l1, "li", lambda s, a: export_roster(s, a, draft.id, "xlsx"))
    assert files[0].name.endswith("-DRAFT.xlsx")
    book = load_workbook(BytesIO(files[0].content))
    sheet = book.worksheets[0]
    assert "DRAFT" in sheet.title and str(sheet["A1"].value).startswith("草稿 DRAFT — 未审批")
    assert sheet["A1"].font.b and sheet["A1"].font.sz >= 16  # prominent
    with l1.connect() as c:
        logged = [json.loads(p) for (p,) in c.execute(text(
            "SELECT payload FROM audit_event WHERE action = 'compensation.export'"))]  # fmt: skip
    assert logged == [{"format": "xlsx", "file": files[0].name, "status": "draft",
                       "sha256": hashlib.sha256(files[0].content).hexdigest()}]  # fmt: skip
    # written readable by their owner only — even over a world-readable file of that name
    (tmp_path / files[0].name).write_bytes(b"old")
    (tmp_path / files[0].name).chmod(0o644)
    notice = _act(l1, "li", lambda s, a: export_roster(s, a, draft.id, "notice"))
    for path in write_exports(files, tmp_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == files[0].content
    with l1.connect() as c:  # the public notice is not logged as a private export
        assert c.execute(text(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'compensation.export'")).scalar_one() == 1  # fmt: skip
    assert [f.private for f in notice] == [False, False]


def test_a_payee_named_like_a_formula_stays_text_in_every_export(l1: Engine) -> None:
    owners = _owners(l1)
    with l1.begin() as c:  # two owners whose names a spreadsheet would run as formulas
        c.execute(text("UPDATE owner SET name = '=1+2' WHERE id = :i"), {"i": owners[0][0]})
        c.execute(text("UPDATE owner SET name = '@SUM(9)' WHERE id = :i"), {"i": owners[1][0]})
    _act(l1, "li", lambda s, a: create_rule(s, a, "L1", preset_rule("per-mu")))
    draft = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("1000.00")))
    ids = _identity_csv(_identities(l1))
    _act(l1, "li", lambda s, a: import_identities(s, a, ids, "i.csv"))
    _act(l1, "director", lambda s, a: approve_roster(s, a, draft.id))
    bank = _bank_rows(l1, draft.id)
    assert "'=1+2" in bank and "'@SUM(9)" in bank and "=1+2" not in bank
    with session_scope(l1) as s:
        staff = load_actor(s, "li")
        (xlsx,) = export_roster(s, staff, draft.id, "xlsx")
        notice = export_roster(s, staff, draft.id, "notice")
    sheet = load_workbook(BytesIO(xlsx.content))["发放名册"]
    cells = {sheet.cell(r, 3).value: sheet.cell(r, 3).data_type for r in range(3, sheet.max_row)}
    assert cells["=1+2"] == "s" and cells["@SUM(9)"] == "s"  # strings, not formulas ("f")
    rows = list(csv.reader(io.StringIO(notice[0].content.decode("utf-8-sig"))))
    assert {r[1] for r in rows[1:3]} == {"'=***", "'@******"}  # masked, and quoted


def test_the_roster_says_whose_stands_it_counts(l1: Engine) -> None:
    _act(l1, "li", lambda s, a: create_rule(s, a, "L1", preset_rule("per-mu")))
    view = _act(l1, "li", lambda s, a: prepare_roster(s, a, "L1", 1, Decimal("1000.00")))
    assert "编制名册时的现状" in view.method["owners_at"]
    assert "not during the period" in view.method["owners_at"]
    assert "divided among the owned stands" in view.method["owners_at"]
