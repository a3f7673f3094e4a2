"""Owners of a test project and their synthetic identities as an import file (the compensation
tests: registry, API and web)."""

from __future__ import annotations

import csv
import io

from sqlalchemy import Engine, text

from registry.compensation.roster_demo import synthetic_identity

__all__ = ["IDENTITY_HEADER", "identity_csv", "project_identities", "project_owners"]

IDENTITY_HEADER = ["姓名", "身份证号", "统一社会信用代码", "开户行", "银行卡号", "电话"]


def project_owners(engine: Engine, project: str = "L1") -> list[tuple[int, str, str]]:
    """The owners of the project's current member stands: (id, name, kind), by id."""
    with engine.connect() as c:
        return [(int(i), str(n), str(k)) for i, n, k in c.execute(text(
            "SELECT DISTINCT o.id, o.name, o.kind FROM owner o JOIN stand s ON s.owner_id = o.id "
            "JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active "
            "JOIN project p ON p.id = ps.project_id WHERE p.code = :p AND s.is_current "
            "ORDER BY o.id"), {"p": project})]  # fmt: skip


def project_identities(engine: Engine, project: str = "L1", skip: int = 0) -> list[dict[str, str]]:
    """Synthetic identity rows for the project's owners (the first ``skip`` left out)."""
    return [synthetic_identity(i, n, k) for i, n, k in project_owners(engine, project)[skip:]]


def identity_csv(rows: list[dict[str, str]]) -> bytes:
    """Identity rows as the UTF-8 CSV a bureau imports."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=IDENTITY_HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
