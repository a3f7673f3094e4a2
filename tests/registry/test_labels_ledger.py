"""A catalogue label attached through the labels service (the ledger's relabel underneath), on
both engines: it survives transfer, a three-way split, pledge and retirement and appears on the
certificate with its catalogue names; revoking detaches it from live credits while retired
credits keep it, shown "已撤销 / revoked since"; the demo's water-source step."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from registry.audit import verify_chain
from registry.certificate_pdf import certificate_pdf
from registry.db import session_scope
from registry.issuance import issue
from registry.labels import label_unverified_notes
from registry.labels.catalogue import add_label
from registry.labels.demo import demo_labels
from registry.labels.service import attach_label, revoke_label
from registry.ledger import (
    blocks,
    certificate,
    check_invariants,
    history,
    pledge,
    relabel,
    retire,
    transfer,
)
from registry.ledger.replay import replay
from registry.public.ledger import public_certificate
from tests.cli_runner import run_cli
from tests.registry.ledger_fixtures import (
    ADMIN,
    BUYER_USER,
    STAFF,
    open_buyer_and_bank,
    verified_project,
)
from tests.registry.user_fixtures import cli_env

P = "CN-431123-L1-2026-"
BAMBOO = {
    "code": "bamboo_managed", "name_zh": "竹林经营", "name_en": "Managed bamboo", "kind": "co-benefit",
    "issuer": "双牌县林业局", "valid_from": "2026-01-01", "valid_to": "2030-12-31",
    "criteria": {"stand": {"field": "species_group", "op": "eq", "value": "moso_bamboo", "source": "test"},
                 "project": {"basis": "area", "min_share": 0.5, "source": "test"}},
}  # fmt: skip


def _issued(engine: Engine, folder: Path) -> None:
    """L1 verified, issued: BUFFER 1–100, HOLD-L1 101–1000; accounts BUYER and BANK."""
    verified_project(engine, folder)
    with session_scope(engine) as s:
        open_buyer_and_bank(s)
        issue(s, ADMIN, "L1", "i-1", minimum_pct=10)


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return scenario("labels-service", _issued)


def _labels_of_live(engine: Engine) -> dict[tuple[str, str, str], tuple[str, ...]]:
    with session_scope(engine) as s:
        return {(b.account, b.serials.removeprefix(P), b.state): tuple(b.labels) for b in blocks(s)}


def test_a_label_travels_with_the_credits_and_is_revoked(
    issued: Engine, tmp_path: Path, db_url: str
) -> None:
    evidence = tmp_path / "认定.pdf"
    evidence.write_bytes(b"%PDF-1.4 designation")
    with session_scope(issued) as s:
        add_label(s, ADMIN, BAMBOO, evidence)
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", serials=P + "000000101..000000200")
        before = retire(s, BUYER_USER, "r-0", "BUYER", "某电力公司", "碳中和", date(2026, 6, 30),
                        serials=P + "000000101..000000110")  # fmt: skip
    with session_scope(issued) as s:
        attached = attach_label(s, ADMIN, "label-1", "L1", 2026, "bamboo_managed")
    # 1,000 issued − 10 retired before = 990 live credits relabelled (buffer, HOLD-L1, BUYER)
    assert (attached.quantity, attached.untouched_final) == (990, 10)
    assert attached.share_area == 1.0  # every stand of the bamboo project is moso bamboo
    with session_scope(issued) as s:  # the same key: the first result, nothing moved again
        again = attach_label(s, ADMIN, "label-1", "L1", 2026, "bamboo_managed")
    assert again.replayed and again.quantity == 990
    with session_scope(issued) as s:
        # a three-way split of HOLD-L1 201–1000: 201–499 stays, 500–599 to BUYER, 600–1000 stays
        transfer(s, STAFF, "t-2", "HOLD-L1", "BUYER", serials=P + "000000500..000000599")
        pledge(
            s,
            STAFF,
            "p-1",
            "HOLD-L1",
            "BANK",
            "LOAN-1",
            "8000.00",
            serials=P + "000000300..000000349",
        )
        after = retire(s, BUYER_USER, "r-1", "BUYER", "某电力公司", "碳中和", date(2026, 7, 1),
                       serials=P + "000000500..000000509")  # fmt: skip
    live = _labels_of_live(issued)
    assert live == {
        ("BUFFER", "000000001..000000100", "active"): ("bamboo_managed",),
        ("BUYER", "000000111..000000200", "active"): ("bamboo_managed",),
        ("BUYER", "000000510..000000599", "active"): ("bamboo_managed",),
        ("HOLD-L1", "000000201..000000299", "active"): ("bamboo_managed",),
        ("HOLD-L1", "000000300..000000349", "pledged"): ("bamboo_managed",),
        ("HOLD-L1", "000000350..000000499", "active"): ("bamboo_managed",),
        ("HOLD-L1", "000000600..000001000", "active"): ("bamboo_managed",),
        ("RETIREMENT", "000000101..000000110", "retired"): (),  # retired before: as it stood
        ("RETIREMENT", "000000500..000000509", "retired"): ("bamboo_managed",),
    }
    with session_scope(issued) as s:
        assert certificate(s, after.certificate).labels == ("bamboo_managed",)
        assert certificate(s, before.certificate).labels == ()
        shown = public_certificate(s, after.certificate)
        assert shown.label_names == ("竹林经营 Managed bamboo",)
        moves = history(s, P + "000000505")
        # issued; HOLD-L1 cut by the first transfer; relabelled; moved to BUYER; retired
        assert [(m.created_by, m.labels) for m in moves] == [
            ("issue", ()), ("transfer", ()), ("label", ("bamboo_managed",)),
            ("transfer", ("bamboo_managed",)), ("retire", ("bamboo_managed",)),
        ]  # fmt: skip
        stored = s.execute(
            text("SELECT attached, quantity, evaluation_digest, op_id FROM label_attachment")
        ).all()
    assert [(bool(a), int(q)) for a, q, _, _ in stored] == [(True, 990)]
    assert stored[0][2] == attached.evaluation_digest and stored[0][3] == attached.op_id

    shown_cli = run_cli("credits", "show", "--account", "BUYER", env=cli_env(db_url, "director"))
    assert shown_cli.returncode == 0, shown_cli.stderr
    assert "bamboo_managed" in shown_cli.stdout  # the statement's blocks show their labels
    with session_scope(issued) as s:
        revoked = revoke_label(s, ADMIN, "revoke-1", "bamboo_managed", "发布机构撤回 withdrawn")
    # live: 990 − 10 retired since = 980 detached; retired and untouched: 10 + 10 = 20
    assert [(d.project, d.quantity, d.untouched_final) for d in revoked.detached] == [
        ("L1", 980, 20)
    ]
    now = _labels_of_live(issued)
    assert now.pop(("RETIREMENT", "000000500..000000509", "retired")) == ("bamboo_managed",)
    assert all(labels == () for labels in now.values()) and len(now) == 8
    with session_scope(issued) as s:
        assert certificate(s, after.certificate).labels == ("bamboo_managed",)  # kept as it stood
        shown = public_certificate(s, after.certificate)
        pdf = certificate_pdf(shown, None, "测试登记簿")
        assert check_invariants(s) == []
        assert replay(s).ok
        assert verify_chain(s).ok
        kinds = [
            r[0]
            for r in s.execute(
                text("SELECT action FROM audit_event WHERE action LIKE 'label.%' ORDER BY id")
            )
        ]
    assert len(shown.label_names) == 1
    assert shown.label_names[0].startswith("竹林经营 Managed bamboo（已撤销 / revoked since 20")
    assert pdf.startswith(b"%PDF")
    assert kinds == ["label.added", "label.attached", "label.revoked"]
    with pytest.raises(Exception) as refused, session_scope(issued) as s:
        attach_label(s, ADMIN, "label-2", "L1", 2026, "bamboo_managed")
    assert "已于" in getattr(refused.value, "message_zh", "")


def test_the_demo_attaches_water_conservation_from_a_synthetic_layer(
    issued: Engine, tmp_path: Path
) -> None:
    with session_scope(issued) as s:
        report = demo_labels(s, ADMIN, "L1", tmp_path)
    assert Path(report.layer_file).exists() and report.layer.source_crs == "EPSG:4525"
    # the polygon covers the stands west of the 70 % quantile of centroid eastings: some pass,
    # some fail, and by construction more than half the stands pass
    assert 0 < report.n_passed < report.n_stands
    assert report.n_passed / report.n_stands > 0.5
    assert report.qualifies and report.attached is not None
    assert report.attached.quantity == 1000  # all 1,000 issued credits of 2026 are live
    assert "inside water_source ≥ 50%" in report.unverified
    with session_scope(issued) as s:
        assert {tuple(b.labels) for b in blocks(s)} == {("water_conservation",)}
        names = s.execute(text("SELECT count(*) FROM eco_label")).scalar()
    assert names == 5


def test_revoking_with_a_200_character_key_detaches_under_keys_that_fit(
    issued: Engine, tmp_path: Path
) -> None:
    """The ledger takes keys of up to 200 characters: a revocation's key of 200 gives each
    project's detachment its own key of 77 (``label-revoke-`` + 64 hex of SHA-256)."""
    evidence = tmp_path / "认定.pdf"
    evidence.write_bytes(b"%PDF-1.4 designation")
    key = "revoke-" + "k" * 193
    assert len(key) == 200
    with session_scope(issued) as s:
        add_label(s, ADMIN, BAMBOO, evidence)
    with session_scope(issued) as s:
        assert attach_label(s, ADMIN, "label-1", "L1", 2026, "bamboo_managed").quantity == 1000
    with session_scope(issued) as s:
        revoked = revoke_label(s, ADMIN, key, "bamboo_managed", "发布机构撤回 withdrawn")
    # every one of the 1,000 issued credits was live: all detached, none retired
    assert [(d.project, d.quantity, d.untouched_final) for d in revoked.detached] == [
        ("L1", 1000, 0)
    ]
    expected = "label-revoke-" + hashlib.sha256((key + "\nL1").encode()).hexdigest()
    assert len(expected) == 13 + 64
    with session_scope(issued) as s:
        ops = s.execute(
            text("SELECT idempotency_key FROM ledger_operation WHERE kind = 'label' ORDER BY id")
        ).all()
        assert [r[0] for r in ops] == ["label-1", expected]
        assert {tuple(b.labels) for b in blocks(s)} == {()}
    with session_scope(issued) as s:  # a retry with the same 200-character key: the first result
        again = revoke_label(s, ADMIN, key, "bamboo_managed", "发布机构撤回 withdrawn")
    assert again.replayed and again.detached == revoked.detached


