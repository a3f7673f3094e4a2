"""Benefit sharing and payment rosters (issue #17, part B): owners' identities and bank cards
(private), the link of a forest owner's user to its owner, versioned sharing rules per project,
and payment rosters per monitoring period with their lines (described for Alembic in
``registry/compensation/compensation_tables.py``).

Revision ID: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owner_identity",
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), primary_key=True),
        sa.Column("id_kind", sa.String, nullable=False),
        sa.Column("id_number", sa.String, nullable=False),
        sa.Column("bank_name", sa.String, nullable=False),
        sa.Column("bank_card", sa.String, nullable=False),
        sa.Column("phone", sa.String, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String, nullable=False),
        sa.CheckConstraint(
            "id_kind IN ('resident_id', 'credit_code')", name="ck_owner_identity_kind"
        ),
    )
    op.create_table(
        "owner_user_link",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), nullable=False),
        sa.Column("linked_by", sa.String, nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_owner_user_link_owner_id", "owner_user_link", ["owner_id"])
    op.create_table(
        "sharing_rule",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("preset", sa.String, nullable=True),
        sa.Column("rule_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_code", "version", name="uq_sharing_rule_version"),
    )
    op.create_table(
        "roster",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("period_no", sa.Integer, nullable=False),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("sharing_rule.id"), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String, nullable=False, server_default="draft"),
        sa.Column("method_json", sa.Text, nullable=False),
        sa.Column("prepared_by", sa.String, nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String, nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.String, nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_reference", sa.String, nullable=True),
        sa.UniqueConstraint("project_code", "period_no", name="uq_roster_period"),
        sa.CheckConstraint("status IN ('draft', 'approved', 'paid')", name="ck_roster_status"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_roster_amount"),
    )
    op.create_table(
        "roster_line",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("roster_id", sa.Integer, sa.ForeignKey("roster.id"), nullable=False),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("party", sa.String, nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), nullable=True),
        sa.Column("payee", sa.String, nullable=False),
        sa.Column("stands_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("figures_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("payee_id_kind", sa.String, nullable=True),
        sa.Column("payee_id_number", sa.String, nullable=True),
        sa.Column("payee_bank_name", sa.String, nullable=True),
        sa.Column("payee_bank_card", sa.String, nullable=True),
        sa.UniqueConstraint("roster_id", "line_no", name="uq_roster_line_no"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_roster_line_amount"),
    )
    op.create_index("ix_roster_line_roster_id", "roster_line", ["roster_id"])
    _guards()
    _rule_guards()


RULE_GUARD = (
    "sharing_rule: rows are never changed or deleted (收益分配规则只能追加新版本，不能修改或删除)"
)


def _rule_guards() -> None:
    """A sharing rule's version never changes once written (a change is a new version): the
    pattern of migration 0016's price_scenario."""
    if op.get_bind().dialect.name == "postgresql":
        # ledger_append_only() is migration 0011's: it refuses with the table's name
        op.execute(
            "CREATE TRIGGER sharing_rule_append_only BEFORE UPDATE OR DELETE ON sharing_rule "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER sharing_rule_no_{verb.lower()} BEFORE {verb} ON sharing_rule "
            f"BEGIN SELECT RAISE(ABORT, '{RULE_GUARD}'); END"
        )


def _drop_rule_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER sharing_rule_append_only ON sharing_rule")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER sharing_rule_no_{verb}")


FROZEN = "roster: an approved or paid roster never changes (已批准或已支付的名册不可更改)"
# what a roster's row may become: a draft anything (a re-preparation); an approved roster only
# paid (status, paid_by, paid_at, payment_reference); a paid one nothing. Lines change only
# while their roster is a draft (the approval writes the payees' identity snapshot into them
# before it flips the status, in the same transaction). Neither is ever deleted once approved.
_ROSTER_CHANGE = (
    "OLD.status = 'paid' OR (OLD.status = 'approved' AND (NEW.status <> 'paid' "
    "OR NEW.project_code <> OLD.project_code OR NEW.period_no <> OLD.period_no "
    "OR NEW.rule_id <> OLD.rule_id OR NEW.amount_fen <> OLD.amount_fen "
    "OR NEW.method_json <> OLD.method_json OR NEW.approved_at <> OLD.approved_at "
    "OR NEW.approved_by <> OLD.approved_by))"
)


def _guards() -> None:
    """The database refuses what the service never does: changing an approved or paid roster or
    its lines (the tables' owner can still disable these; the audit log recorded each roster's
    approval with its digest of lines — see registry/compensation/rosters.py)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION roster_guard() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF OLD.status <> 'draft' THEN RAISE EXCEPTION '{FROZEN}'; END IF;
                    RETURN OLD;
                END IF;
                IF {_ROSTER_CHANGE} THEN RAISE EXCEPTION '{FROZEN}'; END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER roster_guard BEFORE UPDATE OR DELETE ON roster "
            "FOR EACH ROW EXECUTE FUNCTION roster_guard()"
        )
        op.execute(
            f"""
            CREATE FUNCTION roster_line_guard() RETURNS trigger AS $$
            BEGIN
                IF (TG_OP <> 'INSERT' AND (SELECT status FROM roster WHERE id = OLD.roster_id) <> 'draft')
                   OR (TG_OP <> 'DELETE' AND (SELECT status FROM roster WHERE id = NEW.roster_id) <> 'draft') THEN
                    RAISE EXCEPTION '{FROZEN}';
                END IF;
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER roster_line_guard BEFORE INSERT OR UPDATE OR DELETE ON roster_line "
            "FOR EACH ROW EXECUTE FUNCTION roster_line_guard()"
        )
        return
    op.execute(
        f"CREATE TRIGGER roster_guard_update BEFORE UPDATE ON roster WHEN {_ROSTER_CHANGE} "
        f"BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
    )
    op.execute(
        "CREATE TRIGGER roster_guard_delete BEFORE DELETE ON roster WHEN OLD.status <> 'draft' "
        f"BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
    )
    for verb, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER roster_line_guard_{verb.lower()} BEFORE {verb} ON roster_line "
            f"WHEN (SELECT status FROM roster WHERE id = {row}.roster_id) <> 'draft' "
            f"BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
        )


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER roster_line_guard ON roster_line")
        op.execute("DROP FUNCTION roster_line_guard()")
        op.execute("DROP TRIGGER roster_guard ON roster")
        op.execute("DROP FUNCTION roster_guard()")
        return
    for name in ("roster_guard_update", "roster_guard_delete", "roster_line_guard_insert",
                 "roster_line_guard_update", "roster_line_guard_delete"):  # fmt: skip
        op.execute(f"DROP TRIGGER {name}")


def downgrade() -> None:
    _drop_rule_guards()
    _drop_guards()
    op.drop_index("ix_roster_line_roster_id", "roster_line")
    op.drop_table("roster_line")
    op.drop_table("roster")
    op.drop_table("sharing_rule")
    op.drop_index("ix_owner_user_link_owner_id", "owner_user_link")
    op.drop_table("owner_user_link")
    op.drop_table("owner_identity")
