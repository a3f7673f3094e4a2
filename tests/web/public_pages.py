"""What the tests of the project page, the public ledger, certificates and grievances share:
the fixture's figures worked out by hand, the households' names (to prove they never show),
reading marked-up figures out of a page, and signing in with the session cookie."""

from __future__ import annotations

import html
import re

from sqlalchemy import Engine, text

from tests.registry.user_fixtures import PASSWORD
from tests.web.conftest import Web

__all__ = [
    "BUFFER",
    "BUFFER_SERIALS",
    "CERTIFICATE_SERIALS",
    "INSIDE",
    "ISSUED",
    "ISSUED_SERIALS",
    "NEVER",
    "OUTSIDE",
    "PREFIX",
    "RETIRED",
    "figure",
    "household_names",
    "sign_in",
    "visible_text",
]

# L1's first period: 1,000.5 t CO2e verified → floor(1000.5) = 1,000 credits of vintage 2026,
# serials 1..1000; the buffer pool takes ceil(1000 × 10 %) = 100 first (1..100), the project's
# holding account the other 900 (101..1000). The transfer of 100 to BUYER takes the holding
# account's earliest serials (101..200); the buyer retires its 30 earliest (101..130).
PREFIX = "CN-431123-L1-2026-"
ISSUED, BUFFER, RETIRED = 1000, 100, 30
ISSUED_SERIALS = f"{PREFIX}000000001..000001000"
BUFFER_SERIALS = f"{PREFIX}000000001..000000100"
CERTIFICATE_SERIALS = f"{PREFIX}000000101..000000130"
INSIDE = f"{PREFIX}000000115"  # retired (101 ≤ 115 ≤ 130)
OUTSIDE = f"{PREFIX}000000150"  # issued, transferred to BUYER, not retired (131..200 active)
NEVER = f"{PREFIX}000005000"  # beyond the 1,000 issued


def household_names(engine: Engine) -> list[str]:
    """Every right holder of kind household (农户) in the registry."""
    with engine.connect() as c:
        rows = c.execute(text("SELECT name FROM owner WHERE kind = 'household' ORDER BY name"))
        names = [str(r[0]) for r in rows]
    assert len(names) > 10, "the fixture should hold households"
    return names


def visible_text(page: str) -> str:
    """The page's text and attribute values, entities decoded (what a reader or a scraper
    could get out of it)."""
    return html.unescape(page)


def figure(page: str, attribute: str, name: str) -> str:
    """The text of the element marked ``attribute="name"`` (tags inside stripped)."""
    found = re.search(rf'<(\w+)[^>]*\b{attribute}="{re.escape(name)}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no element with {attribute}={name!r}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(2))).strip()


def sign_in(web: Web, username: str) -> str:
    """Sign ``username`` in with the session cookie (kept by the client); its CSRF token."""
    r = web.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])