QUIET = {  # a label whose project rule's threshold is flagged unverified
    "code": "quiet_zone", "name_zh": "静谧林区", "name_en": "Quiet zone", "kind": "co-benefit",
    "issuer": "双牌县林业局", "valid_from": "2026-01-01", "valid_to": "2030-12-31",
    "criteria": {"stand": {"field": "area_ha", "op": "gt", "value": 0, "source": "test"},
                 "project": {"basis": "area", "min_share": 0.5, "unverified": True}},
}  # fmt: skip
QUIET_NOTE = (
    "标签 quiet_zone（静谧林区）的判定阈值未经核实：project area share ≥ 50% / the threshold of "
    "label quiet_zone (Quiet zone) is unverified: project area share ≥ 50%"
)


def partly_labelled_retirement(s: Session, folder: Path) -> str:
    """BUYER gets 101–120; bamboo_managed on 101–105, quiet_zone on 101–110 (the ledger's
    relabel by serials); BUYER retires 101–120 — 20 t: 5 carry both labels, 5 only quiet_zone,
    10 none. Returns the certificate id."""
    evidence = folder / "认定.pdf"
    evidence.write_bytes(b"%PDF-1.4 designation")
    add_label(s, ADMIN, BAMBOO, evidence)
    add_label(s, ADMIN, QUIET, evidence)
    transfer(s, STAFF, "t-part", "HOLD-L1", "BUYER", serials=P + "000000101..000000120")
    relabel(s, ADMIN, "l-part-1", "L1", "bamboo_managed", serials=P + "000000101..000000105")
    relabel(s, ADMIN, "l-part-2", "L1", "quiet_zone", serials=P + "000000101..000000110")
    done = retire(s, BUYER_USER, "r-part", "BUYER", "某电力公司", "碳中和", date(2026, 7, 1),
                  serials=P + "000000101..000000120")  # fmt: skip
    return done.certificate


