"""A forest owner's own eco-compensation payments on its account page (both engines): nothing
until its user is linked to an owner; then the lines of approved rosters that pay it — and
never another owner's name or amount; the roster's amounts are the service's (worked by hand
in tests/registry/test_rosters.py), the page shows them as stored, to the fen."""

from __future__ import annotations

import re
from decimal import Decimal

from registry.compensation.owners import import_identities, link_owner
from registry.compensation.presets import preset_rule
from registry.compensation.rosters import approve_roster, pay_roster, prepare_roster
from registry.compensation.rules import create_rule
from registry.db import session_scope
from registry.users import load_actor
from tests.registry.compensation_fixtures import identity_csv, project_identities, project_owners
from tests.web.conftest import Web
from tests.web.pages import Person


def _approved_roster(web: Web) -> list[tuple[int, str, str]]:
    """Identities for L1's owners, a per-亩 rule, a roster of 1,000.00 yuan for period 1,
    approved; returns (owner id, name, amount) of every owner line."""
    owners = project_owners(web.engine)
    data = identity_csv(project_identities(web.engine))
    with session_scope(web.engine) as s:
        staff, admin = load_actor(s, "li"), load_actor(s, "director")
        import_identities(s, staff, data, "ids.csv")
        create_rule(s, staff, "L1", preset_rule("per-mu"))
        view = prepare_roster(s, staff, "L1", 1, Decimal("1000.00"))
        approve_roster(s, admin, view.id)
    names = {int(i): str(n) for i, n, _ in owners}
    return [(int(ln["owner_id"]), names[int(ln["owner_id"])], ln["amount"])
            for ln in view.lines if ln.get("owner_id")]  # fmt: skip


def test_a_forest_owner_sees_its_own_payments_and_nobody_elses(web: Web) -> None:
    owner = Person(web, "owner")
    page = owner.get("/account").text
    assert "尚未关联林权权利人" in page and "data-roster=" not in page

    lines = _approved_roster(web)
    assert len(lines) >= 2, "the fixture's project pays several owners"
    mine, others = lines[0], lines[1:]
    with session_scope(web.engine) as s:
        link_owner(s, load_actor(s, "director"), mine[1], "owner")
    page = owner.get("/account").text
    shown = re.findall(r'<tr data-roster="(\d+)" data-status="(\w+)">.*?<td class="n amount">([^<]+)</td>',
                       page, re.S)  # fmt: skip
    assert [(status, amount) for _, status, amount in shown] == [("approved", mine[2])]
    for _, name, _amount in others:
        assert name not in page
    with session_scope(web.engine) as s:
        pay_roster(s, load_actor(s, "director"), int(shown[0][0]), "BATCH-2026-001")
    page = owner.get("/account").text
    assert 'data-status="paid"' in page and "BATCH-2026-001" in page

    buyer = Person(web, "buyer").get("/account").text  # no payments section for other roles
    assert 'id="payments"' not in buyer
