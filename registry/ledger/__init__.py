"""The credit ledger: serial blocks that are issued once, held by one account, retired at most once.

A credit is 1 t CO2e with a serial ``CN-<county>-<project>-<vintage>-<9-digit sequence>``
(:mod:`.serials`). Credits are held as blocks (first..last sequence) of one project and vintage,
in one account and one state (active, pledged, retired, cancelled; :mod:`.vocabulary`). An
operation never edits a block: it closes the blocks it touches (``closed_op_id``) and writes the
pieces, split at the requested serials, as new blocks (:mod:`.blocks`) — history stays, balances
are derived from the live (unclosed) blocks. Sequences are never reused: a per-project-and-vintage
counter only grows.

Every operation (:mod:`.moves`) carries an idempotency key (:mod:`.operations`): repeating a
request with the same key returns the first result (typed, :mod:`.results`) and moves nothing.
It runs in one transaction with its audit event. On PostgreSQL it locks the one account it takes
credits from (``FOR NO KEY UPDATE``, :mod:`.accounts`) before reading that account's blocks, and
the audit chain's head last; on SQLite ``BEGIN IMMEDIATE`` serialises every write. The database
guards the invariants as well (migrations 0004 and 0005; :mod:`.invariants` checks them), so a
bug here would be refused, not written. Views (:mod:`.views`) only read.

Issuance is :func:`registry.issuance.issue`, which checks who may issue and moves the project's
lifecycle; the ledger never imports the projects.

Speed (``bench/ledger``): the statements go straight to the driver (:class:`registry.db.DriverSQL`)
and each operation runs a fixed handful of them whatever the number of blocks it splits.
"""

from registry.errors import LedgerError
from registry.ledger.accounts import ensure_account, open_account
from registry.ledger.invariants import check_invariants
from registry.ledger.labels import relabel
from registry.ledger.moves import (
    ROUNDING_RULE,
    cancel,
    enforce,
    issue,
    pledge,
    release,
    retire,
    transfer,
)
from registry.ledger.operations import FAULT_PAUSE_ENV
from registry.ledger.serials import COUNTY_CODE, Range, format_block, parse_serial, serial
from registry.ledger.views import (
    account_history,
    balance,
    blocks,
    certificate,
    history,
    show,
    statement,
)
from registry.ledger.vocabulary import AccountKind, BlockState, OperationKind, PledgeStatus

__all__ = [
    "COUNTY_CODE",
    "FAULT_PAUSE_ENV",
    "ROUNDING_RULE",
    "AccountKind",
    "BlockState",
    "LedgerError",
    "OperationKind",
    "PledgeStatus",
    "Range",
    "account_history",
    "balance",
    "blocks",
    "cancel",
    "certificate",
    "check_invariants",
    "enforce",
    "ensure_account",
    "format_block",
    "history",
    "issue",
    "open_account",
    "parse_serial",
    "pledge",
    "relabel",
    "release",
    "retire",
    "serial",
    "show",
    "statement",
    "transfer",
]