def test_a_partly_labelled_retirement_shows_each_label_with_its_quantity(
    issued: Engine, tmp_path: Path
) -> None:
    with session_scope(issued) as s:
        cert = partly_labelled_retirement(s, tmp_path)
    with session_scope(issued) as s:
        found = certificate(s, cert)
        shown = public_certificate(s, cert)
        notes = label_unverified_notes(s, ("quiet_zone", "bamboo_managed", "not_listed"))
    assert found.quantity == 20 and found.labels == ("bamboo_managed", "quiet_zone")
    # 101–105 carry bamboo_managed: 5; 101–110 carry quiet_zone: 10; of 20 retired
    assert found.label_quantities == {"bamboo_managed": 5, "quiet_zone": 10}
    assert [(x.code, x.text, x.unverified) for x in shown.label_lines] == [
        ("bamboo_managed", "竹林经营 Managed bamboo — 共 20 t 中的 5 t / 5 of 20 t", ()),
        ("quiet_zone", "静谧林区 Quiet zone — 共 20 t 中的 10 t / 10 of 20 t", (QUIET_NOTE,)),
    ]
    # the valuation's call: bamboo_managed states every source; not_listed is no catalogue entry
    assert notes == (
        "标签 not_listed 不在标签目录中，判定条件不明 / label not_listed is not in the catalogue: "
        "its criteria are unknown",
        QUIET_NOTE,
    )
    pdf = tmp_path / "cert.pdf"
    pdf.write_bytes(certificate_pdf(shown, None, "测试登记簿"))
    words = " ".join(
        subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "竹林经营 Managed bamboo — 共 20 t 中的 5 t / 5 of 20 t" in words
    assert "静谧林区 Quiet zone — 共 20 t 中的 10 t / 10 of 20 t" in words
    assert words.count("标签判定阈值未经核实 / the label's thresholds are unverified") == 1
