"""Province scale: current stands by township through an index.

A township selection (``select_stands('township=…')``, a project's usual first step) read the
whole ``stand`` table (EXPLAIN: Seq Scan on stand) — a county's 50 000 rows were quick, a
province's million are not (bench/province). A B-tree on ``township`` serves it on both
engines.

``stand`` is not partitioned by county here (docs/scale.md says why: the unique current key
and the lineage's foreign keys to ``stand.id`` would have to carry ``county_code``); the
partitioned and county-clustered layouts were measured in bench/province instead.

Revision ID: 0023
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"  # after the batch retirements guard (0022)
branch_labels = None
depends_on = None


def upgrade() -> None:
    # not partial: select_stands writes ``is_current IS true``, which a partial index on
    # ``WHERE is_current`` is not proven to cover on either engine
    op.create_index("ix_stand_township", "stand", ["township"])


def downgrade() -> None:
    op.drop_index("ix_stand_township", "stand")
