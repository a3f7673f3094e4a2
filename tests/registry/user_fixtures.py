"""The test registry's users, matching the test actors (project_fixtures, ledger_fixtures):
a director (admin) and a clerk of the bureau, a verifier, the buyer's and the bank's users."""

from __future__ import annotations

from sqlalchemy import Engine

from registry.db import session_scope
from registry.organisations import grant_kind, register_organisation
from registry.users import add_user, bootstrap_admin, load_actor, parse_roles
from tests.registry.project_fixtures import BUREAU

__all__ = ["PASSWORD", "USERS", "add_test_users"]

PASSWORD = "correct horse battery staple"  # a test's password, never a default of the registry
# username → (organisation, its kind, roles)
USERS = {
    "director": (BUREAU, "bureau", "admin"),
    "li": (BUREAU, "bureau", "bureau_staff"),
    "auditor": ("某审定核证机构", "verifier", "verifier"),
    "buyer": ("某电力公司", "buyer", "buyer"),
    "banker": ("永州某银行", "bank", "bank"),
    "owner": ("某村集体", "forest_owner", "forest_owner"),
}


def add_test_users(engine: Engine) -> None:
    """The users above, each with :data:`PASSWORD`; organisations registered and granted."""
    with session_scope(engine) as s:
        bootstrap_admin(s, "director", BUREAU, PASSWORD)
        admin = load_actor(s, "director")
        for username, (org, kind, roles) in USERS.items():
            if username == "director":
                continue
            register_organisation(s, admin, org)
            grant_kind(s, admin, org, kind)
            add_user(s, admin, username, org, parse_roles(roles), PASSWORD)


def cli_env(db_url: str, user: str = "li") -> dict[str, str]:
    """The environment of a command-line test acting as ``user``: the database at ``db_url``
    (its schema made if new) holding the test users."""
    from registry.db import ensure_schema, make_engine
    from registry.users import count_users

    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        with session_scope(engine) as s:
            empty = count_users(s) == 0
        if empty:
            add_test_users(engine)
    finally:
        engine.dispose()
    return {"TANHUI_DATABASE_URL": db_url, "TANHUI_USER": user}
