"""What an adversarial read of the public surfaces found, each kept fixed: a household's name or
a telephone number given as a certificate's beneficiary or purpose, numbers written in groups,
a file named over HTTP with spaces around ``polygon``, a page link to another site, odd digits."""

from __future__ import annotations

from sqlalchemy import text

from registry.db import session_scope
from registry.ledger import retire
from registry.public.withhold import CONTACT_WITHHELD, withhold_household_names
from registry.users import load_actor
from tests.web.conftest import Web


def _household(web: Web) -> str:
    with web.engine.connect() as c:
        name = c.execute(
            text("SELECT name FROM owner WHERE kind = 'household' ORDER BY id")
        ).scalar()
    assert name, "the fixture has household owners"
    return str(name)


def test_a_household_beneficiary_and_a_phone_in_the_purpose_stay_private(web: Web) -> None:
    name = _household(web)
    phone = "138 1234 5678"
    with session_scope(web.engine) as s:
        done = retire(s, load_actor(s, "buyer"), "hardening-retire", "BUYER", name,
                      f"代 {name} 抵消，电话 {phone}", quantity=2)  # fmt: skip
    for path in (f"/certificates/{done.certificate}", "/ledger", f"/ledger?q={done.certificate}"):
        page = web.page(path)
        assert page.status_code == 200, path
        assert name not in page.text and phone not in page.text, path
    assert "某农户" in web.page(f"/certificates/{done.certificate}").text


def test_numbers_written_in_groups_are_withheld(web: Web) -> None:
    written = ["138-1234-5678", "+86 138 1234 5678", "430000 19900101 123X",
               "6222 0212 3456 7890 123", "0746-7221234"]  # fmt: skip
    with session_scope(web.engine) as s:
        shown = withhold_household_names(s, [f"联系 {w} 即可" for w in written])
    assert shown == [f"联系 {CONTACT_WITHHELD} 即可"] * len(written)
    with session_scope(web.engine) as s:  # a plain figure is not a number to hide
        assert withhold_household_names(s, ["面积 1,000.5 公顷，2026 年"]) == [
            "面积 1,000.5 公顷，2026 年"
        ]


def test_no_file_is_named_over_http_even_with_spaces(web: Web) -> None:
    for selection in ("polygon =/etc/passwd", " polygon= /vsicurl/http://x/a.gpkg", "@/etc/hosts"):
        r = web.client.post("/api/v1/projects/L1/stands", json={"selection": selection},
                            headers={"Authorization": f"Bearer {web.tokens['li']}"})  # fmt: skip
        assert r.status_code == 422, (selection, r.text)
        assert "cannot name files on the server" in r.json()["message_en"]


def test_a_page_never_links_to_another_site(web: Web) -> None:
    r = web.page("/%2F%2Fevil.example/x")
    assert r.status_code == 404
    assert 'href="//evil.example' not in r.text


def test_odd_digits_and_huge_numbers_are_refused_not_crashed(web: Web) -> None:
    assert web.page("/library?vintage=²").status_code == 200  # not a vintage: no filter
    r = web.client.get("/ogc/collections/stands/items?offset=99999999999999999999")
    assert r.status_code == 400
