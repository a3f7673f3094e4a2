"""Throughput without weaker guarantees: live credit blocks get their own partial indexes,
SQLite's overlap guard probes one neighbouring block, and the audit chain gets a head row that
the database itself keeps and checks.

Live blocks. They never overlap (the guard keeps it so, inductively), so a new block [f, l] overlaps
a live block iff the live block with the greatest first serial ≤ l ends at or after f. With an
index on live blocks only, that is one index probe, however many closed blocks history holds
(the 0004 trigger scanned every block, closed ones included, with first serial ≤ l: its cost
grew with every operation). PostgreSQL's exclusion constraint is partial already.

Chain head. ``audit_head`` is one row (seq, hash) = the newest event. Appending reads it with a
row lock (PostgreSQL), which serialises appends and, unlike the advisory lock it replaces, hands
the waiting writer the head the previous writer committed in the same statement. A trigger
refuses any event that does not extend the head (id = seq + 1, prev_hash = hash) and moves the
head forward; the head only ever moves one step forward and is never deleted. So the database
guarantees the chain's links, and :func:`registry.audit.verify_chain` can tell when the newest
events were cut off (head ahead of the last event).

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OVERLAP_MESSAGE = "credit_block: serial ranges of live blocks overlap"
GENESIS_HASH = "0" * 64
LINK_MESSAGE = "audit_event: the event does not extend the chain head (审计事件未接在链头之后)"
HEAD_MESSAGE = "audit_head moves one event forward at a time and is never deleted (链头只能前进)"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # an account's live blocks in the order operations take them (oldest serials first); it
    # replaces 0004's index over every block, live or closed, that each close had to rewrite
    op.execute(
        "CREATE INDEX ix_block_live_holding ON credit_block "
        "(account_id, state, project_code, vintage, first_seq) WHERE closed_op_id IS NULL"
    )
    op.drop_index("ix_block_live_account", "credit_block")
    _create_chain_head(postgres)
    if postgres:
        return
    op.execute(
        "CREATE INDEX ix_block_live_range ON credit_block (project_code, vintage, first_seq) "
        "WHERE closed_op_id IS NULL"
    )
    op.execute("DROP TRIGGER credit_block_no_overlap")
    op.execute(
        f"""
        CREATE TRIGGER credit_block_no_overlap BEFORE INSERT ON credit_block
        WHEN NEW.closed_op_id IS NULL AND NEW.first_seq <= (
            SELECT b.last_seq FROM credit_block b
            WHERE b.closed_op_id IS NULL AND b.project_code = NEW.project_code
              AND b.vintage = NEW.vintage AND b.first_seq <= NEW.last_seq
            ORDER BY b.first_seq DESC LIMIT 1)
        BEGIN SELECT RAISE(ABORT, '{OVERLAP_MESSAGE}'); END
        """
    )


def _create_chain_head(postgres: bool) -> None:
    op.execute(
        "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "seq BIGINT NOT NULL, hash VARCHAR(64) NOT NULL)"
    )
    op.execute(
        "INSERT INTO audit_head (id, seq, hash) SELECT 1, COALESCE(MAX(id), 0), "
        f"COALESCE((SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1), '{GENESIS_HASH}') "
        "FROM audit_event"
    )
    if postgres:
        # the SHA-256 of a text's UTF-8 bytes as hex; SQLite gets the same function from Python
        # (registry.db), so that one statement appends an event on both engines
        op.execute(
            "CREATE FUNCTION sha256_hex(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT "
            "AS $$ SELECT encode(sha256(convert_to(value, 'UTF8')), 'hex') $$"
        )
        op.execute(
            f"""
            CREATE FUNCTION audit_event_link() RETURNS trigger AS $$
            BEGIN
                UPDATE audit_head SET seq = NEW.id, hash = NEW.hash
                 WHERE id = 1 AND seq = NEW.id - 1 AND hash = NEW.prev_hash;
                IF NOT FOUND THEN
                    RAISE EXCEPTION '{LINK_MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_event_link BEFORE INSERT ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_link()"
        )
        op.execute(
            f"""
            CREATE FUNCTION audit_head_forward() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR NEW.seq <> OLD.seq + 1 OR NEW.id <> OLD.id THEN
                    RAISE EXCEPTION '{HEAD_MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
            "FOR EACH ROW EXECUTE FUNCTION audit_head_forward()"
        )
        return
    op.execute(
        f"""
        CREATE TRIGGER audit_event_link BEFORE INSERT ON audit_event
        WHEN NOT EXISTS (SELECT 1 FROM audit_head
                         WHERE id = 1 AND seq = NEW.id - 1 AND hash = NEW.prev_hash)
        BEGIN SELECT RAISE(ABORT, '{LINK_MESSAGE}'); END
        """
    )
    op.execute(
        "CREATE TRIGGER audit_event_advance AFTER INSERT ON audit_event "
        "BEGIN UPDATE audit_head SET seq = NEW.id, hash = NEW.hash WHERE id = 1; END"
    )
    op.execute(
        "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
        "WHEN NEW.seq <> OLD.seq + 1 OR NEW.id <> OLD.id "
        f"BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
        f"BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute("DROP INDEX ix_block_live_holding")
    op.create_index("ix_block_live_account", "credit_block", ["account_id", "closed_op_id"])
    if postgres:
        op.execute("DROP TRIGGER audit_event_link ON audit_event")
        op.execute("DROP FUNCTION audit_event_link()")
        op.execute("DROP TABLE audit_head CASCADE")
        op.execute("DROP FUNCTION audit_head_forward()")
        op.execute("DROP FUNCTION sha256_hex(text)")
        return
    for trigger in ("audit_event_link", "audit_event_advance"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE audit_head")
    if postgres:
        return
    op.execute("DROP TRIGGER credit_block_no_overlap")
    op.execute("DROP INDEX ix_block_live_range")
    op.execute(
        f"""
        CREATE TRIGGER credit_block_no_overlap BEFORE INSERT ON credit_block
        WHEN EXISTS (SELECT 1 FROM credit_block b WHERE b.closed_op_id IS NULL
                     AND b.project_code = NEW.project_code AND b.vintage = NEW.vintage
                     AND b.first_seq <= NEW.last_seq AND NEW.first_seq <= b.last_seq)
        BEGIN SELECT RAISE(ABORT, '{OVERLAP_MESSAGE}'); END
        """
    )
