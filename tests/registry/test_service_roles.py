"""The roles of imports, growth fits and checkpoints are checked by the services themselves
(not by the command line in front of them), before anything is read or written: both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from registry.actors import Actor
from registry.carbon_model import fit_and_store_growth
from registry.checkpoints import make_checkpoint
from registry.db import session_scope
from registry.errors import PermissionDenied
from registry.stands import ImportOptions, import_as
from tests.conftest import registry_digest
from tests.registry.ledger_fixtures import BANK_USER, BUYER_USER, VERIFIER


@pytest.mark.parametrize("who", [BUYER_USER, BANK_USER, VERIFIER], ids=lambda a: a.name)
def test_the_services_refuse_the_wrong_roles_before_reading_anything(
    engine: Engine, tmp_path: Path, who: Actor
) -> None:
    before = registry_digest(engine)
    missing = tmp_path / "nothing-here"  # never opened: the role is refused first
    with pytest.raises(PermissionDenied, match="import an inventory"):
        import_as(engine, who, missing / "stands.gpkg", ImportOptions())
    with session_scope(engine) as s, pytest.raises(PermissionDenied, match="fit growth curves"):
        fit_and_store_growth(s, who)
    with session_scope(engine) as s, pytest.raises(PermissionDenied, match="sign checkpoints"):
        make_checkpoint(s, missing / "checkpoint.key", "测试登记簿", who)
    assert registry_digest(engine) == before
