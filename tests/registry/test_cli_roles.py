"""The command line's ledger, project and user commands × every user, from ONE table: the CLI
acts as ``--as USER`` and the services decide — refused users exit 5 (forbidden) and change
nothing; each allowed user's command succeeds (exit 0). Both engines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.api.api_fixtures import api_registry
from tests.cli_runner import run_cli
from tests.registry.user_fixtures import USERS

ALL = frozenset(USERS)
STAFF = frozenset({"director", "li"})
Args = Callable[[str, dict[str, Any]], list[str]]

# (name, arguments for a user and the context, the users allowed)
TABLE: list[tuple[str, Args, frozenset[str]]] = [
    ("issue", lambda u, _: ["credits", "issue", "--project", "L1", "--key", f"i-{u}"],
     frozenset({"director"})),
    ("transfer", lambda u, _: ["credits", "transfer", "--from", "HOLD-L1", "--to", "BUYER",
                               "--quantity", "5", "--key", f"t-{u}"], STAFF),
    ("retire", lambda u, _: ["credits", "retire", "--account", "BUYER", "--beneficiary", "b",
                             "--purpose", "p", "--quantity", "1", "--key", f"r-{u}"],
     frozenset({"buyer"})),
    ("pledge", lambda u, _: ["credits", "pledge", "--account", "BUYER", "--bank", "BANK",
                             "--loan-ref", "DK", "--amount", "100", "--quantity", "2",
                             "--key", f"p-{u}"], frozenset({"buyer"})),
    ("release", lambda u, c: ["credits", "release", "--pledge", str(c["pledge"]), "--key",
                              f"rel-{u}"], frozenset({"banker"})),
    ("cancel the buffer", lambda u, _: ["credits", "cancel", "--account", "BUFFER", "--reason",
                                        "fire", "--quantity", "1", "--key", f"c-{u}"],
     frozenset({"director"})),
    ("open an account", lambda u, _: ["credits", "open-account", "--code", f"A-{u}", "--name", "n",
                                      "--holder", "某电力公司"], STAFF),
    ("open a bank's account (a kind)", lambda u, _: ["credits", "open-account", "--code",
     f"B-{u}", "--name", "n", "--holder", f"新银行{u}", "--holder-kind", "bank"],
     frozenset({"director"})),
    ("assess the risk", lambda u, _: ["project", "assess-risk", "--project", "L1", "--buffer-pct",
                                      "12", "--reason", "火险"], frozenset({"director", "auditor"})),
    ("create a project", lambda u, _: ["project", "create", "--code", f"P-{u}", "--name", "n",
                                       "--methodology", "AR-CM-005-V01", "--developer", "双牌县林业局",
                                       "--start-date", "2026-01-01"], STAFF),
    ("add users", lambda u, _: ["users", "add", f"new-{u}", "--organisation", "某电力公司",
                                "--role", "buyer", "--no-password"], frozenset({"director"})),
    ("set roles", lambda u, _: ["users", "set-role", "owner", "--role", "forest_owner"],
     frozenset({"director"})),
    ("grant a kind", lambda u, _: ["org", "grant", "某电力公司", "--kind", "buyer"],
     frozenset({"director"})),
    ("disable a user", lambda u, _: ["users", "disable", "owner"], frozenset({"director"})),
]  # fmt: skip


def _count(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT COUNT(*) FROM audit_event")).scalar_one())


@pytest.mark.slow
def test_every_command_for_every_user(
    scenario: Callable[..., Engine], db_url: str, tmp_path: Path
) -> None:
    engine = scenario("api", api_registry)
    env = {"TANHUI_DATABASE_URL": db_url}
    context: dict[str, Any] = {}
    for name, args, allowed in TABLE:
        for user in sorted(ALL - allowed):
            before = _count(engine)
            done = run_cli("--as", user, *args(user, context), env=env, cwd=tmp_path)
            assert done.returncode == 5, (name, user, done.stdout, done.stderr)
            assert _count(engine) == before, (name, user)  # nothing written
        for user in sorted(allowed):
            done = run_cli("--as", user, *args(user, context), env=env, cwd=tmp_path)
            assert done.returncode == 0, (name, user, done.stdout, done.stderr)
            if name == "pledge":
                context["pledge"] = json.loads(done.stdout)["pledge"]
    # the disabled user is refused even for what it could do before
    shown = run_cli("--as", "owner", "users", "list", env=env, cwd=tmp_path)
    assert shown.returncode == 5 and "disabled" in shown.stderr


def test_the_first_admin_is_made_on_the_command_line_with_a_password(
    db_url: str, tmp_path: Path
) -> None:
    env = {"TANHUI_DATABASE_URL": db_url}
    weak = run_cli("users", "add", "chief", "--organisation", "双牌县林业局", "--role", "admin",
                   "--password-stdin", env=env, cwd=tmp_path, input="short\n")  # fmt: skip
    assert weak.returncode == 1 and "12 characters" in weak.stderr
    not_admin = run_cli("users", "add", "clerk", "--organisation", "双牌县林业局", "--role",
                        "bureau_staff", "--password-stdin", env=env, cwd=tmp_path,
                        input="a long enough password\n")  # fmt: skip
    assert not_admin.returncode == 1 and "must be an admin" in not_admin.stderr
    first = run_cli("users", "add", "chief", "--organisation", "双牌县林业局", "--role", "admin",
                    "--password-stdin", env=env, cwd=tmp_path, input="a long enough password\n")  # fmt: skip
    assert first.returncode == 0, first.stderr
    second = run_cli("users", "add", "other", "--organisation", "双牌县林业局", "--role", "admin",
                     "--password-stdin", env=env, cwd=tmp_path, input="a long enough password\n")  # fmt: skip
    assert second.returncode == 5  # users exist: only an admin (--as) adds more
    listed = run_cli("--as", "chief", "users", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "chief" in listed.stdout
    assert "a long enough password" not in listed.stdout + listed.stderr
