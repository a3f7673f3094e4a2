"""The command line's ledger, project, model, audit, user and organisation commands × every
user, from ONE table: the CLI acts as ``--as USER`` and the services decide — refused users exit
5 (forbidden) and change nothing (one hash over every row of every registry table, before and
after); each allowed user's command succeeds (exit 0). The projects' rows walk drafts through
their lifecycle (:mod:`tests.api.lifecycle_fixtures`), as the API's role table does. Both
engines."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from registry.checkpoints import generate_key
from tests.api.lifecycle_fixtures import evidence_file, lifecycle_registry, plot_books
from tests.cli_runner import run_cli
from tests.conftest import registry_digest
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.user_fixtures import USERS

ALL = frozenset(USERS)
STAFF = frozenset({"director", "li"})
NOBODY: frozenset[str] = frozenset()
# arguments for a user and the context; or (arguments, standard input)
Args = Callable[[str, dict[str, Any]], list[str] | tuple[list[str], str]]


def _own(prefix: str) -> Callable[[str], str]:
    """The user's own project ``{prefix}-{user}`` (staff), else li's (refused users try a
    project that exists, in the state the action needs)."""
    return lambda u: f"{prefix}-{u if u in STAFF else 'li'}"


def _measured(u: str) -> str:
    """li records and monitors its own D-li, the director the verifier's organisation's D-VER."""
    return "D-VER" if u == "director" else "D-li"


P, D = _own("P"), _own("D")

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
    ("pledge again", lambda u, _: ["credits", "pledge", "--account", "BUYER", "--bank", "BANK",
                                   "--loan-ref", "DK-2", "--amount", "100", "--quantity", "1",
                                   "--key", f"p2-{u}"], frozenset({"buyer"})),
    ("enforce", lambda u, c: ["credits", "enforce", "--pledge", str(c["pledge"]), "--key",
                              f"enf-{u}"], frozenset({"banker"})),
    ("cancel the buffer", lambda u, _: ["credits", "cancel", "--account", "BUFFER", "--reason",
                                        "fire", "--quantity", "1", "--key", f"c-{u}"],
     frozenset({"director"})),
    ("cancel the buyer's", lambda u, _: ["credits", "cancel", "--account", "BUYER", "--reason",
                                         "felling", "--quantity", "1", "--key", f"cb-{u}"],
     frozenset({"buyer"})),
    ("open an account", lambda u, _: ["credits", "open-account", "--code", f"A-{u}", "--name", "n",
                                      "--holder", "某电力公司"], STAFF),
    ("open a bank's account (a kind)", lambda u, _: ["credits", "open-account", "--code",
     f"B-{u}", "--name", "n", "--holder", f"新银行{u}", "--holder-kind", "bank"],
     frozenset({"director"})),
    ("import an inventory", lambda u, c: ["import-inventory", c["gpkg"], "--inventory-year",
                                          "2020", "--report-dir", c["reports"]], STAFF),
    ("fit growth curves", lambda u, _: ["model", "fit-growth"], STAFF),
    ("sign a checkpoint", lambda u, c: ["audit", "checkpoint", "--key", c["key"], "--out",
                                        c["checkpoints"]], frozenset({"director"})),
    ("assess the risk", lambda u, _: ["project", "assess-risk", "--project", "L1", "--buffer-pct",
                                      "12", "--reason", "火险"], frozenset({"director", "auditor"})),
    ("create a project", lambda u, _: ["project", "create", "--code", f"P-{u}", "--name", "n",
                                       "--methodology", "AR-CM-005-V01", "--developer", "双牌县林业局",
                                       "--start-date", "2026-01-01"], STAFF),
    ("add stands to a draft", lambda u, _: ["project", "add-stands", "--project", P(u), "--stands",
     "species_group=" + ("broadleaf" if u == "li" else "masson_pine")], STAFF),
    ("remove stands from a draft", lambda u, _: ["project", "remove-stands", "--project", P(u),
                                                 "--stands", "origin=天然"], STAFF),
    ("add evidence to a draft", lambda u, c: ["project", "add-evidence", "--project", P(u),
                                              "--file", c["evidence"]], STAFF),
    ("submit", lambda u, _: ["project", "submit", "--project", D(u)], STAFF),
    ("reject a submitted project", lambda u, _: ["project", "reject", "--project", "D-director",
                                                 "--reason", "证据不全"], frozenset({"auditor"})),
    ("validate", lambda u, _: ["project", "validate", "--project", "D-li"],
     frozenset({"auditor"})),
    ("validate its own organisation's project",
     lambda u, _: ["project", "validate", "--project", "D-VER2"], NOBODY),
    ("register", lambda u, _: ["project", "register", "--project", "D-li"],
     frozenset({"director"})),
    ("record the start measurement", lambda u, c: ["project", "measure-start", "--project",
     _measured(u), "--plots", c["books"][_measured(u)][0], "--date", "2026-01-01"], STAFF),
    ("submit a monitoring period", lambda u, c: ["project", "monitor", "--project", _measured(u),
     "--start", "2026-01-01", "--end", "2026-12-31", "--plots", c["books"][_measured(u)][1]],
     STAFF),
    ("verify", lambda u, _: ["project", "verify", "--project", "D-li", "--quantity", "100",
                             "--override-reason", "复核样地"], frozenset({"auditor"})),
    ("verify its own organisation's project", lambda u, _: ["project", "verify", "--project",
     "D-VER", "--quantity", "100", "--override-reason", "复核样地"], NOBODY),
    ("reject its own organisation's monitoring", lambda u, _: ["project", "reject", "--project",
     "D-VER", "--reason", "样地不足"], NOBODY),
    ("register an organisation", lambda u, _: ["org", "add", f"新机构{u}"], STAFF),
    ("add users", lambda u, _: ["users", "add", f"new-{u}", "--organisation", "某电力公司",
                                "--role", "buyer", "--no-password"], frozenset({"director"})),
    ("reset a password", lambda u, _: (["users", "reset-password", "new-director",
                                        "--password-stdin"], "a long enough password\n"),
     frozenset({"director"})),
    ("make an API token", lambda u, _: ["users", "token", "--name", f"t-{u}"], ALL),
    ("make a token for li", lambda u, _: ["users", "token", "--name", "x", "--for", "li"], STAFF),
    ("revoke li's token", lambda u, c: ["users", "revoke-token", str(c["li_token"])], STAFF),
    ("set roles", lambda u, _: ["users", "set-role", "owner", "--role", "forest_owner"],
     frozenset({"director"})),
    ("grant a kind", lambda u, _: ["org", "grant", "某电力公司", "--kind", "buyer"],
     frozenset({"director"})),
    ("disable a user", lambda u, _: ["users", "disable", "owner"], frozenset({"director"})),
]  # fmt: skip


def _context(engine: Engine, folder: Path) -> dict[str, Any]:
    """The files the commands read: the scenario's inventory again, the evidence, the plots of
    D-li and D-VER (start, end), a checkpoint signing key."""
    key = folder / "keys" / "checkpoint.key"
    generate_key(key)
    books = {code: tuple(str(p) for p in plot_books(engine, folder, code))
             for code in ("D-li", "D-VER")}  # fmt: skip
    return {"gpkg": str(write_gpkg(sample_frame(300, 21), folder / "s.gpkg")),
            "reports": str(folder / "reports"), "evidence": str(evidence_file(folder)),
            "books": books, "key": str(key), "checkpoints": str(folder / "checkpoints")}  # fmt: skip


def _run(user: str, spec: list[str] | tuple[list[str], str], env: dict[str, str],
         cwd: Path) -> Any:  # fmt: skip
    args, stdin = spec if isinstance(spec, tuple) else (spec, None)
    return run_cli("--as", user, *args, env=env, cwd=cwd, input=stdin)


@pytest.mark.slow
def test_every_command_for_every_user(
    scenario: Callable[..., Engine], db_url: str, tmp_path: Path
) -> None:
    engine = scenario("api-lifecycle", lifecycle_registry)
    env = {"TANHUI_DATABASE_URL": db_url}
    context = _context(engine, tmp_path)
    for name, args, allowed in TABLE:
        for user in sorted(ALL - allowed):
            before = registry_digest(engine)
            done = _run(user, args(user, context), env, tmp_path)
            assert done.returncode == 5, (name, user, done.stdout, done.stderr)
            assert registry_digest(engine) == before, (name, user)  # nothing written
        for user in sorted(allowed):
            done = _run(user, args(user, context), env, tmp_path)
            assert done.returncode == 0, (name, user, done.stdout, done.stderr)
            if name.startswith("pledge"):
                context["pledge"] = json.loads(done.stdout)["pledge"]
            if name == "make a token for li" and user == "li":
                made = re.search(r"token (\d+)", done.stderr)
                assert made is not None, done.stderr
                context["li_token"] = int(made[1])
    with engine.connect() as c:
        states = dict(
            c.execute(text("SELECT code, status FROM project WHERE code LIKE 'D-%'")).all()
        )
        fits = c.execute(text("SELECT fitted_by FROM growth_fit ORDER BY id")).scalars().all()
        signed = c.execute(text("SELECT actor FROM audit_event WHERE action = 'audit.checkpoint'"))
        signers = signed.scalars().all()
    assert states == {"D-li": "verified", "D-director": "draft", "D-VER": "monitored",
                      "D-VER2": "submitted"}  # fmt: skip
    assert fits[-2:] == ["director@双牌县林业局", "li@双牌县林业局"]  # named by the service
    assert signers == ["director@双牌县林业局"]
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
