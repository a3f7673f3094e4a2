"""Private words taken out of public text: the names of households (林权权利人 of kind 农户) and
ID, bank-card and telephone numbers — in comments staff wrote, in certificates' beneficiaries,
purposes and retiring organisations (DEVELOPERS.md, privacy)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.models import OwnerKind

__all__ = ["CONTACT_WITHHELD", "HOUSEHOLD_WITHHELD", "withhold_household_names"]

HOUSEHOLD_WITHHELD = "某农户"
"""What stands in public text where a household's name was (林权权利人 of kind 农户)."""
CONTACT_WITHHELD = "（已隐去）"
"""What stands in public text where an ID, bank card or telephone number was."""
_SEP = r"[ \-]?"  # numbers are often written in groups: 138 1234 5678, 430000-19900101-1234
_CONTACTS = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    rf"\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}[0-9Xx]"  # resident ID numbers (18; the last may be X)
    r"|\d{15,19}"  # 15-digit ID numbers, bank cards
    rf"|\d{{4}}(?:{_SEP}\d{{4}}){{3}}(?:{_SEP}\d{{1,4}})?"  # bank cards in groups of four
    rf"|(?:\+?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}"  # mobile numbers, with or without +86
    rf"|0\d{{2,3}}{_SEP}\d{{7,8}}"  # landlines with their area code
    r")(?![0-9A-Za-z])"
)


def withhold_household_names(session: Session, texts: Iterable[str]) -> list[str]:
    """``texts`` with every household's name replaced by :data:`HOUSEHOLD_WITHHELD` and every
    ID, bank card or telephone number by :data:`CONTACT_WITHHELD`. One query: the names that
    occur in any of the texts."""
    items = [_CONTACTS.sub(CONTACT_WITHHELD, t or "") for t in texts]
    joined = "\n".join(items)
    if not joined.strip():
        return items
    db = DriverSQL(session)
    find = "strpos(:t, name) > 0" if db.postgres else "instr(:t, name) > 0"
    rows = db.rows(
        f"SELECT name FROM owner WHERE kind = :k AND length(name) > 0 AND {find}",
        {"k": OwnerKind.HOUSEHOLD.value, "t": joined},
    )
    names = sorted((str(r[0]) for r in rows), key=len, reverse=True)  # longest first
    out = []
    for text_ in items:
        for name in names:
            text_ = text_.replace(name, HOUSEHOLD_WITHHELD)
        out.append(text_)
    return out
