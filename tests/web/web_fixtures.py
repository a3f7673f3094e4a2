"""A registry with something to show the public: the verified project L1 (1,000.5 t CO2e in
its first period), issued (1,000 credits, 100 of them to the buffer pool), 100 credits
transferred to the buyer's account BUYER, and 30 of those retired for 某电力公司."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from registry.db import session_scope
from registry.issuance import issue
from registry.ledger import retire, transfer
from registry.users import load_actor
from tests.api.api_fixtures import api_registry

__all__ = ["BENEFICIARY", "PURPOSE", "public_registry"]

BENEFICIARY = "某电力公司"
PURPOSE = "2026 年度碳中和 / 2026 carbon neutrality"


def public_registry(engine: Engine, folder: Path) -> None:
    api_registry(engine, folder)
    with session_scope(engine) as s:
        issue(s, load_actor(s, "director"), "L1", "web-issue", 10)
    with session_scope(engine) as s:
        transfer(s, load_actor(s, "li"), "web-transfer", "HOLD-L1", "BUYER", quantity=100)
    with session_scope(engine) as s:
        retire(s, load_actor(s, "buyer"), "web-retire", "BUYER", BENEFICIARY, PURPOSE, quantity=30)
